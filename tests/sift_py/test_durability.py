"""Durability: what the server acknowledged survives a clean restart and a SIGKILL."""

from __future__ import annotations

from sift_py.grpc.transport import use_sift_channel
from sift_py.ingestion.service import IngestionService

from support import (
    FLOWS,
    RUN_NAME,
    Ledger,
    assert_stored,
    channel_config,
    flow,
    nostromo_config,
    ordered_flow,
)

NAMES = list(FLOWS)


def test_everything_is_there_after_a_clean_restart(sextant_process):
    sextant = sextant_process.info
    plain, in_run = Ledger(), Ledger()
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        config_id = service.ingestion_config.ingestion_config_id
        service.try_ingest_flows(*[flow(NAMES[i % 5], i, ledger=plain) for i in range(200)])
        with service.buffered_ingestion(500) as buffered:
            buffered.ingest_flows(*[ordered_flow(NAMES[i % 5], i, ledger=plain) for i in range(200, 2_200)])
        service.attach_run(channel, RUN_NAME)
        run_id = service.run_id
        service.try_ingest_flows(*[flow(NAMES[i % 5], i, ledger=in_run) for i in range(2_200, 2_400)])

    sextant = sextant_process.restart()
    everything = plain.copy()
    for key, points in in_run.points.items():
        everything.points[key].extend(points)
    assert_stored(sextant, everything)
    assert_stored(sextant, in_run, run_name=RUN_NAME)

    # The config, its flows and the run are found again, and ingestion goes on.
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        assert service.ingestion_config.ingestion_config_id == config_id
        service.attach_run(channel, RUN_NAME)
        assert service.run_id == run_id
        service.try_ingest_flows(*[flow(NAMES[i % 5], i, ledger=everything) for i in range(2_400, 2_450)])
    assert_stored(sextant, everything)


def test_acknowledged_points_survive_sigkill(sextant_process):
    sextant = sextant_process.info
    ledger = Ledger()
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        for start in range(0, 600, 100):
            service.try_ingest_flows(*[flow(NAMES[i % 5], i, ledger=ledger) for i in range(start, start + 100)])
        # Killed as soon as the last stream is acknowledged.
        service.try_ingest_flows(flow("readings", 600, ledger=ledger), flow("diagnostics", 601, ledger=ledger))
        sextant_process.kill()

    sextant = sextant_process.start()
    assert_stored(sextant, ledger)

    # Again, with data written after the first recovery.
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, nostromo_config())
        with service.buffered_ingestion(250) as buffered:
            buffered.try_ingest_flows(*[flow(NAMES[i % 5], i, ledger=ledger) for i in range(700, 1_700)])
        sextant_process.kill()
    sextant = sextant_process.start()
    assert_stored(sextant, ledger)
