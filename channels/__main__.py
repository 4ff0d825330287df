"""A small CLI over the ledger, for the person who settles what the pipeline could not.

    python -m channels status   --ledger PATH [--campaign ID]
    python -m channels unknowns --ledger PATH [--campaign ID]
    python -m channels resolve  --ledger PATH (--sent | --requeue) KEY [KEY ...] [--note TEXT]

`unknown` messages were handed to a provider that gave no answer and cannot deduplicate: check the
provider's console (or wait for a receipt), then mark them sent, or re-queue them for the next run.
"""

from __future__ import annotations

import argparse
import json
import sys

from channels.ledger import Ledger


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m channels", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("status", "unknowns", "resolve"):
        p = sub.add_parser(name)
        p.add_argument("--ledger", required=True)
        if name != "resolve":
            p.add_argument("--campaign", default=None)
    resolve = sub.choices["resolve"]
    group = resolve.add_mutually_exclusive_group(required=True)
    group.add_argument("--sent", action="store_true", help="the provider did take them")
    group.add_argument("--requeue", action="store_true", help="they were not sent; send them next run")
    resolve.add_argument("keys", nargs="+")
    resolve.add_argument("--note", default="")
    args = parser.parse_args(argv)
    with Ledger(args.ledger) as ledger:
        if args.command == "status":
            print(json.dumps(ledger.counts(args.campaign), sort_keys=True))
        elif args.command == "unknowns":
            for row in ledger.unknowns(args.campaign):
                print(
                    json.dumps(
                        {
                            "key": row.key,
                            "campaign_id": row.campaign_id,
                            "channel": row.channel,
                            "adapter": row.adapter,
                            "attempts": row.attempts,
                            "reason": row.reason,
                        },
                        ensure_ascii=False,
                    )
                )
        else:
            changed = ledger.resolve(args.keys, sent=args.sent, note=args.note)
            print(f"{changed} of {len(args.keys)} unknown messages marked {'sent' if args.sent else 're-queued'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
