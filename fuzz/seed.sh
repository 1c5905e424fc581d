#!/usr/bin/env bash
# Seeds each fuzz target's corpus (fuzz/corpus/<target>/) from the test fixtures of the
# repository, so that fuzzing starts from real inputs rather than from nothing.
#
#   fuzz/seed.sh             text targets from fixtures; storage targets from a real data
#                            directory written by a `sextant` binary (built if missing)
#   fuzz/seed.sh --no-store  text targets only
#
# Sources: tests/kairos/cases/*.json (line protocol, KairosDB ingest and query bodies),
# crates/expr/tests/cases/*.txt (expressions), the programs of the SignalFlow parser's tests
# (crates/signalflow/src/lang/tests.rs), the filter strings of the Sift tests, and for
# wal_*, part_open and codec_decode the WAL segments, parts and part blocks that a running
# server writes for a few line-protocol and KairosDB bodies. fuzz/seeds/<target>/ holds small
# hand-picked cases and regression inputs, copied in as they are.
set -euo pipefail

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz_dir")
corpus="$fuzz_dir/corpus"
with_store=1
[[ "${1:-}" == "--no-store" ]] && with_store=0

mkdir -p "$corpus"
shopt -s nullglob
for dir in "$fuzz_dir"/seeds/*/; do
    target=$(basename "$dir")
    mkdir -p "$corpus/$target"
    cp "$dir"* "$corpus/$target/" 2>/dev/null || true
done

python3 - "$root" "$corpus" <<'PY'
import gzip, hashlib, json, os, re, sys, warnings

root, corpus = sys.argv[1], sys.argv[2]
# Test sources hold line-protocol escapes such as `\ `, which "unicode_escape" passes through
# as written but warns about.
warnings.filterwarnings("ignore", category=DeprecationWarning)

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)

cases = os.path.join(root, "tests/kairos/cases")
for name in sorted(os.listdir(cases)):
    if not name.endswith(".json"):
        continue
    with open(os.path.join(cases, name)) as f:
        case = json.load(f)
    if "datapoints" in case:
        body = json.dumps(case["datapoints"]).encode()
        put("kairos_ingest", b"\0" + body)
    for step in case.get("steps", []):
        path = step.get("path", "")
        if "raw_body" in step:
            body = step["raw_body"].encode()
        elif "body" in step:
            body = json.dumps(step["body"]).encode()
        else:
            continue
        if path.startswith("/write") or path.startswith("/api/v2/write"):
            put("influx_lines", body)
            put("influx_body", b"\0" + body)
            put("influx_body", b"\x07" + gzip.compress(body))
        elif path.startswith("/api/v1/datapoints/query") or path.startswith("/api/v1/datapoints/delete"):
            put("kairos_query", body)
        elif path.startswith("/api/v1/datapoints"):
            put("kairos_ingest", b"\0" + body)
            put("kairos_ingest", b"\x01" + gzip.compress(body))

# Expressions: the `expr:` lines of the golden cases.
expr_cases = os.path.join(root, "crates/expr/tests/cases")
for name in sorted(os.listdir(expr_cases)):
    with open(os.path.join(expr_cases, name)) as f:
        for line in f:
            if line.startswith("expr:"):
                put("expr_parse", line[5:].strip())

# SignalFlow: the source of each case of the parser's golden and error tables, and a few
# whole programs.
with open(os.path.join(root, "crates/signalflow/src/lang/tests.rs")) as f:
    tests = f.read()

def rust_string(body):
    def unescape(m):
        e = m.group(1)
        if e.startswith("u{"):
            return chr(int(e[2:-1], 16))
        return {"n": "\n", "r": "\r", "t": "\t", "0": "\0"}.get(e, e)
    return re.sub(r"\\(u\{[0-9a-fA-F]+\}|.)", unescape, body, flags=re.S)

for plain in re.findall(r'^\s*\(\s*"((?:[^"\\]|\\.)*)",', tests, re.M):
    put("signalflow_program", rust_string(plain))
for raw in re.findall(r'^\s*\(\s*r#?"(.*?)"#?,', tests, re.M):
    put("signalflow_program", raw)
for program in [
    "A = data('cpu.utilization', filter=filter('host', 'web*')).mean(by=['host'])\nA.publish('A')\n",
    "A = data('requests').sum(over='1m')\nB = data('errors').sum(over='1m')\n(B / A * 100).publish('error rate')\n",
    "# CPU alert\nC = data('cpu').mean()\ndetect(when(C > 90, lasting='5m'), off=when(C < 80)).publish('cpu high')\n",
    "events('deploy', filter=filter('service', 'api')).publish()\n",
    "x = threshold(10) if data('m').max() > 5 else const(0); x.publish()\n",
    "data('m').map(lambda v: v * 2 ** -1).publish(label='half', enable={'a': (1, 2.5e3, 0x1F)})\n",
]:
    put("signalflow_program", program)

# SignalFlow programs run: the golden programs of crates/signalflow/src/exec/tests.rs, their
# metrics renamed to the fuzz target's `m`, and a few written here.
with open(os.path.join(root, "crates/signalflow/src/exec/tests.rs")) as f:
    tests = f.read()
for literal in re.findall(r'(?:run|run_at|output|err)\(\s*"((?:[^"\\]|\\.)*)"', tests):
    program = rust_string(literal)
    for metric in ("cpu", "hits", "total", "sparse"):
        program = program.replace(f"'{metric}'", "'m'")
    put("signalflow_run", program)
for program in [
    "A = data('m')\nB = A.mean(over='3s').timeshift('2s')\n(A - B).abs().publish('x')\n",
    "detect(when(data('m') > 5, lasting='3s', at_least=0.5), off=when(data('m') < 2)).publish('d')\n",
    "union(data('m').top(1), data('m').bottom(1), const(3)).ewma(0.3).fill(0, max_count=2).publish()\n",
    "events('e', filter=filter('k', '0')).publish()\ndata('m', rollup='rate').percentile(90, by=['k']).publish()\n",
]:
    put("signalflow_run", program)

# Line protocol: the string literals of the parser's and the write handler's tests.
for source in ("crates/server/src/influx/parser.rs", "crates/server/src/influx/write.rs"):
    with open(os.path.join(root, source)) as f:
        tests = f.read().split("#[cfg(test)]", 1)[-1]
    lines = re.findall(r'r#"(.*?)"#', tests) + re.findall(r'r"(.*?)"', tests)
    for plain in re.findall(r'b?"((?:[^"\\]|\\.)*)"', tests, re.S):
        plain = re.sub(r"\\\n\s*", "", plain)
        lines.append(plain.encode().decode("unicode_escape").encode("latin-1", "replace").decode("utf-8", "replace"))
    for text in lines:
        if " " in text and "=" in text:
            put("influx_lines", text)
            put("influx_body", b"\x06" + text.encode())

# Sift filters: the string literals of the filter parser's tests.
with open(os.path.join(root, "crates/server/src/sift/filter.rs")) as f:
    tests = f.read().split("#[cfg(test)]", 1)[-1]
for raw in re.findall(r'r#"(.*?)"#', tests):
    put("sift_filter", raw)
for plain in re.findall(r'\(\s*"((?:[^"\\]|\\.)*)",', tests):
    put("sift_filter", plain.encode().decode("unicode_escape").encode("latin-1").decode("utf-8", "replace"))

# SignalFx: datapoint and event bodies in protobuf (encoded here, field by field) and in the
# JSON of the fallback client, and metadata search queries.
import struct

def varint(n):
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)

def ld(field, payload):
    return varint(field << 3 | 2) + varint(len(payload)) + payload

def dims(pairs, field=6):
    return b"".join(ld(field, ld(1, k.encode()) + ld(2, v.encode())) for k, v in pairs)

def datum(value):
    if isinstance(value, str):
        return ld(1, value.encode())
    if isinstance(value, float):
        return varint(2 << 3 | 1) + struct.pack("<d", value)
    return varint(3 << 3) + varint(value & 0xFFFFFFFFFFFFFFFF)

def datapoint(metric, value, ts=None, mtype=None, pairs=()):
    out = ld(2, metric.encode())
    if ts is not None:
        out += varint(3 << 3) + varint(ts)
    out += ld(4, datum(value))
    if mtype is not None:
        out += varint(5 << 3) + varint(mtype)
    return out + dims(pairs)

host = [("host", "web-1"), ("region", "eu")]
points = [
    datapoint("cpu.usage", 12.5, 1704067200000, 0, host),
    datapoint("requests", 7, 1704067201000, 1, host),
    datapoint("bytes.total", 123456789, None, 3, [("host", "web-2")]),
    datapoint("build", "v1.2.3", 1704067202000, None, ()),
    datapoint("cpu.usage", float("nan"), 1704067203000, 0, host),
]
put("signalfx_body", b"\0" + b"".join(ld(1, p) for p in points))
put("signalfx_body", b"\0" + ld(1, points[0]) * 3)
put("signalfx_body", b"\0" + ld(1, datapoint("m", 1, 1, 2, [("a", "")])))
put("signalfx_body", b"\1" + json.dumps({
    "gauge": [{"metric": "cpu.usage", "value": 12.5, "dimensions": {"host": "web-1"}, "timestamp": 1704067200000}],
    "counter": [{"metric": "requests", "value": 7}],
    "cumulative_counter": [{"metric": "bytes.total", "value": 123456789, "dimensions": {"host": "web-2"}}],
}).encode())
put("signalfx_body", b"\1" + json.dumps({"gauge": [{"metric": "big", "value": 2 ** 70}]}).encode())

def prop(key, value):
    if isinstance(value, bool):
        v = varint(4 << 3) + varint(int(value))
    elif isinstance(value, str):
        v = ld(1, value.encode())
    elif isinstance(value, float):
        v = varint(2 << 3 | 1) + struct.pack("<d", value)
    else:
        v = varint(3 << 3) + varint(value)
    return ld(3, ld(1, key.encode()) + ld(2, v))

event = (ld(1, b"deploy") + dims(host, 2) + prop("version", "1.2") + prop("ok", True)
         + prop("ms", 12.5) + prop("n", 3) + varint(5 << 3) + varint(1704067200000)
         + varint(4 << 3) + varint(100000))
put("signalfx_body", b"\2" + ld(1, event))
put("signalfx_body", b"\3" + json.dumps([{
    "eventType": "deploy", "category": "USER_DEFINED", "dimensions": {"host": "web-1"},
    "properties": {"version": "1.2", "ok": True, "ms": 12.5, "n": 3}, "timestamp": 1704067200000,
}]).encode())
for query in ["sf_metric:cpu.usage AND host:web-1", "host:web-* OR NOT region:eu",
              "(rack:r042 AND group:g42) OR *", "sf_key:host", "name:\"a b\""]:
    put("signalfx_body", b"\4" + query.encode())

# Event collections: the example events as one request and one request each (option 0), and
# the example schema and the schema texts of the schema tests (option 1).
with open(os.path.join(root, "examples/collections/events.jsonl")) as f:
    events = [json.loads(line) for line in f if line.strip()]
def ingest_request(datas):
    return json.dumps({"project_id": "p", "model_id": "churn",
                       "events": [{"data": d} for d in datas]}).encode()
put("collections", b"\0" + ingest_request(events))
for event in events:
    put("collections", b"\0" + ingest_request([event]))
# Live subscriptions: requests with and without windows, then a few points.
points = b"".join(t.to_bytes(8, "little", signed=True) + bytes([v]) for t, v in
                  [(1, 5), (5, 7), (12, 2), (3, 0x80), (25, 1), (-7, 3), (2**63 - 1, 9)])
for request in [
    {"selector": "cpu"},
    {"selector": 'cpu{host=~"h[0-9]+"}', "since": 0, "cursor": 7},
    {"selector": "a", "window": {"size": "10ns"}},
    {"selector": "a", "window": {"size": "10ns", "slide": "5ns", "aggs": ["count,max", "first"],
                                 "watermark": "2ns", "lateness": "10ns"}},
]:
    put("live_request", json.dumps(request).encode() + b"\xff" + points)
# The same as gRPC request bodies: protobuf fields (selector 1, cursor 2, since 3, window 4
# with size 1 and slide 2) behind gRPC's 5-byte prefix.
def field(tag, payload):
    return bytes([tag << 3 | 2, len(payload)]) + payload
for message in [
    field(1, b"cpu"),
    field(1, b'cpu{host=~"h1"}') + bytes([2 << 3, 7, 3 << 3, 0]),
    field(1, b"a") + field(4, field(1, b"10ns") + field(2, b"5ns")),
]:
    put("live_request", b"\0" + len(message).to_bytes(4, "big") + message + b"\xff" + points)
with open(os.path.join(root, "examples/collections/churn_model.yml"), "rb") as f:
    put("collections", b"\1" + f.read())
with open(os.path.join(root, "crates/collections/src/schema.rs")) as f:
    tests = f.read().split("#[cfg(test)]", 1)[-1]
for text in re.findall(r'"((?:[^"\\]|\\.)*)"', tests, re.S):
    if ":" in text and ("columns" in text or "id_colum" in text):
        put("collections", b"\1" + re.sub(r"\\\n", "", text).encode().decode("unicode_escape").encode())
PY

if [[ $with_store == 0 ]]; then
    echo "seeded (text targets only): $(find "$corpus" -type f | wc -l) files"
    exit 0
fi

# Storage: a real data directory. The server is killed (no flush) to keep its WAL, then
# started again and stopped cleanly, which replays the WAL and flushes it into parts.
sextant=${SEXTANT_BIN:-$root/target/debug/sextant}
if [[ ! -x $sextant ]]; then
    (cd "$root" && cargo build -p sextant-cli)
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
token=fuzz-seed-token
serve() {
    "$sextant" serve --data-dir "$work/data" --listen "127.0.0.1:$port" \
        --bootstrap-token "$token" --collection-part-events 3 >"$work/serve.log" 2>&1 &
    pid=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
        sleep 0.1
    done
    echo "the server did not start:" >&2
    cat "$work/serve.log" >&2
    exit 1
}
post() {
    curl -s -o /dev/null -H "Authorization: Bearer $token" --data-binary @- "$@"
}
serve
printf 'cpu,host=h1,region=eu usage=12.5,count=3i,flag=t,note="ok" 1704067200000\ncpu,host=h1,region=eu usage=13.25,count=4i,flag=f,note="warm" 1704067201000\ncpu,host=h2 usage=1,count=9u 1704067202000\n' |
    post "http://127.0.0.1:$port/write?precision=ms"
seq 0 199 | awk '{printf "regular,host=h3 v=%d.5,i=%di,s=\"%s\" %d\n", $1 % 17, $1 * 3, ($1 % 5 == 0) ? "on" : "off", 1704067200000 + $1 * 1000}' |
    post "http://127.0.0.1:$port/write?precision=ms"
seq 0 99 | awk '{printf "jitter,host=h4 v=%f %d\n", sin($1) * 100, 1704067200000 + $1 * 997 + ($1 % 7)}' |
    post "http://127.0.0.1:$port/write?precision=ms"
echo '[{"name":"k.m","tags":{"h":"a"},"datapoints":[[1704067200000,1],[1704067201000,2.5],[1704067202000,"text"]]}]' |
    post -H 'Content-Type: application/json' "http://127.0.0.1:$port/api/v1/datapoints"
echo '{"metrics":[{"tags":{"host":["h2"]},"name":"cpu.usage"}],"start_absolute":1704067200000,"end_absolute":1704067202500}' |
    post -H 'Content-Type: application/json' "http://127.0.0.1:$port/api/v1/datapoints/delete"
echo '{"name":"churn","schema":{"tags_column":"tags","input_columns":[{"name":"f1","type":"float"},{"name":"f2","type":"int"},{"name":"f3","type":"string"},{"name":"f4","type":"bool"}],"prediction_columns":[{"name":"proba","type":"float"},{"name":"prediction","type":"int"}],"label_columns":[{"name":"actual","type":"int"}],"extra_columns":[{"name":"extra1","type":"string"},{"name":"extra2","type":"string"}]}}' |
    post -H 'Content-Type: application/json' "http://127.0.0.1:$port/api/native/v1/collections"
python3 -c 'import json, sys; print(json.dumps({"project_id": "p", "model_id": "churn", "events": [{"data": json.loads(l)} for l in sys.stdin if l.strip()]}))' \
    <"$root/examples/collections/events.jsonl" |
    post -H 'Content-Type: application/json' "http://127.0.0.1:$port/api/v0/ingest/streaming/events"
sleep 0.5
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
mkdir -p "$work/wal"
cp "$work"/data/wal/*.wal "$work/wal/"
serve
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true

python3 - "$corpus" "$work/wal" "$work/data/parts" "$work/data/collections" <<'PY'
import hashlib, os, struct, subprocess, sys

corpus, wal_dir, parts_dir, collections_dir = sys.argv[1:5]

def put(target, data):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)

# Event logs, whole and cut after each record (option 2 of the collections target); the
# server seals every 3 events, so the request's record is in the log moved aside, and its
# events in a part (option 3).
for dirpath, _, names in os.walk(collections_dir):
    for name in names:
        data = open(os.path.join(dirpath, name), "rb").read()
        if name.endswith(".part"):
            put("collections", b"\3" + data)
        if not name.endswith(".log"):
            continue
        put("collections", b"\2" + data)
        offset = 24
        while offset + 8 <= len(data):
            (length,) = struct.unpack_from("<I", data, offset)
            offset += 8 + length
            put("collections", b"\2" + data[:offset])

SEPARATOR = b"\n--SEGMENT--\n"
segments = [open(os.path.join(wal_dir, n), "rb").read() for n in sorted(os.listdir(wal_dir))]
put("wal_replay", b"\0" + SEPARATOR.join(segments))
put("wal_replay", b"\1" + SEPARATOR.join(segments))
for seg in segments:
    offset = 32
    records = []
    while offset + 16 <= len(seg):
        (length,) = struct.unpack_from("<I", seg, offset)
        payload = seg[offset + 16 : offset + 16 + length]
        put("wal_payload", payload)
        records.append(seg[offset : offset + 16 + length])
        offset += 16 + length
    # Each record alone in a segment of its own, as a small seed.
    for record in records:
        put("wal_replay", b"\1" + seg[:32] + record)

# Parts whole, and their blocks' columns for the codecs (docs/format/parts.md). A type code
# is its index in DataType::ALL plus one, which is also what codec_decode's first byte picks.
FIXED = {1: 8, 2: 4, 4: 1, 5: 4, 6: 8, 7: 4, 8: 8, 9: 4, 10: 8}
NUMERIC = {1, 2, 5, 6, 7, 8}

def skip_value(index, pos, code):
    if code in FIXED:
        return pos + FIXED[code]
    (n,) = struct.unpack_from("<I", index, pos)
    return pos + 4 + n

for dirpath, _, names in os.walk(parts_dir):
    for name in names:
        if not name.endswith(".part"):
            continue
        part = open(os.path.join(dirpath, name), "rb").read()
        put("part_open", b"\0" + part)
        put("part_open", b"\1" + part)
        index_offset, index_len = struct.unpack_from("<QQ", part, len(part) - 88)
        (encoding,) = struct.unpack_from("<I", part, len(part) - 88 + 20)
        (version,) = struct.unpack_from("<I", part, 8)
        index = part[index_offset : index_offset + index_len]
        if encoding == 1:
            # A compressed index (format version 2): its length, then one zstd frame.
            try:
                index = subprocess.run(
                    ["zstd", "-d", "-c"], input=index[8:], capture_output=True, check=True
                ).stdout
            except (OSError, subprocess.CalledProcessError):
                print(f"no zstd tool: {name}'s blocks are not seeded for codec_decode", file=sys.stderr)
                continue
        pos = 0
        while pos < len(index):
            pos += 8
            (klen,) = struct.unpack_from("<I", index, pos)
            pos += 4 + klen
            code = index[pos]
            (blocks,) = struct.unpack_from("<I", index, pos + 1)
            pos += 5
            for _ in range(blocks):
                boff, blen = struct.unpack_from("<QI", index, pos)
                pos += 8 + 4 + 4 + 8 + 8
                # From version 3 a byte says whether the values' summary follows.
                summarized = version < 3 or index[pos] == 1
                if version >= 3:
                    pos += 1
                if summarized:
                    for _ in range(4 if code in NUMERIC else 2):
                        pos = skip_value(index, pos, code)
                    if code in NUMERIC:
                        pos += 8
                block = part[boff : boff + blen]
                (ts_len,) = struct.unpack_from("<I", block, 0)
                put("codec_decode", b"\xff" + block[4 : 4 + ts_len])
                put("codec_decode", bytes([code - 1]) + block[4 + ts_len : blen - 4])
PY
echo "seeded: $(find "$corpus" -type f | wc -l) files"
