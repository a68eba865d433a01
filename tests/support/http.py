"""HTTP helpers: forms with their CSRF token, the words a page shows, and serving an ASGI app over
real HTTP for the length of a block."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from litestar.testing import TestClient

HTMX = {"HX-Request": "true"}


def csrf(client: TestClient[Any]) -> str:
    if "csrftoken" not in client.cookies:
        client.get("/en/")
    token: str = client.cookies["csrftoken"]
    return token


def form(client: TestClient[Any], **fields: Any) -> dict[str, Any]:
    return {"_csrf_token": csrf(client), **fields}


def text_of(html: str) -> str:
    """The visible words of some HTML, with whitespace folded (for asserting on what people read)."""
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(app: Any, certificate: tuple[str, str] | None = None) -> Iterator[str]:
    """`app` over real HTTP on a free loopback port, in a thread, for the length of the block;
    over HTTPS with `certificate` (its certificate and key files)."""
    port = free_port()
    tls = {"ssl_certfile": certificate[0], "ssl_keyfile": certificate[1]} if certificate else {}
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="auto", **tls)  # type: ignore[arg-type]
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"{'https' if certificate else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
