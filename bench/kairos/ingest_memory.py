"""Peak memory of KairosDB ingest bodies of many small metric objects, one or several at once.

    cargo build --release -p sextant-cli
    python3 bench/kairos/ingest_memory.py target/release/sextant
    python3 bench/kairos/ingest_memory.py target/release/sextant --concurrent 4 --megabytes 62
    python3 bench/kairos/ingest_memory.py target/release/sextant --concurrent 4 --decode-budget 64MiB

Starts the binary on loopback with a temporary data directory (and `--decode-budget` when
given), posts `--concurrent` bodies of `--megabytes` MB of one-point metric objects to
/api/v1/datapoints at once, one connection each, and prints the server's peak resident memory
(VmHWM) before and after and each request's status and time, then stops it by its PID. The
figures are in docs/security.md.
"""
import argparse
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

parser = argparse.ArgumentParser()
parser.add_argument("binary")
parser.add_argument("--concurrent", type=int, default=1)
parser.add_argument("--megabytes", type=float, default=62)
parser.add_argument("--decode-budget")
args = parser.parse_args()

d = tempfile.mkdtemp()
command = [args.binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", d + "/data",
           "--bootstrap-token", "sxt_mem"]
if args.decode_budget:
    command += ["--decode-budget", args.decode_budget]
p = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
addr = None
for line in p.stdout:
    m = re.search(r"listening on http://(127\.0\.0\.1:\d+) ", line)
    if m:
        addr = m.group(1)
        break


def peak_mib():
    for line in open(f"/proc/{p.pid}/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) // 1024


def body(first):
    parts, size, n = [], 2, 0
    while size < args.megabytes * 1_000_000:
        s = json.dumps({"name": f"m{n % 1000}", "tags": {"h": "a"},
                        "timestamp": first + n, "value": n})
        parts.append(s)
        size += len(s) + 1
        n += 1
    return ("[" + ",".join(parts) + "]").encode(), n


bodies = [body(1700000000000 + k * 100_000_000) for k in range(args.concurrent)]
print(f"{args.concurrent} bodies of {len(bodies[0][0])} bytes, {bodies[0][1]} metric objects each")
results = [None] * args.concurrent


def post(k):
    req = urllib.request.Request(f"http://{addr}/api/v1/datapoints", data=bodies[k][0],
                                 method="POST", headers={"Authorization": "Bearer sxt_mem",
                                                         "Content-Type": "application/json"})
    t = time.time()
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            status = r.status
    except urllib.error.HTTPError as e:
        status = f"{e.code} {e.read()[:200]!r}"
    results[k] = (status, round(time.time() - t, 2))


before = peak_mib()
threads = [threading.Thread(target=post, args=(k,)) for k in range(args.concurrent)]
for t in threads:
    t.start()
for t in threads:
    t.join()
after = peak_mib()
for k, (status, seconds) in enumerate(results):
    print(f"request {k}: status {status} in {seconds} s")
print(f"peak RSS before {before} MiB, after {after} MiB (+{after - before} MiB)")
p.terminate()
p.wait()
shutil.rmtree(d, ignore_errors=True)
