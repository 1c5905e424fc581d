#!/usr/bin/env python3
"""The server CPU cost of live rules: runs the `ingest_1khz` benchmark alternately without and
with live rules, several times, and prints each run and the medians.

    cargo build --release -p sextant-cli
    python3 bench/rules/overhead.py [--runs 7] [--seconds 120] [--rules 100] [--busy]

The overhead is the median server CPU with rules over the median without, minus one. The rule
engine thread's own CPU time is printed too: the rest of the difference is what the rules cost
the ingest path, or noise.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys


def run(seconds, rules, busy):
    env = dict(os.environ, BENCH_SECONDS=str(seconds), BENCH_RULES=str(rules))
    if busy:
        env["BENCH_RULES_BUSY"] = "1"
    out = subprocess.run(
        ["cargo", "bench", "-q", "-p", "sextant-client", "--bench", "ingest_1khz"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    cpu = float(re.search(r"server CPU ([0-9.]+) s", out).group(1))
    thread = re.search(r"its thread's CPU ([0-9.]+) s", out)
    opened = re.search(r'"opened":([0-9]+)', out)
    return cpu, float(thread.group(1)) if thread else 0.0, int(opened.group(1)) if opened else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seconds", type=int, default=120)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--busy", action="store_true")
    args = parser.parse_args()
    without, with_rules, threads = [], [], []
    for i in range(args.runs):
        cpu, _, _ = run(args.seconds, 0, False)
        without.append(cpu)
        cpu_r, thread, opened = run(args.seconds, args.rules, args.busy)
        with_rules.append(cpu_r)
        threads.append(thread)
        print(
            f"run {i + 1}: no rules {cpu:.2f} s, {args.rules} rules {cpu_r:.2f} s "
            f"(rule thread {thread:.2f} s, {opened} annotations opened)",
            flush=True,
        )
    base = statistics.median(without)
    ruled = statistics.median(with_rules)
    thread = statistics.median(threads)
    points = args.seconds * 1000 * 50
    print(
        f"median server CPU for {points / 1e6:g}M points: {base:.3f} s without rules, "
        f"{ruled:.3f} s with {args.rules}: {100 * (ruled / base - 1):+.1f}%; "
        f"rule thread {thread:.3f} s ({100 * thread / base:.1f}% of the ingest)"
    )


if __name__ == "__main__":
    sys.exit(main())
