"""The sandbox as its own ASGI app (`python -m storefront sandbox serve`), or as a router that the
shop mounts under `/_sandbox` when no Stripe keys are configured."""

from __future__ import annotations

from pathlib import Path

from litestar import Litestar, Router
from litestar.datastructures import State

from storefront.sandbox.account import SandboxAccount
from storefront.sandbox.api import SandboxApi
from storefront.sandbox.store import SandboxStore

MOUNT_PATH = "/_sandbox"


def sandbox_router(store: SandboxStore, mount_path: str = MOUNT_PATH) -> Router:
    return Router(path=mount_path or "/", route_handlers=[SandboxApi(SandboxAccount(store), mount_path).router()])


def create_sandbox_app(store_path: Path | str = ":memory:") -> Litestar:
    store = SandboxStore(store_path)
    return Litestar(
        route_handlers=[sandbox_router(store, mount_path="")],
        on_shutdown=[store.close],
        state=State({"sandbox_store": store}),
    )
