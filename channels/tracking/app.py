"""`dangol track`: the tracking web service (Starlette on uvicorn, one process).

Routes (tokens: see `tokens.py`):

| route                         | what                                                             |
|-------------------------------|------------------------------------------------------------------|
| `GET /c/{token}`              | a click: logged, then 302 to the link's planned target (UTM added) |
| `GET /o/{token}.gif`          | an email open: logged, a 1x1 GIF                                  |
| `GET /u/{token}`              | the unsubscribe page (Korean): confirm, choose channels and purposes |
| `POST /u/{token}`             | RFC 8058 one-click (`List-Unsubscribe=One-Click`) or the page's form |
| `POST /receipts/sendgrid`     | SendGrid event webhook (ECDSA, timestamp window)                   |
| `POST /receipts/nhn/{channel}`| NHN Cloud webhooks for `sms` or `kakao` (static signature)         |
| `POST /receipts/webhook`      | Standard Webhooks answers from our webhook channel's receivers      |
| `GET /healthz`                | liveness                                                           |

Every event is in the durable log before the answer goes out; nothing here touches the warehouse.
A forged, altered or expired token gets 404 (never a redirect), a bad or stale signature 401 and one
log line without personal data; a replayed receipt is dropped by its provider event id here, and
downstream (the warehouse's event id key; receipts only move the ledger forward). Opt-outs reach the
ledger's suppression list before the answer; receipts reach the ledger through `LedgerApplier`,
which follows the log with a cursor of its own. Request bodies are bounded and each client is rate
limited; run one process (one writer per log).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from channels.ledger import Ledger
from channels.masking import mask_text
from channels.receipts import (
    Event,
    Receipt,
    apply_receipts,
    parse_nhn,
    parse_sendgrid,
    parse_standard_webhook,
    verify_nhn,
    verify_sendgrid,
    verify_standard_webhook,
)
from channels.tracking import optouts, page
from channels.tracking.eventlog import AsyncAppender, Cursor, EventLog, new_event, read_from
from channels.tracking.forms import form_fields, is_one_click
from channels.tracking.humans import HumanFilter, Verdict
from channels.tracking.links import LinkStore, PlannedSend
from channels.tracking.tokens import Kind, Signer

log = logging.getLogger("dangol.track")

PIXEL = bytes.fromhex("47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b")
_NO_STORE = {"Cache-Control": "no-store, private", "Referrer-Policy": "no-referrer"}
NHN_CHANNELS = ("sms", "kakao")


@dataclass
class TrackConfig:
    event_log: Path
    link_store: Path
    ledger: Path
    signer: Signer
    sender_name: str = "단골상점"
    timezone: str = "Asia/Seoul"
    sendgrid_public_key: str | None = None
    nhn_signature: str | None = None
    webhook_secret: str | None = None
    signature_tolerance_seconds: float = 300
    rate_per_second: float = 50.0  # per client address, public routes; 0 turns the limit off
    rate_burst: float = 200.0
    receipts_rate_per_second: float = 2_000.0  # per client address, receipt routes
    max_receipt_bytes: int = 2 * 1024 * 1024
    max_form_bytes: int = 8 * 1024
    durable: bool = True  # False: written but not fsynced (the benchmark's middle column)
    log_events: bool = True  # False only for the benchmark's baseline: the same service without the log
    apply_to_ledger: bool = True

    @classmethod
    def from_env(cls, *, event_log: Path, link_store: Path, ledger: Path, **overrides: Any) -> TrackConfig:
        """Secrets and limits from the environment (never from files in the repository)."""
        env = os.environ
        values: dict[str, Any] = {
            "signer": Signer.from_env(),
            "sendgrid_public_key": env.get("DANGOL_SENDGRID_WEBHOOK_PUBLIC_KEY") or None,
            "nhn_signature": env.get("DANGOL_NHN_WEBHOOK_SIGNATURE") or None,
            "webhook_secret": env.get("DANGOL_WEBHOOK_SECRET") or None,
        }
        if "DANGOL_TRACK_RATE" in env:
            values["rate_per_second"] = float(env["DANGOL_TRACK_RATE"])
        if "DANGOL_TRACK_DURABLE" in env:
            values["durable"] = env["DANGOL_TRACK_DURABLE"] not in ("0", "false", "no")
        return cls(event_log=event_log, link_store=link_store, ledger=ledger, **(values | overrides))


class RateLimiter:
    """A token bucket per client address; the table forgets the quietest clients when it grows."""

    def __init__(self, rate: float, burst: float, capacity: int = 100_000) -> None:
        self.rate, self.burst, self.capacity = rate, burst, capacity
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def allow(self, client: str, now: float) -> bool:
        if self.rate <= 0:
            return True
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        allowed = tokens >= 1
        self._buckets[client] = (tokens - 1 if allowed else tokens, now)
        if len(self._buckets) > self.capacity:
            self._buckets.popitem(last=False)
        return allowed


class SeenIds:
    """Provider event ids seen lately: a replay is dropped before it reaches the log."""

    def __init__(self, capacity: int = 500_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def first_time(self, event_id: str) -> bool:
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True


class TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class LedgerApplier:
    """Follows the event log and applies receipts and human opens/clicks to the ledger.

    Its cursor is a file beside the log, written after each applied batch; after a crash the batch is
    applied again, which changes nothing (receipts only move messages forward)."""

    _RECEIPTS = frozenset(str(e) for e in Event) - {str(Event.UNSUBSCRIBED), str(Event.COMPLAINED)}
    _FORWARD_ONLY = frozenset({str(Event.DELIVERED), str(Event.OPENED), str(Event.CLICKED)})

    def __init__(self, folder: Path, ledger: Ledger, interval: float = 0.2) -> None:
        self.folder, self.ledger, self.interval = folder, ledger, interval
        self.cursor_file = folder / "ledger.cursor"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ledger-applier", daemon=True)
        self._advanced: set[tuple[str | None, str]] = set()
        self.applied = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _cursor(self) -> Cursor:
        return Cursor.parse(self.cursor_file.read_text().strip() if self.cursor_file.exists() else None)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                n = self.apply_pending()
            except Exception:
                log.exception("applying events to the ledger failed; retrying")
                n = 0
            if n == 0:
                self._stop.wait(self.interval)

    def apply_pending(self, limit: int = 5_000) -> int:
        events, cursor = read_from(self.folder, self._cursor(), limit=limit)
        if not events:
            return 0
        with self.ledger.atomic():  # one commit (and at most one fsync) per batch, not one per event
            seen = self._apply(events)
        if len(self._advanced) > 500_000:
            self._advanced.clear()
        self._advanced |= seen  # only once committed: a batch that failed is applied again in full
        tmp = self.cursor_file.with_suffix(".tmp")
        tmp.write_text(str(cursor))
        tmp.replace(self.cursor_file)
        self.applied += len(events)
        return len(events)

    def _apply(self, events: list[dict[str, Any]]) -> set[tuple[str | None, str]]:
        """Apply one batch inside the caller's transaction; returns the forward steps it applied."""
        receipts: list[Receipt] = []
        seen: set[tuple[str | None, str]] = set()
        for e in events:
            kind = e.get("kind")
            if kind in ("unsubscribed", "complained") and e.get("channel") and e.get("address_hash"):
                scope = optouts.Scope(e.get("scope", "ad"))
                self.ledger.suppress_hashed(
                    e["channel"],
                    e["address_hash"],
                    f"opt-out ({e.get('source', kind)})",
                    optouts.suppression_kind(scope),
                )
            elif kind in self._RECEIPTS and e.get("is_human", True):
                if kind in self._FORWARD_ONLY:
                    # A message is opened (clicked, delivered) once: the ledger ignores the repeats anyway,
                    # and each costs it a lookup.
                    step = (e.get("send_key"), kind)
                    if step in self._advanced or step in seen:
                        continue
                    seen.add(step)
                receipts.append(
                    Receipt(
                        Event(kind),
                        e.get("send_key"),
                        e.get("channel"),
                        None,
                        e.get("detail"),
                        e["event_id"],
                        e.get("address_hash"),
                    )
                )
        apply_receipts(self.ledger, receipts)
        return seen


