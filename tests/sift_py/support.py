"""Shared pieces of the end-to-end tests: the Nostromo telemetry config with a channel of
every data type, deterministic values, a record of what was sent, and download-and-compare
through sift_py's DataService."""

from __future__ import annotations

import asyncio
import math
import struct
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Optional, Tuple

from sift_py.data.query import ChannelQuery, DataQuery
from sift_py.data.service import DataService
from sift_py.grpc.transport import SiftChannelConfig, use_sift_async_channel
from sift_py.ingestion.channel import (
    ChannelBitFieldElement,
    ChannelConfig,
    ChannelDataType,
    ChannelEnumType,
    bit_field_value,
    bool_value,
    bytes_value,
    double_value,
    enum_value,
    float_value,
    int32_value,
    int64_value,
    string_value,
    uint32_value,
    uint64_value,
)
from sift_py.ingestion.config.telemetry import FlowConfig, TelemetryConfig

ASSET = "NostromoLV426"
CLIENT_KEY = "nostromo_lv_426"
RUN_NAME = "[NostromoLV426].1720141748.047512"

GPIO_LAYOUT = [("12v", 0, 1), ("charge", 1, 2), ("led", 3, 4), ("heater", 7, 1)]
VEHICLE_STATES = [("Accelerating", 0), ("Decelerating", 1), ("Stopped", 2)]

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
BASE = datetime(2024, 7, 4, 18, 9, 8, 555123, tzinfo=timezone.utc)
START = BASE - timedelta(seconds=1)
END = BASE + timedelta(days=30)


def channel_config(sextant) -> SiftChannelConfig:
    return SiftChannelConfig(uri=sextant.uri, apikey=sextant.token, use_ssl=False)


def config_with_key(sextant, apikey: str) -> SiftChannelConfig:
    return SiftChannelConfig(uri=sextant.uri, apikey=apikey, use_ssl=False)


# --- the telemetry config -------------------------------------------------------------------

def channels() -> Dict[str, ChannelConfig]:
    """Every channel of the config by its full name."""
    return {
        "mainmotor.velocity": ChannelConfig(
            name="velocity",
            component="mainmotor",
            data_type=ChannelDataType.DOUBLE,
            description="speed",
            unit="Miles Per Hour",
        ),
        "voltage": ChannelConfig(
            name="voltage", data_type=ChannelDataType.INT_32, description="voltage at source", unit="Volts"
        ),
        "vehicle_state": ChannelConfig(
            name="vehicle_state",
            data_type=ChannelDataType.ENUM,
            description="vehicle state",
            enum_types=[ChannelEnumType(name=n, key=k) for n, k in VEHICLE_STATES],
        ),
        "gpio": ChannelConfig(
            name="gpio",
            data_type=ChannelDataType.BIT_FIELD,
            description="on/off values for pins on gpio",
            bit_field_elements=[
                ChannelBitFieldElement(name=n, index=i, bit_count=c) for n, i, c in GPIO_LAYOUT
            ],
        ),
        "log": ChannelConfig(name="log", data_type=ChannelDataType.STRING, description="asset logs"),
        "thrust": ChannelConfig(name="thrust", data_type=ChannelDataType.FLOAT, unit="kN"),
        "door_open": ChannelConfig(name="door_open", data_type=ChannelDataType.BOOL),
        "energy": ChannelConfig(name="energy", data_type=ChannelDataType.INT_64, unit="J"),
        "uptime": ChannelConfig(name="uptime", data_type=ChannelDataType.UINT_32, unit="s"),
        "packets": ChannelConfig(name="packets", data_type=ChannelDataType.UINT_64),
        "payload": ChannelConfig(name="payload", data_type=ChannelDataType.BYTES),
    }


FLOWS: Dict[str, List[str]] = {
    "readings": ["mainmotor.velocity", "voltage", "vehicle_state", "gpio"],
    "voltage": ["voltage"],
    "gpio_channel": ["gpio"],
    "logs": ["log"],
    "diagnostics": ["thrust", "door_open", "energy", "uptime", "packets", "payload"],
}

ALL_CHANNELS = list(channels().keys())


