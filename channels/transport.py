"""HTTP plumbing shared by the adapters: pooled sessions, a cross-thread rate limiter, answers that
were lost on the wire, Retry-After.

Whether a failed request reached the provider decides whether it may be sent again: a connection that
was never made is safe to retry; a request written to the socket whose answer never came is
ambiguous (the provider may have accepted it), and only a provider that deduplicates by key may see
it twice.
"""

from __future__ import annotations

import email.utils
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import requests
import urllib3
from requests.adapters import HTTPAdapter


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


GIL_SLICE_SECONDS = 0.001


@contextmanager
def short_gil_slices(seconds: float = GIL_SLICE_SECONDS) -> Iterator[None]:
    """Let a thread waiting for the GIL have it within `seconds` instead of Python's default 5 ms.

    Every socket read and every SQLite statement gives up the GIL and must take it back; while another
    thread is busy in Python (building a 1,000-recipient body, reading an answer), taking it back waits
    for that thread's slice to end. A batch's claim, request and answer pass through a dozen such points,
    which added ~30 ms to each batch's round trip (measured against the fakes), more than the network
    latency itself. Process-wide while it lasts; a slice already shorter is left alone."""
    before = sys.getswitchinterval()
    if before <= seconds:
        yield
        return
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


class LeanSession(requests.Session):
    """A `requests.Session` whose plain calls skip what the adapters never use.

    `Session.request` merges session settings, cookies, auth and hooks, extracts cookies from every
    answer and follows redirects; on a one-message-per-request API that is about half of the client's
    CPU per message (measured against the fakes: ~0.7-1.0 ms per request through `Session.post`,
    ~0.5 ms through the transport adapter directly). Calls with only method, URL, headers, body and
    timeout go straight to the transport adapter, with the same exceptions and `Response`; any other
    argument takes the full path. Redirects are not followed: a provider answering a POST with 3xx is
    classified by its status like any other answer.
    """

    _PLAIN = frozenset({"data", "json", "headers", "timeout"})

    def request(self, method: str | bytes, url: str | bytes, *args: object, **kwargs: object) -> requests.Response:
        if args or not self._PLAIN.issuperset(k for k, v in kwargs.items() if v is not None):
            return super().request(method, url, *args, **kwargs)  # type: ignore[arg-type]
        prepared = requests.PreparedRequest()
        prepared.prepare_method(method)
        prepared.prepare_url(url, None)
        headers = self.headers.copy()
        headers.update(kwargs.get("headers") or {})  # type: ignore[arg-type]
        prepared.prepare_headers(headers)
        prepared.prepare_body(kwargs.get("data"), None, kwargs.get("json"))
        prepared.hooks = {"response": []}
        scheme = prepared.url.split(":", 1)[0] if prepared.url else "https"
        proxies = {scheme: self.proxies[scheme]} if scheme in self.proxies else {}
        response = self.get_adapter(prepared.url or "").send(
            prepared,
            timeout=kwargs.get("timeout"),
            proxies=proxies,  # type: ignore[arg-type]
        )
        _ = response.content  # read the whole answer now, as the full path does unless streaming
        return response


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
