"""The published `signalfx` 1.1.16 REST client, unchanged, against Sextant's metadata API:
metrics, dimensions, metric time series and tags (search with the Lucene-like language and
pagination, get, update, delete), property inheritance from dimensions to MTS, 404s, the
organization, keys, and the client's quirks (raw queries, `//v2/` paths).
"""

from __future__ import annotations

import pytest
import requests
import signalfx

T0 = 1_700_000_000_000


def rest(server, token: str | None = None, trailing_slash: bool = False):
    endpoint = server.url + ("/" if trailing_slash else "")
    return signalfx.SignalFx(api_endpoint=endpoint).rest(token or server.ingest)


@pytest.fixture(scope="module")
def fleet(sextant):
    """Ten hosts in two regions reporting cpu (gauge), requests (counter) and bytes
    (cumulative counter): 30 MTS."""
    ingest = signalfx.SignalFx(ingest_endpoint=sextant.url).ingest(sextant.ingest)
    for i in range(10):
        dims = {"host": f"rest-{i}", "region": "eu" if i < 4 else "us"}
        ingest.send(
            gauges=[{"metric": "rest.cpu", "value": 0.5, "timestamp": T0, "dimensions": dims}],
            counters=[{"metric": "rest.requests", "value": i, "timestamp": T0, "dimensions": dims}],
            cumulative_counters=[{"metric": "rest.bytes", "value": i * 10, "timestamp": T0,
                                  "dimensions": dims}],
        )
    ingest.stop()
    return sextant


def test_metrics_search_get_update_and_404(fleet):
    with rest(fleet) as api:
        found = api.search_metrics("name:rest.*")
        assert found["count"] == 3
        assert {m["name"]: m["type"] for m in found["results"]} == {
            "rest.cpu": "GAUGE", "rest.requests": "COUNTER", "rest.bytes": "CUMULATIVE_COUNTER"}
        metric = api.get_metric_by_name("rest.cpu")
        assert metric["type"] == "GAUGE"
        assert {"created", "creator", "lastUpdated", "lastUpdatedBy"} <= set(metric)
        updated = api.update_metric_by_name("rest.cpu", "gauge", description="CPU busy share",
                                            custom_properties={"unit": "ratio"}, tags=["infra"])
        assert updated["description"] == "CPU busy share"
        assert updated["customProperties"] == {"unit": "ratio"}
        assert updated["tags"] == ["infra"]
        assert updated["lastUpdated"] >= metric["lastUpdated"]
        assert api.get_metric_by_name("rest.cpu")["customProperties"] == {"unit": "ratio"}
        # PUT replaces: what is not sent is cleared.
        cleared = api.update_metric_by_name("rest.cpu", "gauge", description="CPU busy share")
        assert cleared["customProperties"] == {} and cleared["tags"] == []
        assert api.search_metrics("name:rest.* AND NOT type:GAUGE")["count"] == 2
        with pytest.raises(requests.HTTPError) as error:
            api.get_metric_by_name("rest.nothing")
        assert error.value.response.status_code == 404
        with pytest.raises(requests.HTTPError) as error:
            api.update_metric_by_name("rest.nothing", "gauge")
        assert error.value.response.status_code == 404
        # A metric keeps its type for life.
        with pytest.raises(requests.HTTPError) as error:
            api.update_metric_by_name("rest.cpu", "counter")
        assert error.value.response.status_code == 400


def test_mts_search_pages_through_every_match(fleet):
    with rest(fleet) as api:
        first = api.search_metric_time_series("sf_metric:rest.*", order_by="host", limit=7)
        assert first["count"] == 30
        assert len(first["results"]) == 7
        seen = []
        offset = 0
        while offset < first["count"]:
            page = api.search_metric_time_series("sf_metric:rest.*", order_by="host", offset=offset, limit=7)
            assert page["count"] == 30
            seen.extend(page["results"])
            offset += 7
        assert len(seen) == 30
        assert len({m["id"] for m in seen}) == 30
        hosts = [m["dimensions"]["host"] for m in seen]
        assert hosts == sorted(hosts)
        # Ids are stable and each MTS can be fetched by its id.
        mts = seen[0]
        again = api.get_metric_time_series(mts["id"])
        assert again["id"] == mts["id"] and again["metric"] == mts["metric"]
        assert again["dimensions"] == mts["dimensions"]
        assert again["type"] in ("GAUGE", "COUNTER", "CUMULATIVE_COUNTER")
        with pytest.raises(requests.HTTPError) as error:
            api.get_metric_time_series("AAAAAAAAAAA")
        assert error.value.response.status_code == 404
        # Boolean queries, wildcards and parentheses.
        assert api.search_metric_time_series("sf_metric:rest.cpu AND region:eu")["count"] == 4
        assert api.search_metric_time_series(
            "sf_metric:rest.cpu AND (host:rest-1 OR host:rest-2)")["count"] == 2
        assert api.search_metric_time_series("sf_metric:rest.cpu AND NOT region:eu")["count"] == 6
        assert api.search_metric_time_series("host:rest-? AND sf_metric:*bytes")["count"] == 10


