"""Starts the real `sextant` binary for the collections documentation's Python example: one
server per module on a free port with a fresh data directory and a bootstrap admin key."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sextant_server  # noqa: E402

REPO_ROOT = sextant_server.REPO_ROOT
TOKEN = "sxt_collections_py_bootstrap_token"


@pytest.fixture(scope="module")
def sextant(tmp_path_factory):
    """`(url, token)` of a running server; stopped after the module."""
    proc, address = sextant_server.start(tmp_path_factory.mktemp("sextant") / "data", TOKEN)
    yield f"http://{address}", TOKEN
    sextant_server.stop(proc)
