#!/usr/bin/env bash
# Who may call the HTTP listener: bearer tokens from http.tokens_file, each
# with scopes and limits, against hostile clients with curl — no token, a
# wrong one, one lacking the scope, one over its rate, one revoked by
# rewriting the file — each refused with its status while every legitimate
# request around them is answered; probes stay open; a bad new file leaves
# the tokens in force; no token is in any log. A listener reachable from
# other hosts without tokens warns at start.
. "$(dirname "$0")/lib.sh"
FX=$RV_FIXTURE_DIR
read -r PORT PORT_OPEN PORT_TLS < <(free_ports 3)
URL=http://127.0.0.1:$PORT
start_broker $(service_topics auth) $(service_topics open) $(service_topics tls)

rnd() { $PY -c 'import secrets; print(secrets.token_urlsafe(24))'; }
hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
SCORER=$(rnd) READER=$(rnd) LIMITED=$(rnd) METRICS=$(rnd)
tokens() { # the file, with the scorer's line unless "revoked"
  {
    echo "# the gateway's callers"
    [ "${1:-}" = revoked ] || echo "$(hash "$SCORER") score name=scorer"
    echo "$(hash "$READER") read name=reader"
    echo "$(hash "$LIMITED") score name=limited rate=5"
    echo "$(hash "$METRICS") metrics,read name=prometheus"
  } >"$TMP/tokens.new"
  mv "$TMP/tokens.new" "$TMP/tokens" # at once, as an editor or a deploy does
}
tokens
write_service auth "$TMP/auth.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so}
rendezvous:
  schedule: [{model: a, within_ms: 2000}]
http: {listen: "127.0.0.1:$PORT", tokens_file: $TMP/tokens}
YAML
start_host "$TMP/auth.yaml" "$TMP/auth.log"
for _ in $(seq 200); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/readyz")" = 200 ] && break
  sleep 0.05
done

BODY=$TMP/body
call() { # TOKEN-or-"" METHOD PATH: prints the status; headers in $TMP/headers
  local auth=()
  [ -z "$1" ] || auth=(-H "Authorization: Bearer $1")
  if [ "$2" = POST ]; then
    curl -s -D "$TMP/headers" -o "$BODY" -w '%{http_code}' "${auth[@]}" -d '{"x": 1, "y": 2}' "$URL$3"
  else
    curl -s -D "$TMP/headers" -o "$BODY" -w '%{http_code}' "${auth[@]}" "$URL$3"
  fi
}
expect() { # STATUS TOKEN METHOD PATH WHAT
  local got
  got=$(call "$2" "$3" "$4")
  [ "$got" = "$1" ] || fail "$5: $3 $4 gave $got, expected $1: $(cat "$BODY")"
}
answered=0
legit() { expect 200 "$SCORER" POST /v1/score "a legitimate call"; answered=$((answered + 1)); }

[ "$(call "" GET /healthz)" = 200 ] && [ "$(call "" GET /readyz)" = 200 ] || fail "probes need no token"
legit
expect 401 "" POST /v1/score "no token"
grep -qi '^WWW-Authenticate: Bearer realm="rendezvous"' "$TMP/headers" || fail "401 without WWW-Authenticate"
legit
expect 401 "not-$SCORER" POST /v1/score "a wrong token"
expect 401 "" GET /v1/models "no token for a read"
expect 401 "" GET /nowhere "no token for an unknown path"
legit
expect 403 "$READER" POST /v1/score "a token without the score scope"
grep -q "lacks the scope 'score'" "$BODY" || fail "403 does not name the scope: $(cat "$BODY")"
expect 403 "$READER" GET /metrics "a token without the metrics scope"
expect 200 "$READER" GET /v1/models "the reader reads"
expect 200 "$READER" GET / "the reader sees the dashboard"
expect 200 "$METRICS" GET /metrics "the metrics token"
legit
pass "no token, a wrong one and a missing scope: 401 (with WWW-Authenticate), 401, 403 naming the scope; probes open; legitimate calls answered"

