#!/usr/bin/env python3
"""Writes the KairosDB conformance cases in cases/*.json.

The expected responses are worked out here from the KairosDB specification (bucket rules,
the sample deviation, the R6 percentile, rate units, group ordering), independently of
Sextant's code. Run it after changing a case and review the diff of cases/.
"""
import json, math, os
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'cases')
T = 1704067200000  # 2024-01-01T00:00:00Z, a Monday
H = 3600000; M = 60000; D = 86400000
TYPE_N = {"name": "type", "type": "number"}
TYPE_T = {"name": "type", "type": "text"}

def case(name, description, steps, datapoints=None):
    c = {"description": description}
    if datapoints is not None:
        c["datapoints"] = datapoints
    c["steps"] = steps
    with open(os.path.join(OUT, name + '.json'), 'w') as f:
        json.dump(c, f, indent=1)
        f.write('\n')

def q(metrics, start=T, end=None, **extra):
    body = {"start_absolute": start}
    if end is not None:
        body["end_absolute"] = end
    body.update(extra)
    body["metrics"] = metrics
    return body

def res(name, values, tags=None, group_by=None, sample_size=None):
    r = {"name": name, "group_by": group_by or [TYPE_N], "tags": tags or {}, "values": values}
    return r

def query_step(body, results_per_metric, sample_sizes, path="/api/v1/datapoints/query", **kw):
    st = {"method": "POST", "path": path, "body": body, "status": 200,
          "response": {"queries": [{"sample_size": s, "results": r} for s, r in zip(sample_sizes, results_per_metric)]}}
    st.update(kw)
    return st

def err(path, body, status, messages, method="POST", **kw):
    st = {"method": method, "path": path, "status": status, "response": {"errors": messages}}
    if body is not None:
        st["body"] = body
    st.update(kw)
    return st

# ---------------------------------------------------------------- ingest forms
case("ingest_forms", "Array and single forms, datapoints pairs and timestamp+value, long, double and string values, numeric strings, type, time alias, gzip, Proficloud's write path with a trailing slash and no tags.",
  [
    {"method": "POST", "path": "/api/v1/datapoints", "body": {"name": "ing.single", "tags": {"h": "1"}, "timestamp": T, "value": "42"}, "status": 204},
    {"method": "POST", "path": "/api/v1/datapoints", "gzip": True, "body": [{"name": "ing.text", "tags": {"h": "1"}, "datapoints": [[T, "on"], [T + 1, "off"]]}], "status": 204},
    {"method": "POST", "path": "/api/v1/datapoints", "gzip": "content-type", "body": {"name": "ing.gzt", "tags": {"h": "1"}, "datapoints": [[T, 1], [T + 1, 2]]}, "status": 204},
    query_step(q([{"name": "ing.gzt"}], end=T + 10), [[res("ing.gzt", [[T, 1], [T + 1, 2]], {"h": ["1"]})]], [2]),
    err("/api/v1/datapoints", None, 400, ["the gzip body cannot be decompressed: unexpected end of file"], raw_body="not gzip", headers={"Content-Encoding": "gzip"}),
    {"method": "POST", "path": "/api/v1/datapoints/write/", "body": [{"name": "ing.tagless", "timestamp": T, "value": 7}, {"name": "ing.tagless", "datapoints": [[T + 5, 8]]}], "status": 204},
    {"method": "POST", "path": "/api/v1/datapoints", "body": [{"name": "ing.typed", "tags": {"h": "1"}, "type": "double", "time": T + 3, "timestamp": T, "value": 4, "datapoints": [[T + 1, "5"]]}], "status": 204},
    query_step(q([{"name": "ing.mixed"}, {"name": "ing.single"}, {"name": "ing.text"}, {"name": "ing.tagless"}, {"name": "ing.typed"}], end=T + 10000),
      [[res("ing.mixed", [[T, 1], [T + 1000, 2.5], [T + 2000, -3]], {"h": ["1"]})],
       [res("ing.single", [[T, 42]], {"h": ["1"]})],
       [res("ing.text", [[T, "on"], [T + 1, "off"]], {"h": ["1"]}, [TYPE_T])],
       [res("ing.tagless", [[T, 7], [T + 5, 8]], {})],
       [res("ing.typed", [[T + 1, 5], [T + 3, 4]], {"h": ["1"]})]],
      [3, 1, 2, 2, 2]),
    query_step(q([{"name": "ing.exp"}], end=T + 10000),
      [[res("ing.exp", [[T, 1.2345678e7], [T + 1, 0.0001], [T + 2, 0.5]], {"h": ["1"]})]], [3]),
  ],
  datapoints=[{"name": "ing.mixed", "tags": {"h": "1"}, "datapoints": [[T, 1], [T + 1000, 2.5], [T + 2000, -3]]},
              {"name": "ing.exp", "tags": {"h": "1"}, "datapoints": [[T, 12345678.0], [T + 1, 0.0001], [T + 2, 0.5]]}])

