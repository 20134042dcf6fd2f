"""Card authorization throughput: the bank simulator vs WireMock standalone, in one run.

    .venv/bin/python bench/simulators.py [--duration 10] [--runs 3] [--connections 16]

Both servers get the same POST (a 4575... card authorization) from wrk -t2 -c16 on loopback;
WireMock serves an equivalent static stub with its default request journal, the simulator
runs with its journal on. Runs alternate between the two servers and the median is reported.
Needs wrk (`apt-get install -y wrk`), Java 17 and npm (WireMock is installed under
.paylab/bench/). Everything binds 127.0.0.1 and is stopped by PID on exit.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / ".paylab" / "bench"
WIREMOCK_PKG = "wiremock@3.13.2"
SIM_PORT, WM_PORT = 9190, 9191
AUTH_BODY = {
    "amount": "1000.00",
    "currency": "COP",
    "reference": "bench-1",
    "card": {"number": "4575623182290326", "exp_month": 12, "exp_year": 2030, "cvc": "123"},
}
LINE = re.compile(r"^\s*(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$")
RPS = re.compile(r"^Requests/sec:\s+([\d.]+)")


def wiremock_jar() -> Path:
    """The jar bundled by the npm package, installed on first use."""
    found = sorted((BENCH_DIR / "node_modules" / "wiremock").glob("**/wiremock-standalone-*.jar"))
    if found:
        return found[-1]
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(BENCH_DIR), WIREMOCK_PKG],
        check=True,
        timeout=300,
    )
    return wiremock_jar()


def wait_until_up(url: str, proc: subprocess.Popen[bytes], limit_s: float = 60) -> None:
    """Poll a health URL until it answers 200, the process dies, or the limit passes."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)  # polling a health endpoint while the server boots
    raise RuntimeError(f"{url} did not come up within {limit_s}s")


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop one process we started, by PID."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def to_ms(value: str, unit: str) -> float:
    """wrk latency text to milliseconds."""
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, script: Path, seconds: int, connections: int) -> dict[str, float]:
    """One wrk run: requests/s, p50 and p99 in ms."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    result: dict[str, float] = {}
    for line in out.splitlines():
        if m := LINE.match(line):
            result[f"p{m.group(1)}"] = to_ms(m.group(2), m.group(3))
        elif m := RPS.match(line):
            result["rps"] = float(m.group(1))
    if "Non-2xx" in out:
        raise RuntimeError(f"{url}: non-2xx answers during the run:\n{out}")
    return result


def main() -> int:
    """Run the comparison and print it."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    p.add_argument("--runs", type=int, default=3, help="runs per server (median reported)")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    jar = wiremock_jar()
    sim = wm = None
    with tempfile.TemporaryDirectory(prefix="paylab-bench-") as tmp:
        work = Path(tmp)
        try:
            sim = subprocess.Popen(
                [sys.executable, "-m", "simulators", "bank", "--port", str(SIM_PORT)], cwd=ROOT
            )
            sim_url = f"http://127.0.0.1:{SIM_PORT}"
            wait_until_up(f"{sim_url}/_sim/health", sim)
            card = AUTH_BODY["card"]["number"]  # type: ignore[index]
            httpx.patch(
                f"{sim_url}/_sim/cards/{card}", json={"balance_cop": "9999999999999.00"}
            ).raise_for_status()
            sample = httpx.post(f"{sim_url}/v1/authorizations", json=AUTH_BODY)
            sample.raise_for_status()

            (work / "mappings").mkdir()
            stub = {
                "request": {"method": "POST", "url": "/v1/authorizations"},
                "response": {
                    "status": 201,
                    "headers": {"Content-Type": "application/json"},
                    "body": sample.text,
                },
            }
            (work / "mappings" / "auth.json").write_text(json.dumps(stub))
            wm = subprocess.Popen(
                [
                    "java",
                    "-jar",
                    str(jar),
                    "--port",
                    str(WM_PORT),
                    "--bind-address",
                    "127.0.0.1",
                    "--root-dir",
                    str(work),
                    "--disable-banner",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            wm_url = f"http://127.0.0.1:{WM_PORT}"
            wait_until_up(f"{wm_url}/__admin/health", wm)

            script = work / "auth.lua"
            body = json.dumps(AUTH_BODY, separators=(",", ":")).replace("'", "\\'")
            script.write_text(
                'wrk.method = "POST"\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
                f"wrk.body = '{body}'\n"
            )
            targets = {"bank simulator": sim_url, "WireMock": wm_url}
            for url in targets.values():  # warm up (JIT, caches)
                run_wrk(f"{url}/v1/authorizations", script, max(3, args.duration // 2), 16)
            results: dict[str, list[dict[str, float]]] = {k: [] for k in targets}
            for _ in range(args.runs):
                for name, url in targets.items():
                    results[name].append(
                        run_wrk(f"{url}/v1/authorizations", script, args.duration, args.connections)
                    )
            journal = httpx.get(f"{sim_url}/_sim/journal", params={"limit": 1}).json()
        finally:
            stop(sim)
            stop(wm)

    summary = {
        name: {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
        for name, runs in results.items()
    }
    print(f"\nwrk -t2 -c{args.connections} -d{args.duration}s, median of {args.runs} runs")
    print(f"{'server':<16}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for name, s in summary.items():
        print(f"{name:<16}{s['rps']:>10.0f}{s['p50']:>10.2f}{s['p99']:>10.2f}")
    ratio = summary["bank simulator"]["rps"] / summary["WireMock"]["rps"]
    p99 = summary["bank simulator"]["p99"]
    print(
        f"\nsimulator / WireMock req/s: {ratio:.2f} (goal >= 0.5); simulator p99 {p99:.2f} ms "
        f"(goal < 10); journal kept {journal['size']} of {journal['last_seq']} calls"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"summary": summary, "runs": results}, indent=2))
    return 0 if ratio >= 0.5 and p99 < 10 else 1


if __name__ == "__main__":
    raise SystemExit(main())
