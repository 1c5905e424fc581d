"""Starts the real `sextant` binary for the tests of the published `python-kairosdb` client.

The binary is `$SEXTANT_BIN`, or `target/debug/sextant` under the repository root. The module
gets one server on a free port with a fresh data directory and a bootstrap admin key.
"""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sextant_server  # noqa: E402

REPO_ROOT = sextant_server.REPO_ROOT
TOKEN = "sxt_kairosdb_py_bootstrap_token"


# The server's output, shown beside a failing test (a connection closed without an answer
# says little by itself).
SERVER_LOG: list[str] = []


@pytest.fixture(scope="module")
def sextant(tmp_path_factory):
    """`(address, token)` of a running server; stopped after the module."""
    proc, address = sextant_server.start(
        tmp_path_factory.mktemp("sextant") / "data", TOKEN, log=SERVER_LOG
    )
    yield address, TOKEN
    sextant_server.stop(proc)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and SERVER_LOG:
        report.sections.append(("sextant server output", "".join(SERVER_LOG[-200:])))


def load_kairosdb() -> None:
    """Imports the installed python-kairosdb 0.2.1.

    Its `kairosdb/__init__.py` does not compile on Python 3.6 and later: `basic_logger()`
    declares `global LOG` after reading `LOG`, which Python 2 only warned about and Python 3
    rejects (`SyntaxError: name 'LOG' is used prior to global declaration`). The package has
    no newer release. Its source is read from the installed file and compiled with that one
    declaration moved to the top of the function; nothing else changes, and `kairosdb.client`
    is imported from the installed file as it is.
    """
    if "kairosdb" in sys.modules:
        return
    spec = importlib.util.find_spec("kairosdb")
    if spec is None or spec.origin is None:
        pytest.fail("python-kairosdb is not installed: pip install -r tests/kairosdb_py/requirements.txt")
    path = Path(spec.origin)
    source = path.read_text()
    broken = "    if not LOG:\n"
    if source.count("        global LOG\n") != 1 or source.count(broken) != 1:
        pytest.fail(f"{path} is not python-kairosdb 0.2.1's __init__.py")
    fixed = source.replace("        global LOG\n", "").replace(broken, "    global LOG\n" + broken)
    module = types.ModuleType("kairosdb")
    module.__file__ = str(path)
    module.__path__ = [str(path.parent)]
    sys.modules["kairosdb"] = module
    exec(compile(fixed, str(path), "exec"), module.__dict__)


load_kairosdb()
