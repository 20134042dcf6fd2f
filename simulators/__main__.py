"""`python -m simulators NAME [NAME ...] | --all [--host H] [--port P ...] [--seed N]`."""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

from simulators import DEFAULT_PORTS
from simulators.registry import NAMES, create
from simulators.serve import config, run


def parse(argv: list[str]) -> argparse.Namespace:
    """Command-line arguments; the seed also comes from PAYLAB_SIM_SEED."""
    p = argparse.ArgumentParser(
        prog="python -m simulators",
        description="Run one simulator, or several in one process (each on its own port).",
    )
    # No `choices`: argparse rejects an empty list against them, and `--all` needs none.
    p.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(NAMES)}")
    p.add_argument("--all", action="store_true", help="every simulator, on its default port")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument(
        "--port",
        dest="ports",
        metavar="PORT",
        type=int,
        action="append",
        default=[],
        help="port of each NAME in order (repeat it); default ports when omitted",
    )
    p.add_argument("--seed", type=int, default=int(os.environ.get("PAYLAB_SIM_SEED", "0")))
    p.add_argument("--state-file", type=Path, default=None, help="only with one simulator")
    p.add_argument("--log-level", default="warning")
    args = p.parse_args(argv)
    names = list(NAMES) if args.all else list(dict.fromkeys(args.names))
    if unknown := [n for n in names if n not in NAMES]:
        p.error(f"unknown simulator {unknown[0]!r}; choose from {', '.join(NAMES)}")
    if not names:
        p.error("name a simulator, or use --all")
    if args.ports and len(args.ports) != len(names):
        p.error(f"{len(args.ports)} --port for {len(names)} simulators: give one per NAME")
    if args.state_file is not None and len(names) > 1:
        p.error("--state-file works with one simulator only")
    args.names = names
    # One simulator keeps its old attributes (`name`, `port`).
    args.name = names[0] if len(names) == 1 else None
    args.port = args.ports[0] if len(args.ports) == 1 else None
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the simulators in the foreground until SIGTERM/SIGINT."""
    args = parse(sys.argv[1:] if argv is None else argv)
    ports = args.ports or [DEFAULT_PORTS[name] for name in args.names]
    configs = [
        config(
            create(name, seed=args.seed, state_file=args.state_file),
            args.host,
            port,
            args.log_level,
        )
        for name, port in zip(args.names, ports, strict=True)
    ]
    # Everything alive now (modules, FastAPI, pydantic schemas) lives for good: keep it out of
    # the cyclic GC's full passes, which otherwise add tens of ms to p99 under load.
    gc.collect()
    gc.freeze()
    return run(configs)


if __name__ == "__main__":
    raise SystemExit(main())
