#!/usr/bin/env bash
# The Open Inference Protocol (KServe v2) on the HTTP door, called by a
# client nobody here wrote: tritonclient[http] from PyPI, in a venv made
# here, with a bearer token. Health, readiness of the server, a model and
# the service, metadata (inputs, outputs, the version as the content hash),
# and infer on the service (the rendezvous): a batch of rows as one tensor
# and as one input per feature, answered as /v1/score answers each row; on
# a model, a direct call: that model's own score record, archived.
# Protocol errors: unknown model 404, wrong shape and datatype 400 with the
# reason, the binary extension refused (400), an oversized body 413, no
# token 401; each answer counted by its status in /metrics. Then the same
# client over TLS, the certificate verified against its CA.
. "$(dirname "$0")/lib.sh"
FX=$RV_FIXTURE_DIR
read -r PORT < <(free_ports 1)
start_broker $(service_topics v2) $(service_topics demo) demo.labels demo.evaluation

python3 -m venv "$TMP/venv" >/dev/null 2>&1 || $PY -m venv "$TMP/venv" ||
  fail "cannot make a venv"
"$TMP/venv/bin/pip" install -q 'tritonclient[http]' >"$TMP/pip.log" 2>&1 ||
  fail "pip install tritonclient[http]: $(tail -3 "$TMP/pip.log")"

hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
printf '%s score,read,metrics name=client\n' "$(hash v2-secret-token)" >"$TMP/tokens"
write_service v2 "$TMP/v2.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so, params: {weight: "0.05"}}
  - {name: b, plugin: $FX/ok_b.so}
  - {name: decoy, builtin: decoy}
rendezvous:
  schedule: [{model: a, within_ms: 2000}, {model: b, within_ms: 3000}]
http: {listen: "127.0.0.1:$PORT", tokens_file: $TMP/tokens}
YAML
start_host "$TMP/v2.yaml" "$TMP/v2.log"
for _ in $(seq 200); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/health/ready")" = 200 ] && break
  sleep 0.05
done

"$TMP/venv/bin/python" - "127.0.0.1:$PORT" "$TMP/direct.json" <<'PY' || fail "tritonclient against the v2 endpoints"
import json, sys, urllib.request
import numpy
import tritonclient.http as tc
from tritonclient.utils import InferenceServerException

url = sys.argv[1]
auth = {"Authorization": "Bearer v2-secret-token"}
c = tc.InferenceServerClient(url=url)

assert c.is_server_live() and c.is_server_ready()
assert c.is_model_ready("a", headers=auth) and c.is_model_ready("v2", headers=auth)
md = c.get_model_metadata("a", headers=auth)
assert md["name"] == "a" and len(md["versions"]) == 1 and len(md["versions"][0]) == 8, md
assert md["inputs"] == [{"name": "features", "datatype": "FP64", "shape": [-1, 2]}], md
assert md["outputs"][0] == {"name": "probabilities", "datatype": "FP64", "shape": [-1, len(md["parameters"]["labels"])]}, md
assert md["parameters"]["features"] == ["x", "y"], md
assert c.is_model_ready("a", model_version=md["versions"][0], headers=auth)
assert c.get_model_metadata("v2", headers=auth)["platform"] == "rendezvous"

def score(row):  # the same row through POST /v1/score
    req = urllib.request.Request(f"http://{url}/v1/score", method="POST", headers=auth,
                                 data=json.dumps({"x": row[0], "y": row[1]}).encode())
    return json.loads(urllib.request.urlopen(req).read())

X = numpy.array([[0.5, 1.0], [3.0, -2.0], [10.0, 0.25], [-4.0, 4.0]])
outs = [tc.InferRequestedOutput("probabilities", binary_data=False),
        tc.InferRequestedOutput("label", binary_data=False)]
t = tc.InferInput("features", list(X.shape), "FP64")
t.set_data_from_numpy(X, binary_data=False)
whole = c.infer("v2", [t], outputs=outs, headers=auth, request_id="batch-1")
per = []
for i, name in enumerate(["x", "y"]):
    f = tc.InferInput(name, [len(X)], "FP64")
    f.set_data_from_numpy(X[:, i].copy(), binary_data=False)
    per.append(f)
