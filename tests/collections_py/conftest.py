"""Starts the real `sextant` binary for the collections documentation's Python example.

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
LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+) ")
TOKEN = "sxt_collections_py_bootstrap_token"


@pytest.fixture(scope="module")
def sextant(tmp_path_factory):
    """`(url, token)` of a running server; stopped after the module."""
    binary = Path(os.environ.get("SEXTANT_BIN", "target/debug/sextant"))
    if not binary.is_absolute():
        binary = REPO_ROOT / binary
    if not binary.is_file():
        pytest.fail(f"no sextant binary at {binary}: run `cargo build -p sextant-cli` or set SEXTANT_BIN")
    data_dir = tmp_path_factory.mktemp("sextant") / "data"
    proc = subprocess.Popen(
        [str(binary), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir),
         "--bootstrap-token", TOKEN],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    url = None
    for line in proc.stdout:
        match = LISTENING.search(line)
        if match:
            url = match.group(1)
            break
    if url is None:
        proc.kill()
        pytest.fail(f"sextant exited with {proc.wait()} before listening")
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
    yield url, TOKEN
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
