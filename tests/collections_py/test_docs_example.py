"""Runs the Python example of docs/collections.md, as a reader would, against the binary."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import requests

from conftest import REPO_ROOT

SCHEMA = {
    "tags_column": "tags",
    "input_columns": [{"name": "f1", "type": "float"}, {"name": "f2", "type": "int"},
                      {"name": "f3", "type": "string"}, {"name": "f4", "type": "bool"}],
    "prediction_columns": [{"name": "proba", "type": "float"}, {"name": "prediction", "type": "int"}],
    "label_columns": [{"name": "actual", "type": "int"}],
    "extra_columns": [{"name": "extra1", "type": "string"}, {"name": "extra2", "type": "string"}],
}


def docs_example() -> str:
    text = (REPO_ROOT / "docs" / "collections.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1, "docs/collections.md has one Python example"
    return blocks[0]


def test_the_documented_ingest_events_stores_joins_and_reports(sextant):
    url, token = sextant
    auth = {"Authorization": f"Bearer {token}"}
    created = requests.post(f"{url}/api/native/v1/collections", headers=auth,
                            json={"name": "churn", "schema": SCHEMA}, timeout=10)
    assert created.status_code == 201, created.text

    run = subprocess.run([sys.executable, "-c", docs_example()], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "SEXTANT_URL": url, "SEXTANT_TOKEN": token})
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["label refusals: [0]", "TYPE_MISMATCH [0]"], run.stdout

    rows = requests.get(f"{url}/api/native/v1/collections/churn/events", headers=auth,
                        timeout=10).json()
    names = [c["name"] for c in rows["columns"]]
    assert len(rows["rows"]) == 1
    row = dict(zip(names, rows["rows"][0]))
    assert row["id"] == "a_guid" and row["actual"] == 0 and row["proba"] == 0.8
    assert row["tags"] == ["tag1", "tag2", "tag3"] and row["project_id"] == "retention"
