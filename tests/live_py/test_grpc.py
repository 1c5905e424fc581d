"""Live subscriptions through Python's grpcio, with types generated from
crates/api/proto/sextant/live/v1/live.proto: what a client in any language does."""

from __future__ import annotations

import time
import urllib.request

import grpc
import pytest

NS = 1_000_000_000


def write_lines(address: str, token: str, body: str) -> None:
    request = urllib.request.Request(
        f"http://{address}/write?precision=ns", data=body.encode(), method="POST",
        headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 204


def subscribe(live_proto, address, token, **fields):
    live_pb2, live_pb2_grpc = live_proto
    channel = grpc.insecure_channel(address)
    stub = live_pb2_grpc.LiveServiceStub(channel)
    call = stub.Subscribe(live_pb2.SubscribeRequest(**fields),
                          metadata=[("authorization", f"Bearer {token}")], timeout=30)
    return channel, call


def test_points_arrive_as_the_proto_file_describes_them(live_proto, sextant):
    address, token = sextant
    channel, call = subscribe(live_proto, address, token, selector="py.v", since=0)
    try:
        first = next(call)
        assert first.WhichOneof("message") == "live"
        t0 = time.time_ns() // NS * NS
        write_lines(address, token, f"py v=1.5 {t0}\npy v=2.5 {t0 + 1_000_000}\npy,host=b v=7i {t0}")
        names, got, cursors = {}, [], []
        while len(got) < 3:
            message = next(call)
            kind = message.WhichOneof("message")
            if kind == "series":
                labels = ",".join(f"{k}={v}" for k, v in sorted(message.series.labels.items()))
                names[message.series.id] = (message.series.name, labels, message.series.data_type)
            elif kind == "points":
                assert message.points.HasField("cursor"), "live points carry their cursor"
                cursors.append(message.points.cursor)
                for series in message.points.series:
                    assert len(series.timestamps) == len(series.values)
                    for t, v in zip(series.timestamps, series.values):
                        got.append((names[series.id], t, getattr(v, v.WhichOneof("kind"))))
            else:
                pytest.fail(f"unexpected {message}")
        assert sorted(got) == sorted([
            (("py.v", "", "double"), t0, 1.5),
            (("py.v", "", "double"), t0 + 1_000_000, 2.5),
            (("py.v", "host=b", "int64"), t0, 7),
        ])
        assert cursors == sorted(cursors) and cursors[0] > first.live.cursor
    finally:
        call.cancel()
        channel.close()


def test_windows_and_their_aggregates(live_proto, sextant):
    address, token = sextant
    live_pb2, _ = live_proto
    window = live_pb2.Window(size="1s", aggs=["count", "max", "mean"])
    channel, call = subscribe(live_proto, address, token, selector="pyw.v", window=window)
    try:
        assert next(call).WhichOneof("message") == "live"
        t0 = time.time_ns() // NS * NS - 10 * NS
        # Two points in one window, then one past it, which moves the watermark beyond it.
        write_lines(address, token, f"pyw v=1 {t0}\npyw v=3 {t0 + 500_000_000}\npyw v=0 {t0 + 2 * NS}")
        while True:
            message = next(call)
            if message.WhichOneof("message") == "windows":
                break
        row = message.windows.windows[0]
        assert (row.start, row.end, row.count, row.update) == (t0, t0 + NS, 2, False)
        assert {a.name: a.value for a in row.values} == {"count": 2.0, "max": 3.0, "mean": 2.0}
    finally:
        call.cancel()
        channel.close()


def test_refusals_are_statuses_naming_the_field(live_proto, sextant):
    address, token = sextant
    for fields, code, words in [
        ({"selector": "a{"}, grpc.StatusCode.INVALID_ARGUMENT, "selector:"),
        ({"selector": "a", "window": {"size": "10"}}, grpc.StatusCode.INVALID_ARGUMENT, "needs a unit"),
        ({"selector": "a", "cursor": 10**12}, grpc.StatusCode.INVALID_ARGUMENT, "ahead of the newest commit"),
    ]:
        channel, call = subscribe(live_proto, address, token, **fields)
        with pytest.raises(grpc.RpcError) as refused:
            next(call)
        assert refused.value.code() == code, refused.value
        assert words in refused.value.details(), refused.value.details()
        channel.close()
    channel, call = subscribe(live_proto, address, "sxt_not_a_key", selector="a")
    with pytest.raises(grpc.RpcError) as refused:
        next(call)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, refused.value
    channel.close()
