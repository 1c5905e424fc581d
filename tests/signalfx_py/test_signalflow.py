"""The published `signalfx` 1.1.16 SignalFlow client, unchanged, against Sextant: batch
computations over the WebSocket transport (and one over SSE), checked value by value against
what the test computes itself from the points it sent.

The fleet: four hosts in two regions, one point every 10 s for 40 minutes of
`sfl.cpu` (a gauge), `sfl.requests` (a counter) and `sfl.bytes` (a cumulative counter), and a
`deploy` event. Computations run at a 1-minute resolution; a logical timestamp `t` stands for
the interval `[t, t + 1 min)`.
"""

from __future__ import annotations

import time
from collections import defaultdict

import pytest
import requests
import signalfx
from signalfx.signalflow import SignalFlowClient, errors, messages
from signalfx.signalflow.sse import SSETransport

MINUTE = 60_000
STEP = 10_000
HOSTS = {"h1": "eu", "h2": "eu", "h3": "us", "h4": "us"}
MINUTES = 40
# Whole minutes well in the past: the computations are batch ones.
BASE = (int(time.time() * 1000) - 3 * 3600_000) // MINUTE * MINUTE


def cpu(host_index: int, k: int) -> float:
    """The gauge of host `host_index` (1-based) at step `k`: a ramp with a wobble."""
    return host_index * 10.0 + (k % 6) * 1.5 + (k // 6) * 0.25


def requests_count(host_index: int, k: int) -> int:
    return host_index + k % 4


def points(fn):
    """`{host: {timestamp: value}}` of a series function over the whole fleet."""
    out = {}
    for i, host in enumerate(HOSTS, start=1):
        out[host] = {BASE + k * STEP: fn(i, k) for k in range(MINUTES * 6)}
    return out


CPU = points(cpu)
REQUESTS = points(requests_count)
BYTES = {h: {} for h in HOSTS}
for _i, _h in enumerate(HOSTS, start=1):
    total = 0
    for _t, _v in sorted(REQUESTS[_h].items()):
        total += _v * 100
        BYTES[_h][_t] = total


def per_minute(series: dict, reduce) -> dict:
    """`{minute: reduce(values in that minute)}`."""
    buckets = defaultdict(list)
    for t, v in series.items():
        buckets[t // MINUTE * MINUTE].append(v)
    return {m: reduce(vs) for m, vs in buckets.items()}


def mean(values):
    return sum(values) / len(values)


@pytest.fixture(scope="module")
def fleet(sextant):
    sfx = signalfx.SignalFx(ingest_endpoint=sextant.url)
    with sfx.ingest(sextant.ingest) as ingest:
        for host, region in HOSTS.items():
            dims = {"host": host, "region": region}
            ingest.send(
                gauges=[{"metric": "sfl.cpu", "value": v, "timestamp": t, "dimensions": dims}
                        for t, v in CPU[host].items()],
                counters=[{"metric": "sfl.requests", "value": v, "timestamp": t, "dimensions": dims}
                          for t, v in REQUESTS[host].items()],
                cumulative_counters=[{"metric": "sfl.bytes", "value": v, "timestamp": t,
                                      "dimensions": dims} for t, v in BYTES[host].items()],
            )
        ingest.send_event(event_type="sfl.deploy", dimensions={"service": "shop"},
                          properties={"version": "1.2"}, timestamp=BASE + 7 * MINUTE + 5_000)
        ingest.send_event(event_type="sfl.deploy", dimensions={"service": "cart"},
                          properties={"version": "2.0"}, timestamp=BASE + 21 * MINUTE)
    # An inherited property: every MTS carrying host:h2 gets team=db.
    with signalfx.SignalFx(api_endpoint=sextant.url).rest(sextant.ingest) as rest:
        rest.update_dimension("host", "h2", custom_properties={"team": "db"})
    return sextant


def run(server, program: str, start_minute: int, stop_minute: int, client=None, **options):
    """`(values, metadata, events, computation)`: `values` is `{tsId: {timestamp: value}}`."""
    flow = client or signalfx.SignalFx(stream_endpoint=server.url).signalflow(server.read)
    try:
        computation = flow.execute(program, start=BASE + start_minute * MINUTE,
                                   stop=BASE + stop_minute * MINUTE, resolution=MINUTE,
                                   immediate=True, **options)
        values, events = defaultdict(dict), []
        for message in computation.stream():
            if isinstance(message, messages.DataMessage):
                for ts_id, value in message.data.items():
                    values[ts_id][message.logical_timestamp_ms] = value
            elif isinstance(message, messages.EventMessage):
                events.append(message)
        metadata = {t: computation.get_metadata(t) for t in computation.get_known_tsids()}
        return dict(values), metadata, events, computation
    finally:
        if client is None:
            flow.close()


def wait_until(ms: int):
    """Sleeps until the wall clock reads `ms` milliseconds since the epoch."""
    while time.time() * 1000 < ms:
        time.sleep(0.01)


def by_label(values, metadata, key):
    """`{metadata[key]: {timestamp: value}}`."""
    return {metadata[t].get(key): series for t, series in values.items()}


def close_to(actual: dict, expected: dict):
    assert set(actual) == set(expected), (sorted(actual), sorted(expected))
    for t in expected:
        assert actual[t] == pytest.approx(expected[t]), t


def minutes(a: int, b: int):
    return [BASE + m * MINUTE for m in range(a, b)]


def test_mean_across_every_series(fleet):
    values, metadata, _, computation = run(fleet, "data('sfl.cpu').mean().publish('A')", 5, 20)
    assert computation.resolution == MINUTE
    assert len(values) == 1
    (ts_id, series), = values.items()
    assert metadata[ts_id]["sf_streamLabel"] == "A"
    assert metadata[ts_id]["sf_originatingMetric"] == "sfl.cpu"
    host_minutes = {h: per_minute(CPU[h], mean) for h in HOSTS}
    close_to(series, {m: mean([host_minutes[h][m] for h in HOSTS]) for m in minutes(5, 20)})


def test_mean_by_a_dimension_keeps_it_in_the_metadata(fleet):
    values, metadata, _, _ = run(fleet, "data('sfl.cpu').mean(by=['region']).publish('R')", 0, 10)
    regions = by_label(values, metadata, "region")
    assert set(regions) == {"eu", "us"}
    for region in ("eu", "us"):
        hosts = [h for h, r in HOSTS.items() if r == region]
        expected = {m: mean([per_minute(CPU[h], mean)[m] for h in hosts]) for m in minutes(0, 10)}
        close_to(regions[region], expected)
        ts_id = next(t for t in metadata if metadata[t].get("region") == region)
        assert "host" not in metadata[ts_id], "a dimension the group does not share is dropped"


def test_counters_roll_up_by_sum_and_cumulative_counters_by_delta(fleet):
    values, _, _, _ = run(fleet, "data('sfl.requests').sum().publish('S')", 2, 12)
    (series,) = values.values()
    close_to(series, {m: sum(per_minute(REQUESTS[h], sum)[m] for h in HOSTS) for m in minutes(2, 12)})
    values, metadata, _, _ = run(fleet, "data('sfl.bytes').publish('B')", 2, 12)
    hosts = by_label(values, metadata, "host")
    for h in HOSTS:
        last = per_minute(BYTES[h], lambda vs: vs[-1])
        close_to(hosts[h], {m: last[m] - last[m - MINUTE] for m in minutes(2, 12)})


def test_filters_on_dimensions_and_on_inherited_properties(fleet):
    values, metadata, _, _ = run(
        fleet, "data('sfl.cpu', filter=filter('host', 'h1', 'h3') and not filter('region', 'eu'))"
               ".publish('F')", 0, 5)
    assert set(by_label(values, metadata, "host")) == {"h3"}
    values, metadata, _, _ = run(fleet, "data('sfl.cpu', filter=filter('team', 'db')).publish()", 0, 5)
    hosts = by_label(values, metadata, "host")
    assert set(hosts) == {"h2"}
    assert metadata[next(iter(values))]["team"] == "db"
    close_to(hosts["h2"], {m: per_minute(CPU["h2"], mean)[m] for m in minutes(0, 5)})
    values, metadata, _, _ = run(fleet, "data('sfl.cpu', filter=filter('host', 'h*')).count().publish()", 0, 3)
    (series,) = values.values()
    close_to(series, {m: 4 for m in minutes(0, 3)})


def test_a_window_transformation_reads_before_the_start(fleet):
    program = "data('sfl.cpu', filter=filter('host', 'h1')).mean(over='3m').publish('W')"
    values, _, _, _ = run(fleet, program, 10, 20)
    (series,) = values.values()
    minute_means = per_minute(CPU["h1"], mean)
    expected = {m: mean([minute_means[m - k * MINUTE] for k in range(3)]) for m in minutes(10, 20)}
    close_to(series, expected)


def test_timeshift_and_stream_arithmetic(fleet):
    program = ("A = data('sfl.cpu', filter=filter('host', 'h4'))\n"
               "B = A.timeshift('5m')\n"
               "(A - B).publish('diff')\n"
               "B.publish('shifted')\n")
    values, metadata, _, _ = run(fleet, program, 10, 20)
    labels = by_label(values, metadata, "sf_streamLabel")
    minute_means = per_minute(CPU["h4"], mean)
    close_to(labels["shifted"], {m: minute_means[m - 5 * MINUTE] for m in minutes(10, 20)})
    close_to(labels["diff"], {m: minute_means[m] - minute_means[m - 5 * MINUTE] for m in minutes(10, 20)})


def test_events_are_streamed_with_their_properties(fleet):
    _, _, events, _ = run(fleet, "events('sfl.deploy').publish('deploys')", 0, 30)
    assert [e.timestamp_ms for e in events] == [BASE + 7 * MINUTE + 5_000, BASE + 21 * MINUTE]
    assert [e.properties["version"] for e in events] == ["1.2", "2.0"]
    assert events[0].metadata["service"] == "shop"
    _, _, events, _ = run(fleet, "events('sfl.deploy', filter=filter('service', 'cart')).publish()", 0, 30)
    assert [e.metadata["service"] for e in events] == ["cart"]


def test_a_detector_fires_and_clears(fleet):
    # h1's minute means climb by 1.5 a minute with a drop every 6 steps... use the threshold
    # against the values the test computes to know when it fires and clears.
    threshold = 12.0
    program = (f"A = data('sfl.cpu', filter=filter('host', 'h1'))\n"
               f"detect(when(A > {threshold}, lasting='2m')).publish('hot')\n")
    _, _, events, _ = run(fleet, program, 0, MINUTES)
    minute_means = per_minute(CPU["h1"], mean)
    above = [minute_means[m] > threshold for m in minutes(0, MINUTES)]
    expected, active = [], False
    for i, m in enumerate(minutes(0, MINUTES)):
        held = i >= 1 and above[i] and above[i - 1]
        if held and not active:
            expected.append((m, "anomalous"))
            active = True
        elif active and not held:
            expected.append((m, "ok"))
            active = False
    assert expected, "the fleet's data must cross the threshold for this test to mean anything"
    assert [(e.timestamp_ms, e.properties["is"]) for e in events] == expected
    assert all(e.metadata["sf_eventType"] == "hot" for e in events)
    assert len({e.properties["incidentId"] for e in events}) == (len(expected) + 1) // 2


def test_two_computations_share_one_connection(fleet):
    flow = signalfx.SignalFx(stream_endpoint=fleet.url).signalflow(fleet.read)
    try:
        first = flow.execute("data('sfl.cpu').max().publish()", start=BASE, stop=BASE + 5 * MINUTE,
                             resolution=MINUTE, immediate=True)
        second = flow.execute("data('sfl.cpu').min().publish()", start=BASE, stop=BASE + 5 * MINUTE,
                              resolution=MINUTE, immediate=True)
        results = []
        for computation in (first, second):
            series = {}
            for message in computation.stream():
                if isinstance(message, messages.DataMessage):
                    (value,) = message.data.values()
                    series[message.logical_timestamp_ms] = value
            results.append(series)
    finally:
        flow.close()
    # A gauge rolls up by average first; max() and min() then compare the hosts' averages.
    maxima = {m: max(per_minute(CPU[h], mean)[m] for h in HOSTS) for m in minutes(0, 5)}
    minima = {m: min(per_minute(CPU[h], mean)[m] for h in HOSTS) for m in minutes(0, 5)}
    close_to(results[0], maxima)
    close_to(results[1], minima)


def test_line_protocol_series_are_read_too(fleet):
    lines = "\n".join(f"sfl_lp,host=h9 temp={20 + m} {(BASE + m * MINUTE + 1_000) * 1_000_000}"
                      for m in range(10))
    reply = requests.post(f"{fleet.url}/write", data=lines, auth=("lp", fleet.ingest), timeout=10)
    assert reply.status_code == 204, reply.text
    values, metadata, _, _ = run(fleet, "data('sfl_lp.temp').scale(2).publish()", 0, 10)
    (series,) = values.values()
    close_to(series, {BASE + m * MINUTE: 2 * (20 + m) for m in range(10)})


def test_bad_programs_name_line_and_column(fleet):
    with pytest.raises(errors.SignalFlowException) as error:
        run(fleet, "A = data('sfl.cpu')\nA.mean(by=['host'].publish()", 0, 5)
    assert error.value.code == 400
    assert "line 2, column" in error.value.message
    with pytest.raises(errors.SignalFlowException) as error:
        run(fleet, "data('sfl.cpu').nosuch().publish()", 0, 5)
    assert "line 1, column" in error.value.message and "nosuch" in error.value.message


def test_a_bad_token_is_refused_with_4401(fleet):
    flow = signalfx.SignalFx(stream_endpoint=fleet.url).signalflow("not-a-key")
    try:
        with pytest.raises(errors.SignalFlowException) as error:
            flow.execute("data('sfl.cpu').publish()", start=BASE, stop=BASE + MINUTE)
        assert error.value.code == 4401
    finally:
        flow.close()


def test_a_misspelt_metric_is_named_with_the_one_probably_meant(fleet):
    flow = signalfx.SignalFx(stream_endpoint=fleet.url).signalflow(fleet.read)
    try:
        computation = flow.execute("data('sfl.cpx').publish()", start=BASE, stop=BASE + 5 * MINUTE,
                                   resolution=MINUTE, immediate=True)
        found = [m.message for m in computation.stream() if isinstance(m, messages.InfoMessage)
                 and m.message.get("messageCode") == "FIND_MATCHED_NO_TIMESERIES"]
    finally:
        flow.close()
    assert [m["contents"] for m in found] == [{"query": "sf_metric:sfl.cpx", "didYouMean": "sfl.cpu"}]


def test_the_sse_transport_gives_the_same_values(fleet):
    client = SignalFlowClient(fleet.read, endpoint=fleet.url, transport=SSETransport)
    program = "data('sfl.cpu').sum(by=['region']).publish()"
    sse_values, sse_meta, _, _ = run(fleet, program, 0, 5, client=client)
    ws_values, ws_meta, _, _ = run(fleet, program, 0, 5)
    assert by_label(sse_values, sse_meta, "region") == by_label(ws_values, ws_meta, "region")


@pytest.mark.parametrize("transport", ["websocket", "sse"])
def test_a_live_computation_sees_points_written_after_it_started(fleet, transport):
    """Points sent through SignalFx ingest (host a) and line protocol (host b) while the
    computation runs arrive at their logical timestamps, each once; the computation ends by
    itself at its stop. Over SSE the stream stays open while the computation runs."""
    import threading

    second = 1_000
    start = (int(time.time() * 1000) // second + 1) * second
    stop = start + 6 * second
    if transport == "sse":
        flow = SignalFlowClient(fleet.read, endpoint=fleet.url, transport=SSETransport)
    else:
        flow = signalfx.SignalFx(stream_endpoint=fleet.url).signalflow(fleet.read)
    sent = {"a": {}, "b": {}}
    started = threading.Event()

    def write():
        started.wait(timeout=30)
        ingest = signalfx.SignalFx(ingest_endpoint=fleet.url).ingest(fleet.ingest)
        try:
            for k in range(5):
                t = start + k * second + 200
                wait_until(t)
                value = 10.0 + k
                ingest.send(gauges=[{"metric": "live.temp", "value": value, "timestamp": t,
                                     "dimensions": {"host": "a"}}])
                line = f"live,host=b temp={value * 2} {t * 1_000_000}"
                reply = requests.post(f"{fleet.url}/write", data=line, auth=("lp", fleet.ingest), timeout=10)
                assert reply.status_code == 204, reply.text
                sent["a"][start + k * second] = value
                sent["b"][start + k * second] = value * 2
        finally:
            ingest.stop()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        # Line protocol's `live,host=b temp=…` is the series `live.temp{host=b}`.
        program = "data('live.temp').publish('live')"
        computation = flow.execute(program, start=start, stop=stop, resolution=second, max_delay=1500)
        values = defaultdict(dict)
        for message in computation.stream():
            if isinstance(message, messages.JobStartMessage):
                started.set()
            if isinstance(message, messages.DataMessage):
                for ts_id, value in message.data.items():
                    host = computation.get_metadata(ts_id)["host"]
                    assert message.logical_timestamp_ms not in values[host], "each timestamp once"
                    values[host][message.logical_timestamp_ms] = value
    finally:
        started.set()
        writer.join()
        flow.close()
    assert dict(values) == sent


def test_a_live_sse_computation_stops_when_its_client_leaves(fleet):
    """A live computation over SSE runs while its stream is open (another client can attach
    to it) and stops once its client closes the connection (attaching then fails)."""
    import json

    start = int(time.time() * 1000)
    headers = {"X-SF-Token": fleet.read, "Content-Type": "text/plain"}
    reply = requests.post(f"{fleet.url}/v2/signalflow/execute",
                          params={"start": start, "resolution": 1000},
                          data="data('leaving.m').publish()", headers=headers, stream=True,
                          timeout=30)
    assert reply.status_code == 200, reply.text
    handle = None
    for line in reply.iter_lines():
        if line.startswith(b"data: "):
            handle = json.loads(line[6:]).get("handle")
            if handle:
                break
    attach = f"{fleet.url}/v2/signalflow/{handle}/attach"
    follower = requests.post(attach, headers=headers, stream=True, timeout=30)
    assert follower.status_code == 200, follower.text
    follower.close()
    reply.close()
    deadline = time.time() + 20
    while True:
        gone = requests.post(attach, headers=headers, timeout=30)
        if gone.status_code == 404 or time.time() > deadline:
            break
        gone.close()
        time.sleep(0.2)
    assert gone.status_code == 404, "the computation still runs after its client left"
    assert handle in gone.json()["message"]


def test_starting_without_a_channel_over_sse_is_refused_saying_what_to_do(fleet):
    flow = SignalFlowClient(fleet.read, endpoint=fleet.url, transport=SSETransport)
    try:
        with pytest.raises(errors.SignalFlowException) as refused:
            flow.start("data('x').publish()")
        assert refused.value.code == 501
        assert "execute it" in refused.value.message
    finally:
        flow.close()


def test_a_live_computation_streams_events_sent_after_it_started(fleet):
    """`events()` in a live computation: events sent through SignalFx ingest while it runs
    arrive in the step of their timestamp, with their dimensions and properties."""
    import threading

    second = 1_000
    start = (int(time.time() * 1000) // second + 1) * second
    stop = start + 5 * second
    flow = signalfx.SignalFx(stream_endpoint=fleet.url).signalflow(fleet.read)
    sent = [(start + 1_200, "shop", "3.1"), (start + 3_400, "cart", "3.2")]
    started = threading.Event()

    def write():
        started.wait(timeout=30)
        ingest = signalfx.SignalFx(ingest_endpoint=fleet.url).ingest(fleet.ingest)
        try:
            for t, service, version in sent:
                wait_until(t)
                ingest.send_event(event_type="live.deploy", dimensions={"service": service},
                                  properties={"version": version}, timestamp=t)
        finally:
            ingest.stop()

    writer = threading.Thread(target=write)
    writer.start()
    got = []
    try:
        computation = flow.execute("events('live.deploy').publish('deploys')", start=start,
                                   stop=stop, resolution=second, max_delay=1500)
        for message in computation.stream():
            if isinstance(message, messages.JobStartMessage):
                started.set()
            if isinstance(message, messages.EventMessage):
                got.append((message.timestamp_ms, message.metadata["service"],
                            message.properties["version"]))
    finally:
        started.set()
        writer.join()
        flow.close()
    assert got == sent


@pytest.mark.parametrize("transport", ["websocket", "sse"])
def test_attach_follows_a_live_computation_from_another_connection(fleet, transport):
    """A second client attaches to a live computation by its handle, over a WebSocket or
    SSE: it gets the metadata of the series before their data, then the same values the
    first client gets from then on, and its stream ends with the computation's."""
    import threading

    second = 1_000
    start = (int(time.time() * 1000) // second + 1) * second
    stop = start + 6 * second
    owner = signalfx.SignalFx(stream_endpoint=fleet.url).signalflow(fleet.read)
    if transport == "sse":
        follower = SignalFlowClient(fleet.read, endpoint=fleet.url, transport=SSETransport)
    else:
        follower = signalfx.SignalFx(stream_endpoint=fleet.url).signalflow(fleet.read)
    metric = f"attach.{transport}"
    handle = {}
    started = threading.Event()
    attached = threading.Event()
    owned = defaultdict(dict)
    followed = defaultdict(dict)

    def write():
        attached.wait(timeout=30)
        ingest = signalfx.SignalFx(ingest_endpoint=fleet.url).ingest(fleet.ingest)
        try:
            for k in range(5):
                t = start + k * second + 200
                wait_until(t)
                ingest.send(gauges=[{"metric": metric, "value": 30.0 + k, "timestamp": t,
                                     "dimensions": {"host": h}} for h in ("a", "b")])
        finally:
            ingest.stop()

    def follow():
        started.wait(timeout=30)
        computation = follower.attach(handle["id"])
        attached.set()
        for message in computation.stream():
            if isinstance(message, messages.DataMessage):
                for ts_id, value in message.data.items():
                    # Metadata came first: the follower knows every series it gets data for.
                    host = computation.get_metadata(ts_id)["host"]
                    followed[host][message.logical_timestamp_ms] = value

    writer = threading.Thread(target=write)
    reader = threading.Thread(target=follow)
    writer.start()
    reader.start()
    try:
        computation = owner.execute(f"data('{metric}').publish('t')", start=start, stop=stop,
                                    resolution=second, max_delay=1500)
        for message in computation.stream():
            if isinstance(message, messages.JobStartMessage):
                handle["id"] = computation.id
                started.set()
            if isinstance(message, messages.DataMessage):
                for ts_id, value in message.data.items():
                    owned[computation.get_metadata(ts_id)["host"]][message.logical_timestamp_ms] = value
        reader.join(timeout=30)
        assert not reader.is_alive(), "the attached stream ends with the computation"
    finally:
        started.set()
        attached.set()
        writer.join()
        owner.close()
        follower.close()
    assert set(followed) == {"a", "b"}
    for host, values in followed.items():
        assert values, host
        assert values == {t: v for t, v in owned[host].items() if t in values}
        # Attached before the first point was written: it saw every value.
        assert values == owned[host]
    assert owned["a"] == {start + k * second: 30.0 + k for k in range(5)}


@pytest.mark.parametrize("transport", ["websocket", "sse"])
def test_attach_to_an_unknown_handle_fails_naming_it(fleet, transport):
    if transport == "sse":
        flow = SignalFlowClient(fleet.read, endpoint=fleet.url, transport=SSETransport)
    else:
        flow = signalfx.SignalFx(stream_endpoint=fleet.url).signalflow(fleet.read)
    try:
        with pytest.raises(errors.SignalFlowException) as failure:
            for _ in flow.attach("AAAAAAAAAAA").stream():
                pass
        assert "AAAAAAAAAAA" in str(failure.value)
    finally:
        flow.close()


def test_stop_ends_a_live_computation(fleet):
    import threading

    flow = signalfx.SignalFx(stream_endpoint=fleet.url).signalflow(fleet.read)
    seen = []

    def consume():
        computation = flow.execute("data('sfl.cpu').publish()", resolution=1000)
        for message in computation.stream():
            seen.append(type(message).__name__)
            if isinstance(message, messages.JobStartMessage):
                flow.stop(computation.id, reason="enough")

    reader = threading.Thread(target=consume, daemon=True)
    reader.start()
    reader.join(timeout=30)
    try:
        assert not reader.is_alive(), "stop must end the computation's stream"
        assert seen[0] == "JobStartMessage"
    finally:
        flow.close()
