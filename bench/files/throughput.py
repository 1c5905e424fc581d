#!/usr/bin/env python3
"""Attachment throughput: uploads one file to a run through sift_py's FileAttachmentService,
downloads it again through its signed URL, and prints MiB/s each way with the server's peak RSS.

    cargo build --release -p sextant-cli
    .venv/bin/python bench/files/throughput.py [--mib 1024] [--runs 3]

Starts the release `sextant` on loopback with a temporary data directory (the file is written
there too: about twice its size on disk) and stops it by its PID. The client is sift_py as a
user runs it (`requests` with `requests_toolbelt`'s streaming multipart encoder), so the
figures are what a user sees, client costs included; the server's CPU seconds are printed
apart. The downloaded bytes are compared with the uploaded ones by SHA-256.
"""

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sift.runs.v2.runs_pb2 import CreateRunRequest
from sift.runs.v2.runs_pb2_grpc import RunServiceStub
from sift_py.file_attachment.entity import Entity, EntityType
from sift_py.file_attachment.service import FileAttachmentService
from sift_py.grpc.transport import SiftChannelConfig, use_sift_channel

REPO = Path(__file__).resolve().parents[2]
TOKEN = "bench-files-" + os.urandom(8).hex()


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def make_file(path, mib):
    """`mib` MiB of bytes that do not compress, written in 1 MiB blocks."""
    digest = hashlib.sha256()
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(mib):
            # A different block each time: a few bytes changed are enough for the checksum.
            chunk = i.to_bytes(8, "little") + block[8:]
            f.write(chunk)
            digest.update(chunk)
    return digest.hexdigest()


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--bin", default=str(REPO / "target/release/sextant"))
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="sextant-bench-files-"))
    server = subprocess.Popen(
        [
            args.bin, "serve", "--listen", "127.0.0.1:0", "--data-dir", str(tmp / "data"),
            "--bootstrap-token", TOKEN, "--file-max-bytes", f"{args.mib + 1}MiB",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = server.stdout.readline()
        uri = re.search(r"http://(127\.0\.0\.1:\d+)", line).group(1)
        source = tmp / "payload.bin"
        expected = make_file(source, args.mib)
        config = SiftChannelConfig(uri=uri, apikey=TOKEN, use_ssl=False)
        rest = {"uri": uri, "apikey": TOKEN, "use_ssl": False}
        with use_sift_channel(config) as channel:
            files = FileAttachmentService(channel, rest)
            run = RunServiceStub(channel).CreateRun(CreateRunRequest(name="bench")).run
            entity = Entity(run.run_id, EntityType.RUN)
            print(
                f"{args.mib} MiB file; server RSS at start {status_kib(server.pid, 'VmRSS') / 1024:.0f} MiB",
                flush=True,
            )
            for i in range(args.runs):
                cpu0 = cpu_seconds(server.pid)
                t0 = time.perf_counter()
                stored = files.upload_attachment(source, entity, None)
                up = time.perf_counter() - t0
                cpu1 = cpu_seconds(server.pid)
                hwm_up = status_kib(server.pid, "VmHWM") / 1024
                out = tmp / "download.bin"
                t0 = time.perf_counter()
                files.download_attachment(stored, str(out))  # a `Path` would be ignored
                down = time.perf_counter() - t0
                cpu2 = cpu_seconds(server.pid)
                hwm = status_kib(server.pid, "VmHWM") / 1024
                same = sha256_of(out) == expected
                out.unlink()
                files.delete_file_attachments(stored)
                print(
                    f"run {i + 1}: upload {args.mib / up:.0f} MiB/s ({up:.2f} s, server CPU "
                    f"{cpu1 - cpu0:.2f} s), download {args.mib / down:.0f} MiB/s ({down:.2f} s, "
                    f"server CPU {cpu2 - cpu1:.2f} s), server peak RSS {hwm_up:.0f} MiB after "
                    f"the upload, {hwm:.0f} MiB after the download; bytes equal: {same}",
                    flush=True,
                )
                if not same:
                    sys.exit("the downloaded file differs from the uploaded one")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
