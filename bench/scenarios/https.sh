# shellcheck shell=bash
# bench/scenarios/https.sh - the HTTP gateway: https.

# https: POST /v1/score with wrk ($HTTP_CONC, default 16, callers with
# keep-alive, $DURATION s each) on the trivial host, over plain HTTP and
# over TLS with a bearer token, alternating, $HTTP_ROUNDS (3) rounds; prints
# requests/s and p50/p99, and TLS/plain
scenario_https() {
  local rounds=${HTTP_ROUNDS:-3} conc=${HTTP_CONC:-16} round m svc port token
  local svcs=()
  for round in $(seq "$rounds"); do svcs+=("hplain$round" "htls$round"); done
  MORE_TOPICS=gateway-replies start_services "${svcs[@]}"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/tls.key" -out "$WORK/tls.pem" 2>/dev/null
  token=$(openssl rand -hex 24)
  echo "$(printf %s "$token" | sha256sum | cut -d' ' -f1) score name=bench" >"$WORK/tokens"
  for round in $(seq "$rounds"); do
    for m in $(in_turn "$round" plain tls); do
      svc=h$m$round
      port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
      trivial_yaml "$svc" "$WORK/$svc.yaml"
      if [ "$m" = tls ]; then
        echo "http: {listen: \"127.0.0.1:$port\", tokens_file: $WORK/tokens, cert_file: $WORK/tls.pem, key_file: $WORK/tls.key}" >>"$WORK/$svc.yaml"
      else
        echo "http: {listen: \"127.0.0.1:$port\"}" >>"$WORK/$svc.yaml"
      fi
      start_host "$svc" "$WORK/$svc.yaml"
      local scheme=http auth=()
      [ "$m" = plain ] || { scheme=https; auth=(-H "Authorization: Bearer $token"); }
      for _ in $(seq 100); do
        [ "$(curl -sk -o /dev/null -w '%{http_code}' "$scheme://127.0.0.1:$port/readyz")" = 200 ] && break
        sleep 0.1
      done
      # wrk (OpenSSL): Go's client (hey) gets EOF from libmicrohttpd 0.9.75's TLS
      $PY - "$(head -1 "$DATA")" "${auth[1]:-}" >"$WORK/post.lua" <<'PY'
import json, sys
print('wrk.method = "POST"')
print(f"wrk.body = {json.dumps(sys.argv[1])}")
print('wrk.headers["Content-Type"] = "application/json"')
if sys.argv[2]:
    name, value = sys.argv[2].split(": ", 1)
    print(f'wrk.headers["{name}"] = {json.dumps(value)}')
PY
      wrk -t2 -c"$conc" -d"${DURATION}s" --latency -s "$WORK/post.lua" \
        "$scheme://127.0.0.1:$port/v1/score" >"$WORK/https-$m-$round.txt"
      stop_pid "$HOST_PID"
      echo "== https $m round $round: $(grep -E 'Requests/sec|Non-2xx' "$WORK/https-$m-$round.txt" | tr -s ' \n' ' ')" >&2
    done
  done
  summarize "$WORK" "$rounds" "$conc" "$SRC/bench" <<'PY'
import statistics, sys
work, rounds, conc = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.path.insert(0, sys.argv[4])
import wrk_result
def read(m, r):
    rate, p50, p99, bad, errors = wrk_result.read(f"{work}/https-{m}-{r}.txt")
    return rate, p50, p99, f"non-2xx {bad}" + (f", {errors}" if errors else "")
print(f"\n| round | plain: requests/s, p50 / p99 ms | TLS + token | TLS / plain (requests/s) | errors plain; TLS |")
print("|---|---|---|---|---|")
ratios = []
for r in range(1, rounds + 1):
    p, t = read("plain", r), read("tls", r)
    ratios.append(t[0] / p[0])
    print(f"| {r} | {p[0]:,.0f}, {p[1]:.2f} / {p[2]:.2f} | {t[0]:,.0f}, {t[1]:.2f} / {t[2]:.2f} | "
          f"{ratios[-1]:.2f} | {p[3]}; {t[3]} |")
print(f"\n**POST /v1/score, {conc} callers with keep-alive: TLS with a token / plain, median of "
      f"{rounds}: {statistics.median(ratios):.2f}**")
PY
}

# v2: the same row through POST /v1/score and through the Open Inference
# Protocol's POST /v2/models/SERVICE/infer (one row, one FP64 tensor), with
# wrk ($HTTP_CONC callers, default 16, keep-alive, $DURATION s each) on one
# trivial host over plain HTTP, alternating, $HTTP_ROUNDS (3) rounds;
# prints requests/s, p50/p99 and v2 / v1
scenario_v2() {
  local rounds=${HTTP_ROUNDS:-3} conc=${HTTP_CONC:-16} round m port
  MORE_TOPICS=gateway-replies start_services hv
  port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  trivial_yaml hv "$WORK/hv.yaml"
  echo "http: {listen: \"127.0.0.1:$port\"}" >>"$WORK/hv.yaml"
  start_host hv "$WORK/hv.yaml"
  for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/readyz")" = 200 ] && break
    sleep 0.1
  done
  $PY - "$(head -1 "$DATA")" "$FEATURES" "$WORK" <<'PY'
import json, sys
row, features, work = json.loads(sys.argv[1]), [f.strip() for f in sys.argv[2].split(",")], sys.argv[3]
v2 = {"inputs": [{"name": "features", "datatype": "FP64", "shape": [1, len(features)],
                  "data": [row[f] for f in features]}]}
for name, body in (("v1", json.dumps(row)), ("v2", json.dumps(v2))):
    with open(f"{work}/{name}.lua", "w") as f:
        f.write(f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
                'wrk.headers["Content-Type"] = "application/json"\n')
PY
  for round in $(seq "$rounds"); do
    for m in $(in_turn "$round" v1 v2); do
      local path=/v1/score
      [ "$m" = v2 ] && path=/v2/models/hv/infer
      wrk -t2 -c"$conc" -d"${DURATION}s" --latency -s "$WORK/$m.lua" \
        "http://127.0.0.1:$port$path" >"$WORK/https-$m-$round.txt"
      echo "== $m round $round: $(grep -E 'Requests/sec|Non-2xx' "$WORK/https-$m-$round.txt" | tr -s ' \n' ' ')" >&2
    done
  done
  stop_pid "$HOST_PID"
  summarize "$WORK" "$rounds" "$conc" "$SRC/bench" <<'PY'
import statistics, sys
work, rounds, conc = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sys.path.insert(0, sys.argv[4])
import wrk_result
def read(m, r):
    return wrk_result.read(f"{work}/https-{m}-{r}.txt")[:4]
print("\n| round | /v1/score: requests/s, p50 / p99 ms | /v2/.../infer | v2 / v1 | non-2xx v1; v2 |")
print("|---|---|---|---|---|")
ratios = []
for r in range(1, rounds + 1):
    a, b = read("v1", r), read("v2", r)
    ratios.append(b[0] / a[0])
    print(f"| {r} | {a[0]:,.0f}, {a[1]:.2f} / {a[2]:.2f} | {b[0]:,.0f}, {b[1]:.2f} / {b[2]:.2f} | "
          f"{ratios[-1]:.2f} | {a[3]}; {b[3]} |")
print(f"\n**one row, {conc} callers with keep-alive: v2 infer / v1 score, median of {rounds}: "
      f"{statistics.median(ratios):.2f}**")
PY
}
