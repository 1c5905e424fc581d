"""Bad input: each is refused with a clear error, and the data stored before is unchanged."""

from __future__ import annotations

import grpc
import pytest
from sift.ingest.v1.ingest_pb2 import (
    IngestWithConfigDataChannelValue,
    IngestWithConfigDataStreamRequest,
)
from sift.ingest.v1.ingest_pb2_grpc import IngestServiceStub
from sift.ingestion_configs.v2.ingestion_configs_pb2 import ListIngestionConfigsRequest
from sift.ingestion_configs.v2.ingestion_configs_pb2_grpc import IngestionConfigServiceStub
from sift_py.data.error import DataError
from sift_py.grpc.transport import use_sift_channel
from sift_py.ingestion._internal.error import IngestionValidationError
from sift_py.ingestion.channel import (
    double_value,
    empty_value,
    int32_value,
    string_value,
)
from sift_py.ingestion.service import IngestionService

from support import (
    FLOWS,
    Ledger,
    assert_stored,
    channel_config,
    config_with_key,
    download,
    flow,
    nostromo_config,
    ordered_flow,
    raw_value,
    ts,
)

INGEST_METHOD = "/sift.ingest.v1.IngestService/IngestWithConfigDataStream"
RETRYABLE = {
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.ABORTED,
    grpc.StatusCode.DEADLINE_EXCEEDED,
}


@pytest.fixture
def seeded(sextant):
    """A server holding some data of every flow: (sextant, ledger, ingestion_config_id)."""
    ledger = Ledger()
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        names = list(FLOWS)
        service.try_ingest_flows(*[flow(names[i % len(names)], i, ledger=ledger) for i in range(40)])
        config_id = service.ingestion_config.ingestion_config_id
    assert_stored(sextant, ledger)
    return sextant, ledger, config_id


def expect_rpc_error(call, code: grpc.StatusCode, *fragments: str) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call()
    err = info.value
    assert err.code() == code, f"{err.code()}: {err.details()}"
    for fragment in fragments:
        assert fragment in (err.details() or ""), err.details()
    return err


def raw_message(config_id: str, flow_name: str, i: int, values) -> IngestWithConfigDataStreamRequest:
    msg = IngestWithConfigDataStreamRequest(
        ingestion_config_id=config_id, flow=flow_name, channel_values=values
    )
    msg.timestamp.FromDatetime(ts(i))
    return msg


def readings_values(i: int):
    return list(ordered_flow("readings", i)["channel_values"])