# ---------------------------------------------------------------- ingest errors
case("ingest_errors", "Ingest validation messages, partial success, type conflicts named by metric and point.",
  [
    err("/api/v1/datapoints", [{"name": ""}], 400, ["metric[0].name may not be empty."]),
    err("/api/v1/datapoints", [{"tags": {"h": "1"}}], 400, ["metric[0].name may not be null."]),
    {"method": "POST", "path": "/api/v1/datapoints", "raw_body": "", "status": 400, "response": {"errors": ["Invalid json. No content due to end of input."]}},
    err("/api/v1/datapoints", [{"name": "ie.ok", "tags": {"h": "1"}, "datapoints": [[T, 1], [None, 2], [T + 1, {"x": 1}], [T + 2, None], [T + 3, 4]]}], 400,
        ["metric[0](name=ie.ok).datapoints[1].timestamp cannot be null or empty.",
         "metric[0](name=ie.ok).datapoints[2] value is an invalid type",
         "metric[0](name=ie.ok).datapoints[3].value may not be empty."]),
    err("/api/v1/datapoints", [{"name": "ie.v", "tags": {"h": "1"}, "timestamp": T}, {"name": "ie.v", "tags": {"h": "1"}, "value": 1}], 400,
        ["metric[0](name=ie.v).value may not be null.", "metric[1](name=ie.v).timestamp may not be null."]),
    err("/api/v1/datapoints", [{"name": "ie.tag", "tags": {"h": ""}, "timestamp": T, "value": 1}, {"name": "ie.tag", "tags": {"": "x"}, "timestamp": T, "value": 1}], 400,
        ["metric[0](name=ie.tag).tag[h].value may not be empty.", "metric[1](name=ie.tag).tag[0].name may not be empty."]),
    err("/api/v1/datapoints", [{"name": "ie.type", "tags": {"h": "1"}, "type": "complex-number", "timestamp": T, "value": 1}], 400,
        ["metric[0](name=ie.type) Unregistered data point type 'complex-number'"]),
    {"method": "POST", "path": "/api/v1/datapoints", "body": [{"name": "ie.long", "tags": {"h": "1"}, "datapoints": [[T, 1]]}], "status": 204},
    err("/api/v1/datapoints", [{"name": "ie.long", "tags": {"h": "1"}, "datapoints": [[T + 1, 3.0], [T + 2, 2.5], [T + 3, "x"]]}], 400,
        ["metric[0](name=ie.long).datapoints[1] value 2.5 (double) cannot be stored: series ie.long{h=\"1\"} holds int64 values (a series keeps the type of its first point)",
         "metric[0](name=ie.long).datapoints[2] value \"x\" (string) cannot be stored: series ie.long{h=\"1\"} holds int64 values (a series keeps the type of its first point)"]),
    query_step(q([{"name": "ie.ok"}, {"name": "ie.long"}], end=T + 100),
      [[res("ie.ok", [[T, 1], [T + 3, 4]], {"h": ["1"]})], [res("ie.long", [[T, 1], [T + 1, 3]], {"h": ["1"]})]], [2, 2]),
    {"method": "POST", "path": "/api/v1/datapoints", "auth": "none", "body": [{"name": "ie.auth", "tags": {"h": "1"}, "timestamp": T, "value": 1}], "status": 401},
  ])

# ---------------------------------------------------------------- aggregators
ten = [[T + 2 * k, k + 1] for k in range(10)]
def dev(vals):
    count = avg = pavg = 0.0
    for x in vals:
        count += 1; avg += (x - avg) / count; pavg += (x * x - pavg) / count
    return math.sqrt((pavg * count - count * avg * avg) / (count - 1))
def pct(vals, p):
    v = sorted(vals); n = len(v); pos = p * (n + 1)
    if pos < 1: return v[0]
    if pos >= n: return v[-1]
    lo = math.floor(pos); frac = pos - lo
    return v[lo - 1] + frac * (v[lo] - v[lo - 1])
Y10 = {"value": 10, "unit": "years"}
vals = [k + 1 for k in range(10)]
sd = dev(vals)
aggs = [
  ("sum", {}, [[T, 55]]), ("max", {}, [[T, 10]]), ("min", {}, [[T, 1]]), ("avg", {}, [[T, 5.5]]),
  ("count", {}, [[T, 10]]), ("first", {}, [[T, 1]]), ("last", {}, [[T + 18, 10]]),
  ("dev", {}, [[T, sd]]),
  ("dev", {"return_type": "pos_sd", "dev_count": 2}, [[T, 5.5 + 2 * sd]]),
  ("dev", {"return_type": "neg_sd"}, [[T, 5.5 - sd]]),
  ("least_squares", {}, [[T, 1], [T + 18, 10]]),
  ("percentile", {"percentile": 0.5}, [[T, pct(vals, 0.5)]]),
  ("percentile", {"percentile": 0.9}, [[T, pct(vals, 0.9)]]),
  ("percentile", {"percentile": 0.05}, [[T, pct(vals, 0.05)]]),
]
metrics = []; results = []
for name, props, expect in aggs:
    a = {"name": name, "sampling": Y10}; a.update(props)
    metrics.append({"name": "agg.ten", "aggregators": [a]})
    results.append([res("agg.ten", expect, {"h": ["1"]})])
metrics.append({"name": "agg.ten", "aggregators": [{"name": "rate", "unit": "milliseconds"}]})
results.append([res("agg.ten", [[T + 2 * k, 0.5] for k in range(1, 10)], {"h": ["1"]})])
metrics.append({"name": "agg.ten", "aggregators": [{"name": "rate", "sampling": {"value": 1, "unit": "seconds"}}]})
results.append([res("agg.ten", [[T + 2 * k, 500] for k in range(1, 10)], {"h": ["1"]})])
metrics.append({"name": "agg.ten", "aggregators": [{"name": "sum", "sampling": {"value": 4, "unit": "milliseconds"}}, {"name": "avg", "sampling": {"value": 1, "unit": "years"}}]})
results.append([res("agg.ten", [[T, 11]], {"h": ["1"]})])
metrics.append({"name": "agg.ten", "aggregators": [{"name": "sum", "sampling": {"value": 4, "unit": "milliseconds"}}]})
results.append([res("agg.ten", [[T, 3], [T + 4, 7], [T + 8, 11], [T + 12, 15], [T + 16, 19]], {"h": ["1"]})])
case("aggregators_range", "KairosDB's test_aggregators data (10 points 2 ms apart, values 1..10): every range aggregator over a 10-year sampling, rate in ms and s, and a chain.",
  [query_step(q(metrics, end=T + 100), results, [10] * len(metrics))],
  datapoints=[{"name": "agg.ten", "tags": {"h": "1"}, "datapoints": ten}])

# ---------------------------------------------------------------- other aggregators
o = [[T, 1], [T + 1000, 3], [T + 2000, 6], [T + 3000, 10], [T + 4000, 15]]
ov = [p[1] for p in o]
def score(v, ths, desc=False):
    s = sum(1 for (t, inf) in ths if v > t or (v == t and inf))
    return len(ths) - s if desc else s
