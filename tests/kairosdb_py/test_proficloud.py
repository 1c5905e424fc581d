"""Proficloud's KairosDB connector (`proficloud.timeseries`), replayed against Sextant.

The connector is not on PyPI, so these tests send its exact requests (as read from its
source; `../shared/specs/kairosdb-api.md` §8) with `requests` and read the answers the way it
does: its base path `/ds/v1/kairos/`, HTTP Basic authentication, `addMetrics` (one object per
point, timestamps as pandas writes them: floats holding whole milliseconds, no tags),
`addMetricsBatch` (a `datapoints` list per DataFrame column), and `queryMetrics` (one metric
per request, the trailing slash, `time_zone: UTC`, reading only `queries[0].results[0]`'s
`name` and `values`, which must be there even when there is no data).
"""

from __future__ import annotations

import requests

# 2024-07-04T18:00:00Z in milliseconds.
T0 = 1_720_116_000_000


class Connector:
    """The connector's calls, as it makes them."""

    def __init__(self, address: str, token: str):
        self.base = f"http://{address}/ds/v1/kairos/"
        self.auth = ("proficloud", token)

    def add_metrics(self, points):
        """`addMetrics`: `{name, timestamp, value}` objects, no tags."""
        return requests.post(self.base + "api/v1/datapoints/write", json=points, auth=self.auth, timeout=10)

    def add_metrics_batch(self, columns):
        """`addMetricsBatch`: `{name, datapoints}` per DataFrame column."""
        body = [{"name": name, "datapoints": points} for name, points in columns.items()]
        return requests.post(self.base + "api/v1/datapoints/write", json=body, auth=self.auth, timeout=10)

    def query_metrics(self, name, start, end, aggregators=None, limit=None):
        """`queryMetrics` for one metric: `(name, values)` as the connector reads them."""
        metric = {"name": name}
        if limit is not None:
            metric["limit"] = limit
        if aggregators:
            metric["aggregators"] = aggregators
        body = {"start_absolute": start, "end_absolute": end, "time_zone": "UTC", "metrics": [metric]}
        reply = requests.post(self.base + "api/v1/datapoints/query/", json=body, auth=self.auth, timeout=10)
        assert reply.status_code == 200, reply.text
        result = reply.json()["queries"][0]["results"][0]
        return result["name"], result["values"]


def test_points_sent_as_the_connector_sends_them_are_read_back(sextant):
    connector = Connector(*sextant)
    # pandas' timestamps arrive as floats holding whole milliseconds.
    points = [{"name": "pc.temperature", "timestamp": float(T0 + i * 1000), "value": 20.0 + i} for i in range(5)]
    assert connector.add_metrics(points).status_code == 204
    batch = {"pc.pressure": [[float(T0 + i * 1000), 1000 + i] for i in range(5)],
             "pc.flow": [[T0 + i * 1000, 0.5 * i] for i in range(5)]}
    assert connector.add_metrics_batch(batch).status_code == 204

    assert connector.query_metrics("pc.temperature", T0, T0 + 10_000) == (
        "pc.temperature", [[T0 + i * 1000, 20.0 + i] for i in range(5)])
    assert connector.query_metrics("pc.pressure", T0, T0 + 10_000, limit=2) == (
        "pc.pressure", [[T0, 1000], [T0 + 1000, 1001]])
    name, values = connector.query_metrics(
        "pc.flow", T0, T0 + 10_000,
        aggregators=[{"name": "avg", "sampling": {"value": 5, "unit": "seconds"}, "align_sampling": True}])
    assert (name, values) == ("pc.flow", [[T0, 1.0]])


def test_a_metric_without_data_still_has_a_result(sextant):
    connector = Connector(*sextant)
    assert connector.query_metrics("pc.never", T0, T0 + 10_000) == ("pc.never", [])


def test_a_fractional_timestamp_is_refused_naming_it(sextant):
    connector = Connector(*sextant)
    reply = connector.add_metrics([{"name": "pc.bad", "timestamp": T0 + 0.5, "value": 1}])
    assert reply.status_code == 400
    assert reply.json() == {"errors": [
        f"metric[0](name=pc.bad).timestamp must be a whole number of milliseconds, not {T0 + 0.5}; "
        "Sextant does not round timestamps."]}


def test_a_wrong_password_is_refused_in_kairosdb_shape(sextant):
    address, _ = sextant
    connector = Connector(address, "sxt_not_a_key")
    reply = connector.add_metrics([{"name": "pc.x", "timestamp": T0, "value": 1}])
    assert reply.status_code == 401
    assert reply.json() == {"errors": ["invalid or revoked API key"]}
