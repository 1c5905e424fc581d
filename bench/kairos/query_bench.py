#!/usr/bin/env python3
"""KairosDB query benchmark: a 1-minute average per series through `POST /api/v1/datapoints/query`.

Starts a release `sextant serve` on loopback with a temporary data directory, writes two
workloads with line protocol (in time order, so no point falls outside the head's
out-of-order window), then times KairosDB queries over HTTP:

- `hosts`: 1000 series `kbench.cpu.usage{host=hNNNN}`, one day at 10 s (8.64M points);
- `channels`: 50 series `kbench.ch.value{ch=cNN}` at 1 kHz, 600,000 points each (30M points).

For each workload, `avg` over 1 minute grouped by tag (one result per series) runs twice:
with `align_start_time` (fixed, epoch-aligned buckets: the store answers from block
summaries) and with KairosDB's default stamping (the first point's time: points are read and
aggregated by the engine). Each query runs `BENCH_REPEAT` times (default 3); the best and
median wall times and the server's CPU time are printed.

    cargo build --release -p sextant-cli
    python3 bench/kairos/query_bench.py            # SEXTANT_BIN overrides the binary

Only the Python standard library is used.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOKEN = "sxt_kairos_bench_token"
T0 = 1704067200000  # 2024-01-01T00:00:00Z


def start_server(binary: str, data_dir: str):
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir, "--bootstrap-token", TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True,
    )
    for line in proc.stdout:
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+) ", line)
        if m:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, m.group(1)
    sys.exit("sextant exited before listening")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def post(url: str, path: str, body: bytes, content_type: str, gz: bool = False) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": content_type}
    if gz:
        body = gzip.compress(body, 1)
        headers["Content-Encoding"] = "gzip"
    request = urllib.request.Request(url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=3600) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def write_lines(url: str, lines: list[str]) -> None:
    status, body = post(url, "/write?precision=ms", "\n".join(lines).encode(), "text/plain", gz=True)
    if status != 204:
        sys.exit(f"write failed: {status} {body[:500]!r}")


def load_hosts(url: str) -> int:
    rng = random.Random(1)
    values = [50.0] * 1000
    step, points, chunk = 10_000, 8640, 180  # 30 minutes of every host per request
    for start in range(0, points, chunk):
        lines = []
        for i in range(start, min(start + chunk, points)):
            t = T0 + i * step
            for h in range(1000):
                values[h] = round(values[h] + rng.uniform(-1, 1), 2)
                lines.append(f"kbench.cpu,host=h{h:04d} usage={values[h]} {t}")
        write_lines(url, lines)
    return 1000 * points


def load_channels(url: str) -> int:
    import math
    per_channel, chunk = 600_000, 10_000  # 10 s of every channel per request
    for start in range(0, per_channel, chunk):
        lines = []
        for c in range(50):
            f = 0.5 + c / 10
            lines.extend(
                f"kbench.ch,ch=c{c:02d} value={math.sin(f * i / 1000):.4f} {T0 + i}"
                for i in range(start, start + chunk)
            )
        write_lines(url, lines)
    return 50 * per_channel


def query(metric: str, tag: str, end: int, aligned: bool) -> bytes:
    aggregator = {"name": "avg", "sampling": {"value": 1, "unit": "minutes"}}
    if aligned:
        aggregator["align_start_time"] = True
    return json.dumps({
        "start_absolute": T0, "end_absolute": end,
        "metrics": [{"name": metric, "group_by": [{"name": "tag", "tags": [tag]}], "aggregators": [aggregator]}],
    }).encode()


def time_query(url: str, pid: int, body: bytes, repeat: int) -> tuple[list[float], float, int, int]:
    walls = []
    cpu0 = cpu_seconds(pid)
    for _ in range(repeat):
        t = time.perf_counter()
        status, reply = post(url, "/api/v1/datapoints/query", body, "application/json")
        walls.append(time.perf_counter() - t)
        if status != 200:
            sys.exit(f"query failed: {status} {reply[:500]!r}")
    result = json.loads(reply)["queries"][0]
    return walls, (cpu_seconds(pid) - cpu0) / repeat, result["sample_size"], len(result["results"])


def main() -> None:
    binary = os.environ.get("SEXTANT_BIN", str(REPO / "target/release/sextant"))
    repeat = int(os.environ.get("BENCH_REPEAT", "3"))
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_server(binary, os.path.join(tmp, "data"))
        try:
            for name, load, metric, tag, end in [
                ("hosts", load_hosts, "kbench.cpu.usage", "host", T0 + 86_400_000 - 1),
                ("channels", load_channels, "kbench.ch.value", "ch", T0 + 600_000 - 1),
            ]:
                t = time.perf_counter()
                points = load(url)
                print(f"{name}: wrote {points:,} points in {time.perf_counter() - t:.1f} s (line protocol)")
                for aligned in (True, False):
                    walls, cpu, sample, groups = time_query(url, proc.pid, query(metric, tag, end, aligned), repeat)
                    walls.sort()
                    label = "align_start_time (pushdown)" if aligned else "default stamping (engine)"
                    print(f"  avg 1 min per series, {label}: best {walls[0]:.3f} s, median {walls[len(walls) // 2]:.3f} s, "
                          f"server CPU {cpu:.3f} s/query, {sample:,} points in {groups} series, "
                          f"{sample / walls[0] / 1e6:.1f}M points/s")
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
