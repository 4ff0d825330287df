"""Email over SMTP (smtplib), for a shop's own relay or an ESP's SMTP endpoint.

Environment (secrets come from here only): `SMTP_HOST`, `SMTP_PORT` (587), `SMTP_USERNAME`,
`SMTP_PASSWORD`, `SMTP_STARTTLS` (1), `SMTP_SSL` (0, implicit TLS on 465), `DANGOL_EMAIL_FROM`,
`DANGOL_EMAIL_FROM_NAME`.

One message per SMTP transaction over a pool of connections (one per sending thread, reopened when
the server drops it). The transaction is driven step by step (MAIL, RCPT, DATA) so that a failure can
be placed: before DATA nothing was sent (retry), a lost answer to DATA is `unknown` (SMTP has no
idempotency). Replies: 2xx accepted by the relay, 4xx retry (throttling included), 5xx at RCPT a
hard bounce (suppress), 5xx at DATA a content refusal, 5xx at MAIL or a failed login a configuration
error. The connection factory is injectable, so tests point it at the local aiosmtpd fake.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import smtplib
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from email.header import Header
from email.utils import formataddr, formatdate
from typing import ClassVar

from channels.adapters._common import email_problem, number, reason, required, unsubscribe_headers
from channels.base import Adapter, Limits
from channels.models import Channel, Message, Outcome, SendResult


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    from_email: str
    port: int = 587
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = True
    implicit_tls: bool = False
    from_name: str | None = None
    timeout: float = 30.0
    messages_per_connection: int = 1000

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SmtpConfig:
        return cls(
            host=required(environ, "SMTP_HOST", "smtp"),
            port=int(number(environ, "SMTP_PORT", "smtp", 587)),
            username=environ.get("SMTP_USERNAME") or None,
            password=environ.get("SMTP_PASSWORD") or None,
            starttls=environ.get("SMTP_STARTTLS", "1") == "1",
            implicit_tls=environ.get("SMTP_SSL") == "1",
            from_email=required(environ, "DANGOL_EMAIL_FROM", "smtp"),
            from_name=environ.get("DANGOL_EMAIL_FROM_NAME"),
        )


ConnectionFactory = Callable[[SmtpConfig], smtplib.SMTP]


def connect(config: SmtpConfig) -> smtplib.SMTP:
    """Open, secure and authenticate one SMTP connection."""
    if config.implicit_tls:
        conn: smtplib.SMTP = smtplib.SMTP_SSL(
            config.host, config.port, timeout=config.timeout, context=ssl.create_default_context()
        )
    else:
        conn = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
    conn.ehlo()
    if config.starttls and not config.implicit_tls:
        conn.starttls(context=ssl.create_default_context())
        conn.ehlo()
    if config.username:
        conn.login(config.username, config.password or "")
    return conn


def _encode_header(value: str) -> str:
    return value if value.isascii() else Header(value, "utf-8").encode()


def _base64_part(text: str) -> str:
    data = base64.b64encode(text.replace("\r\n", "\n").replace("\n", "\r\n").encode())
    return "".join(data[i : i + 76].decode() + "\r\n" for i in range(0, len(data), 76))


class SmtpAdapter(Adapter):
    name: ClassVar[str] = "smtp"
    channels: ClassVar[frozenset[Channel]] = frozenset({Channel.EMAIL})
    limits = Limits(
        batch_size=1,
        rate_per_second=None,
        # Connections in parallel: each message costs the relay's round trip, so 32 are needed for ~1,000
        # messages a second at 20 ms (16 gave ~600). Relays that cap connections (Postfix's default is 20
        # per client) take `DANGOL_SMTP_CONCURRENCY`; a refused connection is retried with backoff.
        concurrency=32,
        max_body_bytes=10 * 1024 * 1024,
    )
    Config: ClassVar[type[SmtpConfig]] = SmtpConfig

    def __init__(self, config: SmtpConfig, connection_factory: ConnectionFactory = connect) -> None:
        self.config = config
        self._factory = connection_factory
        self._local = threading.local()
        self._all: list[smtplib.SMTP] = []
        self._all_lock = threading.Lock()

    @property
    def limiter_key(self) -> str:
        return f"{self.name}:{self.config.host}:{self.config.port}"

    def close(self) -> None:
        with self._all_lock:
            conns, self._all = self._all, []
        for conn in conns:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()
        self._local = threading.local()

    def _connection(self) -> smtplib.SMTP:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.sent < self.config.messages_per_connection:
            return conn
        if conn is not None:
            self._drop()
        conn = self._factory(self.config)
        self._local.conn, self._local.sent = conn, 0
        with self._all_lock:
            self._all.append(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._all_lock:
                if conn in self._all:
                    self._all.remove(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def build(self, m: Message) -> bytes:
        """The RFC 5322 message, written directly: `email.message.EmailMessage` costs ~2 ms a message,
        more than the SMTP exchange itself."""
        domain = self.config.from_email.rpartition("@")[2] or "localhost"
        message_id = f"<{hashlib.sha256(m.key.encode()).hexdigest()[:32]}@{domain}>"
        name = m.data.get("from_name") or self.config.from_name or ""
        headers = [
            ("From", formataddr((name, self.config.from_email), charset="utf-8")),
            ("To", m.address),
            ("Subject", _encode_header(m.subject or "")),
            ("Date", formatdate(localtime=False)),
            ("Message-ID", message_id),
            ("X-Dangol-Key", m.key),
            *unsubscribe_headers(m).items(),
            ("MIME-Version", "1.0"),
        ]
        text = _base64_part(m.body)
        if m.data.get("html"):
            boundary = "=_dangol_" + hashlib.sha256(m.key.encode()).hexdigest()[:24]
            headers.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
            body = (
                f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{text}"
                f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n"
                f"Content-Transfer-Encoding: base64\r\n\r\n{_base64_part(m.data['html'])}"
                f"--{boundary}--\r\n"
            )
        else:
            headers += [("Content-Type", "text/plain; charset=utf-8"), ("Content-Transfer-Encoding", "base64")]
            body = text
        head = "".join(f"{k}: {v}\r\n" for k, v in headers)
        return (head + "\r\n" + body).encode("ascii")

    def send(self, messages: Sequence[Message], *, idempotency_key: str) -> list[SendResult]:
        return [self._send_one(m) for m in messages]

    def _send_one(self, m: Message) -> SendResult:
        problem = email_problem(m)
        if problem:
            return problem
        msg = self.build(m)
        message_id = f"<{hashlib.sha256(m.key.encode()).hexdigest()[:32]}@{self.config.from_email.rpartition('@')[2]}>"
        try:
            conn = self._connection()
        except smtplib.SMTPAuthenticationError as exc:
            return SendResult(
                m.key, Outcome.CONFIG_ERROR, reason=f"SMTP login refused: {exc.smtp_code}", code=str(exc.smtp_code)
            )
        except (smtplib.SMTPException, OSError) as exc:
            return SendResult(m.key, Outcome.RETRY, reason=f"cannot connect: {type(exc).__name__}", code="connect")
        phase = "mail"
        try:
            code, answer = conn.mail(self.config.from_email)
            if code != 250:
                return self._refused(m, "MAIL", code, answer)
            phase = "rcpt"
            code, answer = conn.rcpt(m.address)
            if code not in (250, 251):
                return self._refused(m, "RCPT", code, answer)
            phase = "data"
            code, answer = conn.data(msg)
        except smtplib.SMTPDataError as exc:  # DATA itself refused: nothing was sent
            return self._refused(m, "DATA", exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError) as exc:
            self._drop()
            if phase == "data":
                return SendResult(
                    m.key, Outcome.UNKNOWN, reason=f"no answer to DATA: {type(exc).__name__}", code="no_answer"
                )
            return SendResult(
                m.key, Outcome.RETRY, reason=f"connection lost before DATA: {type(exc).__name__}", code="connect"
            )
        self._local.sent += 1
        if code == 250:
            return SendResult(m.key, Outcome.ACCEPTED, provider_id=message_id)
        return self._refused(m, "DATA", code, answer, reset=False)

    def _refused(self, m: Message, step: str, code: int, answer: bytes | str, reset: bool = True) -> SendResult:
        text = f"SMTP {step} {code}: {reason(answer.decode(errors='replace') if isinstance(answer, bytes) else answer)}"
        if reset:
            try:
                self._local.conn.rset()
            except (smtplib.SMTPException, OSError, AttributeError):
                self._drop()
        if code == 421:
            self._drop()  # the server is closing this connection
        if 400 <= code < 500:
            throttled = "throttl" in text.lower() or "rate" in text.lower()
            return SendResult(m.key, Outcome.RETRY, reason=text, code=str(code), throttled=throttled)
        if step == "MAIL":
            return SendResult(m.key, Outcome.CONFIG_ERROR, reason=text, code=str(code))
        if step == "RCPT":
            return SendResult(m.key, Outcome.PERMANENT, reason=text, code=str(code))  # hard bounce
        return SendResult(m.key, Outcome.PERMANENT, suppress=False, reason=text, code=str(code))
