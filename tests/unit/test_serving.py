"""How the shop is served in production: its command line, and a protocol that turns Nagle's
algorithm off."""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor

import pytest
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from storefront.serving import HttpProtocol, parse


async def _app(scope: object, receive: object, send: object) -> None:  # never called: no request is sent
    raise AssertionError("no request expected")


def nodelay_of_accepted_connection(protocol_class: type[HttpToolsProtocol]) -> int:
    """TCP_NODELAY on the server's side of one connection accepted from a listening socket bound
    as uvicorn binds it for several workers (no protocol named)."""
    config = Config(app=_app, lifespan="off", log_level="warning")
    config.load()
    state = ServerState()
    accepted: asyncio.Future[int]

    class Probe(protocol_class):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            sock = transport.get_extra_info("socket")
            accepted.set_result(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

    async def run() -> int:
        nonlocal accepted
        accepted = asyncio.get_running_loop().create_future()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0, as uvicorn's bind_socket
        listener.bind(("127.0.0.1", 0))
        server = await asyncio.get_running_loop().create_server(
            lambda: Probe(config=config, server_state=state, app_state={}), sock=listener
        )
        async with server:
            _reader, writer = await asyncio.open_connection(*listener.getsockname())
            try:
                return await asyncio.wait_for(accepted, 10)
            finally:
                writer.close()
                await writer.wait_closed()

    # A loop of its own in a thread of its own: the browser journeys keep one running in this thread.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, run()).result()


def test_each_connection_gets_tcp_nodelay_even_from_a_socket_bound_for_several_workers():
    assert nodelay_of_accepted_connection(HttpToolsProtocol) == 0  # what asyncio leaves on such a socket
    assert nodelay_of_accepted_connection(HttpProtocol) != 0


def test_the_command_line_serves_the_shop_on_asyncio_with_the_nodelay_protocol_and_refuses_what_cannot_work(capsys):
    workers = parse(["--workers", "4", "--proxy-headers"])
    options = workers.options
    assert workers.count == 4 and workers.hang_limit == 30
    assert options["app"] == "storefront.app:create_app" and options["factory"] is True
    assert options["loop"] == "asyncio" and options["http"] == "storefront.serving:HttpProtocol"
    assert options["proxy_headers"] is True and options["access_log"] is False
    assert parse(["--hang-limit", "0"]).hang_limit == 0  # never
    for wrong, message in (
        (["--workers", "0"], "at least 1"),
        (["--port", "0", "--workers", "2"], "name the port"),
        (["--hang-limit", "1"], "more than 2 seconds"),
        (["--hang-limit", "-5"], "more than 2 seconds"),
    ):
        with pytest.raises(SystemExit):
            parse(wrong)
        assert message in capsys.readouterr().err
