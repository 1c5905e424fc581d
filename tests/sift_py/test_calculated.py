"""Calculated channels: sift_py's CalculatedChannelQuery downloads values computed by the server
from channels that arrive at different times (each input's latest value holds until its next
point), checked point by point; pages of a calculated channel join up; ValidateExpression names
what is wrong."""

from __future__ import annotations

import asyncio

from sift.calculated_channels.v1.calculated_channels_pb2 import (
    EXPRESSION_MODE_CALCULATED_CHANNELS,
    EXPRESSION_MODE_RULES,
    ExpressionChannelReference,
    ExpressionRequest,
    ListExpressionIdentifiersRequest,
    ValidateExpressionRequest,
)
from sift.calculated_channels.v1.calculated_channels_pb2_grpc import CalculatedChannelsServiceStub
from sift.channels.v3.channels_pb2 import ListChannelsRequest
from sift.channels.v3.channels_pb2_grpc import ChannelServiceStub
from sift.common.type.v1.channel_data_type_pb2 import (
    CHANNEL_DATA_TYPE_BOOL,
    CHANNEL_DATA_TYPE_DOUBLE,
)
from sift.data.v2.data_pb2 import CalculatedChannelQuery as CalculatedChannelQueryPb
from sift.data.v2.data_pb2 import DoubleValues, GetDataRequest, Query
from sift.data.v2.data_pb2_grpc import DataServiceStub
from sift_py.data.query import CalculatedChannelQuery, ChannelQuery, DataQuery
from sift_py.data.service import DataService
from sift_py.grpc.transport import use_sift_async_channel, use_sift_channel
from sift_py.ingestion.service import IngestionService

from support import (
    ASSET,
    END,
    START,
    Ledger,
    channel_config,
    flow,
    nostromo_config,
    ns,
    raw_value,
)

EXPRESSION = "$1 * 2 + $2"
REFERENCES = [
    {"reference": "$1", "channel_name": "mainmotor.velocity"},
    {"reference": "$2", "channel_name": "voltage"},
]


def held(ledger: Ledger, a: str, b: str):
    """The expected values of `$1 * 2 + $2`: at every timestamp of either input, with the
    latest value of each."""
    events = sorted(
        [(t, 0, v) for t, v in ledger.points[a]] + [(t, 1, v) for t, v in ledger.points[b]]
    )
    latest = [None, None]
    out = {}
    for t, which, v in events:
        latest[which] = v
        if None not in latest:
            out[t] = latest[0] * 2 + latest[1]
    return sorted(out.items())


def ingest(channel) -> Ledger:
    ledger = Ledger()
    service = IngestionService(channel, nostromo_config())
    # Velocity alone first (no value of the result yet), then both, then voltage alone while
    # velocity's last value holds.
    service.try_ingest_flows(
        *[flow("readings", i, only=["mainmotor.velocity"], ledger=ledger) for i in range(10, 20)]
    )
    service.try_ingest_flows(
        *[flow("readings", i, only=["mainmotor.velocity", "voltage"], ledger=ledger) for i in range(20, 40)]
    )
    service.try_ingest_flows(*[flow("voltage", i, ledger=ledger) for i in range(40, 70)])
    return ledger


def test_a_calculated_channel_downloads_computed_values(sextant):
    with use_sift_channel(channel_config(sextant)) as channel:
        ledger = ingest(channel)
    expected = held(ledger, "mainmotor.velocity", "voltage")
    assert len(expected) == 50  # 20..69: from the first voltage on

    async def go():
        async with use_sift_async_channel(channel_config(sextant)) as channel:
            query = DataQuery(
                asset_name=ASSET,
                start_time=START,
                end_time=END,
                channels=[
                    CalculatedChannelQuery(
                        channel_key="power", expression=EXPRESSION, expression_channel_references=REFERENCES
                    ),
                    ChannelQuery(channel_name="voltage"),
                ],
            )
            return await DataService(channel).execute(query)

    result = asyncio.run(go())
    power = result.channel("power")
    got = list(zip([ns(t) for t in power.timestamps], power.values))
    assert got == expected
    # The raw channel beside it is whole.
    assert len(result.channel("voltage").values) == 50


