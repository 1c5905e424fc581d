"""The web console in headless Chromium against the real `sextant` binary: sign-in, finding
and plotting series (the server samples each pixel column; the drawn points are checked
against the same sampling done here), zooming to full detail, a shared view, live points and a
live rule's annotation arriving without a reload, and the admin page."""

from __future__ import annotations

import math
import time
import urllib.request
from urllib.parse import urlparse

from playwright.sync_api import Page, expect

from conftest import TOKEN

SECOND = 1_000_000_000


def sign_in(page: Page, server, key: str = TOKEN) -> None:
    page.goto(f"{server.base}/ui/")
    page.fill("input[name=key]", key)
    page.click("#signin-key button")
    expect(page.locator("#who")).to_be_visible()


def m4(points: list[tuple[int, float]], start: int, end: int, width: int) -> list[tuple[int, float]]:
    """Each pixel column's first, lowest, highest and last point (the earliest of equals), in
    time order: what the server is to answer for `[start, end)` at `width` columns."""
    bucket = -(-(end - start) // width)
    columns: dict[int, list[int]] = {}
    inside = [(t, v) for t, v in points if start <= t < end]
    for i, (t, _) in enumerate(inside):
        columns.setdefault((t - start) // bucket, []).append(i)
    kept: list[tuple[int, float]] = []
    for members in columns.values():
        low = min(members, key=lambda i: (inside[i][1], i))
        high = min(members, key=lambda i: (-inside[i][1], i))
        for i in sorted({members[0], low, high, members[-1]}):
            kept.append(inside[i])
    return kept


def plot_requests(page: Page) -> list[dict]:
    """The bodies of the plot requests the page sends from now on."""
    seen: list[dict] = []
    page.on(
        "request",
        lambda r: seen.append(r.post_data_json)
        if r.method == "POST" and urlparse(r.url).path == "/api/native/v1/plot"
        else None,
    )
    return seen


def wait_for(page: Page, what: str, check, timeout: float = 20.0):
    """Waits until `check()` is true, letting Playwright deliver the page's events meanwhile
    (a plain sleep would hold them back)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out waiting for {what}")


def sift_asset(server, asset: str, component: str, names: list[str], rule: dict | None = None, run: str | None = None):
    """Declares `asset` with double channels `component.NAME` through sift_py (as a Sift client
    does before it ingests), applies `rule` to it if given, attaches run `run` if given, and
    returns `send(timestamp_ns, {name: value})`, which ingests one flow through sift_py."""
    from datetime import datetime, timezone

    from sift_py.grpc.transport import SiftChannelConfig, use_sift_channel
    from sift_py.ingestion.channel import ChannelConfig, ChannelDataType, double_value
    from sift_py.ingestion.config.telemetry import FlowConfig, TelemetryConfig
    from sift_py.ingestion.service import IngestionService

    channels = [ChannelConfig(name=n, component=component, data_type=ChannelDataType.DOUBLE) for n in names]
    config = TelemetryConfig(
        asset_name=asset,
        ingestion_client_key=asset.lower(),
        flows=[FlowConfig(name="readings", channels=channels)],
    )
    channel = use_sift_channel(SiftChannelConfig(uri=server.address, apikey=server.token, use_ssl=False))
    service = IngestionService(channel, config)
    if rule is not None:
        server.http("POST", "/api/native/v1/rules", {"asset_names": [asset], "live": True, **rule})
    if run is not None:
        service.attach_run(channel, run)

    def send(timestamp_ns: int, values: dict[str, float]) -> None:
        service.try_ingest_flows({
            "flow_name": "readings",
            "timestamp": datetime.fromtimestamp(timestamp_ns / SECOND, timezone.utc),
            "channel_values": [
                {"channel_name": n, "component": component, "value": double_value(values[n])} for n in names
            ],
        })

    return send


def test_sign_in_with_a_key_or_a_password(page: Page, server, screenshots, refusals):
    refusals.expect(401, "/api/native/v1/whoami")
    page.goto(f"{server.base}/ui/")
    page.screenshot(path=str(screenshots / "signin.png"))
    page.fill("input[name=key]", "sxt_not_a_key_of_this_server")
    page.click("#signin-key button")
    expect(page.locator(".error")).to_contain_text("key")

    page.fill("input[name=key]", TOKEN)
    page.click("#signin-key button")
    expect(page.locator("#who")).to_contain_text("bootstrap (admin)")
    expect(page.get_by_role("link", name="Admin")).to_be_visible()

    # A user's login gives a session key of the login's scope: read, so no admin page.
    server.http("POST", "/api/native/v1/users", {
        "name": "Ellen Ripley", "email": "ripley@example.com", "password": "nostromo-426",
    })
    page.click("#sign-out")
    page.fill("input[name=email]", "ripley@example.com")
    page.fill("input[name=password]", "nostromo-426")
    page.click("#signin-password button")
    expect(page.locator("#who")).to_contain_text("session of ripley@example.com (read)")
    expect(page.get_by_role("link", name="Admin")).to_have_count(0)
    # The key is kept: a reload stays signed in.
    page.reload()
    expect(page.locator("#who")).to_contain_text("(read)")

    # Signing out of a login's session ends the session on the server too.
    page.click("#sign-out")
    expect(page.locator("#signin-key")).to_be_visible()
    keys = server.http("GET", "/api/native/v1/keys")["keys"]
    assert [k["revoked"] for k in keys if k["name"] == "session of ripley@example.com"] == [True]

    # A key revoked while in use sends the console back to the sign-in page at its next call.
    made = server.http("POST", "/api/native/v1/keys", {"name": "short-lived", "scopes": ["read"]})
    page.fill("input[name=key]", made["secret"])
    page.click("#signin-key button")
    expect(page.locator("#who")).to_contain_text("short-lived (read)")
    page.wait_for_load_state("networkidle")
    server.http("DELETE", f"/api/native/v1/keys/{made['key']['key_id']}")
    refusals.expect(401, "/api/native/v1/runs")
    page.get_by_role("link", name="Runs").click()
    expect(page.locator("#signin-key")).to_be_visible()


def test_find_plot_zoom_and_share_a_view(page: Page, server, screenshots):
    # 30 minutes of a bench temperature, ten points a second, ending a minute ago: a ripple
    # with a spike every 997 points, which sampling must keep.
    now = time.time_ns()
    first = now - 60 * SECOND - 18_000 * SECOND // 10
    points = []
    for i in range(18_000):
        value = 20.0 + 5.0 * math.sin(i / 300.0) + (i % 7) * 0.1
        if i % 997 == 0:
            value = 95.0
        points.append((first + i * SECOND // 10, round(value, 3)))
    server.write_lines([f"rig,bench=b1 temperature={v} {t}" for t, v in points])
    server.write_lines([f"rig,bench=b2 temperature=1.5 {t}" for t, _ in points[::100]])

    sign_in(page, server)
    requests = plot_requests(page)
    page.fill("#search input", "temperature")
    page.click("#search button")
    found = page.locator(".found li")
    expect(found).to_have_count(2)
    # The labels of what was found narrow it: one bench, then back to both.
    page.locator("#facets .chip", has_text="b2").click()
    expect(found).to_have_count(1)
    expect(found).to_contain_text('bench="b2"')
    page.locator("#facets .chip.on").click()
    expect(found).to_have_count(2)
    page.locator(".found li", has_text='bench="b1"').locator("input").check()

    # The last hour, sampled to the plot's width: exactly the columns' extremes.
    plot = page.locator(".plot")
    wait_for(page, "the first plot request", lambda: requests)
    body = requests[-1]
    assert body["series"] == ['rig.temperature{bench="b1"}']
    assert abs(body["end"] - body["start"] - 3600 * SECOND) < SECOND
    expected = m4(points, body["start"], body["end"], body["width"])
    assert len(expected) < len(points) / 4
    expect(plot).to_have_attribute("data-points", str(len(expected)))
    # Every spike is among the points drawn.
    spikes = [t for t, v in points if v == 95.0 and body["start"] <= t < body["end"]]
    assert spikes and all((t, 95.0) in expected for t in spikes)
    expect(page.locator("#summary")).to_contain_text("18,000 points in the range")
    page.screenshot(path=str(screenshots / "explore.png"))

    # Dragging across a twentieth of the plot, inside the half hour of data, asks for that
    # range: three minutes, fewer points than two per pixel column, so every point is drawn.
    box = page.locator(".u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.70, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.72, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.75, y, steps=5)
    page.mouse.up()
    wait_for(page, "the zoomed plot request", lambda: len(requests) >= 2)
    zoomed = requests[-1]
    assert body["start"] < zoomed["start"] < zoomed["end"] < body["end"]
    assert zoomed["end"] - zoomed["start"] < (body["end"] - body["start"]) / 10
    inside = [p for p in points if zoomed["start"] <= p[0] < zoomed["end"]]
    assert inside, "the zoomed range holds points"
    assert m4(points, zoomed["start"], zoomed["end"], zoomed["width"]) == inside
    expect(plot).to_have_attribute("data-points", str(len(inside)))
    page.screenshot(path=str(screenshots / "explore-zoomed.png"))

    # Panning moves the range by half its span; zooming out doubles it around its middle.
    span = zoomed["end"] - zoomed["start"]
    page.click("#pan-back")
    wait_for(page, "the panned plot request", lambda: len(requests) >= 3)
    assert abs(requests[-1]["start"] - (zoomed["start"] - span // 2)) < 2_000_000
    assert abs(requests[-1]["end"] - requests[-1]["start"] - span) < 2_000_000
    page.click("#zoom-out")
    wait_for(page, "the zoomed-out plot request", lambda: len(requests) >= 4)
    assert abs(requests[-1]["end"] - requests[-1]["start"] - 2 * span) < 4_000_000
    page.go_back()
    page.go_back()
    wait_for(page, "the zoomed view again", lambda: len(requests) >= 6)
    assert abs(requests[-1]["start"] - zoomed["start"]) < 1_000_000

    # The URL holds the view: opened afresh, it asks for the same series and range.
    shared = page.url
    assert "from=" in shared and "to=" in shared
    other = page.context.new_page()
    again = plot_requests(other)
    other.goto(shared)
    wait_for(other, "the shared view's plot request", lambda: again)
    assert again[-1]["series"] == zoomed["series"]
    assert abs(again[-1]["start"] - zoomed["start"]) < 1_000_000
    expect(other.locator(".plot")).to_have_attribute("data-points", str(len(inside)))
    other.close()


def test_live_points_and_a_live_rule_s_annotation_arrive_without_a_reload(page: Page, server, screenshots):
    rule = {"name": "overpressure", "expression": "$1 > 400", "channel_references": {"$1": "tank.pressure"}}
    ingest = sift_asset(server, "Bench7", "tank", ["pressure"], rule=rule)

    sent: list[tuple[int, float]] = []

    def send(value: float) -> None:
        # Whole microseconds, as Sift's timestamps carry them.
        sent.append((time.time_ns() // 1000 * 1000, value))
        ingest(sent[-1][0], {"pressure": value})

    send(100.0)
    sign_in(page, server)
    requests = plot_requests(page)
    page.fill("#search input", "pressure")
    page.click("#search button")
    page.locator(".found li", has_text="Bench7").locator("input").check()
    plot = page.locator(".plot")
    expect(plot).to_have_attribute("data-points", "1")
    page.click("#live")
    expect(page.locator("#pause")).to_be_visible()
    expect(plot).to_have_attribute("data-points", "1")

    # Points written after the plot opened arrive through the subscription.
    for value in (150.0, 250.0):
        send(value)
        page.wait_for_timeout(50)
    expect(plot).to_have_attribute("data-points", "3")
    # Over 400 opens the rule's annotation; it shows on the plot, still open.
    send(450.0)
    expect(plot).to_have_attribute("data-points", "4")
    expect(plot).to_have_attribute("data-annotations", "1")
    expect(page.locator("#annotations")).to_contain_text("overpressure")
    expect(page.locator("#annotations")).to_contain_text("open")
    page.screenshot(path=str(screenshots / "live.png"))

    # Paused, the plot stays as it is; resumed, it asks for the window again, the point sent
    # while paused in it (sampled with the others: here they share a pixel column or two).
    page.click("#pause")
    send(300.0)
    page.wait_for_timeout(1000)
    expect(plot).to_have_attribute("data-points", "4")
    asked = len(requests)
    page.click("#pause")
    wait_for(page, "the request on resuming", lambda: len(requests) > asked)
    body = requests[-1]
    expected = m4(sent, body["start"], body["end"], body["width"])
    assert sent[-1] in expected
    expect(plot).to_have_attribute("data-points", str(len(expected)))


def test_admin_creates_and_revokes_keys_and_adds_users(page: Page, server, screenshots):
    sign_in(page, server)
    page.get_by_role("link", name="Admin").click()
    keys = page.locator("#keys tbody tr")
    expect(keys.first).to_be_visible()
    before = keys.count()
    page.fill("#create-key input[name=name]", "dashboards")
    page.select_option("#create-key select", "read")
    page.click("#create-key button")
    secret = page.locator("#new-secret code")
    expect(secret).to_be_visible()
    expect(keys).to_have_count(before + 1)
    # The new key works, with its scope.
    made = secret.inner_text()
    who = server.http("GET", "/api/native/v1/whoami", headers={"authorization": f"Bearer {made}"})
    assert who["key_name"] == "dashboards" and who["scopes"] == ["read"]

    page.fill("#create-user input[name=user]", "Dallas")
    page.click("#create-user button")
    expect(page.locator("#users")).to_contain_text("Dallas")
    page.screenshot(path=str(screenshots / "admin.png"))

    row = page.locator("#keys tbody tr", has_text="dashboards")
    row.locator("button.revoke").click()
    expect(row).to_contain_text("revoked")


def test_a_run_s_page_plots_its_channels_and_reviews_its_annotations(page: Page, server, screenshots, tmp_path):
    ash = server.http("POST", "/api/native/v1/users", {"name": "Ash"})
    rule = {"name": "overheat", "expression": "$1 > 80", "channel_references": {"$1": "motor.temperature"}}
    ingest = sift_asset(server, "Bench9", "motor", ["temperature", "fan"], rule=rule, run="thermal soak 1")
    # A hundred seconds of a soak test that runs hot from second 40 to second 60.
    t0 = time.time_ns() // SECOND * SECOND - 300 * SECOND
    for i in range(100):
        hot = 40 <= i < 60
        ingest(t0 + i * SECOND, {"temperature": 90.0 if hot else 50.0 + i % 5, "fan": 1.0 if hot else 0.0})
    server.http("POST", "/api/native/v1/rules/flush")
    # A log attached to the run through sift_py's file service.
    from sift_py.file_attachment.entity import Entity, EntityType
    from sift_py.file_attachment.service import FileAttachmentService
    from sift_py.grpc.transport import SiftChannelConfig, use_sift_channel

    run_id = next(r["run_id"] for r in server.http("GET", "/api/native/v1/runs")["runs"] if r["name"] == "thermal soak 1")
    log = tmp_path / "soak.txt"
    log.write_bytes(b"soak started\nfan on at 40 s\n" * 100)
    channel = use_sift_channel(SiftChannelConfig(uri=server.address, apikey=server.token, use_ssl=False))
    FileAttachmentService(channel, {"uri": server.address, "apikey": server.token, "use_ssl": False}).upload_attachment(
        log, Entity(run_id, EntityType.RUN), None
    )

    sign_in(page, server)
    requests = plot_requests(page)
    page.get_by_role("link", name="Runs").click()
    page.fill("#run-filter", "bench9 soak")
    expect(page.locator("#runs tbody tr")).to_have_count(1)
    page.fill("#run-filter", "no such run")
    expect(page.locator("#runs tbody tr")).to_have_count(0)
    page.fill("#run-filter", "")
    page.get_by_role("link", name="thermal soak 1").click()
    expect(page.locator("#run-name")).to_have_text("thermal soak 1")
    expect(page.locator(".channels li")).to_have_count(2)
    plot = page.locator(".plot")
    # The run has no start or stop time of its own: the plot spans its data, every point drawn
    # (two channels of a hundred points, fewer than two per pixel column).
    expect(plot).to_have_attribute("data-points", "200")
    body = requests[-1]
    assert body["start"] == t0 and body["end"] == t0 + 99 * SECOND + 1_000_000
    expect(plot).to_have_attribute("data-annotations", "1")
    page.screenshot(path=str(screenshots / "run.png"))

    # A click inside the shaded range picks the annotation for review.
    box = page.locator(".u-over").bounding_box()
    start, end = float(plot.get_attribute("data-start")), float(plot.get_attribute("data-end"))
    middle = (t0 + 50 * SECOND) / 1e6
    page.mouse.click(box["x"] + (middle - start) / (end - start) * box["width"], box["y"] + box["height"] / 2)
    review = page.locator("tr.picked form.review")
    expect(review).to_be_visible()
    review.locator("select[name=state]").select_option("flagged")
    review.locator("select[name=assignee]").select_option(label="Ash")
    review.locator("input[name=tags]").fill("thermal, soak")
    page.screenshot(path=str(screenshots / "run-review.png"))
    review.locator("button[type=submit]").click()
    expect(page.locator("#annotations tbody tr")).to_contain_text("flagged")
    listed = server.http("GET", "/api/native/v1/annotations?state=flagged")["annotations"]
    assert [(a["name"], a["assignee_user_id"], sorted(a["tags"])) for a in listed] == [
        ("overheat", ash["user_id"], ["soak", "thermal"])
    ]
    assert (listed[0]["start_time"], listed[0]["end_time"]) == (t0 + 40 * SECOND, t0 + 60 * SECOND)

    # The attachment opens from its link, without the key: the same bytes.
    link = page.locator("#attachments a", has_text="soak.txt")
    expect(link).to_be_visible()
    with urllib.request.urlopen(server.base + link.get_attribute("href"), timeout=30) as reply:
        assert reply.read() == log.read_bytes()


def test_rules_show_their_status_and_an_expression_evaluates_over_stored_data(page: Page, server, screenshots):
    rule = {"name": "vibration", "expression": "$1 > 5", "channel_references": {"$1": "pump.vibration"}}
    ingest = sift_asset(server, "Bench11", "pump", ["vibration"], rule=rule)
    # Ten minutes, one point a second, ending a minute ago: above 5 twice, above 7 once.
    t0 = time.time_ns() // SECOND * SECOND - 660 * SECOND
    for i in range(600):
        ingest(t0 + i * SECOND, {"vibration": 8.0 if 100 <= i < 130 else 6.0 if 300 <= i < 320 else 1.0})
    server.http("POST", "/api/native/v1/rules/flush")

    sign_in(page, server)
    page.get_by_role("link", name="Rules").click()
    row = page.locator("#rules tbody tr", has_text="vibration")
    expect(row).to_contain_text("Bench11")
    expect(row.locator(".status")).to_have_text("live")
    # Two annotations, both open.
    expect(row.locator("td").nth(4)).to_have_text("2")
    expect(row.locator("td").nth(5)).to_have_text("0")

    # A stricter expression over the last hour of stored data holds once, shaded on the plot.
    page.select_option("#evaluate select[name=asset]", "Bench11")
    page.fill("#evaluate input[name=expression]", "$1 > 7")
    page.fill("#evaluate input[name=channel]", "pump.vibration")
    page.select_option("#evaluate select[name=span]", label="last hour")
    page.click("#evaluate button")
    start, end = t0 + 100 * SECOND, t0 + 130 * SECOND
    iso = lambda ns: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns / SECOND))
    expect(page.locator("#held")).to_contain_text(f"It held 1 time: {iso(start)}")
    expect(page.locator("#held")).to_contain_text(iso(end))
    plot = page.locator(".evaluate .plot")
    expect(plot).to_have_attribute("data-annotations", "1")
    page.screenshot(path=str(screenshots / "rules.png"))


def test_enums_bit_fields_and_text_are_drawn_as_lanes(page: Page, server, screenshots):
    from datetime import datetime, timezone
    from urllib.parse import urlencode

    from sift_py.grpc.transport import SiftChannelConfig, use_sift_channel
    from sift_py.ingestion.channel import (
        ChannelBitFieldElement, ChannelConfig, ChannelDataType, ChannelEnumType,
        bit_field_value, enum_value, string_value,
    )
    from sift_py.ingestion.config.telemetry import FlowConfig, TelemetryConfig
    from sift_py.ingestion.service import IngestionService

    channels = [
        ChannelConfig(name="state", component="drive", data_type=ChannelDataType.ENUM, enum_types=[
            ChannelEnumType(name="Parked", key=0), ChannelEnumType(name="Driving", key=1),
            ChannelEnumType(name="Charging", key=2),
        ]),
        ChannelConfig(name="gpio", component="drive", data_type=ChannelDataType.BIT_FIELD, bit_field_elements=[
            ChannelBitFieldElement(name="led", index=0, bit_count=1),
            ChannelBitFieldElement(name="mode", index=1, bit_count=2),
        ]),
        ChannelConfig(name="log", component="drive", data_type=ChannelDataType.STRING),
    ]
    config = TelemetryConfig(asset_name="Rover1", ingestion_client_key="rover1",
                             flows=[FlowConfig(name="status", channels=channels)])
    states = [0, 1, 1, 2, 2, 0]
    gpio = [0b001, 0b011, 0b101, 0b111, 0b000, 0b010]
    logs = ["boot", "go", "turn", "plug in", "charged", "park"]
    t0 = time.time_ns() // SECOND * SECOND - 120 * SECOND
    channel = use_sift_channel(SiftChannelConfig(uri=server.address, apikey=server.token, use_ssl=False))
    service = IngestionService(channel, config)
    for i in range(6):
        service.try_ingest_flows({
            "flow_name": "status",
            "timestamp": datetime.fromtimestamp((t0 + i * 10 * SECOND) / SECOND, timezone.utc),
            "channel_values": [
                {"channel_name": "state", "component": "drive", "value": enum_value(states[i])},
                {"channel_name": "gpio", "component": "drive", "value": bit_field_value(bytes([gpio[i]]))},
                {"channel_name": "log", "component": "drive", "value": string_value(logs[i])},
            ],
        })

    # A shared view of the three channels over the minute they cover.
    sign_in(page, server)
    keys = [f'drive.{name}{{asset="Rover1"}}' for name in ("state", "gpio", "log")]
    view = urlencode([("s", k) for k in keys] + [("from", (t0 - 5 * SECOND) // 10**6), ("to", (t0 + 60 * SECOND) // 10**6)])
    page.goto(f"{server.base}/ui/#/explore?{view}")
    lanes = page.locator(".plot .lane")
    # The enum, the bit field's two elements and the text: a lane each, no chart of numbers.
    expect(lanes).to_have_count(4)
    expect(page.locator(".plot .chart")).to_have_count(0)
    expect(page.locator(".plot")).to_have_attribute("data-points", str(6 * 4))
    page.screenshot(path=str(screenshots / "explore-lanes.png"))

    # The cursor reads each lane out at one instant: 12 s in, the second point's values hold.
    # In the order of the view's series: the state, the bit field's led and mode, the log.
    state, led, mode, log = (lanes.nth(i) for i in range(4))
    expect(led).to_have_attribute("data-key", keys[1] + "#led")
    box = state.locator(".u-over").bounding_box()
    start, end = t0 - 5 * SECOND, t0 + 60 * SECOND
    x = box["x"] + (12 * SECOND + 5 * SECOND) / (end - start) * box["width"]
    page.mouse.move(x, box["y"] + box["height"] / 2)
    expect(state.locator(".u-legend")).to_contain_text("Driving")
    expect(led.locator(".u-legend")).to_contain_text("1")
    expect(mode.locator(".u-legend")).to_contain_text("1")
    expect(log.locator(".u-legend")).to_contain_text("go")
    # 32 s in: Charging, led 1, mode 3.
    page.mouse.move(box["x"] + (32 + 5) / 65 * box["width"], box["y"] + box["height"] / 2)
    expect(state.locator(".u-legend")).to_contain_text("Charging")
    expect(mode.locator(".u-legend")).to_contain_text("3")


def sse_values(server, path: str, body: bytes) -> int:
    """How many data values a SignalFlow execution answers over Server-Sent Events."""
    import json
    import urllib.request

    request = urllib.request.Request(server.base + path, data=body, method="POST")
    request.add_header("authorization", f"Bearer {server.token}")
    request.add_header("content-type", "text/plain")
    values = 0
    with urllib.request.urlopen(request, timeout=30) as reply:
        for line in reply.read().decode().splitlines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("type") == "data":
                    values += sum(1 for d in message["data"] if d["value"] is not None)
    return values


def test_a_signalflow_program_is_charted_batch_and_live(page: Page, server, screenshots):
    # Ten minutes of a load average on two hosts, every 10 s.
    now = time.time_ns() // SECOND * SECOND
    server.write_lines([
        f"node,host={host} load={1.0 + (i % 6) * 0.25 + offset} {now - (600 - i * 10) * SECOND}"
        for host, offset in (("n1", 0.0), ("n2", 2.0))
        for i in range(60)
    ])
    sign_in(page, server)
    page.get_by_role("link", name="SignalFlow").click()
    executions: list = []
    page.on("request", lambda r: executions.append((r.url, r.post_data)) if "/v2/signalflow/execute" in r.url else None)
    page.fill("#program textarea", "data('node.load').mean(by=['host']).publish('load')")
    page.select_option("#program select[name=span]", label="the last 15 minutes")
    page.select_option("#program select[name=resolution]", label="resolution 1 min")
    page.click("#program button[type=submit]")
    expect(page.locator("#job-state")).to_have_text("done")
    plot = page.locator(".plot")
    expect(plot.locator(".u-legend")).to_contain_text("load {host=n1}")
    expect(plot.locator(".u-legend")).to_contain_text("load {host=n2}")
    # The chart draws every value the same execution answers.
    url, body = executions[-1]
    expected = sse_values(server, urlparse(url).path + "?" + urlparse(url).query, body.encode())
    assert expected >= 20
    expect(plot).to_have_attribute("data-points", str(expected))
    page.screenshot(path=str(screenshots / "signalflow.png"))

    # Live: from a minute ago on at one second; new points appear as they are computed.
    page.check("#program input[name=live]")
    page.select_option("#program select[name=resolution]", label="resolution 1 s")
    page.select_option("#program select[name=span]", index=0)
    page.click("#program button[type=submit]")
    expect(page.locator("#job-state")).to_have_text("running")
    before = wait_for(page, "the first live values", lambda: int(plot.get_attribute("data-points") or 0) or None)
    for _ in range(3):
        server.write_lines([f"node,host=n1 load=9.5 {time.time_ns()}"])
        page.wait_for_timeout(400)
    wait_for(page, "values computed after the program started", lambda: int(plot.get_attribute("data-points")) > before)
    page.click("#stop")
    expect(page.locator("#job-state")).to_have_text("done")


def test_a_collection_s_events_and_statistics(page: Page, server, screenshots):
    schema = {
        "input_columns": [{"name": "amount", "type": "float"}, {"name": "country", "type": "string"}],
        "prediction_columns": [{"name": "score", "type": "float"}, {"name": "flagged", "type": "int"}],
        "label_columns": [{"name": "fraud", "type": "int"}],
    }
    server.http("POST", "/api/native/v1/collections", {"name": "payments", "schema": schema})
    start = time.time() - 3600
    events = []
    for i in range(120):
        event = {
            "id": f"p{i}", "ts": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + i * 30)),
            "amount": 10.0 + i, "country": ["DE", "FR", "US"][i % 3],
            "score": (i % 10) / 10, "flagged": int(i % 10 >= 7),
        }
        if i % 2 == 0:
            event["fraud"] = int(i % 10 >= 8)
        events.append({"data": event})
    reply = server.http("POST", "/api/v0/ingest/streaming/events", {"project_id": "risk", "model_id": "payments", "events": events})
    assert reply["num_errors"] == 0

    sign_in(page, server)
    stats_requests: list[str] = []
    page.on("request", lambda r: stats_requests.append(r.url) if "/stats?" in r.url else None)
    page.get_by_role("link", name="Collections").click()
    page.locator("#collection-list button", has_text="payments").click()
    rows = page.locator("#events tbody tr")
    expect(rows).to_have_count(50)
    # Newest first: the last event sent heads the table.
    expect(rows.first).to_contain_text("p119")
    expect(page.locator("#events thead")).to_contain_text("fraud")

    # The chart draws every statistic of every window the same request answers.
    wait_for(page, "the statistics request", lambda: stats_requests)
    parsed = urlparse(stats_requests[-1])
    stats = server.http("GET", parsed.path + "?" + parsed.query)
    drawn = sum(
        1 + 1 + len(w["means"]) + len(w["accuracy"]) + len(w["mean_absolute_error"])
        for w in stats["windows"]
    )
    assert stats["compared"] == {"fraud": "flagged"}
    expect(page.locator(".plot")).to_have_attribute("data-points", str(drawn))
    page.screenshot(path=str(screenshots / "collections.png"))
