#!/usr/bin/env bash
# Installed like a service: `cmake --install` into a DESTDIR holds the host,
# the plugins, the ABI header with its pkg-config file, the template, the
# demo's models, an example config using the installed plugins and the
# systemd unit; `rendezvous check` accepts the shipped config run from the
# installed tree; the unit passes `systemd-analyze verify`; `cpack -G DEB`
# makes a .deb with the same files (listed with dpkg-deb -c).
. "$(dirname "$0")/lib.sh"
ROOT=$TMP/root
DESTDIR=$ROOT cmake --install "$RV_BUILD_DIR" >"$TMP/install.log"
PREFIX=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$RV_BUILD_DIR/CMakeCache.txt")
P=$ROOT$PREFIX
for f in bin/rendezvous include/rendezvous_plugin.h lib/pkgconfig/rendezvous-plugin.pc \
  lib/rendezvous/plugins/libxgboost_model.so lib/rendezvous/plugins/liblinear_model.so \
  lib/rendezvous/plugins/libtemplate_model.so share/rendezvous/template/template_model.c \
  share/rendezvous/examples/example.yaml share/rendezvous/models/breast_cancer-xgb.json \
  lib/systemd/system/rendezvous@.service share/doc/rendezvous/README.md \
  share/doc/rendezvous/docs/kafka.md share/doc/rendezvous/docs/design.md; do
  [ -f "$P/$f" ] || fail "not installed: $PREFIX/$f"
done
pass "cmake --install puts the host, plugins, header, pkg-config file, template, models, example config, unit and docs under $PREFIX"

# The shipped config names the installed files by their final paths: run it
# from the installed tree with those paths under the DESTDIR (and its state
# in the scratch dir instead of /var/lib).
sed -e "s|$PREFIX/|$P/|g" -e "s|/var/lib/rendezvous/demo|$TMP/state|g" \
  "$P/share/rendezvous/examples/example.yaml" >"$TMP/example.yaml"
grep -q "$P/lib/rendezvous/plugins/libxgboost_model.so" "$TMP/example.yaml" ||
  fail "the example config does not use the installed plugins"
out=$("$P/bin/rendezvous" check -c "$TMP/example.yaml") || fail "check failed: $out"
assert_contains "$out" "model xgb-v1" "check of the installed example"
assert_contains "$out" "model linear-v1" "check of the installed example"
pass "rendezvous check accepts the shipped config, run from the installed tree"

# systemd-analyze verify wants the command to exist: the unit as an
# instance, its ExecStart under the DESTDIR
unit=$TMP/rendezvous@demo.service
sed "s|ExecStart=$PREFIX/|ExecStart=$P/|" "$P/lib/systemd/system/rendezvous@.service" >"$unit"
grep -q '^Type=notify$' "$unit" || fail "the unit is not Type=notify"
systemd-analyze verify --man=no "$unit" 2>"$TMP/verify.err" ||
  fail "systemd-analyze verify: $(cat "$TMP/verify.err")"
pass "rendezvous@.service passes systemd-analyze verify"

( cd "$TMP" && cpack -G DEB --config "$RV_BUILD_DIR/CPackConfig.cmake" -B "$TMP/pkg" >"$TMP/cpack.log" 2>&1 ) ||
  fail "cpack: $(tail -5 "$TMP/cpack.log")"
deb=$(ls "$TMP"/pkg/rendezvous_*.deb)
dpkg-deb -c "$deb" >"$TMP/deb.list"
# the Python and TorchScript plugins in packages of their own
for c in python torch; do
  dpkg-deb -c "$TMP"/pkg/rendezvous-${c}_*.deb | grep -q "lib/rendezvous/plugins/lib${c}_model.so$" ||
    fail "rendezvous-$c holds no lib${c}_model.so"
  ! grep -q "lib${c}_model.so$" "$TMP/deb.list" || fail "lib${c}_model.so is in the rendezvous package"
done
dpkg-deb -f "$TMP"/pkg/rendezvous-torch_*.deb Depends | grep -q libtorch ||
  fail "rendezvous-torch does not depend on libtorch"
for f in bin/rendezvous lib/rendezvous/plugins/libxgboost_model.so lib/systemd/system/rendezvous@.service \
  share/rendezvous/examples/example.yaml include/rendezvous_plugin.h; do
  grep -q "\.$PREFIX/$f\$" "$TMP/deb.list" || fail "not in the .deb: $PREFIX/$f"
done
dpkg-deb -f "$deb" Depends | grep -q librdkafka || fail "the .deb depends on no librdkafka: $(dpkg-deb -f "$deb" Depends)"
echo "$(basename "$deb"): $(wc -l <"$TMP/deb.list") entries; Depends: $(dpkg-deb -f "$deb" Depends)"
pass "cpack -G DEB builds the package with the same files and its library dependencies, and rendezvous-python and rendezvous-torch apart"

# What systemd hears (sd_notify on NOTIFY_SOCKET, here a datagram socket of
# the test's): READY=1 with the status once serving, WATCHDOG=1 at half of
# WATCHDOG_USEC, RELOADING=1 then READY=1 at generation 2 on SIGHUP,
# STOPPING=1 on SIGTERM.
start_broker $(service_topics nt)
write_service nt "$TMP/nt.yaml" <<YAML
models:
  - {name: a, plugin: $RV_FIXTURE_DIR/ok.so}
rendezvous:
  schedule: [{model: a, within_ms: 100}]
YAML
$PY - "$TMP/notify.sock" >"$TMP/notify.log" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    msg = s.recv(4096).decode()
    print(msg.replace("\n", " | "), flush=True)
PY
listener=$!
cleanup_hooks+=("kill $listener")
for _ in $(seq 100); do [ -S "$TMP/notify.sock" ] && break; sleep 0.05; done
NOTIFY_SOCKET=$TMP/notify.sock WATCHDOG_USEC=1000000 start_host "$TMP/nt.yaml" "$TMP/nt.log"
wait_log "$TMP/notify.log" "^READY=1 | STATUS=serving: generation 1, schedule version 1" 1 30
wait_log "$TMP/notify.log" "^WATCHDOG=1" 3 10
runner=$(pgrep -P "$HOST_PID" -f model-runner | head -1)
[ -n "$runner" ] || fail "no model process"
tr '\0' '\n' <"/proc/$runner/environ" >"$TMP/runner.env"
! grep -q '^NOTIFY_SOCKET=' "$TMP/runner.env" ||
  fail "a model process can speak for the host (NOTIFY_SOCKET in its environment)"
kill -HUP "$HOST_PID"
wait_log "$TMP/notify.log" "^RELOADING=1" 1 30
wait_log "$TMP/notify.log" "^READY=1 | STATUS=serving: generation 2" 1 30
stop_host
wait_log "$TMP/notify.log" "^STOPPING=1" 1 10
pass "sd_notify: READY=1 with the status, WATCHDOG=1, RELOADING=1 and READY=1 around a reload, STOPPING=1"
