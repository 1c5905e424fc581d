"""The published `signalfx` 1.1.16 client, unchanged, ingesting into Sextant: protobuf and
JSON datapoints of every metric type with dimensions, with and without timestamps; the queue
flushed by `stop()`; bad points refused alone, logged and counted; events with every property
type; bad and read-only keys. Everything is read back through the KairosDB and native APIs.
"""

from __future__ import annotations

import json
import subprocess
import time

import requests
import signalfx
from signalfx.ingest import JsonSignalFxIngestClient, ProtoBufSignalFxIngestClient

from conftest import sextant_bin

T0 = 1_700_000_000_000


def count(server, metric: str, tags: dict | None = None) -> int:
    """How many points `metric` has, by KairosDB's count aggregator (NaN included)."""
    return sum(v for _, v in server.kairos(metric, tags, aggregators=[{"name": "count"}]))


def client(server, token: str):
    sfx = signalfx.SignalFx(api_endpoint=server.url, ingest_endpoint=server.url,
                            stream_endpoint=server.url)
    return sfx.ingest(token)


def test_the_default_client_speaks_protobuf(sextant):
    ingest = client(sextant, sextant.ingest)
    assert isinstance(ingest, ProtoBufSignalFxIngestClient)
    ingest.stop()


def test_protobuf_gauges_counters_and_cumulative_counters(sextant):
    ingest = client(sextant, sextant.ingest)
    dims = {"host": "web-1", "app": "shop"}
    ingest.send(
        gauges=[
            {"metric": "pb.latency", "value": 1.5, "timestamp": T0, "dimensions": dims},
            {"metric": "pb.latency", "value": 2.25, "timestamp": T0 + 1000, "dimensions": dims},
            {"metric": "pb.queue", "value": 7, "timestamp": T0, "dimensions": dims},
            {"metric": "pb.version", "value": "v1.2.3", "timestamp": T0, "dimensions": dims},
            {"metric": "pb.nan", "value": float("nan"), "timestamp": T0, "dimensions": dims},
            {"metric": "pb.nan", "value": float("inf"), "timestamp": T0 + 1, "dimensions": dims},
        ],
        counters=[{"metric": "pb.requests", "value": 42, "timestamp": T0, "dimensions": dims}],
        cumulative_counters=[{"metric": "pb.total", "value": 2**63 - 1, "timestamp": T0,
                              "dimensions": dims}],
    )
    before = time.time() * 1000
    ingest.send(gauges=[{"metric": "pb.now", "value": 3.0, "dimensions": dims}])
    ingest.stop()
    after = time.time() * 1000

    assert sextant.kairos("pb.latency", {"host": "web-1"}) == [[T0, 1.5], [T0 + 1000, 2.25]]
    assert sextant.kairos("pb.queue") == [[T0, 7]]
    assert sextant.kairos("pb.version") == [[T0, "v1.2.3"]]
    assert sextant.kairos("pb.requests") == [[T0, 42]]
    assert sextant.kairos("pb.total") == [[T0, 2**63 - 1]]
    # NaN and infinity are stored: two points.
    assert count(sextant, "pb.nan") == 2
    # No timestamp: the server's time.
    [[t, v]] = sextant.kairos("pb.now")
    assert v == 3.0 and before - 60_000 <= t <= after + 60_000


def test_the_queue_is_flushed_by_stop_in_batches(sextant):
    before = sextant.metric("sextant_ingested_points_total", protocol="signalfx")
    ingest = client(sextant, sextant.ingest)
    n = 1_000
    for i in range(n):
        ingest.send(gauges=[{"metric": "pb.flood", "value": float(i), "timestamp": T0 + i,
                             "dimensions": {"host": f"h{i % 10}"}}])
    ingest.stop()
    assert count(sextant, "pb.flood") == n
    assert sextant.metric("sextant_ingested_points_total", protocol="signalfx") - before == n