def test_dimensions_and_inheritance_into_mts(fleet):
    with rest(fleet) as api:
        found = api.search_dimensions("key:host AND value:rest-*")
        assert found["count"] == 10
        assert api.search_dimensions("region:eu")["count"] == 1
        dimension = api.get_dimension("host", "rest-3")
        assert dimension["key"] == "host" and dimension["value"] == "rest-3"
        updated = api.update_dimension("host", "rest-3", description="the third",
                                       custom_properties={"team": "infra+ops"}, tags=["critical"])
        assert updated["customProperties"] == {"team": "infra+ops"}
        assert updated["tags"] == ["critical"]
        assert api.get_dimension("host", "rest-3")["description"] == "the third"
        # The MTS carrying host:rest-3 inherit its property and tag. The `+` is sent raw.
        inherited = api.search_metric_time_series("team:infra+ops")
        assert inherited["count"] == 3
        assert {m["dimensions"]["host"] for m in inherited["results"]} == {"rest-3"}
        assert api.search_metric_time_series("tags:critical AND sf_metric:rest.cpu")["count"] == 1
        assert api.search_dimensions("team:infra*")["count"] == 1
        with pytest.raises(requests.HTTPError) as error:
            api.get_dimension("host", "nowhere")
        assert error.value.response.status_code == 404


def test_tags_update_get_search_delete(fleet):
    with rest(fleet) as api:
        created = api.update_tag("critical", description="pages someone",
                                 custom_properties={"severity": "1"})
        assert created["name"] == "critical" and created["customProperties"] == {"severity": "1"}
        api.update_tag("minor", description="waits")
        assert api.get_tag("critical")["description"] == "pages someone"
        found = api.search_tags("name:*i*")
        assert found["count"] == 2
        assert [t["name"] for t in api.search_tags("name:*", limit=1, offset=1)["results"]] == ["minor"]
        assert api.search_tags("severity:1")["count"] == 1
        reply = api.delete_tag("minor")
        assert reply.status_code == 204 and reply.content == b""
        with pytest.raises(requests.HTTPError) as error:
            api.get_tag("minor")
        assert error.value.response.status_code == 404
        with pytest.raises(requests.HTTPError) as error:
            api.delete_tag("minor")
        assert error.value.response.status_code == 404


def test_organization_and_double_slash_paths(fleet):
    with rest(fleet, trailing_slash=True) as api:
        org = api.get_organization()
        assert org["organizationName"] == "default"
        assert api.search_metrics("name:rest.cpu")["count"] == 1
        assert api.get_metric_by_name("rest.cpu")["name"] == "rest.cpu"


def test_keys_decide_what_rest_may_do(fleet):
    with rest(fleet, token="not-a-key") as api:
        for call in (lambda: api.search_metrics("name:*"), api.get_organization,
                     lambda: api.update_tag("x")):
            with pytest.raises(requests.HTTPError) as error:
                call()
            assert error.value.response.status_code == 401
    with rest(fleet, token=fleet.read) as api:
        assert api.search_metrics("name:rest.*")["count"] == 3
        with pytest.raises(requests.HTTPError) as error:
            api.update_tag("by-reader")
        assert error.value.response.status_code == 403


def test_a_bad_query_is_a_400_naming_the_problem(fleet):
    with rest(fleet) as api:
        with pytest.raises(requests.HTTPError) as error:
            api.search_metrics("name:(rest")
        assert error.value.response.status_code == 400
        assert "cannot parse query" in error.value.response.json()["message"]


def test_login_gives_a_session_key_with_the_scope_of_the_login(fleet):
    reply = requests.post(
        fleet.url + "/api/native/v1/users",
        headers={"Authorization": f"Bearer {fleet.admin}"},
        json={"name": "ripley", "email": "ripley@example.com", "password": "nostromo-180924",
              "session_scope": "read"},
        timeout=10,
    )
    assert reply.status_code == 201, reply.text
    # A trailing slash on the endpoint makes the client post to //v2/session.
    sfx = signalfx.SignalFx(api_endpoint=fleet.url + "/")
    token = sfx.login("Ripley@Example.com", "nostromo-180924")
    assert token not in (fleet.admin, fleet.ingest, fleet.read)
    with sfx.rest(token) as api:
        assert api.get_organization()["organizationName"] == "default"
        assert api.search_metrics("name:rest.*")["count"] == 3
        with pytest.raises(requests.HTTPError) as error:
            api.update_tag("by-session")
        assert error.value.response.status_code == 403
    for email, password in [("ripley@example.com", "wrong-password"),
                            ("nobody@example.com", "nostromo-180924")]:
        with pytest.raises(requests.HTTPError) as error:
            sfx.login(email, password)
        assert error.value.response.status_code == 401
        assert error.value.response.json()["message"] == "wrong e-mail address or password"


def test_a_query_nested_thousands_deep_is_refused_not_fatal(fleet):
    with rest(fleet) as api:
        with pytest.raises(requests.HTTPError) as error:
            api.search_metrics("(" * 5000 + "sf_metric:rest.cpu" + ")" * 5000)
        assert error.value.response.status_code == 400
        assert "more than 32 deep" in error.value.response.json()["message"]
        with pytest.raises(requests.HTTPError) as error:
            api.search_metrics(" OR ".join(["sf_metric:rest.cpu"] * 600))
        assert error.value.response.status_code == 400
        assert "more than 256 terms" in error.value.response.json()["message"]
        # The server is still there.
        assert api.search_metrics("sf_metric:rest.cpu")["count"] == 1
