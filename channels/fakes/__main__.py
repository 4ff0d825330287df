"""Serve every fake until interrupted and print how to reach them (one JSON line on stdout).

python -m channels.fakes --latency-ms 20 [--faults '{"throttle": 0.01}'] [--record-dir DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
import threading

from channels.fakes import Faults, running_fakes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m channels.fakes", description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--faults", default="{}", help='JSON, e.g. {"throttle": 0.02, "drop": 0.01}')
    parser.add_argument("--record-dir", default=None)
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with running_fakes(
        latency_ms=args.latency_ms, faults=Faults.from_dict(json.loads(args.faults)), record_dir=args.record_dir
    ) as fakes:
        print(json.dumps(fakes.describe()), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    sys.exit(0)


if __name__ == "__main__":
    main()