def test_json_client_and_bad_points_refused_alone(sextant):
    ingest = JsonSignalFxIngestClient(sextant.ingest, endpoint=sextant.url)
    refused = sextant.metric("sextant_refused_points_total", protocol="signalfx", reason="invalid")
    ingest.send(
        gauges=[
            {"metric": "js.temp", "value": 21.5, "timestamp": T0, "dimensions": {"room": "a"}},
            # Beyond int64: the JSON client sends it as it is; the server refuses this point.
            {"metric": "js.temp", "value": 2**64, "timestamp": T0, "dimensions": {"room": "b"}},
            {"metric": "js.temp", "value": float("nan"), "timestamp": T0 + 1, "dimensions": {"room": "c"}},
        ],
        counters=[{"metric": "js.hits", "value": 5, "timestamp": T0}],
        cumulative_counters=[{"metric": "js.total", "value": 9, "dimensions": {"room": "a"}}],
    )
    ingest.stop()
    assert sextant.kairos("js.temp", {"room": "a"}) == [[T0, 21.5]]
    assert sextant.kairos("js.temp", {"room": "b"}) == []
    assert count(sextant, "js.temp", {"room": "c"}) == 1
    assert sextant.kairos("js.hits") == [[T0, 5]]
    assert len(sextant.kairos("js.total")) == 1
    assert sextant.metric("sextant_refused_points_total", protocol="signalfx", reason="invalid") == refused + 1
    # The refusal is logged with the key's name, the metric, the dimensions and the reason.
    deadline = time.time() + 5
    while time.time() < deadline:
        lines = [l for l in sextant.log if "SignalFx datapoint refused" in l and "18446744073709551616" in l]
        if lines:
            break
        time.sleep(0.1)
    assert lines, "no refusal in the server log"
    assert "sfx-ingest" in lines[0] and "js.temp" in lines[0] and "room=b" in lines[0]


def test_a_metric_keeps_its_type_and_a_series_its_value_type(sextant):
    ingest = client(sextant, sextant.ingest)
    ingest.send(gauges=[{"metric": "pb.kept", "value": 1.0, "timestamp": T0}])
    ingest.stop()
    ingest = client(sextant, sextant.ingest)
    ingest.send(
        counters=[{"metric": "pb.kept", "value": 2.0, "timestamp": T0 + 1}],
        gauges=[{"metric": "pb.kept", "value": "text", "timestamp": T0 + 2},
                {"metric": "pb.kept", "value": 4.0, "timestamp": T0 + 3}],
    )
    ingest.stop()
    assert sextant.kairos("pb.kept") == [[T0, 1.0], [T0 + 3, 4.0]]