def test_wrong_value_type_is_caught_client_side_and_refused_by_the_server(seeded):
    sextant, ledger, _ = seeded
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        streams = []
        send = service.ingest_service_stub.IngestWithConfigDataStream
        service.ingest_service_stub.IngestWithConfigDataStream = lambda r: streams.append(1) or send(r)

        bad = {
            "flow_name": "readings",
            "timestamp": ts(1000),
            "channel_values": [{"channel_name": "voltage", "value": double_value(5.5)}],
        }
        with pytest.raises(IngestionValidationError, match="voltage"):
            service.try_ingest_flows(flow("readings", 1001), bad)
        assert streams == [], "try_ingest_flows must validate before sending anything"

        # Without client-side checks the server refuses the stream, whole.
        values = readings_values(1002)
        values[1] = double_value(5.5)
        err = expect_rpc_error(
            lambda: service.ingest_flows(
                ordered_flow("readings", 1003),
                {"flow_name": "readings", "timestamp": ts(1002), "channel_values": values},
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "message 2",
            "voltage",
            "int32",
        )
        assert err.code() not in RETRYABLE
        assert len(streams) == 1
    assert_stored(sextant, ledger)


def test_unknown_flow_is_caught_client_side_and_refused_by_the_server(seeded):
    sextant, ledger, _ = seeded
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        streams = []
        send = service.ingest_service_stub.IngestWithConfigDataStream
        service.ingest_service_stub.IngestWithConfigDataStream = lambda r: streams.append(1) or send(r)

        unknown = {
            "flow_name": "no_such_flow",
            "timestamp": ts(1000),
            "channel_values": [{"channel_name": "voltage", "value": int32_value(1)}],
        }
        with pytest.raises(IngestionValidationError, match="no_such_flow"):
            service.try_ingest_flows(flow("logs", 1001), unknown)
        # An unexpected channel in a known flow.
        stray = {
            "flow_name": "logs",
            "timestamp": ts(1002),
            "channel_values": [
                {"channel_name": "log", "value": string_value("x")},
                {"channel_name": "voltage", "value": int32_value(1)},
            ],
        }
        with pytest.raises(IngestionValidationError, match="voltage"):
            service.try_ingest_flows(stray)
        assert streams == []

        expect_rpc_error(
            lambda: service.ingest_flows(
                ordered_flow("logs", 1003),
                {"flow_name": "no_such_flow", "timestamp": ts(1004), "channel_values": [int32_value(1)]},
            ),
            grpc.StatusCode.NOT_FOUND,
            "no_such_flow",
        )
    assert_stored(sextant, ledger)


def test_raw_streams_with_wrong_values_are_refused_whole(seeded):
    sextant, ledger, config_id = seeded
    good = lambda i: raw_message(config_id, "readings", i, readings_values(i))  # noqa: E731
    wrong_type = readings_values(2002)
    wrong_type[2] = string_value("Stopped")
    missing_value = readings_values(2003)
    missing_value[3] = IngestWithConfigDataChannelValue()
    cases = [
        (
            [good(2000), raw_message(config_id, "readings", 2001, readings_values(2001)[:3])],
            grpc.StatusCode.INVALID_ARGUMENT,
            ["message 2", "3 values for the flow's 4 channels"],
        ),
        (
            [good(2000), raw_message(config_id, "readings", 2001, readings_values(2001) + [empty_value()])],
            grpc.StatusCode.INVALID_ARGUMENT,
            ["5 values for the flow's 4 channels"],
        ),
        (
            [good(2000), good(2001), raw_message(config_id, "readings", 2002, wrong_type)],
            grpc.StatusCode.INVALID_ARGUMENT,
            ["message 3", "vehicle_state", "enum", "string"],
        ),
        (
            [raw_message(config_id, "readings", 2003, missing_value)],
            grpc.StatusCode.INVALID_ARGUMENT,
            ["gpio", "no value"],
        ),
        (
            [good(2000), raw_message(config_id, "no_such_flow", 2004, [int32_value(1)])],
            grpc.StatusCode.NOT_FOUND,
            ["no_such_flow"],
        ),
        (
            [raw_message("no-such-config", "readings", 2005, readings_values(2005))],
            grpc.StatusCode.NOT_FOUND,
            ["no-such-config"],
        ),
    ]
    with use_sift_channel(channel_config(sextant)) as channel:
        stub = IngestServiceStub(channel)
        for messages, code, fragments in cases:
            err = expect_rpc_error(lambda: stub.IngestWithConfigDataStream(iter(messages)), code, *fragments)
            assert err.code() not in RETRYABLE
    assert_stored(sextant, ledger)


def test_missing_and_wrong_api_keys_are_unauthenticated(seeded):
    sextant, ledger, config_id = seeded
    msg = raw_message(config_id, "readings", 3000, readings_values(3000))

    # No authorization metadata at all.
    with grpc.insecure_channel(sextant.uri) as bare:
        expect_rpc_error(
            lambda: IngestionConfigServiceStub(bare).ListIngestionConfigs(ListIngestionConfigsRequest()),
            grpc.StatusCode.UNAUTHENTICATED,
            "API key",
        )
        expect_rpc_error(
            lambda: IngestServiceStub(bare).IngestWithConfigDataStream(iter([msg])),
            grpc.StatusCode.UNAUTHENTICATED,
        )

    # sift_py with an empty key and with a wrong one.
    for apikey in ["", "not-a-key", sextant.token + "x"]:
        with use_sift_channel(config_with_key(sextant, apikey)) as channel:
            expect_rpc_error(
                lambda: IngestionService(channel, nostromo_config()), grpc.StatusCode.UNAUTHENTICATED
            )
            expect_rpc_error(
                lambda: IngestServiceStub(channel).IngestWithConfigDataStream(iter([msg])),
                grpc.StatusCode.UNAUTHENTICATED,
            )
    assert_stored(sextant, ledger)


def test_a_read_only_key_may_not_ingest(seeded, sextant_process):
    sextant, ledger, config_id = seeded
    read_key = sextant_process.create_key("read", name="reader")
    with use_sift_channel(config_with_key(sextant, read_key)) as channel:
        # A new config cannot be created...
        expect_rpc_error(
            lambda: IngestionService(channel, nostromo_config(asset="Other", client_key="other")),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        # ...an existing one can be looked up, but not ingested into, nor given a run.
        service = IngestionService(channel, nostromo_config())
        assert service.ingestion_config.ingestion_config_id == config_id
        expect_rpc_error(
            lambda: service.try_ingest_flows(flow("readings", 4000)), grpc.StatusCode.PERMISSION_DENIED, "read"
        )
        expect_rpc_error(lambda: service.attach_run(channel, "[NostromoLV426].denied"), grpc.StatusCode.PERMISSION_DENIED)
    # The read key can download what is there.
    assert_stored(sextant, ledger, apikey=read_key)
    assert_stored(sextant, ledger)


def test_an_oversized_message_is_refused_and_the_server_stays_healthy(seeded, sextant_process):
    sextant, ledger, _ = seeded
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        huge = {
            "flow_name": "logs",
            "timestamp": ts(5000),
            "channel_values": [{"channel_name": "log", "value": string_value("x" * (5 << 20))}],
        }
        err = expect_rpc_error(
            lambda: service.try_ingest_flows(flow("logs", 5001), huge),
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "message 2 of the stream",
            "the limit is: 4194304 bytes",
        )
        assert err.code() not in RETRYABLE
        assert sextant_process.alive()
        assert_stored(sextant, ledger)

        # A stream of many messages, each well under the limit, may carry more than 4 MiB.
        big = "y" * 4096
        flows = [
            {"flow_name": "logs", "timestamp": ts(6000 + i),
             "channel_values": [{"channel_name": "log", "value": string_value(f"{i} {big}")}]}
            for i in range(1_500)
        ]
        service.try_ingest_flows(*flows)
        for i in range(1_500):
            ledger.record("log", ts(6000 + i), f"{i} {big}")
        service.try_ingest_flows(flow("readings", 9000, ledger=ledger))
    assert_stored(sextant, ledger)


def test_a_malformed_message_is_refused_and_the_server_stays_healthy(seeded, sextant_process):
    sextant, ledger, config_id = seeded
    auth = [("authorization", f"Bearer {sextant.token}")]
    identity = lambda b: b  # noqa: E731
    garbage = [b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", b"\x0a\xff\x7f", b"\x12\x05abc"]
    good = raw_message(config_id, "readings", 7000, readings_values(7000)).SerializeToString()
    with grpc.insecure_channel(sextant.uri) as raw:
        ingest = raw.stream_unary(INGEST_METHOD, request_serializer=identity, response_deserializer=identity)
        for blob in garbage:
            expect_rpc_error(
                lambda: ingest(iter([good, blob]), metadata=auth),
                grpc.StatusCode.INVALID_ARGUMENT,
                "message 2 of the stream",
                "failed to decode Protobuf message",
            )
        list_configs = raw.unary_unary(
            "/sift.ingestion_configs.v2.IngestionConfigService/ListIngestionConfigs",
            request_serializer=identity,
            response_deserializer=identity,
        )
        # Unary requests are decoded before any handler runs; like other gRPC servers, tonic
        # answers INTERNAL. Nothing is stored by a request that never reached its handler.
        expect_rpc_error(
            lambda: list_configs(garbage[0], metadata=auth),
            grpc.StatusCode.INTERNAL,
            "failed to decode Protobuf message",
        )
        # The raw channel still works for a well-formed stream.
        ingest(iter([good]), metadata=auth)
    for fqn in FLOWS["readings"]:
        ledger.record(fqn, ts(7000), raw_value(fqn, 7000))
    assert sextant_process.alive()
    assert_stored(sextant, ledger)


def test_an_ingest_key_ingests_but_may_not_download(seeded, sextant_process):
    sextant, ledger, config_id = seeded
    ingest_key = sextant_process.create_key("ingest", name="ingester")
    with use_sift_channel(config_with_key(sextant, ingest_key)) as channel:
        service = IngestionService(channel, nostromo_config())
        assert service.ingestion_config.ingestion_config_id == config_id
        service.try_ingest_flows(flow("readings", 8000, ledger=ledger))
    with pytest.raises(grpc.RpcError) as info:
        download(sextant, apikey=ingest_key)
    assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED, info.value.details()
    assert_stored(sextant, ledger)


def test_another_organization_sees_nothing_and_keeps_its_own_config(seeded, sextant_process):
    sextant, ledger, config_id = seeded
    other_admin = sextant_process.create_key("admin", name="other", org="weyland")
    with pytest.raises(DataError, match="NostromoLV426"):
        download(sextant, apikey=other_admin)
    other_ledger = Ledger()
    with use_sift_channel(config_with_key(sextant, other_admin)) as channel:
        service = IngestionService(channel, nostromo_config())
        assert service.ingestion_config.ingestion_config_id != config_id
        service.try_ingest_flows(flow("readings", 9000, ledger=other_ledger))
        # Its key cannot ingest into the first organization's config.
        stub = IngestServiceStub(channel)
        msg = raw_message(config_id, "readings", 9001, readings_values(9001))
        expect_rpc_error(lambda: stub.IngestWithConfigDataStream(iter([msg])), grpc.StatusCode.NOT_FOUND)
    assert_stored(sextant, other_ledger, apikey=other_admin)
    assert_stored(sextant, ledger)