def nostromo_config(
    asset: str = ASSET,
    client_key: Optional[str] = CLIENT_KEY,
    flows: Optional[Dict[str, List[str]]] = None,
) -> TelemetryConfig:
    chans = channels()
    return TelemetryConfig(
        asset_name=asset,
        ingestion_client_key=client_key,
        flows=[
            FlowConfig(name=name, channels=[chans[c] for c in names])
            for name, names in (flows or FLOWS).items()
        ],
    )


def flow_channels(config: TelemetryConfig) -> Dict[str, List[str]]:
    return {f.name: [c.fqn() for c in f.channels] for f in config.flows}


# --- values ---------------------------------------------------------------------------------

def f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


SPECIAL_DOUBLES = [0.0, -0.0, 1.5, -2.25, math.pi, 1e308, -1e308, 5e-324, math.inf, -math.inf, math.nan]
SPECIAL_FLOATS = [0.0, -0.0, 3.4028234663852886e38, -1.401298464324817e-45, math.inf, -math.inf, math.nan]
SPECIAL_STRINGS = ["", "INFO: some message", "Ω ünïcødé ✓ 🚀", "quote \" and 'single' [brackets]", "x" * 300]


def ts(i: int) -> datetime:
    """The timestamp of the i-th point: microsecond steps that are not round numbers."""
    return BASE + timedelta(microseconds=1_000 * i + 7)


def ns(dt: Any) -> int:
    """Nanoseconds since the epoch of a datetime or a pandas Timestamp."""
    value = getattr(dt, "value", None)
    if isinstance(value, int):
        return value
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def raw_value(channel: str, i: int) -> Any:
    """The Python value sent on `channel` for the i-th point."""
    if channel == "mainmotor.velocity":
        return SPECIAL_DOUBLES[i] if i < len(SPECIAL_DOUBLES) else i * 1.000001 - 512.125
    if channel == "thrust":
        return SPECIAL_FLOATS[i] if i < len(SPECIAL_FLOATS) else i * 0.1 - 3.3
    if channel == "voltage":
        return [-(2**31), 2**31 - 1, 0, -1][i] if i < 4 else (i * 7_919) % 2_000_000 - 1_000_000
    if channel == "energy":
        return [-(2**63), 2**63 - 1, 0][i] if i < 3 else i * 10**12 + 3
    if channel == "uptime":
        return [0, 2**32 - 1][i] if i < 2 else (i * 48_271) % 2**32
    if channel == "packets":
        return [0, 2**64 - 1][i] if i < 2 else (i * 6_364_136_223_846_793_005) % 2**64
    if channel == "vehicle_state":
        return i % 3
    if channel == "gpio":
        return bytes([(i * 37 + 11) % 256])
    if channel == "log":
        return SPECIAL_STRINGS[i % len(SPECIAL_STRINGS)] + ("" if i % len(SPECIAL_STRINGS) == 0 else f" #{i}")
    if channel == "door_open":
        return i % 3 == 1
    if channel == "payload":
        return b"" if i == 0 else bytes([i % 256, (i * 7) % 256, 0, 255])
    raise KeyError(channel)


_PB = {
    "mainmotor.velocity": double_value,
    "thrust": float_value,
    "voltage": int32_value,
    "energy": int64_value,
    "uptime": uint32_value,
    "packets": uint64_value,
    "vehicle_state": enum_value,
    "gpio": bit_field_value,
    "log": string_value,
    "door_open": bool_value,
    "payload": bytes_value,
}


def pb_value(channel: str, i: int):
    return _PB[channel](raw_value(channel, i))


def expected_points(channel: str, value: Any) -> List[Tuple[str, Any]]:
    """What a download shows for one sent value: (key, value) pairs; bit fields split."""
    if channel == "gpio":
        byte = int.from_bytes(value, "little")
        return [(f"gpio.{n}", (byte >> idx) & ((1 << cnt) - 1)) for n, idx, cnt in GPIO_LAYOUT]
    if channel == "thrust":
        return [(channel, f32(value))]
    return [(channel, value)]


def download_keys(channel: str) -> List[str]:
    return [f"gpio.{n}" for n, _, _ in GPIO_LAYOUT] if channel == "gpio" else [channel]


# --- what was sent --------------------------------------------------------------------------

class Ledger:
    """Every point acknowledged by the server, as a download should show it."""

    def __init__(self) -> None:
        self.points: Dict[str, List[Tuple[int, Any]]] = defaultdict(list)

    def record(self, channel: str, at: datetime, value: Any) -> None:
        for key, v in expected_points(channel, value):
            self.points[key].append((ns(at), v))

    def copy(self) -> "Ledger":
        other = Ledger()
        for k, v in self.points.items():
            other.points[k] = list(v)
        return other

    def count(self) -> int:
        return sum(len(v) for v in self.points.values())


