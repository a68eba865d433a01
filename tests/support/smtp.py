"""A mail server for tests: speaks enough SMTP for `smtplib`, keeps what it received, and answers
the commands it is told to refuse with the reply it is given (a greylisting 451, a 550…)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class MailServer:
    port: int = 0
    received: list[bytes] = field(default_factory=list)
    # command (EHLO, MAIL, RCPT, DATA) -> replies to give instead of accepting, one per use
    refusals: dict[str, list[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse(self, command: str, *replies: str) -> None:
        with self.lock:
            self.refusals.setdefault(command, []).extend(replies)

    def _refusal(self, command: str) -> str | None:
        with self.lock:
            replies = self.refusals.get(command)
            return replies.pop(0) if replies else None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"


@contextmanager
def mail_server() -> Iterator[MailServer]:
    server = MailServer()

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self.reply("220 mail.example.ch ESMTP")
            while line := self.rfile.readline():
                command = line.decode(errors="replace").strip().split(" ", 1)[0].split(":", 1)[0].upper()
                if command == "QUIT":
                    self.reply("221 bye")
                    return
                if (refusal := server._refusal(command)) is not None:
                    self.reply(refusal)
                    continue
                if command in ("EHLO", "HELO"):
                    self.reply("250 mail.example.ch")
                elif command == "DATA":
                    self.reply("354 go ahead")
                    data = b""
                    while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                        data += chunk
                    if (refusal := server._refusal("END")) is not None:
                        self.reply(refusal)
                        continue
                    with server.lock:
                        server.received.append(data)
                    self.reply("250 queued")
                else:
                    self.reply("250 ok")

    tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    tcp.daemon_threads = True
    server.port = tcp.server_address[1]
    thread = threading.Thread(target=tcp.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        tcp.shutdown()
        tcp.server_close()
