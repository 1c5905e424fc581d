"""Peak memory of one KairosDB ingest of many small metric objects.

    cargo build --release -p sextant-cli
    python3 bench/kairos/ingest_memory.py target/release/sextant

Starts the binary on loopback with a temporary data directory, posts one 62 MB body of
one-point metric objects to /api/v1/datapoints, and prints the server's peak resident memory
(VmHWM) before and after, then stops it. The figure is in docs/security.md.
"""
import json, os, subprocess, sys, tempfile, time, urllib.request, re
binary = sys.argv[1]
d = tempfile.mkdtemp()
p = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--data-dir", d + "/data", "--bootstrap-token", "sxt_mem"],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
addr = None
for line in p.stdout:
    m = re.search(r"listening on http://(127\.0\.0\.1:\d+) ", line)
    if m:
        addr = m.group(1); break
def hwm():
    for l in open(f"/proc/{p.pid}/status"):
        if l.startswith(("VmHWM", "VmRSS")): yield l.split()[1]
parts = []
n = 0
size = 2
while size < 62_000_000:
    s = json.dumps({"name": f"m{n % 1000}", "tags": {"h": "a"}, "timestamp": 1700000000000 + n, "value": n})
    parts.append(s); size += len(s) + 1; n += 1
body = ("[" + ",".join(parts) + "]").encode()
print("body", len(body), "bytes,", n, "metric objects")
before = list(hwm())
req = urllib.request.Request(f"http://{addr}/api/v1/datapoints", data=body, method="POST",
                             headers={"Authorization": "Bearer sxt_mem", "Content-Type": "application/json"})
t = time.time()
with urllib.request.urlopen(req, timeout=600) as r:
    print("status", r.status, "in", round(time.time() - t, 2), "s")
after = list(hwm())
print("peak RSS before", int(before[0]) // 1024, "MiB, after", int(after[0]) // 1024, "MiB")
p.terminate(); p.wait()
import shutil; shutil.rmtree(d, ignore_errors=True)
