"""`python -m simulators NAME [--host H] [--port P] [--seed N] [--state-file PATH]`."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

import uvicorn

from simulators import DEFAULT_PORTS
from simulators.registry import NAMES, create


def parse(argv: list[str]) -> argparse.Namespace:
    """Command-line arguments; the seed also comes from PAYLAB_SIM_SEED."""
    p = argparse.ArgumentParser(prog="python -m simulators", description="Run one simulator.")
    p.add_argument("name", choices=NAMES)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--seed", type=int, default=int(os.environ.get("PAYLAB_SIM_SEED", "0")))
    p.add_argument("--state-file", type=Path, default=None)
    p.add_argument("--log-level", default="warning")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the simulator in the foreground until interrupted."""
    args = parse(sys.argv[1:] if argv is None else argv)
    app = create(args.name, seed=args.seed, state_file=args.state_file)
    port = args.port if args.port is not None else DEFAULT_PORTS[args.name]
    # Everything alive now (modules, FastAPI, pydantic schemas) lives for good: keep it out of
    # the cyclic GC's full passes, which otherwise add tens of ms to p99 under load.
    gc.collect()
    gc.freeze()
    uvicorn.run(
        app,
        host=args.host,
        port=port,
        log_level=args.log_level,
        access_log=False,
        server_header=False,
        date_header=False,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
