"""LocalStack's memory per payment over a long run: what it keeps while the platform works.

    ./paylab up
    .venv/bin/python bench/localstack_memory.py [--minutes 9] [--clients 8] [--window 60]

Closed-loop clients make approved card payments through the gateway (saga.py's `Paylab`: a
fresh merchant, random cards) for `--minutes`, in back-to-back windows of `--window`
seconds, after one unmeasured warm-up window (times count from its start, when the first
FIFO messages enter their deduplication window). After each window it reads the RSS of
LocalStack's process and prints the window's payments and MiB per payment, then the growth
per payment before and after the first 5 minutes: LocalStack keeps each FIFO message for
SQS's 5-minute deduplication window (our `sqs_fixes.py` sweeps it after), and the newest
`PAYLAB_SFN_KEEP_HISTORIES` (1,000) executions keep their histories whole (`sfn_history.py`
compacts older ones), so the later slope is what a long run costs. RSS counts memory Python
has freed but not given back, so compare slopes, not single windows.

Loopback only, bounded in time, prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
from saga import Paylab, run_level

ROOT = Path(__file__).resolve().parent.parent
DEDUP_WINDOW_S = 300.0


@dataclass(frozen=True)
class Window:
    """One measured window: when it ended (s since the warm-up's first payment), payments, RSS."""

    ended_s: float
    payments: int
    failed: int
    rss_mib: float


def localstack_rss_mib() -> float:
    """The resident memory of the stack's LocalStack process (its Lambda runtimes apart)."""
    run_file = ROOT / ".paylab" / "run" / "localstack.json"
    pid = int(json.loads(run_file.read_text())["pid"])
    return float(psutil.Process(pid).memory_info().rss) / 2**20


def slope(windows: list[Window], start_rss: float) -> tuple[int, float]:
    """Payments and MiB per payment over `windows` (which follow a reading of `start_rss`)."""
    payments = sum(w.payments for w in windows)
    grown = windows[-1].rss_mib - start_rss if windows else 0.0
    return payments, (grown / payments if payments else 0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=9.0, help="measured, after warm-up")
    parser.add_argument("--clients", type=int, default=8, help="concurrent closed-loop clients")
    parser.add_argument("--window", type=float, default=60.0, help="seconds between readings")
    args = parser.parse_args()
    if not 1 <= args.clients <= 64 or args.window < 5 or not 0 < args.minutes <= 60:
        parser.error("--clients 1-64, --window at least 5 s, --minutes up to 60")
    try:
        localstack_rss_mib()
    except (OSError, ValueError, KeyError, psutil.Error) as exc:
        parser.error(f"no running LocalStack ({exc}): start the stack with ./paylab up")

    paylab = Paylab()  # reads the internal credential: needs the deployed stack
    paylab.create()
    # Times count from the first payment: the deduplication window starts with the warm-up.
    began = time.monotonic()
    warm = run_level("paylab", args.clients, args.window, paylab.one)
    print(f"warm-up: {len(warm.ok)} payments in {warm.seconds:.0f} s", file=sys.stderr)

    start_rss, measured_from = localstack_rss_mib(), time.monotonic()
    windows: list[Window] = []
    print(f"LocalStack RSS {start_rss:,.1f} MiB; {args.clients} clients, {args.window:.0f} s each")
    print(f"{'ended s':>8} {'payments':>9} {'not ok':>7} {'RSS MiB':>9} {'MiB/payment':>12}")
    previous = start_rss
    while time.monotonic() - measured_from < args.minutes * 60:
        level = run_level("paylab", args.clients, args.window, paylab.one)
        window = Window(
            time.monotonic() - began,
            len(level.ok),
            len(level.runs) - len(level.ok) + sum(level.errors.values()),
            localstack_rss_mib(),
        )
        windows.append(window)
        per = (window.rss_mib - previous) / window.payments if window.payments else 0.0
        print(
            f"{window.ended_s:>8.0f} {window.payments:>9} {window.failed:>7}"
            f" {window.rss_mib:>9,.1f} {per:>12.4f}",
            flush=True,
        )
        previous = window.rss_mib

    # A window that ends past the cut counts after it (it runs with entries expiring).
    early = [w for w in windows if w.ended_s <= DEDUP_WINDOW_S]
    late = [w for w in windows if w.ended_s > DEDUP_WINDOW_S]
    print("\n== Growth per payment")
    cut = f"{DEDUP_WINDOW_S:.0f} s"
    rows = [("whole run", slope(windows, start_rss))]
    if early:
        rows.append((f"first {cut}", slope(early, start_rss)))
    if early and late:
        rows.append((f"after {cut}", slope(late, early[-1].rss_mib)))
    counts = {"whole run": len(windows), f"first {cut}": len(early), f"after {cut}": len(late)}
    for label, (payments, per) in rows:
        print(
            f"  {label:<14} {counts[label]:>2} windows {payments:>6} payments"
            f"  {per:.4f} MiB/payment"
        )
    if not (early and late):
        print(f"  (run longer than {DEDUP_WINDOW_S / 60:.0f} minutes for the later slope)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
