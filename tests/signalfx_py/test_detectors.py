"""Detectors and incidents through the published `signalfx` 1.1.16 REST client: create, read,
update, validate and delete; a detector running live opens an incident when its condition
holds and clears it when it stops holding; its events are readable with SignalFlow's
`events()`; and a server killed with SIGKILL resumes its detectors without a duplicate or a
lost trigger.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time

import pytest
import requests
import signalfx
from signalfx.signalflow import messages

import sextant_server
from conftest import ADMIN, LISTENING, sextant_bin

PROGRAM = "A = data('{metric}').max()\ndetect(when(A > 50), off=when(A < 20)).publish('hot')"


def detector(metric: str, name: str, **extra) -> dict:
    body = {
        "name": name,
        "programText": PROGRAM.format(metric=metric),
        "rules": [{"detectLabel": "hot", "severity": "Major"}],
    }
    body.update(extra)
    return body


def send(url: str, token: str, metric: str, values, host: str = "d1"):
    """One point a value, stamped now; returns when the server has acknowledged them."""
    session = requests.Session()
    for value in values:
        gauge = {"metric": metric, "value": float(value), "dimensions": {"host": host},
                 "timestamp": int(time.time() * 1000)}
        reply = session.post(f"{url}/v2/datapoint", json={"gauge": [gauge]},
                             headers={"X-SF-Token": token}, timeout=10)
        assert reply.status_code == 200, reply.text
        time.sleep(0.25)


def wait_for(what, check, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


def test_detectors_are_created_read_updated_validated_and_deleted(sextant):
    with signalfx.SignalFx(api_endpoint=sextant.url).rest(sextant.ingest) as rest:
        created = rest.create_detector(detector("crud.cpu", "crud", description="first"))
        assert len(created["id"]) == 11
        assert created["programText"] == PROGRAM.format(metric="crud.cpu")
        assert created["rules"] == [{"detectLabel": "hot", "severity": "Major"}]
        assert rest.get_detector(created["id"])["description"] == "first"
        assert [d["id"] for d in rest.get_detectors(name="crud")] == [created["id"]]
        updated = rest.update_detector(created["id"], detector("crud.cpu", "crud", description="second"))
        assert updated["description"] == "second" and updated["lastUpdated"] >= created["lastUpdated"]
        rest.validate_detector(detector("crud.cpu", "ok"))
        with pytest.raises(requests.HTTPError) as error:
            rest.validate_detector(dict(detector("crud.cpu", "bad"), programText="A = data('x'\n"))
        assert error.value.response.status_code == 400
        assert "line 1, column" in error.value.response.json()["message"]
        with pytest.raises(requests.HTTPError) as error:
            rest.validate_detector(dict(detector("crud.cpu", "bad"),
                                        rules=[{"detectLabel": "cold", "severity": "Minor"}]))
        assert "`cold` is not published" in error.value.response.json()["message"]
        assert rest.delete_detector(created["id"]).status_code == 204
        with pytest.raises(requests.HTTPError) as error:
            rest.get_detector(created["id"])
        assert error.value.response.status_code == 404
    with signalfx.SignalFx(api_endpoint=sextant.url).rest(sextant.read) as rest:
        with pytest.raises(requests.HTTPError) as error:
            rest.create_detector(detector("crud.cpu", "read keys may not"))
        assert error.value.response.status_code == 403


def test_a_detector_opens_and_clears_an_incident(sextant):
    with signalfx.SignalFx(api_endpoint=sextant.url).rest(sextant.ingest) as rest:
        created = rest.create_detector(detector("live.det", "live detector"))
        started = int(time.time() * 1000)
        time.sleep(1.5)
        send(sextant.url, sextant.ingest, "live.det", [10, 60, 70, 65])
        active = wait_for("an open incident",
                          lambda: rest.get_detector_incidents(created["id"]))
        assert len(active) == 1
        incident = active[0]
        assert incident["detectLabel"] == "hot" and incident["severity"] == "Major"
        assert incident["anomalyState"] == "ANOMALOUS" and incident["dimensions"] == {"host": "d1"}
        send(sextant.url, sextant.ingest, "live.det", [30, 10, 5])
        wait_for("the clear", lambda: not rest.get_detector_incidents(created["id"]))
        resolved = [i for i in rest.get_incidents(include_resolved=True)
                    if i["incidentId"] == incident["incidentId"]]
        assert len(resolved) == 1 and resolved[0]["active"] is False
        events = rest.get_detector_events(created["id"])
        assert [e["anomalyState"] for e in events] == ["ANOMALOUS", "OK"]
        assert {e["incidentId"] for e in events} == {incident["incidentId"]}
        rest.delete_detector(created["id"])
    # The same events through SignalFlow.
    flow = signalfx.SignalFx(stream_endpoint=sextant.url).signalflow(sextant.read)
    try:
        computation = flow.execute("events('live detector').publish()", start=started - 60_000,
                                   stop=int(time.time() * 1000), immediate=True)
        seen = [m.properties["is"] for m in computation.stream()
                if isinstance(m, messages.EventMessage)]
    finally:
        flow.close()
    assert seen == ["anomalous", "ok"]


def start_server(data_dir, *extra):
    proc = subprocess.Popen(
        [str(sextant_bin()), "serve", "--listen", "127.0.0.1:0", "--data-dir", str(data_dir),
         "--bootstrap-token", ADMIN, *extra],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in proc.stdout:
        match = LISTENING.search(line)
        if match:
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
            return proc, f"http://{match.group(1)}"
    pytest.fail(f"sextant exited with {proc.wait()} before listening")


class Receiver:
    """A webhook receiver on loopback: the JSON bodies it was sent."""

    def __init__(self):
        import http.server
        import json

        bodies = self.bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_killed_server_resumes_its_detectors_without_duplicate_or_lost_triggers(tmp_path):
    data_dir = tmp_path / "data"
    receiver = Receiver()
    proc, url = start_server(data_dir, "--webhook-url", receiver.url)
    try:
        ingest = sextant_server.create_key(data_dir, "ingest", "det-ingest")
        with signalfx.SignalFx(api_endpoint=url).rest(ingest) as rest:
            created = rest.create_detector(detector("crash.det", "crash detector", maxDelay=2000))
        # A new detector evaluates from the first logical timestamp after its creation.
        time.sleep(1.5)
        # Acknowledged points above the threshold, then SIGKILL before the detector's wait
        # for late points is over: the trigger is evaluated only after the restart.
        send(url, ingest, "crash.det", [70, 80])
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc, url = start_server(data_dir, "--webhook-url", receiver.url)
        with signalfx.SignalFx(api_endpoint=url).rest(ingest) as rest:
            wait_for("the trigger after the restart",
                     lambda: rest.get_detector_incidents(created["id"]))
            hook = wait_for("the trigger's webhook", lambda: receiver.bodies)[0]
            assert hook["event"] == "detector.triggered" and hook["detectorId"] == created["id"]
            assert hook["severity"] == "Major" and hook["dimensions"] == {"host": "d1"}
            # An open incident, then another SIGKILL: the restart must not trigger it again.
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        proc, url = start_server(data_dir)
        with signalfx.SignalFx(api_endpoint=url).rest(ingest) as rest:
            send(url, ingest, "crash.det", [75])
            time.sleep(1.2)
            send(url, ingest, "crash.det", [10, 5])
            wait_for("the clear", lambda: not rest.get_detector_incidents(created["id"]))
            events = rest.get_detector_events(created["id"])
            assert [e["anomalyState"] for e in events] == ["ANOMALOUS", "OK"], events
            assert len({e["incidentId"] for e in events}) == 1
            # The third server was started without a webhook: only the trigger was sent.
            assert [b["event"] for b in receiver.bodies] == ["detector.triggered"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
