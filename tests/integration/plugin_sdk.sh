#!/usr/bin/env bash
# A plugin built outside the tree the way a user builds one: install the
# header and pkg-config file, compile the template with pkg-config, check
# that it exports exactly one symbol, and load it.
. "$(dirname "$0")/lib.sh"

cmake --install "$RV_BUILD_DIR" --prefix "$TMP/prefix" >/dev/null
export PKG_CONFIG_PATH="$TMP/prefix/lib/pkgconfig:$TMP/prefix/lib/$(gcc -print-multiarch)/pkgconfig"
pkg-config --exists rendezvous-plugin || fail "pkg-config does not find rendezvous-plugin"
mkdir "$TMP/mymodel"
cp "$TMP/prefix/share/rendezvous/template/template_model.c" "$TMP/mymodel/"
cd "$TMP/mymodel"
cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags rendezvous-plugin) -shared \
   -o libmymodel.so template_model.c -lm
pass "template builds with pkg-config"

syms=$(nm -D --defined-only libmymodel.so | awk '{print $3}' | grep -v '^_' || true)
[ "$syms" = "rv_plugin_entry" ] || fail "exported symbols are not just rv_plugin_entry: $syms"
pass "exactly one exported symbol"

cat >"$TMP/svc.yaml" <<YAML
service: sdk
state_dir: $TMP/state
streams: {brokers: embedded}
input: {features: [amount, hour]}
models:
  - name: mine
    plugin: $TMP/mymodel/libmymodel.so
    params: {bias: 0.5, w_amount: 0.01}
rendezvous:
  schedule: [{model: mine, within_ms: 10}]
YAML
out=$("$RV_BIN" check -c "$TMP/svc.yaml") || fail "check: $out"
assert_contains "$out" "plugin template 1.0" "loaded the user's plugin"
pass "the host loads it"