ths = [(3, False), (10, True)]
others = [
  ({"name": "diff"}, [[o[i][0], o[i][1] - o[i - 1][1]] for i in range(1, 5)]),
  ({"name": "div", "divisor": 2}, [[t, v / 2] for t, v in o]),
  ({"name": "scale", "factor": 10}, [[t, v * 10] for t, v in o]),
  ({"name": "trim", "trim": "both"}, o[1:4]),
  ({"name": "trim", "trim": "FIRST"}, o[1:]),
  ({"name": "trim", "trim": "last"}, o[:4]),
  ({"name": "filter", "filter_op": "gt", "threshold": 5}, [p for p in o if not p[1] > 5]),
  ({"name": "filter", "filter_op": "lte", "threshold": "6"}, [p for p in o if not p[1] <= 6]),
  ({"name": "filter", "filter_op": "equal", "threshold": 10}, [p for p in o if not p[1] == 10]),
  ({"name": "filter", "filter_op": "ne", "threshold": 10}, [p for p in o if not p[1] != 10]),
  ({"name": "filter", "filter_op": "lt", "threshold": 3}, [p for p in o if not p[1] < 3]),
  ({"name": "filter", "filter_op": "gte", "threshold": 10}, [p for p in o if not p[1] >= 10]),
  ({"name": "sma", "size": 3}, [[o[i][0], (ov[i - 2] + ov[i - 1] + ov[i]) / 3] for i in range(2, 5)]),
  ({"name": "score", "thresholds": [{"value": 3}, {"value": 10, "boundary": "inferior"}]}, [[t, score(v, ths)] for t, v in o]),
  ({"name": "score", "thresholds": [{"value": 3}, {"value": 10, "boundary": "inferior"}], "order": "descending"}, [[t, score(v, ths, True)] for t, v in o]),
  ({"name": "sampler", "unit": "seconds"}, [[o[i][0], o[i][1] / 1000 * 1000] for i in range(1, 5)]),
  ({"name": "rate", "unit": "seconds"}, [[o[i][0], (o[i][1] - o[i - 1][1]) / 1000 * 1000] for i in range(1, 5)]),
  ({"name": "rate", "unit": "minutes"}, [[o[i][0], (o[i][1] - o[i - 1][1]) / 1000 * 60000] for i in range(1, 5)]),
]
metrics = []; results = []
for a, expect in others:
    metrics.append({"name": "oth.m", "aggregators": [a]})
    results.append([res("oth.m", expect, {"h": ["1"]})])
# chains: diff then filter then scale
metrics.append({"name": "oth.m", "aggregators": [{"name": "diff"}, {"name": "filter", "filter_op": "lt", "threshold": 4}, {"name": "scale", "factor": 0.5}]})
results.append([res("oth.m", [[T + 3000, 2], [T + 4000, 2.5]], {"h": ["1"]})])
# save_as passes through
metrics.append({"name": "oth.m", "aggregators": [{"name": "save_as", "metric_name": "oth.saved", "tags": {"k": "v"}}]})
results.append([res("oth.m", o, {"h": ["1"]})])
case("aggregators_other", "diff, div, scale, trim, filter (every operator, numeric and string thresholds), sma, score, sampler, rate units, chains and save_as.",
  [query_step(q(metrics, end=T + 10000), results, [5] * len(metrics)),
   query_step(q([{"name": "oth.saved"}], end=T + 10000), [[res("oth.saved", o, {"k": ["v"], "saved_from": ["oth.m"]})]], [5]),
   query_step(q([{"name": "oth.m", "group_by": [{"name": "tag", "tags": ["h"]}], "aggregators": [{"name": "save_as", "metric_name": "oth.saved2", "add_saved_from": False}]}], end=T + 10000),
      [[res("oth.m", o, {"h": ["1"]}, [{"name": "tag", "tags": ["h"], "group": {"h": "1"}}, TYPE_N])]], [5]),
   query_step(q([{"name": "oth.saved2"}], end=T + 10000), [[res("oth.saved2", o, {"h": ["1"]})]], [5]),
  ],
  datapoints=[{"name": "oth.m", "tags": {"h": "1"}, "datapoints": o}])

# ---------------------------------------------------------------- alignment
al = [[T + 30 * M, 1], [T + 70 * M, 2], [T + 110 * M, 3], [T + 140 * M, 4]]
S = T + 20 * M
HOUR = {"value": 1, "unit": "hours"}
def sm(extra=None, sampling=HOUR, name="sum"):
    a = {"name": name, "sampling": sampling}
    a.update(extra or {}); return a
alcases = [
  (sm(), [[T + 30 * M, 1], [T + 70 * M, 5], [T + 140 * M, 4]]),
  (sm({"align_start_time": True}), [[T, 1], [T + H, 5], [T + 2 * H, 4]]),
  (sm({"align_end_time": True}), [[T + H, 1], [T + 2 * H, 5], [T + 3 * H, 4]]),
  (sm({"align_sampling": False, "align_start_time": True}), [[S, 3], [S + H, 3], [S + 2 * H, 4]]),
  (sm({"align_sampling": False, "align_start_time": True, "start_time": T + 10 * M}), [[T + 10 * M, 1], [T + 70 * M, 5], [T + 130 * M, 4]]),
  (sm({"align_start_time": True, "time_zone": "Asia/Kolkata"}, {"value": 1, "unit": "days"}), [[T - 330 * M, 10]]),
  (sm({"align_start_time": True}, {"value": 1, "unit": "days"}), [[T, 10]]),
  (sm({"align_start_time": True}, {"value": 30, "unit": "minutes"}), [[T + 30 * M, 1], [T + 60 * M, 2], [T + 90 * M, 3], [T + 120 * M, 4]]),
  (sm({"align_sampling": False}, {"value": 3600, "unit": "seconds"}), [[T + 30 * M, 3], [T + 110 * M, 3], [T + 140 * M, 4]]),
  (sm({"align_start_time": True}, {"value": 2, "unit": "hours"}, name="last"), [[T, 3], [T + 2 * H, 4]]),
  (sm({}, {"value": 2, "unit": "hours"}, name="last"), [[T + 110 * M, 3], [T + 140 * M, 4]]),
  (sm({"align_end_time": True}, {"value": 2, "unit": "hours"}, name="first"), [[T + 2 * H, 1], [T + 4 * H, 4]]),
]
metrics = [{"name": "al.m", "aggregators": [a]} for a, _ in alcases]
results = [[res("al.m", e, {"h": ["1"]})] for _, e in alcases]
# query-level time zone applies to aggregators
metrics.append({"name": "al.m", "aggregators": [sm({"align_start_time": True}, {"value": 1, "unit": "days"})]})
results.append([res("al.m", [[T - 330 * M, 10]], {"h": ["1"]})])
steps = [query_step(q(metrics[:-1], start=S, end=T + 4 * H), results[:-1], [4] * (len(metrics) - 1)),
         query_step(q(metrics[-1:], start=S, end=T + 4 * H, time_zone="Asia/Kolkata"), results[-1:], [4])]