def events(sextant, token, **params):
    reply = requests.get(f"{sextant.url}/api/native/v1/events", params=params,
                         headers={"authorization": f"Bearer {token}"}, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()["events"]


def test_events_with_every_property_type(sextant):
    for ingest in (client(sextant, sextant.ingest), JsonSignalFxIngestClient(sextant.ingest, endpoint=sextant.url)):
        ingest.send_event(
            event_type="deploy",
            category="USER_DEFINED",
            dimensions={"service": "shop", "env": "prod"},
            properties={"version": "2.0.1", "ratio": 0.25, "build": 1234, "canary": True},
            timestamp=T0,
        )
        ingest.send_event(event_type="deploy", dimensions={"service": "cart"})
        ingest.send_event(event_type="restart", category="ALERT", dimensions={"service": "shop"},
                          timestamp=T0 + 5)
        ingest.stop()
    found = events(sextant, sextant.read, event_type="deploy", dimension="service:shop")
    assert len(found) == 2
    for event in found:
        assert event["event_type"] == "deploy"
        assert event["category"] == "USER_DEFINED"
        assert event["dimensions"] == {"env": "prod", "service": "shop"}
        assert event["timestamp"] == T0 * 1_000_000
        assert event["properties"] == {"version": "2.0.1", "ratio": 0.25, "build": 1234, "canary": True}
        assert isinstance(event["properties"]["build"], int)
        assert isinstance(event["properties"]["ratio"], float)
    # No timestamp: the server's time; no category: USER_DEFINED.
    now_ns = time.time() * 1e9
    cart = events(sextant, sextant.read, event_type="deploy", dimension="service:cart")
    assert len(cart) == 2
    assert all(abs(e["timestamp"] - now_ns) < 60e9 and e["category"] == "USER_DEFINED" for e in cart)
    # By time.
    alerts = events(sextant, sextant.read, start=str((T0 + 5) * 1_000_000), end=str((T0 + 6) * 1_000_000))
    assert [e["event_type"] for e in alerts] == ["restart", "restart"]
    assert alerts[0]["category"] == "ALERT"
    # The same through the CLI, one JSON object a line.
    out = subprocess.run(
        [str(sextant_bin()), "events", "--url", sextant.url, "--token", sextant.read,
         "--event-type", "deploy", "-d", "service:shop", "-d", "env:prod"],
        capture_output=True, text=True, timeout=30,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [e["properties"]["build"] for e in lines] == [1234, 1234]
    assert all(e["dimensions"]["env"] == "prod" for e in lines)


def test_bad_tokens_and_read_keys_store_nothing(sextant):
    for token in ("not-a-key", sextant.read):
        ingest = client(sextant, token)
        ingest.send(gauges=[{"metric": "pb.denied", "value": 1.0, "timestamp": T0}])
        ingest.send_event(event_type="denied", timestamp=T0)
        ingest.stop()
    assert sextant.kairos("pb.denied") == []
    assert events(sextant, sextant.read, event_type="denied") == []
    # What the client does not show: 401 for a bad key, 403 for a read key.
    for path in ("/v2/datapoint", "/v2/event"):
        reply = requests.post(sextant.url + path, data=b"", headers={"X-SF-Token": "not-a-key"}, timeout=10)
        assert reply.status_code == 401
        reply = requests.post(sextant.url + path, data=b"", headers={"X-SF-Token": sextant.read}, timeout=10)
        assert reply.status_code == 403, reply.text


def test_ingest_answers_ok_as_json(sextant):
    reply = requests.post(f"{sextant.url}/v2/datapoint", data=b"{}",
                          headers={"X-SF-Token": sextant.ingest, "Content-Type": "application/json"}, timeout=10)
    assert reply.status_code == 200
    assert reply.json() == "OK"


def test_the_pyformance_reporter_sends_counters_gauges_and_histograms(sextant):
    from signalfx import pyformance as sfx_pyformance

    registry = sfx_pyformance.MetricsRegistry()
    registry.counter("pyf.requests", host="pyf-1").inc(3)
    registry.gauge("pyf.temperature", host="pyf-1").set_value(21.5)
    latency = registry.histogram("pyf.latency", host="pyf-1")
    for ms in (10, 20, 30):
        latency.add(ms)
    reporter = sfx_pyformance.SignalFxReporter(
        token=sextant.ingest, ingest_endpoint=sextant.url, registry=registry,
        reporting_interval=3600,
    )
    reporter.report_now(timestamp=T0 // 1000)
    reporter.stop()
    # A counter's count is a cumulative counter; every other submetric a gauge named
    # metric.submetric, with the metric's dimensions.
    assert sextant.kairos("pyf.requests", {"host": "pyf-1"}) == [[T0, 3]]
    assert sextant.kairos("pyf.temperature", {"host": "pyf-1"}) == [[T0, 21.5]]
    assert sextant.kairos("pyf.latency", {"host": "pyf-1"}) == [[T0, 3]]
    assert sextant.kairos("pyf.latency.max", {"host": "pyf-1"}) == [[T0, 30]]
    assert sextant.kairos("pyf.latency.avg", {"host": "pyf-1"}) == [[T0, 20.0]]
