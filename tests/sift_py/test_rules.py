"""Live rules end to end: sift_py registers the seed's overheating rule when its ingestion
service starts, data crossing 400 opens and closes annotations with the rule's assignee and
tags, a webhook receiver gets the notifications, and a second run updates the rule instead of
adding one."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import List

import pytest
from sift.annotations.v1.annotations_pb2 import ListAnnotationsRequest
from sift.annotations.v1.annotations_pb2_grpc import AnnotationServiceStub
from sift.rules.v1.rules_pb2 import ListRulesRequest
from sift.rules.v1.rules_pb2_grpc import RuleServiceStub
from sift.tags.v2.tags_pb2 import CreateTagRequest
from sift.tags.v2.tags_pb2_grpc import TagServiceStub
from sift_py.asset.service import AssetService
from sift_py.grpc.transport import use_sift_channel
from sift_py.ingestion.channel import ChannelConfig, ChannelDataType, double_value
from sift_py.ingestion.config.telemetry import FlowConfig, TelemetryConfig
from sift_py.ingestion.rule.config import (
    RuleActionCreateDataReviewAnnotation,
    RuleActionCreatePhaseAnnotation,
    RuleConfig,
)
from sift_py.ingestion.service import IngestionService
from sift_py.rule.service import RuleService

from conftest import SextantProcess, sextant_bin
from support import channel_config

RIPLEY = "ellen.ripley@weylandcorp.com"
RULE_KEY = "overheating-nostromo"
T0 = datetime(2024, 7, 4, 18, 0, 0, 250000, tzinfo=timezone.utc)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
WAIT_S = 15.0

# Thruster temperatures, one per second from T0; the rule holds where they exceed 400.
TEMPERATURES = [300, 350, 401, 450, 420, 399, 380, 410, 300, 200]
EXPECTED_RANGES = [(2, 5), (7, 8)]


def ns(index: int) -> int:
    at = T0 + timedelta(seconds=index)
    return (at - EPOCH) // timedelta(microseconds=1) * 1000


def telemetry_config() -> TelemetryConfig:
    temperature = ChannelConfig(
        name="temperature",
        component="thruster",
        data_type=ChannelDataType.DOUBLE,
        description="temperature of thruster",
        unit="Kelvin",
    )
    overheating = RuleConfig(
        name="overheating",
        description="Notify Ripley if thrusters get too hot",
        expression="$1 > 400",
        channel_references=[{"channel_reference": "$1", "channel_config": temperature}],
        action=RuleActionCreateDataReviewAnnotation(assignee=RIPLEY, tags=["warning", "thruster"]),
        rule_client_key=RULE_KEY,
        is_live_evaluation_enabled=True,
    )
    return TelemetryConfig(
        asset_name="NostromoLV426",
        ingestion_client_key="nostromo_lv_426_rules",
        rules=[overheating],
        flows=[FlowConfig(name="temperature_reading", channels=[temperature])],
    )


def reading(index: int, value: float):
    return {
        "flow_name": "temperature_reading",
        "timestamp": T0 + timedelta(seconds=index),
        "channel_values": [
            {"channel_name": "temperature", "component": "thruster", "value": double_value(value)}
        ],
    }


class Receiver:
    """A webhook receiver on a free port that records every JSON body it is sent."""

    def __init__(self):
        self.bodies: List[dict] = []
        # Requests to refuse with 503 before accepting any, to exercise retries.
        self.refuse = 0
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length", "0"))
                body = json.loads(self.rfile.read(length))
                if receiver.refused < receiver.refuse:
                    receiver.refused += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                receiver.bodies.append(body)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/sextant"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def http(sextant, method: str, path: str, body=None):
    request = urllib.request.Request(
        f"http://{sextant.uri}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"authorization": f"Bearer {sextant.token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def wait_for(what: str, check):
    deadline = time.monotonic() + WAIT_S
    while True:
        value = check()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def server(tmp_path, receiver, monkeypatch):
    """A server whose global webhook is the test's receiver."""
    monkeypatch.setenv("SEXTANT_WEBHOOK_URL", receiver.url)
    process = SextantProcess(
        sextant_bin(), tmp_path / "data", "e2e-bootstrap-" + os.urandom(8).hex(), tmp_path / "sextant.log"
    )
    process.start()
    yield process
    if process.proc is not None:
        alive = process.alive()
        code = process.stop()
        assert alive, f"sextant died during the test{process.tail()}"
        assert code == 0, f"sextant exited with {code}{process.tail()}"