# a header that names the caller or the request given twice: whichever a
# proxy in front reads, the host must not pick another one; neither value
# is echoed
twice() { # WHAT HEADER1 HEADER2
  local st
  st=$(curl -s -o "$BODY" -w '%{http_code}' -H "$2" -H "$3" -d '{"x": 1}' "$URL/v1/score")
  [ "$st" = 400 ] || fail "$1: $st, expected 400: $(cat "$BODY")"
  grep -q 'given more than once' "$BODY" || fail "$1: the reason is not said: $(cat "$BODY")"
  ! grep -qF -e "$SCORER" -e "$READER" -e junk -e dup- "$BODY" || fail "$1: a value is echoed: $(cat "$BODY")"
}
twice "a good token then junk" "Authorization: Bearer $SCORER" "Authorization: Bearer junk"
twice "junk then a good token" "Authorization: Bearer junk" "Authorization: Bearer $SCORER"
twice "read scope then score" "Authorization: Bearer $READER" "Authorization: Bearer $SCORER"
twice "score scope then read" "Authorization: Bearer $SCORER" "Authorization: Bearer $READER"
twice "two request ids" "X-Request-Id: dup-1" "X-Request-Id: dup-2"
st=$(curl -s -o "$BODY" -w '%{http_code}' -H "Authorization: Bearer $SCORER" \
  -H "authorization: Bearer $SCORER" "$URL/v1/models")
[ "$st" = 400 ] || fail "the same token twice, in another case, on a GET: $st"
legit
curl -s -H "Authorization: Bearer $METRICS" "$URL/metrics" >"$TMP/metrics"
grep -q 'rendezvous_http_refused_total{status="400"} 6$' "$TMP/metrics" ||
  fail "headers given twice not counted: $(grep refused_total "$TMP/metrics")"
pass "Authorization or X-Request-Id given twice, in either order or case: 400 naming the header, no value echoed, counted"

# rate=5: a burst of 20 gets 5 or so through, then 429 with Retry-After
ok=0 limited=0 t0=$(date +%s%N)
for _ in $(seq 20); do
  case $(call "$LIMITED" POST /v1/score) in
    200) ok=$((ok + 1)) ;;
    429) limited=$((limited + 1)); grep -qi '^Retry-After: 1' "$TMP/headers" || fail "429 without Retry-After" ;;
    *) fail "limited token: $(cat "$BODY")" ;;
  esac
done
# the bucket refills while the burst runs (slowly on a loaded machine): at
# most its 5, what 5/s refilled over the burst, and one at the edge
most=$((5 + ($(date +%s%N) - t0) * 5 / 1000000000 + 1))
[ "$ok" -ge 1 ] && [ "$ok" -le "$most" ] && [ "$((ok + limited))" -eq 20 ] ||
  fail "rate 5/s over a burst of 20: $ok answered (at most $most), $limited refused"
legit
pass "a token over its rate (5/s): $ok of 20 answered, $limited refused with 429 and Retry-After; others unaffected"

# revoked by rewriting the file: refused within the next look (1 s)
tokens revoked
for _ in $(seq 40); do
  [ "$(call "$SCORER" POST /v1/score)" = 401 ] && break
  sleep 0.1
done
[ "$(call "$SCORER" POST /v1/score)" = 401 ] || fail "the revoked token still scores"
wait_log "$TMP/auth.log" "changed: 3 bearer token(s) now" 1
expect 200 "$READER" GET /v1/models "the reader after the revocation"
# a file that does not parse: said with its line, the tokens before stay
printf '%s\nnot a token line\n' "$(hash "$READER") read" >"$TMP/tokens.new"
mv "$TMP/tokens.new" "$TMP/tokens"
for _ in $(seq 40); do # the file is looked at on requests, once a second at most
  expect 200 "$READER" GET /v1/models "the reader after a bad file"
  grep -q "tokens: line 2: expected the token's SHA-256" "$TMP/auth.log" && break
  sleep 0.1
done
grep -q "tokens: line 2: expected the token's SHA-256.*the tokens before it stay in force" "$TMP/auth.log" ||
  fail "the bad file is not reported with its line: $(grep tokens "$TMP/auth.log" | tail -2)"
expect 200 "$LIMITED" POST /v1/score "the limited token after a bad file"
pass "revoked by rewriting the file (no restart); a bad new file is refused with its line and the tokens in force stay"

