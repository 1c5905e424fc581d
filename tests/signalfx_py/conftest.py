"""Starts the real `sextant` binary for the tests of the published `signalfx` client.

The binary is `$SEXTANT_BIN`, or `target/debug/sextant` under the repository root. The module
gets one server on a free port with a fresh data directory, its bootstrap admin key, and an
ingest key and a read key of the same organization made with `sextant token create`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sextant_server  # noqa: E402
from sextant_server import LISTENING, sextant_bin  # noqa: E402,F401  (the tests use them)

REPO_ROOT = sextant_server.REPO_ROOT
ADMIN = "sxt_signalfx_py_bootstrap_token"


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


@pytest.fixture(scope="module")
def sextant(tmp_path_factory):
    """A running server; stopped after the module."""
    data_dir = tmp_path_factory.mktemp("sextant") / "data"
    # The lines are kept for the tests that look for a refusal in the log.
    log: list = []
    proc, address = sextant_server.start(data_dir, ADMIN, log)
    server = Server(
        address=address,
        admin=ADMIN,
        ingest=sextant_server.create_key(data_dir, "ingest", "sfx-ingest"),
        read=sextant_server.create_key(data_dir, "read", "sfx-read"),
        log=log,
    )
    yield server
    sextant_server.stop(proc)