def prepare_people(sextant, channel) -> str:
    """Ripley and the two tags; returns Ripley's user id."""
    user = http(sextant, "POST", "/api/native/v1/users", {"name": RIPLEY})
    tags = TagServiceStub(channel)
    for name in ["warning", "thruster"]:
        tags.CreateTag(CreateTagRequest(name=name))
    return user["user_id"]


def annotations(channel, rule_id: str):
    response = AnnotationServiceStub(channel).ListAnnotations(
        ListAnnotationsRequest(page_size=1000, filter=f'created_by_condition_id == "{rule_id}"')
    )
    return list(response.annotations)


def as_ns(timestamp) -> int:
    return timestamp.seconds * 1_000_000_000 + timestamp.nanos


def test_overheating_rule_registers_annotates_and_notifies(server, receiver):
    sextant = server.info
    # The first two deliveries are refused: the server retries them, and order is kept.
    receiver.refuse = 2
    with use_sift_channel(channel_config(sextant)) as channel:
        ripley_id = prepare_people(sextant, channel)
        service = IngestionService(channel, telemetry_config())

        rule = RuleService(channel).get_rule(RULE_KEY)
        assert rule is not None
        assert rule.expression == "$1 > 400"
        assert rule.is_live_evaluation_enabled
        rule_id = rule._rule_id or RuleServiceStub(channel).ListRules(
            ListRulesRequest(filter=f'client_key == "{RULE_KEY}"')
        ).rules[0].rule_id

        for i, value in enumerate(TEMPERATURES[:5]):
            service.try_ingest_flows(reading(i, value))
        service.try_ingest_flows(*[reading(i, v) for i, v in enumerate(TEMPERATURES) if i >= 5])

        def closed_twice():
            found = annotations(channel, rule_id)
            if len(found) == 2 and all(a.HasField("end_time") for a in found):
                return found
            return None

        found = wait_for("two closed annotations", closed_twice)
        got = [(as_ns(a.start_time), as_ns(a.end_time)) for a in found]
        assert got == [(ns(s), ns(e)) for s, e in EXPECTED_RANGES]
        for a in found:
            assert a.name == "overheating"
            assert a.assigned_to_user_id == ripley_id
            assert list(a.tags) == ["warning", "thruster"]
            assert a.annotation_type == 1  # data review
            assert a.state == 1  # open for review

        # The webhook receiver saw each range open and close, in order.
        def four_notifications():
            return receiver.bodies if len(receiver.bodies) >= 4 else None

        bodies = wait_for("four webhook notifications", four_notifications)
        assert [(b["event"], b["annotation"]["start_time"]) for b in bodies] == [
            ("annotation.opened", ns(2)),
            ("annotation.closed", ns(2)),
            ("annotation.opened", ns(7)),
            ("annotation.closed", ns(7)),
        ]
        assert bodies[1]["annotation"]["end_time"] == ns(5)
        assert all(b["rule"]["client_key"] == RULE_KEY for b in bodies)
        assert receiver.refused == 2

        # A second client run updates the rule rather than adding one.
        IngestionService(channel, telemetry_config())
        rules = RuleServiceStub(channel).ListRules(ListRulesRequest(page_size=100)).rules
        assert [(r.rule_id, r.client_key) for r in rules] == [(rule_id, RULE_KEY)]
        assert rules[0].rule_version.version == "2"

        # The native API lists the same annotations.
        listed = http(sextant, "GET", f"/api/native/v1/annotations?rule_id={rule_id}")["annotations"]
        assert [(a["start_time"], a["end_time"]) for a in listed] == [(ns(s), ns(e)) for s, e in EXPECTED_RANGES]
        resolved = http(sextant, "PATCH", f"/api/native/v1/annotations/{listed[0]['annotation_id']}", {"state": "resolved"})
        assert resolved["state"] == "resolved"