class TrackService:
    """What the routes share: the log, the planned links, the ledger, the filters and limits."""

    def __init__(self, config: TrackConfig) -> None:
        self.config = config
        self.log = EventLog(config.event_log, durable=config.durable)
        self.appender = AsyncAppender(self.log)
        self.links = LinkStore(config.link_store)
        self.ledger = Ledger(config.ledger)
        self.humans = HumanFilter()
        self.public_limit = RateLimiter(config.rate_per_second, config.rate_burst)
        self.receipt_limit = RateLimiter(config.receipts_rate_per_second, config.receipts_rate_per_second)
        self.seen = SeenIds()
        self.applier = LedgerApplier(config.event_log, self.ledger) if config.apply_to_ledger else None
        self.tz = ZoneInfo(config.timezone)

    def start(self) -> None:
        if self.applier:
            self.applier.start()

    def close(self) -> None:
        if self.applier:
            self.applier.stop()
        self.appender.close()
        self.log.close()
        self.links.close()
        self.ledger.close()

    async def write(self, events: Sequence[dict[str, Any]]) -> None:
        if events and self.config.log_events:
            await self.appender.append(events)

    # -- clicks and opens -------------------------------------------------------------------------

    async def click(self, request: Request) -> Response:
        token = self.config.signer.verify(request.path_params["token"])
        found = (
            self.links.target(token.send_key, token.channel, token.link) if token and token.kind is Kind.CLICK else None
        )
        if token is None or found is None:
            return PlainTextResponse("not found", status_code=404, headers=_NO_STORE)
        send, target = found
        now = time.time()
        verdict = self.humans.judge_click(
            send.send_key, token.link, now, request.headers.get("user-agent"), request.method
        )
        await self.write([self._engagement("clicked", send, verdict, link=token.link)])
        return RedirectResponse(target, status_code=302, headers=_NO_STORE)

    async def open(self, request: Request) -> Response:
        token = self.config.signer.verify(request.path_params["token"])
        if token is None or token.kind is not Kind.OPEN:
            return PlainTextResponse("not found", status_code=404, headers=_NO_STORE)
        send = self.links.send(token.send_key, token.channel)
        verdict = self.humans.judge_open(request.headers.get("user-agent"), request.method)
        await self.write([self._engagement("opened", send, verdict, send_key=token.send_key, channel=token.channel)])
        return Response(PIXEL, media_type="image/gif", headers=_NO_STORE)

    @staticmethod
    def _engagement(kind: str, send: PlannedSend | None, verdict: Verdict, **fields: Any) -> dict[str, Any]:
        of_send = (
            {
                "send_key": send.send_key,
                "channel": send.channel,
                "campaign_id": send.campaign_id,
                "customer_id": send.customer_id,
                "send_date": send.as_of_date,
            }
            if send is not None
            else {}
        )
        return new_event(
            kind, **(fields | of_send), is_human=verdict.is_human, bot_reason=verdict.reason, source="track"
        )

    # -- unsubscribe ------------------------------------------------------------------------------

    def _unsubscribe_send(self, request: Request) -> PlannedSend | None:
        token = self.config.signer.verify(request.path_params["token"])
        if token is None or token.kind is not Kind.UNSUBSCRIBE:
            return None
        return self.links.send(token.send_key, token.channel)

    async def unsubscribe_page(self, request: Request) -> Response:
        send = self._unsubscribe_send(request)
        if send is None:
            return HTMLResponse(page.not_found(), status_code=404, headers=_NO_STORE)
        channels = self._channels_of(send)
        return HTMLResponse(
            page.choose(self.config.sender_name, send.channel, channels, request.url.path), headers=_NO_STORE
        )

    def _channels_of(self, send: PlannedSend) -> list[str]:
        known = set(self.links.contacts(send.customer_id)) | {send.channel}
        return [c for c in page.CHANNEL_NAMES if c in known]

    async def unsubscribe(self, request: Request) -> Response:
        send = self._unsubscribe_send(request)
        if send is None:
            return HTMLResponse(page.not_found(), status_code=404, headers=_NO_STORE)
        body = await read_body(request, self.config.max_form_bytes)
        content_type = request.headers.get("content-type", "")
        contacts = self.links.contacts(send.customer_id)
        if is_one_click(content_type, body):
            chosen, scope, source = [send.channel], optouts.Scope.ADS, "one_click"
        else:
            fields = form_fields(content_type, body)
            offered = self._channels_of(send)
            chosen = [v for k, v in fields if k == "channel" and v in offered]
            purpose = next((v for k, v in fields if k == "purpose"), "ad")
            scope = optouts.Scope.ALL if purpose == "all" else optouts.Scope.ADS
            source = "page"
            if not chosen:
                html = page.choose(self.config.sender_name, send.channel, offered, request.url.path)
                return HTMLResponse(html, status_code=400, headers=_NO_STORE)
        opt_outs = optouts.for_send(send, contacts, chosen, scope, source)
        await run_in_threadpool(optouts.apply, self.ledger, self.log, opt_outs)
        if source == "one_click":
            return PlainTextResponse("unsubscribed", headers=_NO_STORE)
        html = page.done(self.config.sender_name, chosen, str(scope), datetime.now(self.tz))
        return HTMLResponse(html, headers=_NO_STORE)

    # -- receipts ---------------------------------------------------------------------------------

    def _rejected(self, provider: str) -> Response:
        log.warning("%s receipt rejected: bad or stale signature", provider)
        return PlainTextResponse("bad signature", status_code=401)

    async def _receipts(self, provider: str, receipts: list[Receipt]) -> Response:
        now = time.time()
        events = []
        for r in receipts:
            if r.event_id is not None and not self.seen.first_time(r.event_id):
                continue  # a replay
            if r.event is Event.DELIVERED and r.key:
                self.humans.delivered(r.key, now)
            fields: dict[str, Any] = {
                "send_key": r.key,
                "channel": r.channel,
                "address_hash": r.address_hash,
                "detail": mask_text(r.detail) if r.detail else None,
                "provider": provider,
                "source": "receipt",
            }
            if r.event_id:
                fields["event_id"] = r.event_id
            if r.event is Event.UNSUBSCRIBED:
                fields["scope"] = str(optouts.Scope.ADS)
            events.append(new_event(str(r.event), **fields))
        await self.write(events)
        return JSONResponse({"accepted": len(events), "duplicates": len(receipts) - len(events)})

    async def sendgrid(self, request: Request) -> Response:
        body = await read_body(request, self.config.max_receipt_bytes)
        signature = request.headers.get("x-twilio-email-event-webhook-signature", "")
        timestamp = request.headers.get("x-twilio-email-event-webhook-timestamp", "")
        key = self.config.sendgrid_public_key
        if not key or not verify_sendgrid(
            key, signature, timestamp, body, tolerance_seconds=self.config.signature_tolerance_seconds
        ):
            return self._rejected("sendgrid")
        try:
            receipts = parse_sendgrid(body)
        except (ValueError, TypeError, AttributeError):
            return PlainTextResponse("not a SendGrid event array", status_code=400)
        return await self._receipts("sendgrid", receipts)

    async def nhn(self, request: Request) -> Response:
        channel = request.path_params["channel"]
        if channel not in NHN_CHANNELS:
            return PlainTextResponse("not found", status_code=404)
        body = await read_body(request, self.config.max_receipt_bytes)
        expected = self.config.nhn_signature
        if not expected or not verify_nhn(expected, request.headers.get("x-toast-webhook-signature")):
            return self._rejected("nhn")
        try:
            receipts = parse_nhn(body, channel)
        except (ValueError, TypeError, AttributeError):
            return PlainTextResponse("not an NHN webhook", status_code=400)
        return await self._receipts("nhn", receipts)

    async def webhook(self, request: Request) -> Response:
        body = await read_body(request, self.config.max_receipt_bytes)
        secret = self.config.webhook_secret
        headers = dict(request.headers)
        if not secret or not verify_standard_webhook(
            secret, headers, body, tolerance_seconds=self.config.signature_tolerance_seconds
        ):
            return self._rejected("webhook")
        try:
            receipts = parse_standard_webhook(body, headers["webhook-id"])
        except (ValueError, TypeError, AttributeError):
            return PlainTextResponse("not a webhook event", status_code=400)
        return await self._receipts("webhook", receipts)

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})