curl -s -H "Authorization: Bearer $METRICS" "$URL/metrics" >"$TMP/metrics"
grep -q 'rendezvous_http_refused_total{status="401"} [1-9]' "$TMP/metrics" ||
  fail "refusals not counted: $(grep refused "$TMP/metrics")"
stop_host
for t in "$SCORER" "$READER" "$LIMITED" "$METRICS"; do
  ! grep -rqF -- "$t" "$TMP/auth.log" "$TMP/auth.log.out" || fail "a token is in the log"
  ! grep -rqF -- "$(hash "$t")" "$TMP/auth.log" "$TMP/auth.log.out" || fail "a token's hash is in the log"
done
pass "$answered legitimate calls answered among the refusals; refusals counted in /metrics; no token nor hash in any log"

# a tokens file that does not parse: the host does not start, and says why
printf 'garbage\n' >"$TMP/tokens"
st=0
timeout 60 "$RV_BIN" -c "$TMP/auth.yaml" -b "$BOOTSTRAP" 2>"$TMP/bad-start.log" >/dev/null || st=$?
[ "$st" -ne 0 ] && grep -q "tokens: line 1: expected the token's SHA-256" "$TMP/bad-start.log" ||
  fail "a bad tokens file at start: status $st, $(grep -i token "$TMP/bad-start.log")"
pass "a tokens file that does not parse stops the start with its line"

# a listener reachable from other hosts, without tokens: a warning at start
write_service open "$TMP/open.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so}
rendezvous:
  schedule: [{model: a, within_ms: 2000}]
http: {listen: "0.0.0.0:$PORT_OPEN"}
YAML
start_host "$TMP/open.yaml" "$TMP/open.log"
grep -q "is reachable from other hosts and has no http.tokens_file" "$TMP/open.log" ||
  fail "no warning for an open listener: $(grep http "$TMP/open.log")"
stop_host
pass "an HTTP listener on 0.0.0.0 without tokens warns at start"

# TLS with client certificates (openssl makes two CAs, the server's and the
# clients' certificates)
pki() {
  local d=$TMP/pki
  mkdir -p "$d"
  for ca in ca other; do
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=test $ca" \
      -keyout "$d/$ca.key" -out "$d/$ca.pem" 2>/dev/null
  done
  cert() { # NAME CA SUBJ [EXT]
    openssl req -newkey rsa:2048 -nodes -subj "$3" -keyout "$d/$1.key" -out "$d/$1.csr" 2>/dev/null
    printf '%s\n' "${4:-basicConstraints=CA:FALSE}" >"$d/$1.ext"
    openssl x509 -req -in "$d/$1.csr" -CA "$d/$2.pem" -CAkey "$d/$2.key" -CAcreateserial -days 2 \
      -extfile "$d/$1.ext" -out "$d/$1.pem" 2>/dev/null
  }
  cert server ca "/CN=127.0.0.1" "subjectAltName=IP:127.0.0.1"
  cert renewed ca "/CN=127.0.0.1" "subjectAltName=IP:127.0.0.1"
  cert client ca "/CN=fraud-api"
  cert mapped ca "/CN=churn job/O=Example Bank"
  cert stranger other "/CN=stranger"
}
pki
tokens
# a client certificate's subject may stand for a token: as RFC 4514 (and
# openssl's RFC2253 option) write it, "O=Example Bank,CN=churn job"
subject=$(openssl x509 -noout -subject -nameopt RFC2253 -in "$TMP/pki/mapped.pem" | sed 's/^subject=//')
echo "subject:\"$subject\" score name=churn-job" >>"$TMP/tokens"
cp "$TMP/pki/server.pem" "$TMP/pki/serving.pem"
cp "$TMP/pki/server.key" "$TMP/pki/serving.key"
cp "$TMP/pki/ca.pem" "$TMP/pki/clients.pem"
write_service tls "$TMP/tls.yaml" <<YAML
models:
  - {name: a, plugin: $FX/ok.so}
rendezvous:
  schedule: [{model: a, within_ms: 2000}]
