#!/usr/bin/env python3
"""A W2 channel over its ten minutes (600,000 points at 1 kHz) plotted zoomed out in the
console: the server's answer time and size, and the time until the plot is drawn.

    cargo build --release -p sextant-cli
    .venv/bin/python bench/console/plot.py [--runs 20]

Starts the release `sextant` on loopback with a temporary data directory, writes channel
`f00` of the harness's W2 rig (bench/harness/src/workload.rs: a 10-unit sine of period 0.5 s
with noise, two decimals) over line protocol, and stops the server by its PID at the end.
Then, in this order:

- the plot request the console sends at 1,280 px (1,238 pixel columns), timed from Python
  with a kept-alive connection, with the points in the in-memory head and again after a flush
  into a part: median and 90th percentile, and the answer's bytes;
- the same range read whole, unsampled, through KairosDB's REST query, for comparison;
- the console in Debian's headless Chromium (Playwright; the points in a part by then), the
  view opened from its URL `--runs` times: the time from the plot request to the first frame with the plot
  drawn (the marks `sextant:plot-request` and `sextant:plot-drawn`), and from navigation to
  that frame.

Run it on an otherwise idle machine; both processes share its cores.
"""

import argparse
import http.client
import json
import math
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TOKEN = "bench-console-" + os.urandom(8).hex()
T0_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
SAMPLES = 600_000
WIDTH_PX = 1280


def start_server(binary, data):
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data), "--bootstrap-token", TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "SEXTANT_LOG": "warn"},
    )
    for line in proc.stdout:
        match = re.search(r"listening on http://(127\.0\.0\.1:\d+) ", line)
        if match:
            return proc, match.group(1)
    raise SystemExit(f"sextant exited with {proc.wait()} before listening")


def request(conn, method, path, body=None, content_type="application/json"):
    headers = {"authorization": f"Bearer {TOKEN}"}
    if body is not None:
        headers["content-type"] = content_type
    conn.request(method, path, body=body, headers=headers)
    reply = conn.getresponse()
    data = reply.read()
    if reply.status >= 300:
        raise SystemExit(f"{method} {path}: {reply.status} {data[:300]!r}")
    return data


def w2_f00():
    """Channel f00 of W2: amplitude 10, period 0.5 s, noise of ±0.5, in hundredths."""
    rng = random.Random(2)
    for i in range(SAMPLES):
        t = i / 1000.0
        wave = 10.0 * math.sin(math.tau * t / 0.5)
        yield T0_MS + i, (round(wave * 100) + rng.randint(-50, 50)) / 100


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sextant", default=str(REPO / "target" / "release" / "sextant"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--chromium", default=os.environ.get("SEXTANT_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()

    data = Path(tempfile.mkdtemp(prefix="sextant-bench-console-"))
    proc, address = start_server(args.sextant, data / "data")
    try:
        host, port = address.split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        lines, chunk = [], 50_000
        for t, v in w2_f00():
            lines.append(f"hw f00={v} {t}")
            if len(lines) == chunk:
                request(conn, "POST", "/write?precision=ms", "\n".join(lines).encode(), "text/plain")
                lines = []
        key = "hw.f00"
        start_ns, end_ns = T0_MS * 10**6, (T0_MS + SAMPLES) * 10**6
        columns = WIDTH_PX - 42  # the plot's width in the console at 1,280 px
        body = json.dumps({"series": [key], "start": start_ns, "end": end_ns, "width": columns}).encode()

        # First with the points in the in-memory head, as just written; then in a part on disk.
        for where in ("in the head", "in a part"):
            if where == "in a part":
                request(conn, "POST", "/api/native/v1/admin/flush", b"{}")
            times, size, drawn = [], 0, 0
            for _ in range(args.runs + 2):
                began = time.perf_counter()
                answer = request(conn, "POST", "/api/native/v1/plot", body)
                times.append(time.perf_counter() - began)
                size = len(answer)
                drawn = len(json.loads(answer)["series"][0]["t"])
            times = times[2:]
            print(f"plot answer {where}, {columns} columns: {SAMPLES:,} points read, {drawn:,} "
                  f"answered, {size:,} bytes; median {statistics.median(times) * 1e3:.1f} ms, "
                  f"p90 {percentile(times, 0.9) * 1e3:.1f} ms ({args.runs} runs)")

        query = json.dumps({"start_absolute": T0_MS, "end_absolute": T0_MS + SAMPLES - 1,
                            "metrics": [{"name": key}]}).encode()
        raw = []
        for _ in range(3):
            began = time.perf_counter()
            answer = request(conn, "POST", "/api/v1/datapoints/query", query)
            raw.append(time.perf_counter() - began)
        print(f"unsampled, KairosDB query: {len(answer):,} bytes; median "
              f"{statistics.median(raw) * 1e3:.1f} ms (3 runs)")

        from playwright.sync_api import sync_playwright

        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
        view = f"http://{address}/ui/#/explore?s={key}&from={T0_MS}&to={T0_MS + SAMPLES}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=flags)
            page = browser.new_page(viewport={"width": WIDTH_PX, "height": 900})
            page.goto(f"http://{address}/ui/")
            page.evaluate(f"localStorage.setItem('sextant.key', {json.dumps(TOKEN)})")
            asked_to_drawn, navigation_to_drawn, points = [], [], 0
            for run in range(args.runs + 2):
                page.goto("about:blank")
                page.goto(view)
                # A function, not a string: the console's content security policy forbids eval.
                page.wait_for_function(
                    "() => performance.getEntriesByName('sextant:plot-drawn').length > 0", timeout=60_000)
                marks = page.evaluate("""() => {
                    const asked = performance.getEntriesByName('sextant:plot-request')[0].startTime;
                    const drawn = performance.getEntriesByName('sextant:plot-drawn')[0].startTime;
                    return [asked, drawn];
                }""")
                points = int(page.locator(".plot").get_attribute("data-points"))
                if run >= 2:
                    asked_to_drawn.append(marks[1] - marks[0])
                    navigation_to_drawn.append(marks[1])
            browser.close()
        print(f"console: {points:,} points drawn; request to drawn median "
              f"{statistics.median(asked_to_drawn):.1f} ms, p90 {percentile(asked_to_drawn, 0.9):.1f} ms; "
              f"navigation to drawn median {statistics.median(navigation_to_drawn):.1f} ms ({args.runs} runs)")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
