"""Starts the real `sextant` binary for the tests of the published `python-kairosdb` client.

The binary is `$SEXTANT_BIN`, or `target/debug/sextant` under the repository root. The module
gets one server on a free port with a fresh data directory and a bootstrap admin key.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on http://(127\.0\.0\.1:\d+) ")
TOKEN = "sxt_kairosdb_py_bootstrap_token"


def sextant_bin() -> Path:
    path = Path(os.environ.get("SEXTANT_BIN", "target/debug/sextant"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file():
        pytest.fail(f"no sextant binary at {path}: run `cargo build -p sextant-cli` or set SEXTANT_BIN")
    return path


@pytest.fixture(scope="module")
def sextant(tmp_path_factory):
    """`(address, token)` of a running server; stopped after the module."""
    data_dir = tmp_path_factory.mktemp("sextant") / "data"
    proc = subprocess.Popen(
        [str(sextant_bin()), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir),
         "--bootstrap-token", TOKEN],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    address = None
    for line in proc.stdout:
        match = LISTENING.search(line)
        if match:
            address = match.group(1)
            break
    if address is None:
        proc.kill()
        pytest.fail(f"sextant exited with {proc.wait()} before listening")
    # Keep reading so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    yield address, TOKEN
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