http: {listen: "127.0.0.1:$PORT_TLS", tokens_file: $TMP/tokens, cert_file: $TMP/pki/serving.pem,
       key_file: $TMP/pki/serving.key, client_ca_file: $TMP/pki/clients.pem,
       max_connections_per_ip: 50}
YAML
start_host "$TMP/tls.yaml" "$TMP/tls.log"
TURL=https://127.0.0.1:$PORT_TLS
tcall() { # CERT-or-"" PATH [curl args]: the status (000: no HTTP answer)
  local who=$1 path=$2 c=()
  shift 2
  [ -z "$who" ] || c=(--cert "$TMP/pki/$who.pem" --key "$TMP/pki/$who.key")
  curl -s -o "$BODY" -w '%{http_code}' --cacert "$TMP/pki/ca.pem" "${c[@]}" "$@" "$TURL$path" || true
}
for _ in $(seq 200); do [ "$(tcall "" /readyz)" = 200 ] && break; sleep 0.05; done
tlegit() {
  [ "$(tcall client /v1/score -H "Authorization: Bearer $SCORER" -d '{"x": 1, "y": 2}')" = 200 ] ||
    fail "a trusted client with its token over TLS: $(cat "$BODY")"
}
tlegit
[ "$(tcall "" /healthz)" = 200 ] || fail "healthz over TLS without a client certificate"
st=$(tcall "" /v1/score -H "Authorization: Bearer $SCORER" -d '{"x": 1}')
[ "$st" = 403 ] && grep -q "client certificate" "$BODY" || fail "no client certificate: $st $(cat "$BODY")"
tlegit
stranger=$(tcall stranger /v1/score -H "Authorization: Bearer $SCORER" -d '{"x": 1}')
[ "$stranger" = 403 ] || [ "$stranger" = 000 ] || fail "a client of another CA: $stranger $(cat "$BODY")"
st=$(tcall client /v1/score -d '{"x": 1}')
[ "$st" = 401 ] || fail "a trusted client without a token: $st"
st=$(curl -s -o /dev/null -w '%{http_code}' -m 5 -d '{"x": 1}' "http://127.0.0.1:$PORT_TLS/v1/score" || true)
[ "$st" = 000 ] || fail "plain HTTP to the TLS port was answered: $st"
tlegit
st=$(tcall mapped /v1/score -d '{"x": 1, "y": 2}')
[ "$st" = 200 ] || fail "a client whose subject the tokens file maps to score: $st $(cat "$BODY")"
st=$(tcall mapped /v1/models)
[ "$st" = 403 ] && grep -q "churn-job lacks the scope 'read'" "$BODY" ||
  fail "the mapped subject without the read scope: $st $(cat "$BODY")"
st=$(tcall client /v1/score -H "Authorization: Bearer not-a-token" -d '{"x": 1}')
[ "$st" = 401 ] || fail "a wrong bearer token beside a trusted certificate: $st"
tlegit
pass "TLS with client certificates: no certificate 403, another CA's refused ($stranger), no token 401, plain HTTP not answered; a certificate's subject in the tokens file stands for a token, with its scopes"

# 200 connections from one address (127.0.0.2) that never finish a
# handshake: 50 held (max_connections_per_ip), the rest closed at accept,
# while a trusted client from another address is answered
$PY - "$PORT_TLS" "$TMP/flood.ready" <<'PY' &
import errno, socket, sys, time
conns = []
for _ in range(200):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", int(sys.argv[1])))
    s.send(b"\x16\x03\x01")  # the first bytes of a ClientHello, and no more
    conns.append(s)
time.sleep(1)
held = 0
for s in conns:
    s.setblocking(False)
    try:
        held += s.recv(1) != b""  # closed: EOF
    except BlockingIOError:
        held += 1
    except ConnectionResetError:
        pass
open(sys.argv[2], "w").write(f"{held}")
time.sleep(6)
PY
flood=$!
for _ in $(seq 100); do [ -s "$TMP/flood.ready" ] && break; sleep 0.1; done
for _ in 1 2 3 4 5; do tlegit; done
wait "$flood" || fail "the slow handshakes could not be made"
held=$(cat "$TMP/flood.ready")
[ "$held" -le 50 ] && [ "$held" -ge 40 ] || fail "one address held $held of 200 stalled connections, limit 50"
pass "200 stalled handshakes from one address: $held held (limit 50), the rest closed; a trusted client from another answered"