split = c.infer("v2", per, outputs=outs, headers=auth)
labels = c.get_model_metadata("v2", headers=auth)["parameters"]["labels"]
for res in (whole, split):
    p, top = res.as_numpy("probabilities"), res.as_numpy("label")
    params = res.get_response()["parameters"]
    assert p.shape == (len(X), len(labels)), p.shape
    for i, row in enumerate(X):
        want = score(row)
        assert params["models"][i] == want["model"] and params["reasons"][i] == want["reason"]
        for a in want["answers"]:
            assert p[i][labels.index(a["label"])] == a["score"], (i, p[i], want)
        got = top[i].decode() if isinstance(top[i], bytes) else top[i]
        assert got == want["answers"][0]["label"], (got, want)
assert whole.get_response()["id"] == "batch-1"

# a direct call: infer on a model is that model's answer alone, row by row
direct = {}
for name in ("a", "b"):
    res = c.infer(name, [t], outputs=outs, headers=auth, request_id=f"direct-{name}")
    r = res.get_response()
    assert r["model_name"] == name and r["model_version"] == md["versions"][0] or name != "a", r
    assert r["parameters"]["models"] == [name] * len(X), r["parameters"]
    assert r["parameters"]["reasons"] == ["direct"] * len(X), r["parameters"]
    assert r["parameters"]["ids"] == [f"direct-{name}-{i}" for i in range(len(X))], r["parameters"]
    direct[name] = {"labels": c.get_model_metadata(name, headers=auth)["parameters"]["labels"],
                    "p": res.as_numpy("probabilities").tolist()}
json.dump(direct, open(sys.argv[2], "w"))

def refused(status, fn, text):
    try:
        fn()
    except InferenceServerException as e:
        assert e.status() == str(status) and text in e.message(), (status, e.status(), e.message())
        return
    raise AssertionError(f"not refused: {text}")

refused(404, lambda: c.get_model_metadata("nope", headers=auth), "no model nope")
refused(404, lambda: c.infer("nope", [t], headers=auth), "no model nope")
bad = tc.InferInput("features", [4, 1], "FP64")
bad.set_data_from_numpy(X[:, :1].copy(), binary_data=False)
refused(400, lambda: c.infer("v2", [bad], headers=auth), "shape must be [rows, 2]")
s = tc.InferInput("features", [1, 2], "BYTES")
s.set_data_from_numpy(numpy.array([[b"a", b"b"]], dtype=object), binary_data=False)
refused(400, lambda: c.infer("v2", [s], headers=auth), "datatype BYTES")
binary = tc.InferInput("features", list(X.shape), "FP64")
binary.set_data_from_numpy(X, binary_data=True)
refused(400, lambda: c.infer("v2", [binary], headers=auth), "binary tensor extension")
refused(401, lambda: c.infer("v2", [t]), "")
big = numpy.zeros((5000, 2))  # over 64 x input.max_body_bytes (256)
b = tc.InferInput("features", list(big.shape), "FP64")
b.set_data_from_numpy(big, binary_data=False)
refused(413, lambda: c.infer("v2", [b], headers=auth), "body over")
print("ok")
PY
# each direct call was scored by its model alone, archived by the decoy, and
# its answer is the model's own score record
consume v2.scores >"$TMP/scores"
timeout 60 kcat -C -b "$BOOTSTRAP" -t v2.archive -o beginning -e -q -f '%k\n' >"$TMP/archive" 2>/dev/null || true
$PY - "$TMP/direct.json" "$TMP/scores" "$TMP/archive" <<'PY' || fail "direct calls against the scores and archive streams"
import json, sys
direct = json.load(open(sys.argv[1]))
scores = [json.loads(l) for l in open(sys.argv[2])]
archived = set(open(sys.argv[3]).read().split())  # the copies' keys: the ids
for name, d in direct.items():
    for i, row in enumerate(d["p"]):
        rid = f"direct-{name}-{i}"
        own = [s for s in scores if s["id"] == rid]
        assert [s["model"] for s in own] == [name], (rid, own)
        got = {l: p for l, p in zip(d["labels"], row)}
        assert all(got[a["label"]] == a["score"] for a in own[0]["answers"]), (rid, got, own[0])
        assert rid in archived, f"{rid} not archived"
print("direct calls: each scored by its model alone, archived, answered with its own score")
PY
# the protocol's answers counted by status in /metrics (the 401 is a
# refusal before the endpoint: rendezvous_http_refused_total)
curl -s -H "Authorization: Bearer v2-secret-token" "http://127.0.0.1:$PORT/metrics" >"$TMP/metrics"
$PY - "$TMP/metrics" <<'PY' || fail "rendezvous_http_v2_answers_total: $(grep v2_answers "$TMP/metrics")"
import re, sys
got = {m[0]: float(m[1]) for m in re.findall(
    r'^rendezvous_http_v2_answers_total\{status="([^"]+)"\} (\S+)$', open(sys.argv[1]).read(), re.M)}
