"""Starts the real `sextant` binary for the tests of the published `signalfx` client.

The binary is `$SEXTANT_BIN`, or `target/debug/sextant` under the repository root. The module
gets one server on a free port with a fresh data directory, its bootstrap admin key, and an
ingest key and a read key of the same organization made with `sextant token create`.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on http://(127\.0\.0\.1:\d+) ")
ADMIN = "sxt_signalfx_py_bootstrap_token"


def sextant_bin() -> Path:
    path = Path(os.environ.get("SEXTANT_BIN", "target/debug/sextant"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file():
        pytest.fail(f"no sextant binary at {path}: run `cargo build -p sextant-cli` or set SEXTANT_BIN")
    return path


@dataclass
class Server:
    """A running server and its keys."""

    address: str
    admin: str
    ingest: str
    read: str
    log: list

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def metric(self, name: str, **labels: str) -> float:
        """The value of one line of `/metrics`, 0 when absent."""
        text = requests.get(f"{self.url}/metrics", timeout=10).text
        for line in text.splitlines():
            if not line.startswith(name + "{") and not line.startswith(name + " "):
                continue
            if all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def kairos(self, metric: str, tags: dict | None = None, aggregators: list | None = None) -> list:
        """`[[timestamp_ms, value], ...]` of `metric` (with `tags`) through the KairosDB API."""
        query = {"name": metric}
        if tags:
            query["tags"] = {k: [v] for k, v in tags.items()}
        if aggregators:
            query["aggregators"] = aggregators
        # The end lies in the future, for the points stamped with the server's time.
        body = {"start_absolute": 1, "end_absolute": 4_000_000_000_000, "metrics": [query]}
        reply = requests.post(f"{self.url}/api/v1/datapoints/query", json=body,
                              auth=("signalfx", self.read), timeout=30)
        assert reply.status_code == 200, reply.text
        values = []
        for result in reply.json()["queries"][0]["results"]:
            values.extend(result["values"])
        return sorted(values, key=lambda v: v[0])


def create_key(binary: Path, data_dir: Path, scope: str, name: str) -> str:
    out = subprocess.run(
        [str(binary), "token", "create", "--data-dir", str(data_dir), "--name", name, "--scope", scope],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 0, f"token create failed: {out.stderr}"
    return out.stdout.splitlines()[0].strip()


@pytest.fixture(scope="module")
def sextant(tmp_path_factory):
    """A running server; stopped after the module."""
    data_dir = tmp_path_factory.mktemp("sextant") / "data"
    binary = sextant_bin()
    proc = subprocess.Popen(
        [str(binary), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir),
         "--bootstrap-token", ADMIN],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    address = None
    log: list = []
    for line in proc.stdout:
        log.append(line)
        match = LISTENING.search(line)
        if match:
            address = match.group(1)
            break
    if address is None:
        proc.kill()
        pytest.fail(f"sextant exited with {proc.wait()} before listening: {''.join(log)}")
    # Keep reading so the server never blocks on a full pipe; the lines are kept for the
    # tests that look for a refusal in the log.
    threading.Thread(target=lambda: [log.append(line) for line in proc.stdout], daemon=True).start()
    server = Server(
        address=address,
        admin=ADMIN,
        ingest=create_key(binary, data_dir, "ingest", "sfx-ingest"),
        read=create_key(binary, data_dir, "read", "sfx-read"),
        log=log,
    )
    yield server
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