# SIGHUP reads the certificate, key and client CAs again; a key that is not
# the certificate's is refused and the ones in use stay
served_cert() { # the certificate the listener presents now (SHA-256)
  openssl s_client -connect "127.0.0.1:$PORT_TLS" -CAfile "$TMP/pki/ca.pem" -cert "$TMP/pki/client.pem" \
    -key "$TMP/pki/client.key" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256
}
fp() { openssl x509 -noout -fingerprint -sha256 -in "$1"; }
[ "$(served_cert)" = "$(fp "$TMP/pki/server.pem")" ] || fail "the listener does not present its certificate"
cp "$TMP/pki/renewed.pem" "$TMP/pki/serving.pem" # the renewed certificate, the old key
kill -HUP "$HOST_PID"
wait_log "$TMP/tls.log" "is not the key of http.cert_file.*the certificate, key and client CAs in use stay" 1
[ "$(served_cert)" = "$(fp "$TMP/pki/server.pem")" ] || fail "a mismatched key replaced the certificate"
tlegit
cp "$TMP/pki/renewed.key" "$TMP/pki/serving.key"
kill -HUP "$HOST_PID"
wait_log "$TMP/tls.log" "http: reloaded: certificate" 1
[ "$(served_cert)" = "$(fp "$TMP/pki/renewed.pem")" ] || fail "SIGHUP did not bring the renewed certificate"
tlegit
want=$(date -d "$(openssl x509 -noout -enddate -in "$TMP/pki/renewed.pem" | cut -d= -f2)" +%s)
curl -s --cacert "$TMP/pki/ca.pem" --cert "$TMP/pki/client.pem" --key "$TMP/pki/client.key" \
  -H "Authorization: Bearer $METRICS" "$TURL/metrics" >"$TMP/tls-metrics"
$PY -c 'import sys
v = [l for l in open(sys.argv[1]) if l.startswith("rendezvous_http_certificate_expiry_seconds ")]
assert v and abs(float(v[0].split()[1]) - int(sys.argv[2])) < 1, v' "$TMP/tls-metrics" "$want" ||
  fail "/metrics does not give the renewed certificate's expiry ($want)"
cp "$TMP/pki/other.pem" "$TMP/pki/clients.pem" # now only the other CA's clients
kill -HUP "$HOST_PID"
wait_log "$TMP/tls.log" "http: reloaded: certificate" 2
st=$(tcall client /v1/score -H "Authorization: Bearer $SCORER" -d '{"x": 1}')
[ "$st" = 403 ] || fail "a client of a CA no longer trusted: $st"
st=$(tcall stranger /v1/score -H "Authorization: Bearer $SCORER" -d '{"x": 1, "y": 2}')
[ "$st" = 200 ] || fail "a client of the CA trusted after SIGHUP: $st $(cat "$BODY")"
# a token revoked over TLS, taken by SIGHUP
tokens revoked
kill -HUP "$HOST_PID"
wait_log "$TMP/tls.log" "changed: 3 bearer token(s) now" 1
st=$(tcall stranger /v1/score -H "Authorization: Bearer $SCORER" -d '{"x": 1}')
[ "$st" = 401 ] || fail "a token revoked at SIGHUP still scores over TLS: $st"
st=$(tcall stranger /v1/score -H "Authorization: Bearer $LIMITED" -d '{"x": 1, "y": 2}')
[ "$st" = 200 ] || fail "a token in force after the revocation: $st $(cat "$BODY")"
stop_host
for t in "$SCORER" "$READER" "$LIMITED" "$METRICS"; do
  ! grep -qF -- "$t" "$TMP/tls.log" "$TMP/tls.log.out" || fail "a token is in the TLS host's log"
  ! grep -qF -- "$(hash "$t")" "$TMP/tls.log" "$TMP/tls.log.out" || fail "a hash is in the TLS host's log"
done
pass "SIGHUP: a key that is not the certificate's refused (the old certificate served on), a renewed certificate and key taken, client CAs replaced, a token revoked, without a restart; no token nor hash in the log"
