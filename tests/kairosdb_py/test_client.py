"""python-kairosdb 0.2.1, unchanged, against Sextant: version, health, metric names, tag
names and values, queries with aggregators, and deletes. The client has no ingest call, so
points are written with `requests` to KairosDB's ingest endpoint."""

from __future__ import annotations

import requests
from kairosdb import KairosDBAPI
from kairosdb.client import KairosDBAPIClient

T = 1704067200000


def api(address: str, token: str) -> KairosDBAPI:
    client = KairosDBAPIClient(f"http://{address}/api/v1")
    # KairosDB clients often can only send HTTP Basic: the API key is the password.
    client.r_session.auth = ("kairos", token)
    return KairosDBAPI(client)


def ingest(address: str, token: str, body) -> None:
    reply = requests.post(f"http://{address}/api/v1/datapoints", json=body, auth=("kairos", token), timeout=30)
    assert reply.status_code == 204, reply.text


def test_version_and_health(sextant):
    kairos = api(*sextant)
    assert kairos.version.startswith("KairosDB 1.3.0")
    assert kairos.health_check == {"return_code": 204, "status": "success"}
    # The status body is a JSON list, which the client cannot merge into its dict: it hands
    # back the text instead.
    status = kairos.health_status
    assert status["return_code"] == 200
    assert "Datastore-Query: OK" in status["response"]


def test_metricnames_tagnames_and_tagvalues(sextant):
    address, token = sextant
    ingest(address, token, [
        {"name": "py.cpu", "tags": {"host": "h1"}, "datapoints": [[T, 1]]},
        {"name": "py.mem", "tags": {"host": "h2", "dc": "eu"}, "datapoints": [[T, 2]]},
    ])
    kairos = api(address, token)
    assert {"py.cpu", "py.mem"} <= set(kairos.metricnames)
    assert kairos.search_metrics(["py.c*"]) == ["py.cpu"]
    assert {"host", "dc"} <= set(kairos.tagnames)
    assert {"h1", "h2", "eu"} <= set(kairos.tagvalues)


def test_query_with_aggregators(sextant):
    address, token = sextant
    ingest(address, token, [
        {"name": "py.temp", "tags": {"room": "a"}, "datapoints": [[T + 1000 * k, k] for k in range(10)]},
        {"name": "py.temp", "tags": {"room": "b"}, "datapoints": [[T + 1000 * k, 10 * k] for k in range(10)]},
    ])
    kairos = api(address, token)
    reply = kairos.query_metrics({
        "start_absolute": T,
        "end_absolute": T + 60000,
        "metrics": [{
            "name": "py.temp",
            "group_by": [{"name": "tag", "tags": ["room"]}],
            "aggregators": [{"name": "avg", "sampling": {"value": 5, "unit": "seconds"}, "align_start_time": True}],
        }],
    })
    assert reply["return_code"] == 200
    query = reply["queries"][0]
    assert query["sample_size"] == 20
    by_room = {r["tags"]["room"][0]: r["values"] for r in query["results"]}
    assert by_room == {"a": [[T, 2], [T + 5000, 7]], "b": [[T, 20], [T + 5000, 70]]}

    bad = kairos.query_metrics({"start_absolute": T, "metrics": [{"name": "py.temp", "aggregators": [{"name": "bogus"}]}]})
    assert bad == {"return_code": 400, "errors": ["query.metric[0].aggregators[0].bogus invalid aggregators name"]}


def test_delete_datapoints_and_metric(sextant):
    address, token = sextant
    ingest(address, token, [{"name": "py.del", "tags": {"h": "1"}, "datapoints": [[T, 1], [T + 1, 2], [T + 2, 3]]}])
    kairos = api(address, token)
    deleted = kairos.delete_datapoints({"start_absolute": T + 1, "end_absolute": T + 1, "metrics": [{"name": "py.del"}]})
    assert deleted == {"return_code": 204, "status": "success"}
    left = kairos.query_metrics({"start_absolute": T, "metrics": [{"name": "py.del"}]})
    assert left["queries"][0]["results"][0]["values"] == [[T, 1], [T + 2, 3]]

    assert kairos.delete_metric("py.del") == {"return_code": 204, "status": "success"}
    fresh = api(address, token)
    assert "py.del" not in fresh.metricnames
    gone = fresh.query_metrics({"start_absolute": T, "metrics": [{"name": "py.del"}]})
    assert gone["queries"][0] == {"sample_size": 0, "results": [{"name": "py.del", "tags": {}, "values": []}]}
