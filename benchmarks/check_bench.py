#!/usr/bin/env python3
"""Benchmark a full live `checkup check --json`: wall time and peak memory.

Runs the installed command (interpreter start included) N times on this
machine and prints the median and worst wall time and the peak RSS of the
child. Targets (issue 2): median <= 0.5 s, peak RSS <= 30 MB.

    python benchmarks/check_bench.py [--runs 15] [--replay FILE]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time


PEAK_WRAPPER = (
    "import atexit, os, sys\n"
    "def _peak():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            os.write(int(os.environ['CHECKUP_BENCH_FD']), line.split()[1].encode())\n"
    "atexit.register(_peak)\n"
    "from agent.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def own_peak_mb(args: list[str]) -> float:
    """Peak RSS (VmHWM) of the checkup process itself, read at its exit.

    ru_maxrss of a child also counts the programs it starts (and a forked
    child before exec shows its parent's pages), so this is the honest figure
    for the agent's own footprint."""
    r, w = os.pipe()
    env = dict(os.environ, CHECKUP_BENCH_FD=str(w))
    subprocess.run([sys.executable, "-c", PEAK_WRAPPER, *args], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=env, pass_fds=(w,), timeout=120)
    os.close(w)
    data = os.read(r, 64)
    os.close(r)
    return int(data) / 1024 if data else float("nan")


def run_once(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one child run."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: exec the command with its output thrown away
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1, 2, 3):
        raise SystemExit(f"{' '.join(cmd)} exited {code}")
    return wall, usage.ru_maxrss / 1024  # Linux reports KiB


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--replay", help="benchmark a capture instead of this machine")
    args = ap.parse_args()
    exe = shutil.which("checkup")
    cmd = [exe] if exe else [sys.executable, "-m", "agent.cli"]
    cmd += ["check", "--json"]
    if args.replay:
        cmd += ["--replay", args.replay]
    run_once(cmd)  # warm the page cache
    walls, rss = [], []
    for _ in range(args.runs):
        w, r = run_once(cmd)
        walls.append(w)
        rss.append(r)
    print(f"command:      {' '.join(cmd)}")
    print(f"runs:         {args.runs} on {os.cpu_count()} cores")
    print(f"wall median:  {statistics.median(walls) * 1000:.0f} ms (target <= 500 ms)")
    print(f"wall worst:   {max(walls) * 1000:.0f} ms")
    own = max(own_peak_mb(cmd[cmd.index("check"):]) for _ in range(5))
    print(f"peak RSS:     {own:.1f} MB, the checkup process itself (target <= 30 MB)")
    print(f"peak RSS:     {max(rss):.1f} MB, largest process of the run incl. the tools it starts")
    return 0


if __name__ == "__main__":
    sys.exit(main())
