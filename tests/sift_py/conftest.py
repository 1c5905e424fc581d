"""Starts the real `sextant` binary for the end-to-end tests of Sift's Python client.

The binary is `$SEXTANT_BIN`, or `target/debug/sextant` under the repository root. Each test
gets its own server on a free port with a fresh data directory and a bootstrap admin key.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import NamedTuple, Optional

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on http://(127\.0\.0\.1:\d+) ")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0


def sextant_bin() -> Path:
    path = Path(os.environ.get("SEXTANT_BIN", "target/debug/sextant"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file():
        pytest.fail(
            f"no sextant binary at {path}: run `cargo build -p sextant-cli` or set SEXTANT_BIN"
        )
    return path


class Sextant(NamedTuple):
    """What a test needs to reach a running server."""

    uri: str
    token: str
    data_dir: Path


class SextantProcess:
    """One `sextant serve` process over a data directory; it can be stopped and started again."""

    def __init__(self, binary: Path, data_dir: Path, token: str, log: Path):
        self.binary = binary
        self.data_dir = data_dir
        self.token = token
        self.log_path = log
        self.proc: Optional[subprocess.Popen] = None
        self.uri: Optional[str] = None
        # Where to listen; a test that restarts on the same address sets it to the first one.
        self.listen = "127.0.0.1:0"
        # More `sextant serve` flags, for a test that sets limits; applied at the next start.
        self.extra_args: list[str] = []
        self._stdout_lines: list[str] = []

    @property
    def info(self) -> Sextant:
        assert self.uri is not None, "the server is not running"
        return Sextant(self.uri, self.token, self.data_dir)

    def start(self) -> Sextant:
        assert self.proc is None, "already running"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                str(self.binary),
                "serve",
                "--listen",
                self.listen,
                "--data-dir",
                str(self.data_dir),
                "--bootstrap-token",
                self.token,
                *self.extra_args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        lines: "queue.Queue[Optional[str]]" = queue.Queue()

        def pump(stream):
            # Reads stdout to its end so that the server never blocks on a full pipe.
            for line in stream:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, args=(self.proc.stdout,), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        self._stdout_lines = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.kill()
                pytest.fail(f"sextant did not print its listening line in {START_TIMEOUT_S} s{self.tail()}")
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait()
                self.proc = None
                pytest.fail(f"sextant exited with {code} before listening{self.tail()}")
            self._stdout_lines.append(line)
            match = LISTENING.search(line)
            if match:
                self.uri = match.group(1)
                return self.info

    def stop(self) -> int:
        """SIGTERM, then a bounded wait; a server that does not exit in time is killed."""
        assert self.proc is not None, "not running"
        proc, self.proc, self.uri = self.proc, None, None
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            pytest.fail(f"sextant did not exit within {STOP_TIMEOUT_S} s of SIGTERM{self.tail()}")

    def kill(self) -> int:
        """SIGKILL: the server gets no chance to flush anything."""
        assert self.proc is not None, "not running"
        proc, self.proc, self.uri = self.proc, None, None
        proc.kill()
        return proc.wait()

    def restart(self) -> Sextant:
        code = self.stop()
        assert code == 0, f"sextant exited with {code} on SIGTERM{self.tail()}"
        return self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return "\n--- sextant stderr (last lines) ---\n" + "\n".join(text) if text else ""

    def create_key(self, scope: str, name: str = "e2e", org: Optional[str] = None) -> str:
        """A new API key from `sextant token create`."""
        cmd = [
            str(self.binary),
            "token",
            "create",
            "--data-dir",
            str(self.data_dir),
            "--name",
            name,
            "--scope",
            scope,
        ]
        if org is not None:
            cmd += ["--org", org]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, f"token create failed: {out.stderr}"
        return out.stdout.splitlines()[0].strip()


@pytest.fixture
def sextant_process(tmp_path):
    """The running server as a process the test may stop, kill and start again."""
    server = SextantProcess(
        sextant_bin(),
        tmp_path / "data",
        "e2e-bootstrap-" + os.urandom(8).hex(),
        tmp_path / "sextant.log",
    )
    server.start()
    yield server
    if server.proc is not None:
        still_running = server.alive()
        code = server.stop()
        assert still_running, f"sextant died during the test with {code}{server.tail()}"
        assert code == 0, f"sextant exited with {code} on SIGTERM{server.tail()}"


@pytest.fixture
def sextant(sextant_process) -> Sextant:
    """(uri, token, data_dir) of a fresh running server; it is stopped with SIGTERM afterwards
    and must exit cleanly."""
    return sextant_process.info