# calendar units
import datetime
def ms(y, mo, d, h=0, mi=0):
    return int(datetime.datetime(y, mo, d, h, mi, tzinfo=datetime.timezone.utc).timestamp() * 1000)
cal = [[ms(2024, 1, 15), 1], [ms(2024, 2, 10), 2], [ms(2024, 2, 28), 3], [ms(2024, 3, 1), 4]]
cstart = ms(2024, 1, 10)
cm = [
  ({"name": "count", "sampling": {"value": 1, "unit": "months"}, "align_start_time": True}, [[ms(2024, 1, 1), 1], [ms(2024, 2, 1), 2], [ms(2024, 3, 1), 1]]),
  ({"name": "count", "sampling": {"value": 1, "unit": "weeks"}, "align_start_time": True}, [[ms(2024, 1, 15), 1], [ms(2024, 2, 5), 1], [ms(2024, 2, 26), 2]]),
  ({"name": "sum", "sampling": {"value": 1, "unit": "years"}, "align_end_time": True}, [[ms(2025, 1, 1), 10]]),
  ({"name": "sum", "sampling": {"value": 2, "unit": "months"}, "align_start_time": True}, [[ms(2024, 1, 1), 6], [ms(2024, 3, 1), 4]]),
  ({"name": "sum", "sampling": {"value": 1, "unit": "months"}, "align_sampling": False, "align_start_time": True}, [[cstart, 1], [ms(2024, 2, 10), 9]]),
]
steps.append(query_step(q([{"name": "al.cal", "aggregators": [a]} for a, _ in cm], start=cstart, end=ms(2024, 12, 31)),
   [[res("al.cal", e, {"h": ["1"]})] for _, e in cm], [4] * len(cm)))
# DST in Paris: the day of 2024-03-31 has 23 hours
dst = [[ms(2024, 3, 30, 23, 30), 1], [ms(2024, 3, 31, 21, 30), 2], [ms(2024, 3, 31, 22, 30), 3]]
dstart = ms(2024, 3, 30, 23, 0)
steps.append(query_step(q([{"name": "al.dst", "aggregators": [{"name": "sum", "sampling": {"value": 1, "unit": "days"}, "align_start_time": True, "time_zone": "Europe/Paris"}]},
                          {"name": "al.dst", "aggregators": [{"name": "sum", "sampling": {"value": 1, "unit": "days"}, "align_start_time": True}]}], start=dstart, end=ms(2024, 4, 2)),
   [[res("al.dst", [[dstart, 3], [ms(2024, 3, 31, 22, 0), 3]], {"h": ["1"]})],
    [res("al.dst", [[ms(2024, 3, 30), 1], [ms(2024, 3, 31), 5]], {"h": ["1"]})]], [3, 3]))
case("alignment", "Range aggregator buckets: align_sampling (default true, midnight for hours), align_start_time, align_end_time, start_time, time zones (aggregator and query), minutes, days, weeks (Monday), months, years, and a day of 23 hours in Europe/Paris.",
  steps,
  datapoints=[{"name": "al.m", "tags": {"h": "1"}, "datapoints": al}, {"name": "al.cal", "tags": {"h": "1"}, "datapoints": cal},
              {"name": "al.dst", "tags": {"h": "1"}, "datapoints": dst}])

# ---------------------------------------------------------------- gaps
g = [[T + 5, 1], [T + 31, 2]]
case("gaps", "gaps marks empty buckets with null from the query start's bucket to the end; trim starts at the first point and stops after the last.",
  [query_step(q([{"name": "gaps.m", "aggregators": [{"name": "gaps", "sampling": {"value": 10, "unit": "milliseconds"}}]},
                 {"name": "gaps.m", "aggregators": [{"name": "gaps", "sampling": {"value": 10, "unit": "milliseconds"}, "trim": True}]}], end=T + 45),
     [[res("gaps.m", [[T + 5, 1], [T + 10, None], [T + 20, None], [T + 31, 2], [T + 40, None]], {"h": ["1"]})],
      [res("gaps.m", [[T + 5, 1], [T + 10, None], [T + 20, None], [T + 31, 2]], {"h": ["1"]})]], [2, 2]),
   err("/api/v1/datapoints/query", q([{"name": "gaps.m", "aggregators": [{"name": "gaps", "sampling": {"value": 10, "unit": "milliseconds"}}, {"name": "sum"}]}], end=T + 45), 500,
       ["sum met a point without a numeric value at " + str(T + 10) + " (nothing can follow gaps)"]),
  ],
  datapoints=[{"name": "gaps.m", "tags": {"h": "1"}, "datapoints": g}])

# ---------------------------------------------------------------- group by
gb = [{"name": "gb.m", "tags": {"h": "a"}, "datapoints": [[T, 1], [T + 1, 2]]},
      {"name": "gb.m", "tags": {"h": "b"}, "datapoints": [[T, 10], [T + 2, 20]]},
      {"name": "gb.m", "tags": {"x": "1"}, "datapoints": [[T + 3, 5]]}]
