"""``python -m enrichment_pipeline.simulator --port 8765 [--host 127.0.0.1] [--api-key-env VAR]
[--rate-limit-per-minute N] [--as-of YYYY-MM-DD] [--universe AAPL,MSFT,...]``

Prints ``Polygon simulator listening on http://HOST:PORT`` as the first line of stdout (with the
port actually bound, so ``--port 0`` picks a free one) and serves until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import sys
import threading

from enrichment_pipeline.simulator.app import PolygonSimulator
from enrichment_pipeline.simulator.server import SimulatorHTTPServer


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m enrichment_pipeline.simulator", description=__doc__.split("\n\n")[1])
    parser.add_argument("--port", type=int, default=8765, help="TCP port (0 = any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument(
        "--api-key-env", metavar="VAR",
        help="require the API key held in this environment variable (the key itself never goes on the command line)",
    )
    parser.add_argument("--rate-limit-per-minute", type=int, default=None, metavar="N", help="answer 429 beyond N requests a minute")
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=None, help="freeze the market at this session")
    parser.add_argument("--universe", default=None, help="comma-separated symbols listed when a request names no ticker")
    parser.add_argument("--verbose", action="store_true", help="log method and path of each request to stderr")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    api_key = None
    if args.api_key_env:
        api_key = os.environ.get(args.api_key_env)
        if not api_key:
            print(f"environment variable {args.api_key_env} is empty or unset", file=sys.stderr)
            return 2
    universe = [s.strip() for s in args.universe.split(",") if s.strip()] if args.universe else None
    simulator = PolygonSimulator(api_key=api_key, universe=universe, as_of=args.as_of)
    if args.rate_limit_per_minute:
        simulator.faults.rate_limit_per_minute = args.rate_limit_per_minute
    server = SimulatorHTTPServer((args.host, args.port), simulator, verbose=args.verbose)

    def stop(signum: int, frame: object) -> None:  # noqa: ARG001
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"Polygon simulator listening on {server.base_url}", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