def create_app(config: TrackConfig) -> Starlette:
    service = TrackService(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        service.start()
        try:
            yield
        finally:
            service.close()

    def guarded(handler: Any, limiter: RateLimiter) -> Any:
        async def endpoint(request: Request) -> Response:
            client = request.client.host if request.client else "-"
            if not limiter.allow(client, time.monotonic()):
                return PlainTextResponse("slow down", status_code=429, headers={"Retry-After": "1"})
            try:
                return await handler(request)
            except TooLarge:
                return PlainTextResponse("request too large", status_code=413)

        return endpoint

    public, receipts = service.public_limit, service.receipt_limit
    routes = [
        Route("/c/{token}", guarded(service.click, public), methods=["GET", "HEAD"]),
        Route("/o/{token}.gif", guarded(service.open, public), methods=["GET", "HEAD"]),
        Route("/u/{token}", guarded(service.unsubscribe_page, public), methods=["GET"]),
        Route("/u/{token}", guarded(service.unsubscribe, public), methods=["POST"]),
        Route("/receipts/sendgrid", guarded(service.sendgrid, receipts), methods=["POST"]),
        Route("/receipts/nhn/{channel}", guarded(service.nhn, receipts), methods=["POST"]),
        Route("/receipts/webhook", guarded(service.webhook, receipts), methods=["POST"]),
        Route("/healthz", service.health, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.service = service
    return app


def serve(config: TrackConfig, host: str = "127.0.0.1", port: int = 8787) -> None:
    """Run the service in this process (one worker: one writer per event log)."""
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # No access log: its lines would carry client addresses and tokens.
    uvicorn.run(create_app(config), host=host, port=port, access_log=False, proxy_headers=True, log_level="info")