def test_an_open_annotation_survives_a_restart_and_closes_once(server, receiver):
    sextant = server.info
    with use_sift_channel(channel_config(sextant)) as channel:
        prepare_people(sextant, channel)
        service = IngestionService(channel, telemetry_config())
        rule_id = RuleServiceStub(channel).ListRules(ListRulesRequest()).rules[0].rule_id
        service.try_ingest_flows(reading(0, 100), reading(1, 500))
        wait_for("an open annotation", lambda: annotations(channel, rule_id) or None)

    sextant = server.restart()
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, telemetry_config())
        service.try_ingest_flows(reading(2, 600), reading(3, 100))

        def closed():
            found = annotations(channel, rule_id)
            return found if found and all(a.HasField("end_time") for a in found) else None

        found = wait_for("the annotation to close", closed)
        assert [(as_ns(a.start_time), as_ns(a.end_time)) for a in found] == [(ns(1), ns(3))]


def test_points_acknowledged_before_a_crash_are_evaluated_after_it(server, receiver):
    sextant = server.info
    with use_sift_channel(channel_config(sextant)) as channel:
        prepare_people(sextant, channel)
        service = IngestionService(channel, telemetry_config())
        rule_id = RuleServiceStub(channel).ListRules(ListRulesRequest()).rules[0].rule_id
        service.try_ingest_flows(*[reading(i, v) for i, v in enumerate(TEMPERATURES)])
    # SIGKILL right after the acknowledgement: evaluation may not have run yet.
    server.kill()
    sextant = server.start()
    with use_sift_channel(channel_config(sextant)) as channel:
        def both():
            found = annotations(channel, rule_id)
            if len(found) == 2 and all(a.HasField("end_time") for a in found):
                return found
            return None

        found = wait_for("both annotations after the crash", both)
        assert [(as_ns(a.start_time), as_ns(a.end_time)) for a in found] == [
            (ns(s), ns(e)) for s, e in EXPECTED_RANGES
        ]


def test_a_rule_aimed_at_an_asset_tag_watches_assets_tagged_after_it(server, receiver):
    """sift_py's RuleConfig(tag_names=…) and AssetService.update_asset: a live rule aimed at
    the tag `rig` watches no asset until one carries the tag; data that asset sends afterwards
    is evaluated."""
    sextant = server.info
    with use_sift_channel(channel_config(sextant)) as channel:
        TagServiceStub(channel).CreateTag(CreateTagRequest(name="rig"))
        config = telemetry_config()
        config.rules = []
        service = IngestionService(channel, config)
        RuleService(channel).create_or_update_rule(
            RuleConfig(
                name="hot_rigs",
                description="Any rig over 400 K",
                expression="$1 > 400",
                channel_references=[{"channel_reference": "$1", "channel_identifier": "thruster.temperature"}],
                action=RuleActionCreatePhaseAnnotation(),
                rule_client_key="hot-rigs",
                tag_names=["rig"],
                is_live_evaluation_enabled=True,
            )
        )
        rules = RuleServiceStub(channel).ListRules(ListRulesRequest(filter='client_key == "hot-rigs"')).rules
        rule_id = rules[0].rule_id
        assert len(rules[0].asset_configuration.tag_ids) == 1

        # Untagged, the asset's data over 400 (at 2, 3 and 4) annotates nothing.
        service.try_ingest_flows(*[reading(i, v) for i, v in enumerate(TEMPERATURES[:5])])
        http(sextant, "POST", "/api/native/v1/rules/flush")
        assert annotations(channel, rule_id) == []

        assets = AssetService(channel)
        asset = assets.list_assets(names=["NostromoLV426"])[0]
        asset.tags = ["rig"]
        asset.metadata = {"bay": "LV-426", "crew": 7.0, "hostile": True}
        updated = assets.update_asset(asset)
        assert updated.tags == ["rig"]
        assert updated.metadata == {"bay": "LV-426", "crew": 7.0, "hostile": True}
        assert assets.get_asset(asset.asset_id).tags == ["rig"]

        # Tagged, its next data is evaluated: over 400 from 7 to 8.
        service.try_ingest_flows(*[reading(i, v) for i, v in enumerate(TEMPERATURES) if i >= 5])

        def closed():
            found = annotations(channel, rule_id)
            return found if found and all(a.HasField("end_time") for a in found) else None

        found = wait_for("the tagged asset's annotation", closed)
        assert [(as_ns(a.start_time), as_ns(a.end_time)) for a in found] == [(ns(7), ns(8))]