assert got["200"] >= 10 and got["404"] == 2 and got["400"] == 3 and got["413"] == 1, got
# 503s: /v2/health/ready polled above until the host was ready
assert got["500"] == got["504"] == got["other"] == 0, got
PY
# an rv-model header naming no model of the service: dead-letter, the reason
echo '{"x": 1, "y": 2}' | kcat -P -b "$BOOTSTRAP" -t v2.requests -k stray-1 -H "rv-model=nope"
wait_count v2.dead-letter 1 30
timeout 60 kcat -C -b "$BOOTSTRAP" -t v2.dead-letter -o beginning -e -q -f '%h\n' >"$TMP/dl" 2>/dev/null || true
grep -q "rv-model names no model of service v2: nope" "$TMP/dl" ||
  fail "an rv-model naming no model: $(cat "$TMP/dl")"
stop_host
pass "tritonclient[http] against the v2 endpoints: health, readiness, metadata, infer on the service as one tensor and per feature (equal to /v1/score's answers, row by row) and on each model (a direct call: its own score record, archived), with a bearer token; 404, 400 (shape, datatype, binary), 401 and 413 as the protocol says, each counted by status in /metrics; an rv-model naming no model goes to dead-letter"

# the same client over TLS: the certificate checked against its own CA
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1" -keyout "$TMP/tls.key" -out "$TMP/tls.pem" 2>/dev/null ||
  fail "cannot make a certificate"
sed -i "s|^http: {\(.*\)}$|http: {\1, cert_file: $TMP/tls.pem, key_file: $TMP/tls.key}|" "$TMP/v2.yaml"
grep -q "cert_file" "$TMP/v2.yaml" || fail "no TLS in the config: $(grep http: "$TMP/v2.yaml")"
start_host "$TMP/v2.yaml" "$TMP/v2tls.log"
for _ in $(seq 200); do
  [ "$(curl -s --cacert "$TMP/tls.pem" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/v2/health/ready")" = 200 ] && break
  sleep 0.05
done
"$TMP/venv/bin/python" - "127.0.0.1:$PORT" "$TMP/tls.pem" <<'PY' || fail "tritonclient over TLS"
import ssl, sys
import numpy
import tritonclient.http as tc
from tritonclient.utils import InferenceServerException
url, ca = sys.argv[1], sys.argv[2]
auth = {"Authorization": "Bearer v2-secret-token"}
c = tc.InferenceServerClient(url=url, ssl=True,
                             ssl_context_factory=lambda *a, **k: ssl.create_default_context(cafile=ca))
assert c.is_server_live() and c.is_server_ready() and c.is_model_ready("v2", headers=auth)
assert c.get_model_metadata("a", headers=auth)["name"] == "a"
X = numpy.array([[0.5, 1.0], [3.0, -2.0]])
t = tc.InferInput("features", list(X.shape), "FP64")
t.set_data_from_numpy(X, binary_data=False)
outs = [tc.InferRequestedOutput("probabilities", binary_data=False)]
for name, reason in (("v2", "preferred"), ("b", "direct")):
    r = c.infer(name, [t], outputs=outs, headers=auth)
    assert r.get_response()["parameters"]["reasons"] == [reason] * 2, r.get_response()
    assert r.as_numpy("probabilities").shape[0] == 2
try:
    c.infer("v2", [t], headers={"Authorization": "Bearer wrong"})
    raise AssertionError("a wrong token over TLS was answered")
except InferenceServerException as e:
    assert e.status() == "401", e.status()
try:  # without its CA the certificate is refused: the check above was real
    tc.InferenceServerClient(url=url, ssl=True).is_server_live()
    untrusted = None
except Exception as e:  # the TLS library's own error type
    untrusted = e
assert untrusted is not None and "CERTIFICATE_VERIFY_FAILED" in str(untrusted), untrusted
print("tls ok")
PY
stop_host
pass "tritonclient[http] over TLS (the certificate verified): health, metadata, infer on the service and on a model with a bearer token; a wrong token 401"

