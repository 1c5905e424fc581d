"""Registering telemetry configs with IngestionService: created once, then re-used."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from sift.ingestion_configs.v2.ingestion_configs_pb2 import (
    CreateIngestionConfigFlowsRequest,
    ListIngestionConfigFlowsRequest,
    ListIngestionConfigsRequest,
)
from sift.ingestion_configs.v2.ingestion_configs_pb2 import FlowConfig as FlowConfigPb
from sift.ingestion_configs.v2.ingestion_configs_pb2_grpc import IngestionConfigServiceStub
from sift_py.data.error import DataError
from sift_py.grpc.transport import use_sift_channel
from sift_py.ingestion._internal.error import IngestionValidationError
from sift_py.ingestion.channel import ChannelConfig, ChannelDataType
from sift_py.ingestion.config.telemetry import FlowConfig, TelemetryConfig
from sift_py.ingestion.service import IngestionService

from support import (
    ASSET,
    CLIENT_KEY,
    FLOWS,
    Ledger,
    assert_stored,
    channel_config,
    download,
    flow,
    flow_channels,
    nostromo_config,
    ordered_flow,
    ts,
)

YAML_CONFIG = Path(__file__).parent / "fixtures" / "nostromo_lv_426.yml"
YAML_FLOWS = {name: [c for c in chans if c != "payload"] for name, chans in FLOWS.items()}
YAML_CHANNELS = list(dict.fromkeys(c for cs in YAML_FLOWS.values() for c in cs))


def registered_flows(channel, config_id: str):
    stub = IngestionConfigServiceStub(channel)
    res = stub.ListIngestionConfigFlows(
        ListIngestionConfigFlowsRequest(ingestion_config_id=config_id, page_size=1000)
    )
    assert res.next_page_token == ""
    return list(res.flows)


def registered_configs(channel, client_key: str | None = None):
    stub = IngestionConfigServiceStub(channel)
    flt = f'client_key=="{client_key}"' if client_key else ""
    res = stub.ListIngestionConfigs(ListIngestionConfigsRequest(page_size=1000, filter=flt))
    return list(res.ingestion_configs)


def describe_pb_channel(c):
    return (
        c.name,
        c.data_type,
        c.unit,
        c.description,
        [(e.name, e.key) for e in c.enum_types],
        [(b.name, b.index, b.bit_count) for b in c.bit_field_elements],
    )


def describe_channel(c: ChannelConfig):
    return (
        c.fqn(),
        c.data_type.value,
        c.unit or "",
        c.description or "",
        [(e.name, e.key) for e in c.enum_types],
        [(b.name, b.index, b.bit_count) for b in c.bit_field_elements],
    )


def assert_registered_as(server_flows, config: TelemetryConfig):
    names = [f.name for f in server_flows]
    assert len(names) == len(set(names)), f"duplicate flows registered: {names}"
    got = {f.name: [describe_pb_channel(c) for c in f.channels] for f in server_flows}
    want = {f.name: [describe_channel(c) for c in f.channels] for f in config.flows}
    assert got == want


def assert_client_flow_table(service: IngestionService, config: TelemetryConfig):
    """The flow table the client built from the server's answer is the local config."""
    got = {
        name: [describe_channel(c) for c in f.channels]
        for name, f in service.flow_configs_by_name.items()
    }
    want = {f.name: [describe_channel(c) for c in f.channels] for f in config.flows}
    assert got == want


def test_registering_the_same_config_twice_reuses_it(sextant):
    ledger = Ledger()
    with use_sift_channel(channel_config(sextant)) as channel:
        config = nostromo_config()
        first = IngestionService(channel, config)
        config_id = first.ingestion_config.ingestion_config_id
        assert config_id
        assert_registered_as(registered_flows(channel, config_id), config)
        assert_client_flow_table(first, config)

        again = nostromo_config()
        second = IngestionService(channel, again)
        assert second.ingestion_config.ingestion_config_id == config_id
        assert_registered_as(registered_flows(channel, config_id), again)
        assert_client_flow_table(second, again)
        assert [c.ingestion_config_id for c in registered_configs(channel, CLIENT_KEY)] == [config_id]
        assert len(registered_configs(channel)) == 1

        # Both services ingest into the same channels.
        first.try_ingest_flows(flow("readings", 0, ledger=ledger), flow("diagnostics", 1, ledger=ledger))
        second.try_ingest_flows(flow("readings", 2, ledger=ledger), flow("logs", 3, ledger=ledger))
    assert_stored(sextant, ledger)


def test_a_config_with_a_generated_key_is_reused(sextant):
    with use_sift_channel(channel_config(sextant)) as channel:
        config = nostromo_config(asset="GeneratedKey", client_key=None)
        assert config._ingestion_client_key_is_generated
        first = IngestionService(channel, config)
        second = IngestionService(channel, nostromo_config(asset="GeneratedKey", client_key=None))
        config_id = first.ingestion_config.ingestion_config_id
        assert config_id and second.ingestion_config.ingestion_config_id == config_id
        assert len(registered_configs(channel)) == 1
        assert_registered_as(registered_flows(channel, config_id), config)