def test_pages_of_a_calculated_channel_join_up(sextant):
    with use_sift_channel(channel_config(sextant)) as channel:
        ledger = ingest(channel)
        ids = {
            c.name: c.channel_id
            for c in ChannelServiceStub(channel)
            .ListChannels(ListChannelsRequest(page_size=100))
            .channels
        }
        query = Query(
            calculated_channel=CalculatedChannelQueryPb(
                channel_key="power",
                expression=ExpressionRequest(
                    expression=EXPRESSION,
                    expression_channel_references=[
                        ExpressionChannelReference(channel_reference="$1", channel_id=ids["mainmotor.velocity"]),
                        ExpressionChannelReference(channel_reference="$2", channel_id=ids["voltage"]),
                    ],
                ),
            )
        )
        stub = DataServiceStub(channel)
        token, got, pages = "", [], 0
        while True:
            response = stub.GetData(GetDataRequest(queries=[query], page_size=7, page_token=token))
            pages += 1
            for any_message in response.data:
                values = DoubleValues()
                assert any_message.Unpack(values)
                assert values.metadata.channel.name == "power"
                assert values.metadata.data_type == CHANNEL_DATA_TYPE_DOUBLE
                got += [(v.timestamp.ToNanoseconds(), v.value) for v in values.values]
            token = response.next_page_token
            if not token:
                break
        assert pages == 8  # 50 values, 7 a page
        assert got == held(ledger, "mainmotor.velocity", "voltage")

        # Checking expressions: the result's type, or what is wrong.
        calc = CalculatedChannelsServiceStub(channel)

        def validate(expression, mode=EXPRESSION_MODE_CALCULATED_CHANNELS):
            return calc.ValidateExpression(
                ValidateExpressionRequest(
                    mode=mode,
                    expression=ExpressionRequest(
                        expression=expression,
                        expression_channel_references=[
                            ExpressionChannelReference(channel_reference="$1", channel_id=ids["mainmotor.velocity"]),
                            ExpressionChannelReference(channel_reference="$2", channel_id=ids["vehicle_state"]),
                        ],
                    ),
                )
            )

        assert validate("$1 * 2").success.data_type == CHANNEL_DATA_TYPE_DOUBLE
        assert validate("$1 > 2", EXPRESSION_MODE_RULES).success.data_type == CHANNEL_DATA_TYPE_BOOL
        assert "must be true or false" in validate("$1 * 2", EXPRESSION_MODE_RULES).error.error_message
        assert "$3 is not bound" in validate("$1 + $3").error.error_message
        assert "Stoped" in validate('$2 == "Stoped"').error.error_message
        names = [i.name for i in calc.ListExpressionIdentifiers(ListExpressionIdentifiersRequest()).identifiers]
        assert "abs" in names and "held_for" in names
    assert raw_value("voltage", 40) == ledger.points["voltage"][20][1]