# the demo's own config (XGBoost preferred, the linear fallback, canary,
# decoy; deadlines widened for a busy machine), over TLS with the token:
# infer on xgb-v1 is XGBoost's own predict_proba, infer on the service is
# each row's /v1/score answer
sed -e "s|\.\./build/plugins|$RV_BUILD_DIR/plugins|" -e "s| models/| $RV_SOURCE_DIR/conf/models/|" \
  -e "s|^state_dir: .*|state_dir: $TMP/demo-state|" -e "s|dir: state/archive|dir: $TMP/demo-state/archive|" \
  -e "s|within_ms: 20 |within_ms: 2000 |; s|within_ms: 40 |within_ms: 4000 |" \
  -e "s|^http: .*|http: {listen: \"127.0.0.1:$PORT\", tokens_file: $TMP/tokens, cert_file: $TMP/tls.pem, key_file: $TMP/tls.key}|" \
  "$RV_SOURCE_DIR/conf/demo.yaml" >"$TMP/demo.yaml"
$PY - "$RV_SOURCE_DIR/conf" "$TMP/xgb.json" <<'PY' || fail "XGBoost's own answers"
import json, sys
import numpy, xgboost
conf, out = sys.argv[1], sys.argv[2]
features = json.load(open(f"{conf}/models/breast_cancer-linear.json"))["features"]
rows = [json.loads(l) for l in open(f"{conf}/data/breast_cancer.jsonl")][:16]
X = numpy.array([[r[f] for f in features] for r in rows])
p = xgboost.Booster(model_file=f"{conf}/models/breast_cancer-xgb.json").predict(xgboost.DMatrix(X))
json.dump({"X": X.tolist(), "proba": [[1 - float(v), float(v)] for v in p]}, open(out, "w"))
PY
start_host "$TMP/demo.yaml" "$TMP/demo.log"
for _ in $(seq 200); do
  [ "$(curl -s --cacert "$TMP/tls.pem" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$PORT/v2/health/ready")" = 200 ] && break
  sleep 0.05
done
"$TMP/venv/bin/python" - "127.0.0.1:$PORT" "$TMP/tls.pem" "$TMP/xgb.json" <<'PY' || fail "tritonclient on the demo"
import json, ssl, sys, urllib.request
import numpy
import tritonclient.http as tc
url, ca, want = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
auth = {"Authorization": "Bearer v2-secret-token"}
ctx = lambda *a, **k: ssl.create_default_context(cafile=ca)
c = tc.InferenceServerClient(url=url, ssl=True, ssl_context_factory=ctx)
assert c.is_server_live() and c.is_model_ready("xgb-v1", headers=auth) and c.is_model_ready("demo", headers=auth)
md = c.get_model_metadata("xgb-v1", headers=auth)
assert md["parameters"]["labels"] == ["malignant", "benign"] and md["inputs"][0]["shape"] == [-1, 30], md
features = md["parameters"]["features"]
X = numpy.array(want["X"])
t = tc.InferInput("features", list(X.shape), "FP64")
t.set_data_from_numpy(X, binary_data=False)
outs = [tc.InferRequestedOutput("probabilities", binary_data=False)]
own = c.infer("xgb-v1", [t], outputs=outs, headers=auth)
diff = numpy.abs(own.as_numpy("probabilities") - numpy.array(want["proba"])).max()
assert diff <= 1e-6, diff  # XGBoost predicts in float32
assert own.get_response()["parameters"]["reasons"] == ["direct"] * len(X)
whole = c.infer("demo", [t], outputs=outs, headers=auth)
labels = c.get_model_metadata("demo", headers=auth)["parameters"]["labels"]
https = urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca))
for i, row in enumerate(X):
    req = urllib.request.Request(f"https://{url}/v1/score", method="POST", headers=auth,
                                 data=json.dumps(dict(zip(features, row))).encode())
    v1 = json.loads(urllib.request.build_opener(https).open(req).read())
    assert whole.get_response()["parameters"]["models"][i] == v1["model"], (i, v1)
    for a in v1["answers"]:
        assert whole.as_numpy("probabilities")[i][labels.index(a["label"])] == a["score"], (i, a)
print(f"demo: xgb-v1 as XGBoost's own to {diff:.1e}; the service as /v1/score on {len(X)} rows")
PY
stop_host
pass "tritonclient[http] on the demo config over TLS with a token: infer on xgb-v1 is XGBoost's own predict_proba (to 1e-6), infer on the service each row's /v1/score answer"