TAGH = lambda v: {"name": "tag", "tags": ["h"], "group": {"h": v}}
def time_g(k): return {"name": "time", "range_size": {"value": 2, "unit": "MILLISECONDS"}, "group_count": 2, "group": {"group_number": k}}
def val_g(k): return {"name": "value", "range_size": 5, "group": {"group_number": k}}
def bin_g(k): return {"name": "bin", "bins": [2, 10], "group": {"bin_number": k}}
AB = {"h": ["a", "b"]}
ALL = {"h": ["a", "b"], "x": ["1"]}
gsteps = [
  query_step(q([{"name": "gb.m"}], end=T + 100), [[res("gb.m", [[T, 1], [T, 10], [T + 1, 2], [T + 2, 20], [T + 3, 5]], ALL)]], [5]),
  query_step(q([{"name": "gb.m", "group_by": [{"name": "tag", "tags": ["h"]}]}], end=T + 100),
    [[res("gb.m", [[T + 3, 5]], {"x": ["1"]}, [TAGH(""), TYPE_N]),
      res("gb.m", [[T, 1], [T + 1, 2]], {"h": ["a"]}, [TAGH("a"), TYPE_N]),
      res("gb.m", [[T, 10], [T + 2, 20]], {"h": ["b"]}, [TAGH("b"), TYPE_N])]], [5]),
  query_step(q([{"name": "gb.m", "tags": {"h": ["a", "b"]}, "group_by": [{"name": "time", "range_size": {"value": 2, "unit": "milliseconds"}, "group_count": 2}]}], end=T + 100),
    [[res("gb.m", [[T, 1], [T, 10], [T + 1, 2]], AB, [time_g(0), TYPE_N]), res("gb.m", [[T + 2, 20]], AB, [time_g(1), TYPE_N])]], [4]),
  query_step(q([{"name": "gb.m", "group_by": [{"name": "value", "range_size": 5}]}], end=T + 100),
    [[res("gb.m", [[T, 1], [T + 1, 2]], ALL, [val_g(0), TYPE_N]), res("gb.m", [[T, 10]], ALL, [val_g(2), TYPE_N]),
      res("gb.m", [[T + 2, 20]], ALL, [val_g(4), TYPE_N]), res("gb.m", [[T + 3, 5]], ALL, [val_g(1), TYPE_N])]], [5]),
  query_step(q([{"name": "gb.m", "group_by": [{"name": "bin", "bins": [2, 10]}]}], end=T + 100),
    [[res("gb.m", [[T, 1]], ALL, [bin_g(0), TYPE_N]), res("gb.m", [[T, 10], [T + 2, 20]], ALL, [bin_g(2), TYPE_N]),
      res("gb.m", [[T + 1, 2], [T + 3, 5]], ALL, [bin_g(1), TYPE_N])]], [5]),
  query_step(q([{"name": "gb.m", "tags": {"h": "regex:[ab]"}, "group_by": [{"name": "tag", "tags": ["h"]}, {"name": "time", "range_size": {"value": 2, "unit": "milliseconds"}, "group_count": 2}],
                 "aggregators": [{"name": "sum", "sampling": {"value": 1, "unit": "years"}}]}], end=T + 100),
    [[res("gb.m", [[T, 3]], {"h": ["a"]}, [time_g(0), TAGH("a"), TYPE_N]),
      res("gb.m", [[T, 10]], {"h": ["b"]}, [time_g(0), TAGH("b"), TYPE_N]),
      res("gb.m", [[T + 2, 20]], {"h": ["b"]}, [time_g(1), TAGH("b"), TYPE_N])]], [4]),
  query_step(q([{"name": "gb.m", "tags": {"h": "a", "x": "1"}}, {"name": "gb.m", "tags": {"h": ["b"]}, "exclude_tags": True},
                {"name": "gb.none", "group_by": [{"name": "value", "range_size": 5}]}, {"name": "gb.none"}], end=T + 100),
    [[{"name": "gb.m", "tags": {}, "values": []}],
     [{"name": "gb.m", "group_by": [TYPE_N], "values": [[T, 10], [T + 2, 20]]}],
     [], [{"name": "gb.none", "tags": {}, "values": []}]], [0, 2, 0, 0]),
]
# type groups: numbers first, then text; count turns text into numbers but the type entry stays text
gsteps.append(query_step(q([{"name": "gb.types"}, {"name": "gb.types", "aggregators": [{"name": "count", "sampling": Y10}]},
                            {"name": "gb.types", "aggregators": [{"name": "sum", "sampling": Y10}]},
                            {"name": "gb.types", "aggregators": [{"name": "filter", "filter_op": "equal", "threshold": "a"}]}], end=T + 100),
  [[res("gb.types", [[T, 5]], {"h": ["2"]}), res("gb.types", [[T, "a"], [T + 1, "b"]], {"h": ["1"]}, [TYPE_T])],
   [res("gb.types", [[T, 1]], {"h": ["2"]}), res("gb.types", [[T, 2]], {"h": ["1"]}, [TYPE_T])],
   [res("gb.types", [[T, 5]], {"h": ["2"]}), res("gb.types", [[T, "a"], [T + 1, "b"]], {"h": ["1"]}, [TYPE_T])],
   [res("gb.types", [], {"h": ["2"]}), res("gb.types", [[T + 1, "b"]], {"h": ["1"]}, [TYPE_T])]], [3, 3, 3, 3]))
case("group_by", "Tag filters (AND across names, OR within, regex:, missing tags), tag, time, value and bin group-bys and their order, exclude_tags, empty results, and type groups.",
  gsteps, datapoints=gb + [{"name": "gb.types", "tags": {"h": "1"}, "datapoints": [[T, "a"], [T + 1, "b"]]}, {"name": "gb.types", "tags": {"h": "2"}, "datapoints": [[T, 5]]}])

# ---------------------------------------------------------------- limit and order
lo = [[T + k, k + 1] for k in range(5)]
case("limit_order", "limit keeps the first N points in stream order; order desc reverses the stream.",
  [query_step(q([{"name": "lo.m", "limit": 2}, {"name": "lo.m", "order": "desc"}, {"name": "lo.m", "order": "desc", "limit": 2}, {"name": "lo.m", "limit": 0, "order": "asc"},
                 {"name": "lo.m", "limit": 3, "aggregators": [{"name": "sum", "sampling": Y10}]}], end=T + 100),
     [[res("lo.m", lo[:2], {"h": ["1"]})], [res("lo.m", lo[::-1], {"h": ["1"]})], [res("lo.m", lo[::-1][:2], {"h": ["1"]})],
      [res("lo.m", lo, {"h": ["1"]})], [res("lo.m", [[T, 6]], {"h": ["1"]})]], [2, 5, 2, 5, 3])],
  datapoints=[{"name": "lo.m", "tags": {"h": "1"}, "datapoints": lo}])

# ---------------------------------------------------------------- relative time
rt = [["$now-7200000", 1], ["$now-60000", 2], ["$now+3600000", 3]]
def rel(v, u): return {"value": v, "unit": u}
def rq(start, end=None, **kw):
    b = {"start_relative": start}
    if end: b["end_relative"] = end
    b.update(kw); b["metrics"] = [{"name": "rt.m"}]; return b
