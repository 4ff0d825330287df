"""The HTTP server under every provider fake: threaded, keep-alive, Nagle off, faults switchable.

Python's `http.server` answering keep-alive requests in two writes (headers, then body) stalls ~40 ms
per request on Linux (Nagle's algorithm meets delayed ACK). Here every accepted socket gets
TCP_NODELAY and every answer leaves in a single write, so the fake is not the bottleneck of a
benchmark that measures the client.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Faults:
    """Shares of requests that go wrong, and how; switchable while the fake runs.

    * `throttle`: answered 429 with `Retry-After: retry_after` before any processing;
    * `error`: answered 500/503 before any processing (the provider did not take the message);
    * `slow`: processed after an extra `slow_seconds`;
    * `drop`: processed and recorded, then the connection is closed without an answer (the ambiguous
      case: the message went out but the sender cannot know).
    """

    throttle: float = 0.0
    retry_after: str = "1"
    error: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 1.0
    drop: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Faults:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


NO_FAULTS = Faults()


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Any  # http.client.HTTPMessage: case-insensitive get()
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON, bytes/str as is
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> tuple[bytes, dict[str, str]]:
        headers = dict(self.headers)
        if isinstance(self.body, dict | list):
            data = json.dumps(self.body, ensure_ascii=False).encode()
            headers.setdefault("Content-Type", "application/json;charset=UTF-8")
        elif isinstance(self.body, str):
            data = self.body.encode()
            headers.setdefault("Content-Type", "text/plain;charset=UTF-8")
        else:
            data = self.body or b""
        return data, headers


_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    410: "Gone",
    413: "Payload Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    fake: FakeProvider

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender killed mid-request resets its connection; that is expected here, not news."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, addr


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests assert on logs
        pass

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the sender died mid-request: nothing was sent
            self.close_connection = True
            return
        parts = urlsplit(self.path)
        request = Request(self.command, parts.path, parse_qs(parts.query), self.headers, body)
        fake = self.server.fake
        if parts.path.startswith("/_fake/"):
            reply, drop = fake.control(request), False
        else:
            reply, drop = fake.serve(request)
        if drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        data, headers = reply.encode()
        head = [
            f"HTTP/1.1 {reply.status} {_REASONS.get(reply.status, 'Status')}",
            f"Content-Length: {len(data)}",
        ]
        head += [f"{k}: {v}" for k, v in headers.items()]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)

    do_GET = do_POST = do_PUT = do_DELETE = _dispatch


class FakeProvider:
    """A real HTTP server on 127.0.0.1 that behaves like one provider.

    Subclasses implement `handle` (auth, validation, per-recipient answers) and call `record` for each
    message the provider would have accepted (or `record_later` with a function that makes those
    records, to keep parsing off the request path); `received` is what a test compares with the
    ledger. `record_path` also appends every record to a JSON-lines file, for checks from another
    process.
    """

    name: ClassVar[str] = "fake"

    def __init__(
        self,
        *,
        latency_ms: float = 0.0,
        faults: Faults = NO_FAULTS,
        record_path: Path | str | None = None,
        seed: int | None = None,
    ) -> None:
        self.latency_ms = latency_ms
        self.faults = faults
        self._received: list[dict[str, Any]] = []
        self._later: list[Callable[[], list[dict[str, Any]]]] = []
        self.requests = 0
        self.record_path = Path(record_path) if record_path else None
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-{self.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "fake not started"
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}"

    # -- recording ------------------------------------------------------------------------------

    @property
    def received(self) -> list[dict[str, Any]]:
        """Every accepted message, in the order accepted."""
        with self._lock:
            return self._drain()

    def _drain(self) -> list[dict[str, Any]]:
        later, self._later = self._later, []
        for make in later:
            self._received.extend(make())
        return self._received

    def record(self, items: list[dict[str, Any]]) -> None:
        with self._lock:
            self._drain()
            self._received.extend(items)
            if self.record_path is not None:
                with self.record_path.open("a", encoding="utf-8") as out:
                    for item in items:
                        out.write(json.dumps(item, ensure_ascii=False) + "\n")

    def record_later(self, make: Callable[[], list[dict[str, Any]]]) -> None:
        """Like `record(make())`, with `make` run when `received` is next read: a provider parses
        nothing it does not have to while answering, and the fake should not be the benchmark's
        bottleneck. With `record_path` set the records are written at once."""
        if self.record_path is not None:
            self.record(make())
            return
        with self._lock:
            self._later.append(make)

    def received_keys(self) -> list[str]:
        return [item["key"] for item in self.received if item.get("key")]

    def reset(self) -> None:
        with self._lock:
            self._received.clear()
            self._later.clear()
            self.requests = 0

    # -- serving --------------------------------------------------------------------------------

    def _roll(self) -> float:
        with self._lock:
            return self._rng.random()

    def serve(self, request: Request) -> tuple[Reply, bool]:
        """Apply latency and faults around `handle`; returns the reply and whether to drop it."""
        if self.is_control_free(request):
            return self.handle(request), False
        with self._lock:
            self.requests += 1
        faults = self.faults
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        roll = self._roll()
        if roll < faults.throttle:
            return self.fault_reply(429, faults.retry_after), False
        if roll < faults.throttle + faults.error:
            return self.fault_reply(503 if roll < faults.throttle + faults.error / 2 else 500, None), False
        if faults.slow and self._roll() < faults.slow:
            time.sleep(faults.slow_seconds)
        reply = self.handle(request)
        drop = reply.status < 300 and faults.drop > 0 and self._roll() < faults.drop
        return reply, drop

    def is_control_free(self, request: Request) -> bool:
        """Requests that faults never touch (e.g. an OAuth token endpoint)."""
        return False

    def fault_reply(self, status: int, retry_after: str | None) -> Reply:
        headers = {"Retry-After": retry_after} if retry_after else {}
        return Reply(status, {"error": _REASONS.get(status, "error")}, headers)

    def handle(self, request: Request) -> Reply:
        raise NotImplementedError

    def control(self, request: Request) -> Reply:
        """`/_fake/faults` (POST JSON), `/_fake/received` (GET), `/_fake/reset` (POST)."""
        if request.path == "/_fake/faults":
            if request.method == "POST":
                self.faults = Faults.from_dict(request.json() or {})
                self.latency_ms = float((request.json() or {}).get("latency_ms", self.latency_ms))
            return Reply(200, asdict(self.faults) | {"latency_ms": self.latency_ms})
        if request.path == "/_fake/received":
            return Reply(200, list(self.received))
        if request.path == "/_fake/reset":
            self.reset()
            return Reply(200, {"ok": True})
        return Reply(404, {"error": "no such control"})
