#!/usr/bin/env python3
"""A live SignalFlow computation over many MTS: the server CPU it costs and the delay from a
point's commit to its emission.

    cargo build --release -p sextant-cli
    .venv-signalfx/bin/python bench/signalflow/live.py [--mts 1000] [--seconds 30]

Starts `target/release/sextant` on loopback with a temporary data directory, then runs two
phases of `--seconds` each, the same writes in both: `--mts` gauges written once a second
through SignalFx ingest (each point stamped with the time it is sent), first alone, then
with a live computation `data('live.load').mean(by=['group']).publish()` and
`data('live.load').publish()` at a 1 s resolution running. It prints:

- the server CPU seconds per second of each phase and their difference, the computation's
  share of a core;
- for each logical timestamp `t` the computation sent: when its data message arrived minus
  the moment the last point of `[t, t + 1 s)` was acknowledged (the delay from commit to
  emission), and minus `t + 1 s + maxDelay` (the computation's own part once the wait for
  late points is over). Medians and 99th percentiles.

The server is stopped by its PID at the end. Requires the `signalfx` client (the
`.venv-signalfx` virtualenv that `scripts/test` makes).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import signalfx
from signalfx.signalflow import messages

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "sxt_bench_signalflow_live"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mts", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--max-delay", type=int, default=300, help="ms")
    parser.add_argument("--binary", default=str(ROOT / "target/release/sextant"))
    args = parser.parse_args()

    data = tempfile.mkdtemp(prefix="sextant-live-bench-")
    server = subprocess.Popen(
        [args.binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data, "--bootstrap-token", TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = None
        for line in server.stdout:
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+) ", line)
            if match:
                url = match.group(1)
                break
        assert url, "the server did not start"
        threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
        sfx = signalfx.SignalFx(ingest_endpoint=url, stream_endpoint=url)
        # Each write is one synchronous JSON request: its reply is its acknowledgement.
        acked = {}

        def write(seconds, stop_flag):
            import requests
            session = requests.Session()
            session.headers.update({"X-SF-Token": TOKEN, "Content-Type": "application/json"})
            next_send = time.time()
            for _ in range(seconds):
                now_ms = int(time.time() * 1000)
                gauges = [{"metric": "live.load", "value": float(i % 97), "timestamp": now_ms,
                           "dimensions": {"host": f"h{i:05d}", "group": f"g{i % 10}"}}
                          for i in range(args.mts)]
                reply = session.post(f"{url}/v2/datapoint", json={"gauge": gauges}, timeout=30)
                assert reply.status_code == 200, reply.text
                acked[now_ms // 1000 * 1000] = time.time() * 1000
                next_send += 1
                time.sleep(max(0.0, next_send - time.time()))
                if stop_flag.is_set():
                    break
            session.close()

        # Register the MTS first, so that both phases write to known series.
        write(2, threading.Event())

        cpu0 = cpu_seconds(server.pid)
        wall0 = time.time()
        write(args.seconds, threading.Event())
        alone = (cpu_seconds(server.pid) - cpu0) / (time.time() - wall0)

        flow = sfx.signalflow(TOKEN)
        program = "A = data('live.load')\nA.mean(by=['group']).publish('groups')\nA.publish('all')"
        computation = flow.execute(program, resolution=1000, max_delay=args.max_delay)
        arrivals = {}
        counts = {}
        done = threading.Event()

        def read():
            for message in computation.stream():
                if isinstance(message, messages.DataMessage):
                    arrivals[message.logical_timestamp_ms] = time.time() * 1000
                    counts[message.logical_timestamp_ms] = len(message.data)
                if done.is_set():
                    break

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(2)
        acked.clear()
        cpu1 = cpu_seconds(server.pid)
        wall1 = time.time()
        write(args.seconds, threading.Event())
        time.sleep(2 + args.max_delay / 1000)
        with_job = (cpu_seconds(server.pid) - cpu1) / (time.time() - wall1)
        done.set()
        computation.close()
        flow.close()

        commit_delays, own = [], []
        for t, arrived in arrivals.items():
            if t in acked and counts.get(t, 0) >= args.mts:
                commit_delays.append(arrived - acked[t])
                own.append(arrived - (t + 1000 + args.max_delay))
        print(f"MTS {args.mts}, {args.seconds} s a phase, maxDelay {args.max_delay} ms")
        print(f"server CPU per second: writes alone {alone:.3f}, with the live computation {with_job:.3f}, "
              f"difference {with_job - alone:+.3f} of a core")
        if commit_delays:
            print(f"commit to emission ms: median {statistics.median(commit_delays):.0f}, "
                  f"p99 {percentile(commit_delays, 99):.0f} over {len(commit_delays)} logical timestamps")
            print(f"after the wait for late points ms: median {statistics.median(own):.1f}, "
                  f"p99 {percentile(own, 99):.1f}")
        else:
            print("no logical timestamp with every MTS arrived: nothing measured")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