def test_a_flow_added_to_a_registered_config_is_created(sextant):
    ledger = Ledger()
    with use_sift_channel(channel_config(sextant)) as channel:
        first = IngestionService(channel, nostromo_config())
        config_id = first.ingestion_config.ingestion_config_id

        grown = nostromo_config()
        aux = ChannelConfig(name="aux_temp", data_type=ChannelDataType.DOUBLE, unit="K")
        grown.flows.append(FlowConfig(name="aux", channels=[aux]))
        second = IngestionService(channel, grown)
        assert second.ingestion_config.ingestion_config_id == config_id
        assert_registered_as(registered_flows(channel, config_id), grown)
        assert_client_flow_table(second, grown)

        second.try_ingest_flows(
            {
                "flow_name": "aux",
                "timestamp": ts(5),
                "channel_values": [{"channel_name": "aux_temp", "value": aux.try_value_from(4.5)}],
            },
            flow("readings", 6, ledger=ledger),
        )
        ledger.record("aux_temp", ts(5), 4.5)
    assert_stored(sextant, ledger, ["aux_temp", "mainmotor.velocity", "voltage", "vehicle_state", "gpio"])


def test_a_config_loaded_from_yaml_registers_and_ingests(sextant):
    config = TelemetryConfig.try_from_yaml(YAML_CONFIG)
    assert config.asset_name == "NostromoYaml"
    assert flow_channels(config) == YAML_FLOWS
    expected = nostromo_config(asset="NostromoYaml", client_key="nostromo_yaml_e2e", flows=YAML_FLOWS)
    assert [[describe_channel(c) for c in f.channels] for f in config.flows] == [
        [describe_channel(c) for c in f.channels] for f in expected.flows
    ]

    ledger = Ledger()
    with use_sift_channel(channel_config(sextant)) as channel:
        service = IngestionService(channel, config)
        config_id = service.ingestion_config.ingestion_config_id
        assert_registered_as(registered_flows(channel, config_id), config)
        again = IngestionService(channel, TelemetryConfig.try_from_yaml(YAML_CONFIG))
        assert again.ingestion_config.ingestion_config_id == config_id
        assert_client_flow_table(again, config)

        flows = [flow(name, i, ledger=ledger, config=YAML_FLOWS) for i, name in enumerate(list(YAML_FLOWS) * 4)]
        again.try_ingest_flows(*flows)
    assert_stored(sextant, ledger, YAML_CHANNELS, asset="NostromoYaml")
    # Only the YAML's asset was created.
    with pytest.raises(DataError, match=ASSET):
        download(sextant, YAML_CHANNELS, asset=ASSET)


def test_lazy_flow_creation_and_flows_created_at_runtime(sextant):
    ledger = Ledger()
    with use_sift_channel(channel_config(sextant)) as channel:
        config = nostromo_config()
        lazy = IngestionService(channel, config, force_lazy_flow_creation=True)
        config_id = lazy.ingestion_config.ingestion_config_id
        assert registered_flows(channel, config_id) == []
        # Each flow is registered with CreateIngestionConfigFlows before its first stream.
        lazy.try_ingest_flows(flow("readings", 0, ledger=ledger), flow("logs", 1, ledger=ledger))
        assert sorted(f.name for f in registered_flows(channel, config_id)) == ["logs", "readings"]
        lazy.ingest_flows(ordered_flow("diagnostics", 2, ledger=ledger))
        assert sorted(f.name for f in registered_flows(channel, config_id)) == ["diagnostics", "logs", "readings"]

        extra = ChannelConfig(name="hull_temp", data_type=ChannelDataType.FLOAT, unit="K")
        lazy.try_create_flow(FlowConfig(name="hull", channels=[extra]))
        names = [f.name for f in registered_flows(channel, config_id)]
        assert sorted(names) == ["diagnostics", "hull", "logs", "readings"]
        lazy.try_ingest_flows(
            {
                "flow_name": "hull",
                "timestamp": ts(3),
                "channel_values": [{"channel_name": "hull_temp", "value": extra.try_value_from(-0.5)}],
            }
        )
        ledger.record("hull_temp", ts(3), -0.5)

        # A later non-lazy service registers the remaining flows and sees all of them.
        full = IngestionService(channel, nostromo_config())
        assert full.ingestion_config.ingestion_config_id == config_id
        assert set(full.flow_configs_by_name) == set(FLOWS) | {"hull"}
        full.try_ingest_flows(flow("voltage", 4, ledger=ledger), flow("gpio_channel", 5, ledger=ledger))
    assert_stored(sextant, ledger, list(dict.fromkeys(c for cs in FLOWS.values() for c in cs)) + ["hull_temp"])


def test_a_flow_redefined_with_other_channels_is_refused(sextant):
    with use_sift_channel(channel_config(sextant)) as channel:
        first = IngestionService(channel, nostromo_config())
        config_id = first.ingestion_config.ingestion_config_id
        changed = nostromo_config(flows={**FLOWS, "voltage": ["uptime"]})
        with pytest.raises(IngestionValidationError, match="mismatched channels"):
            IngestionService(channel, changed)
        # Sent anyway, the server refuses to change the registered flow.
        stub = IngestionConfigServiceStub(channel)
        voltage = [f for f in changed.flows if f.name == "voltage"][0]
        with pytest.raises(grpc.RpcError) as info:
            stub.CreateIngestionConfigFlows(
                CreateIngestionConfigFlowsRequest(
                    ingestion_config_id=config_id, flows=[voltage.as_pb(FlowConfigPb)]
                )
            )
        assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION, info.value.details()
        assert "voltage" in info.value.details()
        assert_registered_as(registered_flows(channel, config_id), nostromo_config())
