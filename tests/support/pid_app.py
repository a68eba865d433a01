"""A tiny ASGI app for tests of how the shop is served: it answers with the id of the worker
process that took the connection; at /frozen with how many objects the collector leaves alone;
at /stuck it blocks its event loop, as a worker stuck in a call that never returns."""

from __future__ import annotations

import gc
import os
import time
from typing import Any


def create_app() -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/stuck":
            time.sleep(3600)  # noqa: ASYNC251 (blocking the event loop is the point)
        body = str(gc.get_freeze_count() if scope["path"] == "/frozen" else os.getpid()).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]})
        await send({"type": "http.response.body", "body": body})

    return app
