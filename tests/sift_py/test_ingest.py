"""Ingesting with try_ingest_flows, ingest_flows and buffered_ingestion, then downloading
with DataService: every point of every data type comes back exactly."""

from __future__ import annotations

import threading

import grpc
import pytest

from sift.ingest.v1.ingest_pb2_grpc import IngestServiceStub
from sift_py.grpc.transport import use_sift_channel
from sift_py.ingestion.channel import (
    bit_field_value,
    double_value,
    enum_value,
    int32_value,
    string_value,
)
from sift_py.ingestion.service import IngestionService

from support import (
    FLOWS,
    Ledger,
    START,
    assert_stored,
    channel_config,
    download,
    flow,
    ns,
    nostromo_config,
    ordered_flow,
    pb_value,
    raw_value,
    ts,
)

# (flow, channels to send or None for all): the seed's full and partial readings, and the rest.
PATTERN = [
    ("readings", None),
    ("readings", ["mainmotor.velocity", "gpio"]),
    ("logs", None),
    ("diagnostics", None),
    ("voltage", None),
    ("gpio_channel", None),
    ("diagnostics", ["thrust", "uptime", "payload"]),
    ("readings", ["vehicle_state"]),
]


def patterned_flows(first: int, count: int, ledger: Ledger):
    return [
        flow(PATTERN[i % len(PATTERN)][0], i, only=PATTERN[i % len(PATTERN)][1], ledger=ledger)
        for i in range(first, first + count)
    ]


def test_try_ingest_flows_round_trips_every_data_type(sextant):
    ledger = Ledger()
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        # One flow per call, then several flows in one call (one stream).
        for f in patterned_flows(0, 16, ledger):
            service.try_ingest_flows(f)
        service.try_ingest_flows(*patterned_flows(16, 200, ledger))
    assert ledger.count() > 500
    assert_stored(sextant, ledger)


def test_the_seed_example_verbatim(sextant):
    """The docs' try_ingest_flows example as written, including its bit-field value
    `bytes(int("00001001", 2))`, which is nine zero bytes, not the byte 0b1001."""
    ledger = Ledger()
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        gpio = bytes(int("00001001", 2))
        assert gpio == b"\x00" * 9
        service.try_ingest_flows(
            {
                "flow_name": "readings",
                "timestamp": ts(0),
                "channel_values": [
                    {"channel_name": "velocity", "component": "mainmotor", "value": double_value(10)},
                    {"channel_name": "voltage", "value": int32_value(5)},
                    {"channel_name": "vehicle_state", "value": enum_value(2)},
                    {"channel_name": "gpio", "value": bit_field_value(gpio)},
                ],
            },
            {
                "flow_name": "logs",
                "timestamp": ts(1),
                "channel_values": [{"channel_name": "log", "value": string_value("INFO: some message")}],
            },
        )
    ledger.record("mainmotor.velocity", ts(0), 10.0)
    ledger.record("voltage", ts(0), 5)
    ledger.record("vehicle_state", ts(0), 2)
    ledger.record("gpio", ts(0), b"\x00")
    ledger.record("log", ts(1), "INFO: some message")
    assert_stored(sextant, ledger)


def test_ingest_flows_positional_with_empty_values(sextant):
    ledger = Ledger()
    empties = [
        ("readings", ()),
        ("readings", ("voltage", "vehicle_state")),  # the seed's partial readings
        ("readings", ("mainmotor.velocity", "gpio")),
        ("diagnostics", ()),
        ("diagnostics", ("thrust", "energy", "packets")),
        ("diagnostics", ("door_open", "uptime", "payload")),
        ("logs", ()),
        ("gpio_channel", ()),
        ("voltage", ()),
    ]
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        flows = [
            ordered_flow(empties[i % len(empties)][0], i, empty=empties[i % len(empties)][1], ledger=ledger)
            for i in range(300)
        ]
        service.ingest_flows(flows[0])
        service.ingest_flows(*flows[1:150])
        for f in flows[150:]:
            service.ingest_flows(f)
    assert_stored(sextant, ledger)


def test_buffered_ingestion_of_many_flows_in_several_streams(sextant):
    ledger = Ledger()
    streams = []
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        send = service.ingest_service_stub.IngestWithConfigDataStream

        def counting(requests):
            requests = list(requests)
            streams.append(len(requests))
            return send(iter(requests))

        service.ingest_service_stub.IngestWithConfigDataStream = counting

        validated = patterned_flows(0, 4_000, ledger)
        positional = [
            ordered_flow(
                list(FLOWS)[i % len(FLOWS)],
                i,
                empty=("voltage",) if i % 7 == 0 else (),
                ledger=ledger,
            )
            for i in range(4_000, 10_000)
        ]
        tail = patterned_flows(10_000, 500, ledger)
        with service.buffered_ingestion(1_500) as buffered:
            buffered.try_ingest_flows(*validated)
            assert streams == [1_500, 1_500]
            buffered.flush()
            assert streams == [1_500, 1_500, 1_000]
            buffered.ingest_flows(*positional)
            buffered.try_ingest_flows(*tail)
            assert streams == [1_500, 1_500, 1_000, 1_500, 1_500, 1_500, 1_500]
        # Leaving the with-block flushed the rest.
        assert streams == [1_500, 1_500, 1_000, 1_500, 1_500, 1_500, 1_500, 500]
    assert sum(streams) == 10_500
    assert ledger.count() > 30_000
    assert_stored(sextant, ledger)