def flow(name: str, i: int, only: Optional[Iterable[str]] = None, ledger: Optional[Ledger] = None, config=FLOWS):
    """A `Flow` (named channel values) for try_ingest_flows with the i-th values of the flow's
    channels (or only those in `only`); records them in `ledger`."""
    chans = channels()
    at = ts(i)
    values = []
    for fqn in config[name]:
        if only is not None and fqn not in only:
            continue
        cfg = chans[fqn]
        entry = {"channel_name": cfg.name, "value": pb_value(fqn, i)}
        if cfg.component:
            entry["component"] = cfg.component
        values.append(entry)
        if ledger is not None:
            ledger.record(fqn, at, raw_value(fqn, i))
    return {"flow_name": name, "timestamp": at, "channel_values": values}


def ordered_flow(name: str, i: int, empty: Iterable[str] = (), ledger: Optional[Ledger] = None):
    """A `FlowOrderedChannelValues` for ingest_flows: one positional value per channel, with
    `empty_value()` for the channels in `empty`."""
    from sift_py.ingestion.channel import empty_value

    at = ts(i)
    values = []
    for fqn in FLOWS[name]:
        if fqn in empty:
            values.append(empty_value())
        else:
            values.append(pb_value(fqn, i))
            if ledger is not None:
                ledger.record(fqn, at, raw_value(fqn, i))
    return {"flow_name": name, "timestamp": at, "channel_values": values}


# --- download and compare -------------------------------------------------------------------

def download(
    sextant,
    channel_names: Iterable[str] = ALL_CHANNELS,
    asset: str = ASSET,
    run_name: Optional[str] = None,
    start: datetime = START,
    end: datetime = END,
    apikey: Optional[str] = None,
    sample_ms: int = 0,
):
    """All points of the channels through sift_py's DataService over an asyncio channel
    (downsampled by the server when `sample_ms` is set)."""

    async def go():
        cfg = config_with_key(sextant, apikey or sextant.token)
        async with use_sift_async_channel(cfg) as channel:
            query = DataQuery(
                asset_name=asset,
                start_time=start,
                end_time=end,
                channels=[ChannelQuery(channel_name=c, run_name=run_name) for c in channel_names],
                sample_ms=sample_ms,
            )
            return await DataService(channel).execute(query)

    return asyncio.run(go())


def same_float(a: float, b: float) -> bool:
    """Bit-for-bit equal as far as Python can tell: NaN equals NaN, and -0.0 differs from 0.0."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def assert_matches(result, ledger: Ledger, channel_names: Iterable[str] = ALL_CHANNELS) -> None:
    """Every point of the download equals what was sent, timestamps to the nanosecond, and
    nothing else came back."""
    keys = [k for c in channel_names for k in download_keys(c)]
    got_keys = {r.identifier for r in result.all_channels()}
    want_keys = {k for k in keys if ledger.points.get(k)}
    assert got_keys == want_keys, f"downloaded channels {sorted(got_keys)}, expected {sorted(want_keys)}"
    for key in sorted(want_keys):
        series = result.channel(key)
        assert series is not None, key
        want = sorted(ledger.points[key], key=lambda p: p[0])
        got = [(ns(t), v) for t, v in zip(series.timestamps, series.values)]
        assert len(got) == len(want), f"{key}: {len(got)} points downloaded, {len(want)} sent"
        for n, ((gt, gv), (wt, wv)) in enumerate(zip(got, want)):
            assert gt == wt, f"{key} point {n}: timestamp {gt} ns, sent {wt} ns"
            if isinstance(wv, float):
                assert isinstance(gv, float) and same_float(gv, wv), f"{key} point {n}: {gv!r}, sent {wv!r}"
            else:
                assert type(gv) is type(wv) and gv == wv, f"{key} point {n}: {gv!r} ({type(gv).__name__}), sent {wv!r}"


def assert_stored(sextant, ledger: Ledger, channel_names: Iterable[str] = ALL_CHANNELS, **kw) -> None:
    assert_matches(download(sextant, channel_names, **kw), ledger, channel_names)
