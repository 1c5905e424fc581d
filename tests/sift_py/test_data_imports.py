"""Data imports through sift_py's own upload services: a CSV file and a Parquet file are
imported into channels of an asset (and a run), read back exactly through DataService, with
configs given, inferred by the client (CSV) or detected by the server (Parquet); a bad cell is
refused naming its row and column; other formats are refused naming the format."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq
import requests
from sift_py.data.query import ChannelQuery, DataQuery
from sift_py.data.service import DataService
from sift_py.data_import.config import CsvConfig, ParquetConfig
from sift_py.data_import.csv import CsvUploadService
from sift_py.data_import.parquet import ParquetUploadService
from sift_py.data_import.status import DataImportStatusType
from sift_py.grpc.transport import use_sift_async_channel

from support import channel_config, ns

T0 = datetime(2024, 7, 4, 18, 0, 0, tzinfo=timezone.utc)


def rest_config(sextant):
    return {"uri": sextant.uri, "apikey": sextant.token, "use_ssl": False}


def download(sextant, asset, channels, run_name=None):
    async def go():
        async with use_sift_async_channel(channel_config(sextant)) as channel:
            return await DataService(channel).execute(
                DataQuery(
                    asset_name=asset,
                    start_time=T0 - timedelta(days=1),
                    end_time=T0 + timedelta(days=1),
                    channels=[ChannelQuery(channel_name=c, run_name=run_name) for c in channels],
                )
            )

    result = asyncio.run(go())
    return {
        c: list(zip([ns(t) for t in result.channel(c).timestamps], result.channel(c).values))
        for c in channels
    }


def csv_config(asset, run_name=""):
    return CsvConfig(
        {
            "asset_name": asset,
            "run_name": run_name,
            "first_data_row": 2,
            "time_column": {"format": "TIME_FORMAT_ABSOLUTE_RFC3339", "column_number": 1},
            "data_columns": {
                2: {"name": "chamber.pressure", "data_type": "CHANNEL_DATA_TYPE_DOUBLE", "units": "bar"},
                3: {"name": "valve", "data_type": "CHANNEL_DATA_TYPE_ENUM",
                    "enum_types": [{"name": "closed", "key": 0}, {"name": "open", "key": 1}]},
                4: {"name": "cycles", "data_type": "CHANNEL_DATA_TYPE_UINT_64"},
                5: {"name": "note", "data_type": "CHANNEL_DATA_TYPE_STRING"},
            },
        }
    )


def test_a_csv_file_is_imported_and_read_back_exactly(sextant, tmp_path):
    rows = []
    expected = {"chamber.pressure": [], "valve": [], "cycles": [], "note": []}
    for i in range(300):
        t = T0 + timedelta(milliseconds=10 * i, microseconds=7)
        pressure = 0.1 * i - 3.3 if i % 7 else ""
        valve = ["closed", "open"][i % 2]
        cycles = 2**64 - 1 - i
        note = f"sample, {i}" if i % 3 == 0 else ""
        rows.append([t.isoformat(), pressure, valve, cycles, note])
        stamp = ns(t)
        if pressure != "":
            expected["chamber.pressure"].append((stamp, float(str(pressure))))
        expected["valve"].append((stamp, i % 2))
        expected["cycles"].append((stamp, cycles))
        expected["note"].append((stamp, note))
    path = tmp_path / "hot_fire.csv"
    import csv

    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["time", "pressure", "valve", "cycles", "note"])
        writer.writerows(rows)

    service = CsvUploadService(rest_config(sextant))
    status = service.upload(path, csv_config("TestStand", run_name="hot fire 3"), show_progress=False)
    done = status.wait_until_complete()
    assert done.status == DataImportStatusType.SUCCEEDED, done.error_message
    got = download(sextant, "TestStand", list(expected), run_name="hot fire 3")
    assert got == expected

    # The same file gzip-compressed (sift_py sends Content-Encoding for .gz files).
    packed = tmp_path / "again.csv.gz"
    packed.write_bytes(gzip.compress(path.read_bytes()))
    status = service.upload(packed, csv_config("OtherStand"), show_progress=False)
    assert status.wait_until_complete().status == DataImportStatusType.SUCCEEDED
    assert download(sextant, "OtherStand", ["cycles"])["cycles"] == expected["cycles"]

    # A bad cell refuses the file, naming the row and the column.
    bad = tmp_path / "bad.csv"
    bad.write_text("time,pressure,valve,cycles,note\n" + f"{T0.isoformat()},1.0,ajar,1,x\n")
    try:
        service.upload(bad, csv_config("BadStand"), show_progress=False)
        raise AssertionError("a bad cell was accepted")
    except Exception as err:
        assert "row 2, column 3 (valve)" in str(err) and "ajar" in str(err), err


def test_a_parquet_file_is_imported_and_read_back_exactly(sextant, tmp_path):
    n = 1000
    times = [ns(T0) // 1000 + 1000 * i for i in range(n)]  # microseconds
    temperature = [None if i % 11 == 0 else 20.0 + i / 8 for i in range(n)]
    ok = [i % 5 != 0 for i in range(n)]
    count = list(range(-500, 500))
    table = pa.table(
        {
            "t": pa.array(times, pa.int64()),
            "temperature": pa.array(temperature, pa.float64()),
            "ok": pa.array(ok, pa.bool_()),
            "count": pa.array(count, pa.int32()),
            "ignored": pa.array([str(i) for i in range(n)]),
        }
    )
    path = tmp_path / "bench.parquet"
    pq.write_table(table, path, row_group_size=300)
    config = ParquetConfig(
        {
            "asset_name": "Bench",
            "footer_offset": 0,
            "footer_length": 0,
            "complex_types_import_mode": "PARQUET_COMPLEX_TYPES_IMPORT_MODE_IGNORE",
            "flat_dataset": {
                "time_column": {"path": "t", "format": "TIME_FORMAT_ABSOLUTE_UNIX_MICROSECONDS"},
                "data_columns": [
                    {"path": "temperature", "channel_config": {"name": "temperature", "data_type": "CHANNEL_DATA_TYPE_DOUBLE"}},
                    {"path": "ok", "channel_config": {"name": "ok", "data_type": "CHANNEL_DATA_TYPE_BOOL"}},
                    {"path": "count", "channel_config": {"name": "count", "data_type": "CHANNEL_DATA_TYPE_INT_32"}},
                ],
            },
        }
    )
    status = ParquetUploadService(rest_config(sextant)).upload(path, config, show_progress=False)
    done = status.wait_until_complete()
    assert done.status == DataImportStatusType.SUCCEEDED, done.error_message
    got = download(sextant, "Bench", ["temperature", "ok", "count"])
    stamps = [t * 1000 for t in times]
    assert got["temperature"] == [(s, v) for s, v in zip(stamps, temperature) if v is not None]
    assert got["ok"] == list(zip(stamps, ok))
    assert got["count"] == list(zip(stamps, count))


def test_a_parquet_file_imports_with_a_detected_config(sextant, tmp_path):
    """flat_dataset_upload asks the server for a config from the file's footer, then names
    the time column; every other column of a type a channel holds becomes a channel."""
    n = 500
    stamps = [ns(T0) + 2_000_000 * i for i in range(n)]
    table = pa.table(
        {
            "timestamp": pa.array(stamps, pa.int64()),
            "voltage": pa.array([12.0 + i / 64 for i in range(n)], pa.float32()),
            "mode": pa.array(["idle" if i % 4 else "burn" for i in range(n)]),
            "faults": pa.array([i % 3 for i in range(n)], pa.uint8()),
            "samples": pa.array([[i, i + 1] for i in range(n)], pa.list_(pa.int32())),
        }
    )
    path = tmp_path / "detected.parquet"
    pq.write_table(table, path)
    service = ParquetUploadService(rest_config(sextant))
    status = service.flat_dataset_upload("Detected", path, time_path="timestamp", run_name="auto")
    done = status.wait_until_complete()
    assert done.status == DataImportStatusType.SUCCEEDED, done.error_message
    got = download(sextant, "Detected", ["voltage", "mode", "faults"], run_name="auto")
    assert got["voltage"] == [(s, 12.0 + i / 64) for i, s in enumerate(stamps)]
    assert got["mode"] == [(s, "idle" if i % 4 else "burn") for i, s in enumerate(stamps)]
    assert got["faults"] == [(s, i % 3) for i, s in enumerate(stamps)]


def test_simple_csv_upload_infers_the_config(sextant, tmp_path):
    # Numbers only: sift_py 0.25 infers no type for text columns under pandas 3 ("str").
    path = tmp_path / "simple.csv"
    lines = ["time,temperature,count"]
    for i in range(50):
        lines.append(f"{(T0 + timedelta(seconds=i)).isoformat()},{20 + i / 4},{i * 1000}")
    path.write_text("\n".join(lines) + "\n")
    status = CsvUploadService(rest_config(sextant)).simple_upload("Simple", path)
    done = status.wait_until_complete()
    assert done.status == DataImportStatusType.SUCCEEDED, done.error_message
    got = download(sextant, "Simple", ["temperature", "count"])
    stamps = [ns(T0 + timedelta(seconds=i)) for i in range(50)]
    assert got["temperature"] == [(s, 20 + i / 4) for i, s in enumerate(stamps)]
    assert got["count"] == [(s, i * 1000) for i, s in enumerate(stamps)]


def test_detection_refuses_what_is_no_parquet_footer(sextant):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sextant.token}"
    url = f"http://{sextant.uri}/api/v0/data-imports:detect-config"
    answer = session.post(url, data=json.dumps({"data": "bm90IGEgZm9vdGVy", "type": "DATA_TYPE_KEY_PARQUET_FLATDATASET"}))
    assert answer.status_code == 400 and "not a Parquet footer" in answer.json()["error"]
    answer = session.post(url, data=json.dumps({"data": "", "type": "DATA_TYPE_KEY_HDF5"}))
    assert answer.status_code == 400 and "DATA_TYPE_KEY_HDF5" in answer.json()["error"]


def test_other_formats_and_urls_are_refused_by_name(sextant):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sextant.token}"
    base = f"http://{sextant.uri}"
    answer = session.post(f"{base}/api/v1/data-imports:upload", data=json.dumps({"hdf5_config": {}}))
    assert answer.status_code == 400
    assert "does not import HDF5 files" in answer.json()["error"]
    answer = session.post(f"{base}/api/v1/data-imports:url", data=json.dumps({"url": "s3://x"}))
    assert answer.status_code == 400 and "upload the file" in answer.json()["error"]
    answer = session.post(
        f"{base}/api/v1/data-imports:upload",
        data=json.dumps({"csv_config": {"asset_name": "x", "first_data_row": 2}}),
    )
    assert answer.status_code == 400 and "time_column" in answer.json()["error"]
