"""A real SMTP server (aiosmtpd) that behaves like a relay: AUTH PLAIN/LOGIN, hard and soft bounces
by address, throttling replies, latency and dropped connections after accepting.

Address behaviour: `bounce*@…` is refused at RCPT with 550 5.1.1, `defer*@…` with 451 4.2.0.
aiosmtpd cannot bind port 0 (its controller connects to its own port), so a free port is chosen first.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from email.header import decode_header, make_header
from email.parser import BytesParser
from functools import partial
from typing import Any, ClassVar, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from channels.fakes._server import FakeProvider

_HEADERS = BytesParser()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _records(content: bytes, rcpt_tos: list[str], queue_id: str) -> list[dict[str, Any]]:
    msg = _HEADERS.parsebytes(content, headersonly=True)
    return [
        {
            "key": str(msg["X-Dangol-Key"] or ""),
            "to": rcpt,
            "subject": str(make_header(decode_header(msg["Subject"] or ""))),
            "list_unsubscribe": msg["List-Unsubscribe"],
            "list_unsubscribe_post": msg["List-Unsubscribe-Post"],
            "message_id": str(msg["Message-ID"]),
            "queue_id": queue_id,
        }
        for rcpt in rcpt_tos
    ]


class _Handler:
    def __init__(self, fake: FakeSmtp) -> None:
        self.fake = fake

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 User unknown"
        if address.startswith("defer"):
            return "451 4.2.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        fake = self.fake
        with fake._lock:
            fake.requests += 1
        if fake.latency_ms:
            await asyncio.sleep(fake.latency_ms / 1000)
        faults = fake.faults
        roll = fake._roll()
        if roll < faults.throttle:
            return "451 4.7.1 Throttling failure: Maximum sending rate exceeded"
        if roll < faults.throttle + faults.error:
            return "451 4.3.0 Temporary local problem"
        if faults.slow and fake._roll() < faults.slow:
            await asyncio.sleep(faults.slow_seconds)
        queue_id = uuid.uuid4().hex[:12]
        fake.record_later(partial(_records, envelope.content, list(envelope.rcpt_tos), queue_id))
        if faults.drop and fake._roll() < faults.drop:
            server.transport.close()  # accepted, but the client never hears so
        return f"250 2.0.0 Ok: queued as {queue_id}"


class FakeSmtp(FakeProvider):
    """Records `{"key", "to", "subject", "list_unsubscribe", ...}` per accepted recipient."""

    name: ClassVar[str] = "smtp"
    username = "dangol"
    password = "fake-smtp-password"
    from_email = "shop@dangol.test"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._controller: Controller | None = None
        self.port = 0

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)

    def start(self) -> Self:
        logging.getLogger("mail.log").setLevel(logging.ERROR)  # aiosmtpd warns about its own AUTH API
        self.port = free_port()
        self._controller = Controller(
            _Handler(self),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=self._authenticate,
            auth_require_tls=False,
            auth_exclude_mechanism=["CRAM-MD5"],
            decode_data=False,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"