ALL3 = [res("rt.m", rt, {"h": ["1"]})]
case("relative_time", "Relative start and end in every unit (numeric strings, upper case), no end meaning the end of time, Proficloud's query shape on the trailing-slash path.",
  [query_step(rq(rel(1, "hours")), [[res("rt.m", rt[1:], {"h": ["1"]})]], [2]),
   query_step(rq(rel(3, "hours"), rel(30, "minutes")), [[res("rt.m", rt[:1], {"h": ["1"]})]], [1]),
   query_step(rq(rel("1", "DAYS")), [ALL3], [3]),
   query_step(rq(rel(10, "seconds")), [[res("rt.m", rt[2:], {"h": ["1"]})]], [1]),
   query_step(rq(rel(100000, "milliseconds")), [[res("rt.m", rt[1:], {"h": ["1"]})]], [2]),
   query_step(rq(rel(1, "weeks")), [ALL3], [3]),
   query_step(rq(rel(1, "months")), [ALL3], [3]),
   query_step(rq(rel(1, "years"), rel(0, "minutes")), [[res("rt.m", rt[:2], {"h": ["1"]})]], [2]),
   query_step(rq(rel(2, "minutes"), rel(1, "seconds"), time_zone="UTC"), [[res("rt.m", rt[1:2], {"h": ["1"]})]], [1], path="/api/v1/datapoints/query/"),
   query_step({"start_absolute": "$now-120000", "end_absolute": "$now", "time_zone": "UTC", "metrics": [{"name": "rt.m", "limit": 10}]}, [[res("rt.m", rt[1:2], {"h": ["1"]})]], [1], path="/api/v1/datapoints/query/"),
   query_step(rq(rel(1, "minutes"), time_zone="UTC") | {"metrics": [{"name": "rt.none"}]}, [[{"name": "rt.none", "tags": {}, "values": []}]], [0], path="/api/v1/datapoints/query/"),
  ],
  datapoints=[{"name": "rt.m", "tags": {"h": "1"}, "datapoints": rt}])

# ---------------------------------------------------------------- query errors
def qe(metric_extra=None, top=None, msg=None, status=400):
    body = {"start_absolute": T, "metrics": [dict({"name": "qe.m"}, **(metric_extra or {}))]}
    if top is not None: body = top
    return err("/api/v1/datapoints/query", body, status, [msg])
P = "query.metric[0]"
A0 = P + ".aggregators[0]"
case("query_errors", "Validation errors (400) name the field; evaluation errors (500) name the cause.",
  [
   qe(top={"metrics": [{"name": "qe.m"}]}, msg=P + ".start_time relative or absolute time must be set"),
   qe(top={"start_absolute": T, "metrics": []}, msg="query.metric[] must have a size of at least 1"),
   qe(top={"start_absolute": T}, msg="query.metric[] must have a size of at least 1"),
   qe({"name": ""}, msg=P + ".name may not be empty"),
   qe({"tags": {"host": ""}}, msg=P + ".tags[0].host value must not be null or empty"),
   qe({"aggregators": [{"sampling": HOUR}]}, msg=A0 + " must have a name"),
   qe({"aggregators": [{"name": "bogus"}]}, msg=A0 + ".bogus invalid aggregators name"),
   qe({"aggregators": [{"name": "sum", "samplin": HOUR}]}, msg=A0 + ": Property 'samplin' was specified for object 'sum' but no matching setter was found"),
   qe({"aggregators": [{"name": "sampler", "sampling": HOUR}]}, msg=A0 + ": Property 'sampling' was specified for object 'sampler' but no matching setter was found"),
   qe({"aggregators": [{"name": "sum", "sampling": {"value": 1, "unit": "bogus"}}]}, msg=A0 + ".sampling.unit bogus is not a valid time unit, must be one of MILLISECONDS,SECONDS,MINUTES,HOURS,DAYS,WEEKS,MONTHS,YEARS"),
   qe(top={"start_relative": {"value": 1, "unit": "fortnights"}, "metrics": [{"name": "qe.m"}]}, msg="query.start_relative.unit fortnights is not a valid time unit, must be one of MILLISECONDS,SECONDS,MINUTES,HOURS,DAYS,WEEKS,MONTHS,YEARS"),
   qe(top={"start_relative": {"value": -1, "unit": "days"}, "metrics": [{"name": "qe.m"}]}, msg="query.start_relative.value must be greater than or equal to 0"),
   qe(top={"start_absolute": T, "time_zone": "Mars/Olympus_Mons", "metrics": [{"name": "qe.m"}]}, msg="query.Mars/Olympus_Mons is not a valid time zone, must be an IANA time zone id such as UTC or Europe/Paris"),
   qe({"aggregators": [{"name": "sum", "time_zone": "Nowhere/Land"}]}, msg=A0 + ".Nowhere/Land is not a valid time zone, must be an IANA time zone id such as UTC or Europe/Paris"),
   qe(top={"start_absolute": T, "end_absolute": T - 1, "metrics": [{"name": "qe.m"}]}, msg=P + ".end_time must be greater than the start time"),
   qe({"order": "sideways"}, msg=P + ".order must be either 'asc' or 'desc'"),
   qe({"aggregators": [{"name": "div", "divisor": 0}]}, msg=A0 + ".m_divisor may not be zero"),
   qe({"aggregators": [{"name": "percentile", "percentile": 0}]}, msg=A0 + ".percentile may not be zero"),
   qe({"group_by": [{"name": "tag", "tags": []}]}, msg=P + ".group_by[0].tags may not be null or empty"),
   qe({"group_by": [{"name": "time", "range_size": HOUR, "group_count": 0}]}, msg=P + ".group_by[0].groupCount must be greater than or equal to 1"),
   qe({"group_by": [{"name": "colour"}]}, msg=P + ".group_by[0].colour invalid group_by name"),
   qe(top={"start_absolute": T, "cache_time": -5, "metrics": [{"name": "qe.m"}]}, msg="query.cache_time must be greater than or equal to 0"),
   qe({"aggregators": [{"name": "filter", "filter_op": "between", "threshold": 1}]}, msg=A0 + ".filter_op must be one of lt, lte, gt, gte, equal or ne"),
   qe({"aggregators": [{"name": "sum", "sampling": {"value": 0, "unit": "hours"}}]}, msg=A0 + ".sampling.value must be greater than or equal to 1"),
   {"method": "POST", "path": "/api/v1/datapoints/query", "raw_body": "{\"start_absolute\": 1,", "status": 400, "response": {"errors": ["Invalid json. EOF while parsing a value at line 1 column 21"]}},
   {"method": "GET", "path": "/api/v1/datapoints/query", "status": 400, "response": {"errors": ["the query parameter `query` (the URL-encoded query JSON) is missing"]}},
   qe({"tags": {"h": "1"}, "aggregators": [{"name": "percentile", "percentile": 1.5, "sampling": Y10}]}, msg="percentile must be greater than 0 and at most 1, not 1.5", status=500),
   qe({"aggregators": [{"name": "rate"}]}, msg="rate: two points at the same timestamp " + str(T) + "; a rate needs distinct timestamps", status=500),
   qe({"tags": {"h": "1"}, "aggregators": [{"name": "scale", "factor": 1e308}]}, msg="the query produced the value inf, which JSON cannot carry; check divisors, percentiles and chains", status=500),
   qe({"tags": {"h": "1"}, "aggregators": [{"name": "sma", "size": 0}]}, msg="sma: size must be at least 1, not 0", status=500),
  ],
  datapoints=[{"name": "qe.m", "tags": {"h": "1"}, "datapoints": [[T, 10]]}, {"name": "qe.m", "tags": {"h": "2"}, "datapoints": [[T, 20]]}])