def test_stored_calculated_channels_through_sift_py_s_service(sextant, tmp_path):
    from sift_py.calculated_channels.config import CalculatedChannelConfig
    from sift_py.calculated_channels.service import CalculatedChannelService

    with use_sift_channel(channel_config(sextant)) as channel:
        ingest(channel)
        # A second asset without `voltage`.
        IngestionService(
            channel, nostromo_config(asset="Sulaco", client_key="sulaco", flows={"logs": ["log"]})
        )
        service = CalculatedChannelService(channel)
        config = CalculatedChannelConfig(
            name="power",
            description="twice the speed plus the voltage",
            expression=EXPRESSION,
            channel_references=[
                {"channel_reference": "$1", "channel_identifier": "mainmotor.velocity"},
                {"channel_reference": "$2", "channel_identifier": "voltage"},
            ],
            units="W",
            client_key="power-key",
            all_assets=True,
        )
        created, inapplicable = service.create_calculated_channel(config)
        assert created.calculated_channel_id and created.units == "W"
        assert created.expression == EXPRESSION
        assert [(r.asset_name, list(r.missing_channels)) for r in inapplicable] == [
            ("Sulaco", ["mainmotor.velocity", "voltage"])
        ]
        by_key = service.get_calculated_channel(client_key="power-key")
        assert by_key.calculated_channel_id == created.calculated_channel_id
        assert by_key.channel_references == config.channel_references

        updated, _ = service.update_calculated_channel(
            by_key, {"expression": "$1 * 3 + $2", "units": "kW"}, update_notes="faster"
        )
        assert (updated.expression, updated.units) == ("$1 * 3 + $2", "kW")
        versions, _ = service.list_calculated_channel_versions(client_key="power-key")
        assert [v.expression for v in versions] == ["$1 * 3 + $2", EXPRESSION]

        listed, _ = service.list_calculated_channels(filter='name == "power"')
        assert [c.calculated_channel_id for c in listed] == [created.calculated_channel_id]

        # A type error is refused, naming it.
        bad = config.model_copy(update={"name": "bad", "client_key": None, "expression": '$2 == "x"'})
        try:
            service.create_calculated_channel(bad)
            raise AssertionError("a string compared with a number was accepted")
        except Exception as err:  # grpc.RpcError
            assert "cannot compare" in str(err) or "compare" in str(err), err

        # From YAML: the client key finds the stored one and revises it. (sift_py 0.25 revises
        # with `units` or `asset_names` given as the types `str` and `List[str]` rather than
        # their values, and keeps only a list's last channel reference, so the revised entry
        # has one reference, no units and all assets.)
        path = tmp_path / "calc.yml"
        path.write_text(
            "calculated_channels:\n"
            "  - name: power\n"
            "    expression: $1 * 1000\n"
            "    channel_references:\n"
            "      - $1: mainmotor.velocity\n"
            "    client_key: power-key\n"
            "    all_assets: true\n"
            "  - name: speed_kmh\n"
            "    expression: $1 * 1.609344\n"
            "    channel_references:\n"
            "      - $1: mainmotor.velocity\n"
            "    asset_names: [NostromoLV426]\n"
        )
        results = service.create_or_update_calculated_channel_from_yaml(path)
        assert [(c.name, c.expression, [r.asset_name for r in i]) for c, i in results] == [
            ("power", "$1 * 1000", ["Sulaco"]),
            ("speed_kmh", "$1 * 1.609344", []),
        ]
        versions, _ = service.list_calculated_channel_versions(client_key="power-key")
        assert len(versions) == 3

        # Archived: out of the list.
        service.update_calculated_channel(service.get_calculated_channel(client_key="power-key"), {"archived": True})
        listed, _ = service.list_calculated_channels()
        assert [c.name for c in listed] == ["speed_kmh"]


def test_deleting_an_asset_archives_it(sextant):
    from sift.assets.v1.assets_pb2 import ListAssetsRequest
    from sift.assets.v1.assets_pb2_grpc import AssetServiceStub
    from sift_py.asset.service import AssetService

    with use_sift_channel(channel_config(sextant)) as channel:
        ingest(channel)
        assets = AssetService(channel)
        [asset] = assets.list_assets(names=[ASSET])
        assets.delete_asset(asset.asset_id)
        assert assets.list_assets(names=[ASSET]) == []
        archived = AssetServiceStub(channel).ListAssets(
            ListAssetsRequest(filter=f'name == "{ASSET}" && is_archived == true')
        ).assets
        assert [(a.asset_id, a.is_archived) for a in archived] == [(asset.asset_id, True)]
        assert assets.get_asset(asset.asset_id).asset_id == asset.asset_id
        # A new telemetry config naming it brings it back, with its channels and data.
        IngestionService(channel, nostromo_config(client_key="nostromo-again"))
        assert [a.asset_id for a in assets.list_assets(names=[ASSET])] == [asset.asset_id]
