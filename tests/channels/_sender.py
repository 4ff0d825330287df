"""The sender the fault-injection test kills: every adapter delivering at once, one shared ledger.

python tests/channels/_sender.py --desc fakes.json --ledger ledger.sqlite --outbox DIR --per-adapter N [--shard 0/2]

With `--shard`, it delivers only that shard of each adapter's messages (one of several workers).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from channels.adapters.outbox import OutboxAdapter
from channels.delivery import deliver
from channels.errors import ChannelError
from channels.fakes import adapters_from_description
from channels.fakes.workload import messages
from channels.ledger import Ledger
from channels.shards import Shard

ADAPTERS = ["smtp", "sendgrid", "nhn_sms", "nhn_alimtalk", "fcm", "webpush", "webhook", "outbox"]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--desc", required=True)
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--outbox", required=True)
    parser.add_argument("--per-adapter", type=int, required=True)
    parser.add_argument("--shard", type=Shard.parse, default=Shard())
    args = parser.parse_args()
    desc = json.loads(Path(args.desc).read_text())
    adapters = adapters_from_description(desc) | {"outbox": OutboxAdapter(args.outbox)}
    errors: list[str] = []
    planned: dict[str, int] = {}
    with Ledger(args.ledger) as ledger:

        def run(name: str) -> None:
            batch = args.shard.select(messages(name, args.per_adapter, desc, campaign_id="fi", bad_every=20))
            planned[name] = len(batch)
            try:
                with adapters[name] as adapter:
                    deliver(batch, adapter, ledger, base_delay=0.02, max_delay=1.0, max_attempts=6)
            except ChannelError as exc:  # the orchestrator would retry the run
                errors.append(f"{name}: {exc}")

        threads = [threading.Thread(target=run, args=(name,)) for name in ADAPTERS]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    print(json.dumps({"errors": errors, "planned": planned}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
