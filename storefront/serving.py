"""How uvicorn serves the shop: `--loop asyncio --http storefront.serving:HttpProtocol`."""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with Nagle's algorithm off on every connection.

    With `--workers N` uvicorn binds the listening socket itself without naming TCP as its
    protocol, and asyncio turns TCP_NODELAY on only for sockets that do; each answer on a
    kept-alive connection then waited for the client's delayed ACK, about 40 ms on Linux
    (https://github.com/Kludex/uvicorn/issues/3149). Setting it here holds for every way the
    socket was made."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
