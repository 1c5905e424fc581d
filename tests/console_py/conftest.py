"""Starts the real `sextant` binary and Debian's Chromium for the web console's tests.

Chromium is `$SEXTANT_CHROMIUM` or `/usr/bin/chromium`, driven by Playwright's Python client
(no browser is downloaded). Each test gets a fresh browser page; every page's console errors
and uncaught exceptions fail the test. Screenshots go to `$SEXTANT_SCREENSHOTS`, or
`target/console-screenshots` under the repository root.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import sextant_server  # noqa: E402

TOKEN = "sxt_console_py_bootstrap_token"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Server:
    def __init__(self, address: str, data_dir: Path):
        self.address = address
        self.base = f"http://{address}"
        self.data_dir = data_dir
        self.token = TOKEN

    def http(self, method: str, path: str, body=None, raw: bytes | None = None, headers=None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("authorization", f"Bearer {self.token}")
        if body is not None:
            request.add_header("content-type", "application/json")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        with urllib.request.urlopen(request, timeout=30) as reply:
            text = reply.read()
            return json.loads(text) if text else None

    def write_lines(self, lines: list[str]) -> None:
        self.http("POST", "/write?precision=ns", raw="\n".join(lines).encode())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("console") / "data"
    proc, address = sextant_server.start(data, TOKEN)
    yield Server(address, data)
    sextant_server.stop(proc)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = os.environ.get("SEXTANT_CHROMIUM", "/usr/bin/chromium")
    if not Path(executable).is_file():
        pytest.fail(f"no Chromium at {executable}: install Debian's chromium or set SEXTANT_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    folder = Path(os.environ.get("SEXTANT_SCREENSHOTS", sextant_server.REPO_ROOT / "target" / "console-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Refusals:
    """The HTTP refusals a test provokes on purpose: the browser logs each refused request as a
    console error, which is then expected rather than a failure."""

    def __init__(self):
        self.expected: list[tuple[int, str]] = []

    def expect(self, status: int, path: str) -> None:
        self.expected.append((status, path))


@pytest.fixture
def refusals() -> Refusals:
    return Refusals()


@pytest.fixture
def page(browser, refusals):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    refused: list[tuple[int, str]] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text} at {m.location.get('url')}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"uncaught: {e}"))
    page.on("response", lambda r: refused.append((r.status, urlparse(r.url).path)) if r.status >= 400 else None)
    yield page
    context.close()
    # Each refused request logs one "Failed to load resource" error; those the test provoked
    # are expected, any other is a failure.
    unexpected = [r for r in refused if r not in refusals.expected]
    logged = [p for p in problems if "Failed to load resource" not in p]
    assert unexpected == [] and logged == [] and len(problems) - len(logged) == len(refused), (
        f"the browser reported errors: {problems}; refused requests: {refused}"
    )