# ---------------------------------------------------------------- metadata and protocol
import urllib.parse
gq = urllib.parse.quote(json.dumps({"start_absolute": T, "end_absolute": T + 10, "metrics": [{"name": "md.a"}]}))
case("metadata", "metricnames with prefix, query/tags, version, health, GET query, trailing slashes, OPTIONS, headers and authentication forms.",
  [
   {"method": "GET", "path": "/api/v1/metricnames?prefix=md.", "status": 200, "response": {"results": ["md.a", "md.b", "md.big"]},
    "response_headers": {"content-type": "application/json; charset=UTF-8", "access-control-allow-origin": "*", "cache-control": "no-cache", "pragma": "no-cache", "expires": "0"}},
   {"method": "GET", "path": "/api/v1/metricnames/?prefix=md.b", "status": 200, "response": {"results": ["md.b", "md.big"]}, "body": {}},
   {"method": "GET", "path": "/api/v1/metricnames?prefix=md.zzz", "auth": "bearer", "status": 200, "response": {"results": []}},
   {"method": "POST", "path": "/api/v1/datapoints/query/tags", "body": q([{"name": "md.b", "aggregators": [{"name": "sum"}]}, {"name": "md.a", "tags": {"h": "2"}}]), "status": 200,
    "response": {"queries": [{"results": [{"name": "md.b", "tags": {"dc": ["x", "y"], "h": ["2"]}, "values": []}]}, {"results": [{"name": "md.a", "tags": {}, "values": []}]}]}},
   {"method": "POST", "path": "/api/v1/datapoints/query/tags/", "body": q([{"name": "md.b", "tags": {"dc": "y"}}]), "status": 200,
    "response": {"queries": [{"results": [{"name": "md.b", "tags": {"dc": ["y"], "h": ["2"]}, "values": []}]}]}},
   {"method": "GET", "path": "/api/v1/version", "status": 200, "response": {"version": "KairosDB 1.3.0 (Sextant 0.1.0)"}},
   {"method": "GET", "path": "/api/v1/version/", "body": {}, "status": 200, "response": {"version": "KairosDB 1.3.0 (Sextant 0.1.0)"}},
   {"method": "GET", "path": "/api/v1/health/status", "status": 200, "response": ["JVM-Thread-Deadlock: OK", "Datastore-Query: OK"]},
   {"method": "GET", "path": "/api/v1/health/check", "status": 204},
   {"method": "GET", "path": "/api/v1/health/check/", "status": 204},
   {"method": "GET", "path": "/api/v1/tagnames", "status": 200},
   {"method": "GET", "path": "/api/v1/tagvalues/", "status": 200},
   {"method": "GET", "path": "/api/v1/datapoints/query?query=" + gq, "status": 200,
    "response": {"queries": [{"sample_size": 1, "results": [res("md.a", [[T, 1]], {"h": ["1"]})]}]}},
   {"method": "OPTIONS", "path": "/api/v1/datapoints/query", "auth": "none", "headers": {"Origin": "http://ui.example", "Access-Control-Request-Method": "POST"}, "status": 200,
    "response_headers": {"access-control-allow-origin": "*"}},
   {"method": "GET", "path": "/api/v1/metricnames", "auth": "none", "status": 401},
   {"method": "POST", "path": "/api/v1/datapoints/query", "auth": "bearer", "headers": {"Accept-Encoding": "gzip"},
    "body": q([{"name": "md.big"}], end=T + 1000), "status": 200, "response_headers": {"content-encoding": "gzip"},
    "response": {"queries": [{"sample_size": 200, "results": [res("md.big", [[T + k, k] for k in range(200)], {"h": ["1"]})]}]}},
  ],
  datapoints=[{"name": "md.a", "tags": {"h": "1"}, "datapoints": [[T, 1]]}, {"name": "md.b", "tags": {"h": "2", "dc": "x"}, "datapoints": [[T, 1]]},
              {"name": "md.b", "tags": {"h": "2", "dc": "y"}, "datapoints": [[T, 2]]}, {"name": "md.big", "tags": {"h": "1"}, "datapoints": [[T + k, k] for k in range(200)]}])

