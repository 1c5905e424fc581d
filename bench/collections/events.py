#!/usr/bin/env python3
"""Event collections: ingest in events per server CPU-second, and `stats --every 1h` beside
DuckDB's time for the same aggregation over the same data, in one run.

    cargo build --release -p sextant-cli
    python3 -m venv .venv-bench && .venv-bench/bin/pip install duckdb==1.4.2
    .venv-bench/bin/python bench/collections/events.py --events 10000000

DuckDB generates the events (the seed's shape: four inputs, two predictions, a label, two
extras, tags) deterministically and writes them as JSON lines; the release `sextant` is started
on 127.0.0.1 with a temporary data directory, the inferences are sent in requests of 1000
events over `--connections` connections, then labels for half of them. The server's CPU time
(user + system, from /proc) over each phase gives events per CPU-second. Then the collection's
statistics per hour are read `--rounds` times over HTTP, and DuckDB (in this process, all
cores) runs the same aggregation over the same rows: once joining inferences with labels as
Sextant does, once over a table joined beforehand. Medians are printed; the windows' counts
and means are checked to agree. The server is stopped by its PID and the directory removed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[2]
TOKEN = "sxt_bench_collections_token"
HOUR_NS = 3_600_000_000_000
SERVER_LOG: list[Path] = []
SCHEMA = {
    "tags_column": "tags",
    "input_columns": [{"name": "f1", "type": "float"}, {"name": "f2", "type": "int"},
                      {"name": "f3", "type": "string"}, {"name": "f4", "type": "bool"}],
    "prediction_columns": [{"name": "proba", "type": "float"},
                           {"name": "prediction", "type": "int"}],
    "label_columns": [{"name": "actual", "type": "int"}],
    "extra_columns": [{"name": "extra1", "type": "string"}, {"name": "extra2", "type": "string"}],
}


def generate(con, events: int, start_us: int, step_us: int) -> None:
    """The inferences and labels as DuckDB tables `inf` and `lab` (deterministic)."""
    con.execute(f"""
        CREATE TABLE inf AS
        SELECT printf('ev%010d', i) AS id,
               make_timestamp({start_us} + i * {step_us}) AS ts,
               ['t' || (hash(i * 3) % 5)::VARCHAR, 'grp' || (hash(i * 5) % 2)::VARCHAR] AS tags,
               round((hash(i) % 1000000) / 1e6, 4) AS f1,
               (hash(i * 7) % 20)::BIGINT AS f2,
               ['A', 'B', 'C'][(hash(i * 11) % 3)::INT + 1] AS f3,
               hash(i * 13) % 2 = 0 AS f4,
               round((hash(i * 17) % 1000) / 1000.0, 3) AS proba,
               ((hash(i * 17) % 1000) >= 500)::BIGINT AS prediction,
               ['CA', 'NY', 'TX'][(hash(i * 19) % 3)::INT + 1] AS extra1,
               CASE WHEN hash(i * 23) % 2 = 0 THEN 'Male' ELSE 'Female' END AS extra2
        FROM range({events}) t(i)
    """)
    con.execute(f"""
        CREATE TABLE lab AS
        SELECT printf('ev%010d', i) AS id, (hash(i * 29) % 2)::BIGINT AS actual
        FROM range(0, {events}, 2) t(i)
    """)


def export(con, directory: Path) -> tuple[Path, Path]:
    """Both tables as JSON lines, timestamps as RFC 3339."""
    events = directory / "events.jsonl"
    labels = directory / "labels.jsonl"
    con.execute(f"""
        COPY (SELECT id, strftime(ts, '%Y-%m-%dT%H:%M:%S.%fZ') AS ts, tags, f1, f2, f3, f4,
                     proba, prediction, extra1, extra2 FROM inf ORDER BY ts)
        TO '{events}' (FORMAT JSON)
    """)
    con.execute(f"COPY (SELECT * FROM lab) TO '{labels}' (FORMAT JSON)")
    return events, labels


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(binary: Path, data: Path) -> tuple[subprocess.Popen, str, int]:
    SERVER_LOG.append(data.parent / "server.log")
    log = open(SERVER_LOG[-1], "w")
    proc = subprocess.Popen(
        [str(binary), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data),
         "--bootstrap-token", TOKEN],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True,
        env={**os.environ, "SEXTANT_LOG": "warn,sextant_collections=info"},
    )
    for line in proc.stdout:
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+) ", line)
        if match:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, "127.0.0.1", int(match.group(1))
    proc.kill()
    sys.exit(f"sextant exited with {proc.wait()} before listening")


def call(conn, method: str, path: str, body: bytes | None = None) -> dict:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    conn.request(method, path, body=body, headers=headers)
    try:
        reply = conn.getresponse()
    except http.client.RemoteDisconnected:
        tail = SERVER_LOG[-1].read_text()[-2000:] if SERVER_LOG else ""
        sys.exit(f"{method} {path}: the server closed the connection; its log ends:\n{tail}")
    data = reply.read()
    if reply.status >= 300:
        sys.exit(f"{method} {path}: {reply.status} {data[:300]!r}")
    return json.loads(data)


def send_file(host: str, port: int, path: Path, connections: int) -> int:
    """Sends the JSON lines of `path` as requests of 1000 events; returns the events sent."""
    lock = threading.Lock()
    lines = open(path, encoding="utf-8")
    sent = [0]
    failure: list[str] = []

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=120)
        while True:
            with lock:
                batch = [line.rstrip("\n") for _, line in zip(range(1000), lines)]
            if not batch:
                return
            body = ('{"project_id":"bench","model_id":"bench","events":[{"data":'
                    + '},{"data":'.join(batch) + "}]}").encode()
            answer = call(conn, "POST", "/api/v0/ingest/streaming/events", body)
            if answer["num_errors"]:
                failure.append(json.dumps(answer["validation_errors"])[:500])
                return
            with lock:
                sent[0] += len(batch)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failure:
        sys.exit(f"events were refused: {failure[0]}")
    return sent[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sextant", type=Path, default=REPO / "target/release/sextant")
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="sextant-bench-collections-"))
    try:
        con = duckdb.connect()
        step_us = 30_000  # an inference every 30 ms
        span_us = args.events * step_us
        # Ending an hour ago, so that no event is in the future.
        start_us = (int(time.time()) - 3600) * 1_000_000 - span_us
        start_us -= start_us % 3_600_000_000
        t0 = time.perf_counter()
        generate(con, args.events, start_us, step_us)
        events_file, labels_file = export(con, scratch)
        print(f"generated {args.events:,} inferences and {args.events // 2:,} labels "
              f"in {time.perf_counter() - t0:.1f} s")

        proc, host, port = start_server(args.sextant, scratch / "data")
        try:
            conn = http.client.HTTPConnection(host, port, timeout=600)
            call(conn, "POST", "/api/native/v1/collections",
                 json.dumps({"name": "bench", "schema": SCHEMA}).encode())
            for what, path in (("inferences", events_file), ("labels", labels_file)):
                cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
                n = send_file(host, port, path, args.connections)
                cpu, wall = cpu_seconds(proc.pid) - cpu0, time.perf_counter() - wall0
                print(f"ingest {what}: {n:,} in {wall:.1f} s wall, server CPU {cpu:.1f} s: "
                      f"{n / cpu:,.0f} events per server CPU-second, {n / wall:,.0f} per second")
            status = Path(f"/proc/{proc.pid}/status").read_text()
            rss, anon, file = (int(re.search(rf"{k}:\s+(\d+)", status)[1]) / 1024
                               for k in ("VmRSS", "RssAnon", "RssFile"))
            print(f"server resident memory: {rss:,.0f} MiB ({anon:,.0f} MiB heap and other "
                  f"anonymous, {file:,.0f} MiB of mapped files)")
            seals = [int(m) for m in re.findall(r"elapsed_ms=(\d+)", SERVER_LOG[-1].read_text())]
            if seals:
                print(f"seals: {len(seals)}, taking {statistics.median(seals)} ms (median), "
                      f"{max(seals)} ms at most")

            # A crash and a restart: the time until the server listens again, its collections
            # (parts and the log after them) and time series open.
            proc.kill()
            proc.wait(timeout=60)
            t = time.perf_counter()
            proc, host, port = start_server(args.sextant, scratch / "data")
            print(f"restart after SIGKILL: listening again in {time.perf_counter() - t:.1f} s")

            # A new connection: the first one idled past the server's header timeout.
            conn = http.client.HTTPConnection(host, port, timeout=600)
            sextant_times = []
            stats = None
            for _ in range(args.rounds):
                t = time.perf_counter()
                stats = call(conn, "GET",
                             f"/api/native/v1/collections/bench/stats?every={HOUR_NS}")
                sextant_times.append(time.perf_counter() - t)
        finally:
            proc.terminate()
            proc.wait(timeout=60)

        aggregation = """
            SELECT time_bucket(INTERVAL 1 hour, ts) AS w, count(*) AS n,
                   avg(f1), avg(f2), avg(proba), avg(prediction), avg(actual),
                   count(actual) / count(*) AS labeled,
                   avg(CASE WHEN actual IS NOT NULL THEN (prediction = actual)::INT END) AS accuracy
            FROM {source} GROUP BY w ORDER BY w
        """
        joined = aggregation.format(source="inf LEFT JOIN lab USING (id)")
        con.execute("CREATE TABLE wide AS SELECT * FROM inf LEFT JOIN lab USING (id)")
        duck = {}
        for name, sql in (("join at query time", joined),
                          ("joined beforehand", aggregation.format(source="wide"))):
            times = []
            for _ in range(args.rounds):
                t = time.perf_counter()
                rows = con.execute(sql).fetchall()
                times.append(time.perf_counter() - t)
            duck[name] = (statistics.median(times), rows)

        # The two agree on every window.
        rows = duck["join at query time"][1]
        windows = stats["windows"]
        assert len(rows) == len(windows), (len(rows), len(windows))
        for row, window in zip(rows, windows):
            assert row[1] == window["count"], (row, window)
            assert abs(row[2] - window["means"]["f1"]) < 1e-9, (row, window)
            assert abs(row[7] - window["labeled_share"]) < 1e-9, (row, window)
            assert abs(row[8] - window["accuracy"]["actual"]) < 1e-9, (row, window)

        print("sextant rounds (the first after the restart):",
              ", ".join(f"{t * 1000:.1f}" for t in sextant_times), "ms")
        s = statistics.median(sextant_times)
        print(f"stats --every 1h over {args.events:,} inferences ({len(windows)} windows), "
              f"median of {args.rounds}:")
        print(f"  sextant (HTTP)                      {s * 1000:9.1f} ms")
        for name, (t, _) in duck.items():
            print(f"  duckdb {duckdb.__version__} ({name}) {t * 1000:9.1f} ms   "
                  f"sextant / duckdb = {s / t:.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
