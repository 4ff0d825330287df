"""Benchmark of `dangol track`: redirects per second and latency, with and without the durable log,
and receipts per second. Not a test: it prints figures (see README.md beside this file).

The service runs in its own process (uvicorn, one worker, as `dangol track` does) and the load
generator in another: a small asyncio HTTP/1.1 client with keep-alive connections, so the client
costs far less CPU per request than the server and the 2 cores are split between the two.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import random
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from channels.tracking.tokens import Kind, Signer

KEYS = {"bench": b"bench-secret"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(folder: str, port: int, options: dict[str, Any]) -> None:
    import logging

    import uvicorn

    from channels.tracking.app import TrackConfig, create_app

    root = Path(folder)
    config = TrackConfig(
        event_log=root / "events",
        link_store=root / "links.sqlite",
        ledger=root / "ledger.sqlite",
        signer=Signer(KEYS),
        rate_per_second=0,
        receipts_rate_per_second=0,
        **options,
    )
    logging.getLogger("dangol.track").setLevel(logging.ERROR)
    uvicorn.run(create_app(config), host="127.0.0.1", port=port, access_log=False, log_level="warning")


def _plan(folder: Path, sends: int) -> list[str]:
    """A plan of `sends` emails with two links each; returns one click path per link."""
    from channels.tracking.links import LinkStore, PlannedSend, RenderedLinks

    signer = Signer(KEYS)
    rendered, paths = [], []
    for i in range(sends):
        key = f"{i:032x}"
        send = PlannedSend(key, "email", "bench", f"c{i}", "2026-12-04", "ad")
        rendered.append(
            RenderedLinks(send, ("https://shop.example.com/a?utm_source=dangol", "https://shop.example.com/b"))
        )
        paths += [f"/c/{signer.sign(_token(Kind.CLICK, key, n))}" for n in (1, 2)]
    with LinkStore(folder / "links.sqlite") as store:
        store.register(rendered)
    return paths


def _token(kind: Kind, key: str, link: int) -> Any:
    from channels.tracking.tokens import Token

    return Token(kind, key, "email", link)


async def _connection(port: int, requests: list[bytes], latencies: list[float], expect: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    for request in requests:
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        if not head.startswith(expect):
            errors += 1
    writer.close()
    return errors


def _load(port: int, requests: list[bytes], connections: int, expect: bytes) -> dict[str, float]:
    """Send every request over `connections` keep-alive connections; figures of the whole run."""

    async def run() -> tuple[list[float], int, float]:
        latencies: list[float] = []
        share = [requests[i::connections] for i in range(connections)]
        started = time.perf_counter()
        errors = await asyncio.gather(*(_connection(port, s, latencies, expect) for s in share))
        return latencies, sum(errors), time.perf_counter() - started

    latencies, errors, elapsed = asyncio.run(run())
    latencies.sort()
    return {
        "requests": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
        "errors": errors,
    }


def _get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: t\r\nUser-Agent: Mozilla/5.0 (bench) AppleWebKit\r\n\r\n".encode()


def _sendgrid_requests(events_per_post: int, posts: int) -> tuple[list[bytes], str]:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(
        key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).decode()
    out = []
    kinds = ("delivered", "open", "click", "bounce")
    for p in range(posts):
        events = [
            {
                "event": kinds[(p + i) % 4],
                "type": "bounce",
                "sg_event_id": f"{p}-{i}",
                "dangol_key": f"{random.randrange(10**6):032x}",
                "email": f"user{i}@example.com",
                "timestamp": int(time.time()),
            }
            for i in range(events_per_post)
        ]
        body = json.dumps(events).encode()
        ts = str(int(time.time()))
        signature = base64.b64encode(key.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
        out.append(
            (
                "POST /receipts/sendgrid HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                f"X-Twilio-Email-Event-Webhook-Signature: {signature}\r\n"
                f"X-Twilio-Email-Event-Webhook-Timestamp: {ts}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )
    return out, public


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc), with its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _with_service(options: dict[str, Any], prepare: Any, measure: Any) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-track-") as folder:
        data = prepare(Path(folder))
        port = _free_port()
        server = multiprocessing.get_context("spawn").Process(target=_serve, args=(folder, port, options))
        server.start()
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            assert server.pid is not None
            before = _cpu_seconds(server.pid)
            figures = measure(port, data)
            figures["server_cpu_us"] = 1e6 * (_cpu_seconds(server.pid) - before) / figures["requests"]
            return figures
        finally:
            server.terminate()
            server.join(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.track", description=__doc__)
    parser.add_argument("--requests", type=int, default=40_000, help="redirects per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--receipt-posts", type=int, default=200)
    parser.add_argument("--events-per-post", type=int, default=500)
    parser.add_argument("--quick", action="store_true", help="a smoke run: small and once")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.repeat, args.receipt_posts = 2_000, 1, 20

    print(
        f"cpus {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, {args.requests:,} redirects over"
        f" {args.connections} connections, median of {args.repeat}"
    )
    variants = {
        "durable log (fsync)": {},
        "log, no fsync": {"durable": False},
        "no log": {"log_events": False},
    }
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    for rep in range(args.repeat):
        order = list(variants) if rep % 2 == 0 else list(reversed(variants))
        for name in order:

            def prepare(folder: Path) -> list[bytes]:
                paths = _plan(folder, 5_000)
                return [_get(paths[i % len(paths)]) for i in range(args.requests)]

            def measure(port: int, requests: list[bytes]) -> dict[str, float]:
                _load(port, requests[:500], args.connections, b"HTTP/1.1 302")  # warm-up
                time.sleep(0.5)  # let the ledger follower finish the warm-up's events
                return _load(port, requests, args.connections, b"HTTP/1.1 302")

            results[name].append(_with_service(variants[name], prepare, measure))
    print(f"\n{'redirects':<22}{'per second':>12}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'server CPU us':>15}")
    summary: dict[str, Any] = {}
    for name, runs in results.items():
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        summary[name] = med
        print(
            f"{name:<22}{med['per_second']:>12,.0f}{med['p50_ms']:>9.2f}{med['p99_ms']:>9.2f}{int(med['errors']):>8}"
            f"{med['server_cpu_us']:>15.0f}"
        )

    receipts: list[dict[str, float]] = []
    public_key: dict[str, str] = {}

    def prepare_receipts(folder: Path) -> list[bytes]:
        return posts

    for _ in range(args.repeat):
        posts, public = _sendgrid_requests(args.events_per_post, args.receipt_posts)
        public_key["key"] = public

        def measure_receipts(port: int, data: list[bytes]) -> dict[str, float]:
            return _load(port, data, 8, b"HTTP/1.1 200")

        receipts.append(_with_service({"sendgrid_public_key": public}, prepare_receipts, measure_receipts))
    med = {k: statistics.median(r[k] for r in receipts) for k in receipts[0]}
    events = med["per_second"] * args.events_per_post
    print(
        f"\nreceipts (SendGrid, {args.events_per_post} events a POST, signed, durable log): {events:,.0f} events/s,"
        f" {med['per_second']:,.1f} POSTs/s, p50 {med['p50_ms']:.1f} ms, p99 {med['p99_ms']:.1f} ms,"
        f" errors {int(med['errors'])}, server CPU {med['server_cpu_us'] / args.events_per_post:.0f} us an event"
    )
    out = Path(__file__).resolve().parent.parent / "results" / f"track-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps({"redirects": summary, "receipts_events_per_second": events, "args": vars(args)}, indent=2)
    )
    print(f"written to {out}")
    return 0