# ---------------------------------------------------------------- deletes
case("deletes", "POST datapoints/delete removes points of the matching series in [start, end] (aggregators validated, not applied); DELETE metric/{name} removes the metric from metricnames; deleting an unknown metric is 204.",
  [
   {"method": "POST", "path": "/api/v1/datapoints/delete", "body": q([{"name": "del.m", "tags": {"h": "1"}, "aggregators": [{"name": "sum"}]}], start=T + 1, end=T + 1), "status": 204},
   query_step(q([{"name": "del.m", "group_by": [{"name": "tag", "tags": ["h"]}]}], end=T + 100),
     [[res("del.m", [[T, 1], [T + 2, 3]], {"h": ["1"]}, [TAGH("1"), TYPE_N]), res("del.m", [[T, 10], [T + 1, 11]], {"h": ["2"]}, [TAGH("2"), TYPE_N])]], [4]),
   err("/api/v1/datapoints/delete", q([{"name": "del.m", "aggregators": [{"name": "bogus"}]}]), 400, ["query.metric[0].aggregators[0].bogus invalid aggregators name"]),
   {"method": "POST", "path": "/api/v1/datapoints/delete/", "body": q([{"name": "del.m", "tags": {"h": ["1", "2"]}}], start=T + 1), "status": 204},
   query_step(q([{"name": "del.m"}], end=T + 100), [[res("del.m", [[T, 1], [T, 10]], {"h": ["1", "2"]})]], [2]),
   {"method": "DELETE", "path": "/api/v1/metric/del.m", "body": {}, "status": 204},
   {"method": "GET", "path": "/api/v1/metricnames?prefix=del.", "status": 200, "response": {"results": ["del.other"]}},
   query_step(q([{"name": "del.m"}, {"name": "del.other"}], end=T + 100), [[{"name": "del.m", "tags": {}, "values": []}], [res("del.other", [[T, 5]], {"h": ["1"]})]], [0, 1]),
   {"method": "DELETE", "path": "/api/v1/metric/del.never/", "status": 204},
  ],
  datapoints=[{"name": "del.m", "tags": {"h": "1"}, "datapoints": [[T, 1], [T + 1, 2], [T + 2, 3]]}, {"name": "del.m", "tags": {"h": "2"}, "datapoints": [[T, 10], [T + 1, 11]]},
              {"name": "del.other", "tags": {"h": "1"}, "datapoints": [[T, 5]]}])

# ---------------------------------------------------------------- pushdown
pa = [[T + 20000 * k, k] for k in range(9)]
pb = [[T + 20000 * k, 10 * k] for k in range(9)]
MIN = {"value": 1, "unit": "minutes"}
def both(name, stamp):
    return [{"name": "pd.m", "aggregators": [{"name": name, "sampling": MIN, stamp: True}]}]
avgs = [5.5, 22, 38.5]
case("aggregation_pushdown", "Aggregations the store answers from block summaries (aligned buckets stamped at start or end) give the same results as the engine, across several series of one group and per tag group.",
  [query_step(q(both("avg", "align_start_time"), end=T + H), [[res("pd.m", [[T + M * i, avgs[i]] for i in range(3)], {"h": ["a", "b"]})]], [18]),
   query_step(q(both("avg", "align_end_time"), end=T + H), [[res("pd.m", [[T + M * (i + 1), avgs[i]] for i in range(3)], {"h": ["a", "b"]})]], [18]),
   query_step(q([{"name": "pd.m", "aggregators": [{"name": "avg", "sampling": MIN}]}], end=T + H), [[res("pd.m", [[T + M * i, avgs[i]] for i in range(3)], {"h": ["a", "b"]})]], [18]),
   query_step(q(both("count", "align_start_time"), end=T + H), [[res("pd.m", [[T + M * i, 6] for i in range(3)], {"h": ["a", "b"]})]], [18]),
   query_step(q([{"name": "pd.m", "group_by": [{"name": "tag", "tags": ["h"]}], "aggregators": [{"name": "max", "sampling": MIN, "align_start_time": True}]},
                 {"name": "pd.m", "group_by": [{"name": "tag", "tags": ["h"]}], "aggregators": [{"name": "max", "sampling": MIN, "align_start_time": True}, {"name": "scale", "factor": 1}]}], end=T + H),
     [[res("pd.m", [[T, 2], [T + M, 5], [T + 2 * M, 8]], {"h": ["a"]}, [TAGH("a"), TYPE_N]), res("pd.m", [[T, 20], [T + M, 50], [T + 2 * M, 80]], {"h": ["b"]}, [TAGH("b"), TYPE_N])]] * 2, [18, 18]),
   query_step(q([{"name": "pd.m", "aggregators": [{"name": "min", "sampling": MIN, "align_start_time": True}]}, {"name": "pd.m", "aggregators": [{"name": "sum", "sampling": MIN, "align_start_time": True}]}], start=T + 30000, end=T + 90000),
     [[res("pd.m", [[T, 2], [T + M, 3]], {"h": ["a", "b"]})], [res("pd.m", [[T, 22], [T + M, 3 + 4 + 30 + 40]], {"h": ["a", "b"]})]], [6, 6]),
  ],
  datapoints=[{"name": "pd.m", "tags": {"h": "a"}, "datapoints": pa}, {"name": "pd.m", "tags": {"h": "b"}, "datapoints": pb}])

# ---------------------------------------------------------------- line protocol interop
case("line_protocol", "Line protocol's measurement.field series are KairosDB metrics and the other way round.",
  [
   {"method": "POST", "path": "/write?precision=ms", "raw_body": "lp,host=h1 usage=1.5,count=3i %d\nlp,host=h2 usage=2.5 %d\n" % (T, T + 1), "headers": {"Content-Type": "text/plain"}, "status": 204},
   query_step(q([{"name": "lp.usage", "tags": {"host": "h1"}}, {"name": "lp.count"}, {"name": "lp.usage", "aggregators": [{"name": "sum", "sampling": HOUR}]}], end=T + 100),
     [[res("lp.usage", [[T, 1.5]], {"host": ["h1"]})], [res("lp.count", [[T, 3]], {"host": ["h1"]})], [res("lp.usage", [[T, 4]], {"host": ["h1", "h2"]})]], [1, 1, 2]),
   {"method": "POST", "path": "/api/v1/datapoints", "body": [{"name": "lp.usage", "tags": {"host": "h1"}, "datapoints": [[T + 2, 7]]}], "status": 204},
   query_step(q([{"name": "lp.usage", "tags": {"host": "h1"}}], end=T + 100), [[res("lp.usage", [[T, 1.5], [T + 2, 7]], {"host": ["h1"]})]], [2]),
  ])
print(f"wrote the cases in {OUT}")