def test_a_point_sent_again_with_the_same_timestamp_replaces_the_first(sextant):
    ledger = Ledger()
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        service.try_ingest_flows(flow("readings", 0), flow("logs", 1))
        service.try_ingest_flows(flow("readings", 2, ledger=ledger))
        # The same timestamps again, with other values: the later ones win.
        again = flow("readings", 10, ledger=None)
        again["timestamp"] = ts(0)
        service.try_ingest_flows(again)
        for fqn in FLOWS["readings"]:
            ledger.record(fqn, ts(0), raw_value(fqn, 10))
        service.ingest_flows(
            {"flow_name": "logs", "timestamp": ts(1), "channel_values": [string_value("second")]}
        )
        ledger.record("log", ts(1), "second")
    assert_stored(sextant, ledger)


def test_the_download_window_is_start_inclusive_end_exclusive(sextant):
    ledger = Ledger()
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        service.try_ingest_flows(*[flow("voltage", i) for i in range(100)])
    for i in range(10, 20):
        ledger.record("voltage", ts(i), raw_value("voltage", i))
    assert_stored(sextant, ledger, ["voltage"], start=ts(10), end=ts(20))


def test_downloads_larger_than_one_page_come_back_whole(sextant):
    """More points than one GetData page holds (100,000 points, 3 MiB), of the widest
    messages: bit fields split into four elements, and strings."""
    ledger = Ledger()
    n = 110_000
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        with service.buffered_ingestion() as buffered:
            buffered.ingest_flows(*[ordered_flow("gpio_channel", i, ledger=ledger) for i in range(n)])
            buffered.ingest_flows(*[ordered_flow("logs", i, ledger=ledger) for i in range(0, n, 3)])
    assert len(ledger.points["gpio.12v"]) == n
    assert_stored(sextant, ledger, ["gpio", "log"])


# Streams that outrun the handler buffer many small DATA frames on the connection; the server's
# HTTP/2 windows are sized so that this is flow-controlled rather than refused.
def test_concurrent_ingest_streams_on_one_connection_are_all_stored(sextant):
    """Six streams of 25,000 one-value flows at once over one connection. The generated stub
    on a plain channel is used so that sift_py's retry policy (which retries UNAVAILABLE and
    sometimes replays the streams successfully) does not hide the refusal."""
    ledger = Ledger()
    streams, per_stream = 6, 25_000
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        batches = [
            [
                service.create_ingestion_request("gpio_channel", ts(i), [pb_value("gpio", i)])
                for i in range(k * per_stream, (k + 1) * per_stream)
            ]
            for k in range(streams)
        ]
    for i in range(streams * per_stream):
        ledger.record("gpio", ts(i), raw_value("gpio", i))
    errors = []
    with grpc.insecure_channel(sextant.uri) as raw:
        stub = IngestServiceStub(raw)

        def send(requests):
            try:
                stub.IngestWithConfigDataStream(
                    iter(requests), metadata=[("authorization", f"Bearer {sextant.token}")]
                )
            except grpc.RpcError as err:
                errors.append(err)

        workers = [threading.Thread(target=send, args=(b,)) for b in batches]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    if errors:
        raise errors[0]
    assert_stored(sextant, ledger, ["gpio"])


def test_sample_ms_downloads_each_bucket_s_first_lowest_highest_and_last_point(sextant):
    """DataQuery's sample_ms: the server keeps, per bucket of that many milliseconds from the
    query's start, the first, lowest, highest and last point of a numeric channel (so spikes
    survive), each a real point with its own timestamp."""
    n = 1_000
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        service.try_ingest_flows(*[flow("voltage", i) for i in range(n)])
    sent = [(ns(ts(i)), raw_value("voltage", i)) for i in range(n)]
    width = 10 * 1_000_000
    buckets = {}
    for t, v in sent:
        buckets.setdefault((t - ns(START)) // width, []).append((t, v))
    want = []
    for points in buckets.values():
        lowest = min(points, key=lambda p: p[1])
        highest = max(points, key=lambda p: p[1])
        want.extend(sorted({points[0], lowest, highest, points[-1]}))
    result = download(sextant, ["voltage"], sample_ms=10)
    series = result.channel("voltage")
    got = [(ns(t), v) for t, v in zip(series.timestamps, series.values)]
    assert got == want
    assert len(got) < n / 2


def test_a_stream_its_client_abandons_stores_nothing(sextant):
    """A client that cancels a call, or whose deadline passes, in the middle of a stream
    half-closes the stream before resetting it, so the messages already sent look like a whole
    stream to the server: none of them may be stored, as a stream is all or nothing."""
    ledger = Ledger()
    release = threading.Event()
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())

        def two_then_wait(first: int):
            for i in (first, first + 1):
                f = flow("readings", i)
                yield service.try_create_ingestion_request(f["flow_name"], f["timestamp"], f["channel_values"])
            # The rest of the stream never comes while the client gives up.
            release.wait(10)
            f = flow("readings", first + 2)
            yield service.try_create_ingestion_request(f["flow_name"], f["timestamp"], f["channel_values"])

        stub = IngestServiceStub(channel)
        with pytest.raises(grpc.RpcError) as deadline:
            stub.IngestWithConfigDataStream(two_then_wait(0), timeout=1.0)
        assert deadline.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        call = stub.IngestWithConfigDataStream.future(two_then_wait(10))
        threading.Event().wait(0.5)
        assert call.cancel()
        release.set()
        # The server goes on: a whole stream after them is stored.
        service.try_ingest_flows(flow("readings", 20, ledger=ledger))
    assert_stored(sextant, ledger)
