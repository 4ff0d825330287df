"""HTTP plumbing shared by the adapters: pooled sessions, a cross-thread rate limiter, answers that
were lost on the wire, Retry-After.

Whether a failed request reached the provider decides whether it may be sent again: a connection that
was never made is safe to retry; a request written to the socket whose answer never came is
ambiguous (the provider may have accepted it), and only a provider that deduplicates by key may see
it twice.
"""

from __future__ import annotations

import email.utils
import functools
import http.client
import json
import select
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping

import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict


class RateLimiter:
    """A token bucket shared by every thread sending to one provider account.

    `pause` holds everyone back after a 429: the provider asked the account to slow down, not one
    thread.
    """

    def __init__(self, rate: float | None, burst: float | None = None) -> None:
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, (rate or 0) / 10)
        self._tokens = self.capacity
        self._stamp = time.monotonic()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, n: float = 1.0) -> float:
        """Block until `n` requests may go; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = time.monotonic()
                delay = self._paused_until - now
                if delay <= 0 and self.rate is None:
                    return waited
                if delay <= 0:
                    assert self.rate is not None
                    self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
                    self._stamp = now
                    if self._tokens >= min(n, self.capacity):
                        self._tokens -= n
                        return waited
                    delay = (min(n, self.capacity) - self._tokens) / self.rate
            time.sleep(delay)
            waited += delay

    def pause(self, seconds: float) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)


_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def limiter_for(key: str, rate: float | None) -> RateLimiter:
    """One limiter per provider account in this process, whichever adapter instance asks."""
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None or limiter.rate != rate:
            limiter = _LIMITERS[key] = RateLimiter(rate)
        return limiter


class LeanSession(requests.Session):
    """A `requests.Session` whose plain calls skip what the adapters never use.

    `Session.request` merges session settings, cookies, auth and hooks, extracts cookies from every
    answer and follows redirects, and urllib3 below it parses URLs and headers again; on a
    one-message-per-request API that was most of the client's CPU per message. Measured against the
    fakes, single thread: ~400 us of CPU per request through the transport adapter, ~120 us through
    `http.client` directly. So calls with only method, URL, headers, body and timeout, to a host with
    no proxy, go over a keep-alive `http.client` connection per thread and host, and come back as a
    `requests.Response` with the same exceptions (`ConnectionError` around `NewConnectionError` when
    the connection was never made, `ConnectTimeout`, `ReadTimeout`, `ConnectionError` when the answer
    was lost); any other call takes requests' full path. Redirects are not followed: a provider
    answering a POST with 3xx is classified by its status like any other answer. Answers are asked
    for uncompressed (`Accept-Encoding: identity`): they are small JSON.

    Kept for the one-message bar (800 messages/s with the ledger on, bench/delivery): in one run,
    webhook made 765-784/s with adapters on a plain `requests.Session` and 939-1,050/s on this.
    """

    _PLAIN = frozenset({"data", "json", "headers", "timeout"})

    def __init__(self) -> None:
        super().__init__()
        self._local = threading.local()
        self._open: set[http.client.HTTPConnection] = set()
        self._open_lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: object, **kwargs: object) -> requests.Response:
        data = kwargs.get("data")
        if (
            args
            or not self._PLAIN.issuperset(k for k, v in kwargs.items() if v is not None)
            or not isinstance(method, str)
            or not isinstance(url, str)
            or not isinstance(data, bytes | str | None)
            or self.verify is not True
            or self.cert
            or url.split(":", 1)[0] in self.proxies
        ):
            return super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]
        headers = CaseInsensitiveDict(self.headers)
        headers.update(kwargs.get("headers") or {})  # type: ignore[call-overload]
        headers["Accept-Encoding"] = "identity"
        body = data.encode() if isinstance(data, str) else data
        if body is None and kwargs.get("json") is not None:
            body = json.dumps(kwargs["json"], allow_nan=False).encode()
            headers.setdefault("Content-Type", "application/json")
        return self._direct(method, url, headers, body, kwargs.get("timeout"))  # type: ignore[arg-type]

    def _direct(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        timeout: float | tuple[float, float] | None,
    ) -> requests.Response:
        scheme, host, port, path = _target(url)
        connect_timeout, read_timeout = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        conns: dict[tuple[str, str, int], http.client.HTTPConnection] = self._local.__dict__.setdefault("conns", {})
        conn = conns.get((scheme, host, port))
        if conn is not None and conn.sock is not None and _dropped(conn.sock):
            self._forget(conns, (scheme, host, port))  # closed by the server while idle: never used again
            conn = None
        if conn is None or conn.sock is None:
            conn = conns[(scheme, host, port)] = self._connect(scheme, host, port, connect_timeout)
            with self._open_lock:
                self._open.add(conn)
        try:
            assert conn.sock is not None
            conn.sock.settimeout(read_timeout)
            conn.request(method, path, body, dict(headers))
            answer = conn.getresponse()
            content = answer.read()
        except TimeoutError as exc:
            self._forget(conns, (scheme, host, port))
            raise requests.ReadTimeout(f"no answer from {host} within {read_timeout} s") from exc
        except (OSError, http.client.HTTPException) as exc:
            self._forget(conns, (scheme, host, port))
            raise requests.ConnectionError(f"connection to {host} lost: {type(exc).__name__}") from exc
        if answer.will_close:
            self._forget(conns, (scheme, host, port))
        response = requests.Response()
        response.status_code = answer.status
        response.reason = answer.reason
        response.headers = CaseInsensitiveDict(answer.getheaders())
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.url = url
        response._content = content
        return response

    def _connect(self, scheme: str, host: str, port: int, timeout: float | None) -> http.client.HTTPConnection:
        """A new connection, or the exceptions requests raises when one could not be made (nothing sent)."""
        if scheme == "https":
            if self._tls is None:  # verified against the CA bundle requests itself uses
                self._tls = ssl.create_default_context(cafile=requests.utils.DEFAULT_CA_BUNDLE_PATH)
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=timeout, context=self._tls
            )
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            conn.connect()
        except ssl.SSLError as exc:
            conn.close()
            raise requests.exceptions.SSLError(f"TLS with {host} failed: {exc.reason}") from exc
        except TimeoutError as exc:
            conn.close()
            raise requests.ConnectTimeout(f"no connection to {host} within {timeout} s") from exc
        except OSError as exc:
            conn.close()
            raise requests.ConnectionError(
                urllib3.exceptions.NewConnectionError(None, f"cannot connect to {host}:{port}: {type(exc).__name__}")  # type: ignore[arg-type]
            ) from exc
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _forget(self, conns: dict[tuple[str, str, int], http.client.HTTPConnection], key: tuple[str, str, int]) -> None:
        conn = conns.pop(key, None)
        if conn is not None:
            conn.close()
            with self._open_lock:
                self._open.discard(conn)

    def close(self) -> None:
        with self._open_lock:
            conns, self._open = self._open, set()
        for conn in conns:
            conn.close()
        super().close()


@functools.lru_cache(maxsize=256)
def _target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of a URL; the adapters post to a handful of URLs."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise requests.exceptions.InvalidURL(f"not an http(s) URL: {parts.scheme}://{parts.hostname}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def _dropped(sock: socket.socket) -> bool:
    """An idle keep-alive socket that is readable was closed (or written to) by the server."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def new_session(pool_size: int = 32) -> requests.Session:
    """A keep-alive session sized for `pool_size` threads; no transparent retries (we decide those).

    `trust_env` is off: with it, requests re-reads every environment variable (proxies) and stats
    ~/.netrc on every request, ~0.5 ms of CPU each, which caps a one-message-per-request API at a few
    hundred messages a second. Proxy variables are read once here instead (NO_PROXY is not honoured).
    """
    session = LeanSession()
    session.trust_env = False
    session.proxies = {k: v for k, v in urllib.request.getproxies().items() if k in ("http", "https")}
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=pool_size, max_retries=0, pool_block=False)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def request_was_sent(exc: BaseException) -> bool:
    """False only when the failure certainly happened before the request left this machine."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError | requests.exceptions.InvalidURL):
        return False
    if isinstance(exc, requests.ConnectionError):
        inner = exc.args[0] if exc.args else None
        if isinstance(inner, urllib3.exceptions.MaxRetryError):
            inner = inner.reason
        if isinstance(inner, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError):
            return False
    return True


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))
