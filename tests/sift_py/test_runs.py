"""Runs: attach_run creates or finds a run by name, ingested data carries its id, and
downloads with and without run_name scope the data."""

from __future__ import annotations

from sift.runs.v2.runs_pb2 import ListRunsRequest
from sift.runs.v2.runs_pb2_grpc import RunServiceStub
from sift_py.grpc.transport import use_sift_channel
from sift_py.ingestion.service import IngestionService

from support import (
    FLOWS,
    RUN_NAME,
    Ledger,
    assert_stored,
    channel_config,
    download,
    flow,
    nostromo_config,
    ordered_flow,
    ts,
)


def merged(*ledgers: Ledger) -> Ledger:
    out = Ledger()
    for ledger in ledgers:
        for key, points in ledger.points.items():
            out.points[key].extend(points)
    return out


def test_attach_run_and_download_with_and_without_run_name(sextant):
    in_run, outside = Ledger(), Ledger()
    names = list(FLOWS)
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        # Before the run.
        service.try_ingest_flows(*[flow(names[i % 5], i, ledger=outside) for i in range(0, 50)])

        service.attach_run(
            channel,
            RUN_NAME,
            description="e2e run",
            tags=["e2e", "nostromo"],
            metadata={"vehicle": "Nostromo", "mass_t": 63000.5, "nominal": True},
        )
        run_id = service.run_id
        assert run_id
        request = service.create_ingestion_request("voltage", ts(0), [ordered_flow("voltage", 0)["channel_values"][0]])
        assert request.run_id == run_id

        service.try_ingest_flows(*[flow(names[i % 5], i, ledger=in_run) for i in range(50, 150)])
        service.ingest_flows(*[ordered_flow(names[i % 5], i, ledger=in_run) for i in range(150, 250)])
        with service.buffered_ingestion(64) as buffered:
            buffered.try_ingest_flows(*[flow(names[i % 5], i, ledger=in_run) for i in range(250, 400)])

        # The same name finds the same run, brackets and all.
        other = IngestionService(channel, nostromo_config())
        other.attach_run(channel, RUN_NAME)
        assert other.run_id == run_id

        runs = RunServiceStub(channel).ListRuns(
            ListRunsRequest(page_size=10, filter=f'name=="{RUN_NAME}"')
        ).runs
        assert [r.run_id for r in runs] == [run_id]
        run = runs[0]
        assert (run.name, run.description, list(run.tags)) == (RUN_NAME, "e2e run", ["e2e", "nostromo"])
        meta = {m.key.name: m.WhichOneof("value") and getattr(m, m.WhichOneof("value")) for m in run.metadata}
        assert meta == {"vehicle": "Nostromo", "mass_t": 63000.5, "nominal": True}

        # After the run.
        service.detach_run()
        assert service.create_ingestion_request("voltage", ts(0), [ordered_flow("voltage", 0)["channel_values"][0]]).run_id == ""
        service.try_ingest_flows(*[flow(names[i % 5], i, ledger=outside) for i in range(400, 450)])

    assert_stored(sextant, in_run, run_name=RUN_NAME)
    assert_stored(sextant, merged(in_run, outside))


def test_a_second_run_keeps_its_data_apart(sextant):
    first, second = Ledger(), Ledger()
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        service.attach_run(channel, "[NostromoLV426].first")
        first_id = service.run_id
        service.try_ingest_flows(*[flow("readings", i, ledger=first) for i in range(0, 40)])
        service.attach_run(channel, "[NostromoLV426].second")
        assert service.run_id != first_id
        service.try_ingest_flows(*[flow("readings", i, ledger=second) for i in range(40, 80)])
    chans = FLOWS["readings"]
    assert_stored(sextant, first, chans, run_name="[NostromoLV426].first")
    assert_stored(sextant, second, chans, run_name="[NostromoLV426].second")
    assert_stored(sextant, merged(first, second), chans)
    # A channel with no data in the run comes back empty.
    assert download(sextant, ["log"], run_name="[NostromoLV426].first").all_channels() == []
