"""Starts and stops the real `sextant` binary for the Python end-to-end tests.

Shared by the conftests of `tests/kairosdb_py`, `tests/signalfx_py` and `tests/collections_py`
(each puts this directory on `sys.path`). The binary is `$SEXTANT_BIN`, or
`target/debug/sextant` under the repository root.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
LISTENING = re.compile(r"listening on http://(127\.0\.0\.1:\d+) ")


def sextant_bin() -> Path:
    """The binary under test; fails the test run if it is missing."""
    path = Path(os.environ.get("SEXTANT_BIN", "target/debug/sextant"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file():
        pytest.fail(f"no sextant binary at {path}: run `cargo build -p sextant-cli` or set SEXTANT_BIN")
    return path


def start(data_dir: Path, token: str, log: list | None = None) -> tuple[subprocess.Popen, str]:
    """`sextant serve` on a free loopback port with `token` as its bootstrap admin key, and its
    `host:port` once it listens. Its output is read on from then on (appended to `log` if
    given), so that it never blocks on a full pipe."""
    proc = subprocess.Popen(
        [str(sextant_bin()), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir),
         "--bootstrap-token", token],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = log if log is not None else []
    address = None
    for line in proc.stdout:
        seen.append(line)
        match = LISTENING.search(line)
        if match:
            address = match.group(1)
            break
    if address is None:
        proc.kill()
        pytest.fail(f"sextant exited with {proc.wait()} before listening: {''.join(seen)}")
    keep = log.append if log is not None else (lambda _line: None)
    threading.Thread(target=lambda: [keep(line) for line in proc.stdout], daemon=True).start()
    return proc, address


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if the server has not exited within 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def create_key(data_dir: Path, scope: str, name: str) -> str:
    """A new key of `scope` in the server's organization, made with `sextant token create`."""
    out = subprocess.run(
        [str(sextant_bin()), "token", "create", "--data-dir", str(data_dir), "--name", name,
         "--scope", scope],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 0, f"token create failed: {out.stderr}"
    return out.stdout.splitlines()[0].strip()
