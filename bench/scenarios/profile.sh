# shellcheck shell=bash
# bench/scenarios/profile.sh - where the host's time goes: profile.

# profile: the trivial host under callgrind on a short run ($PROFILE_COUNT
# requests, default 20000), its top functions
scenario_profile() {
  command -v valgrind >/dev/null || die "valgrind is not installed"
  start_services bp
  # models in the host: under valgrind /proc/self/exe is valgrind itself,
  # and the profile is of the host's own work anyway
  ISOLATION=none trivial_yaml bp "$WORK/bp.yaml"
  start_host bp "$WORK/bp.yaml" valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out"
  bench profile bp --count "${PROFILE_COUNT:-20000}" --window 4000 --warmup 0 --timeout 60
  stop_pid "$HOST_PID"
  callgrind_annotate --inclusive=no "$WORK/callgrind.out" 2>/dev/null | sed -n '1,60p' \
    | tee "$WORK/profile.txt"
  {
    echo
    echo "### callgrind top functions (self), trivial host, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo '```'
    grep -E '^ *[0-9,]+ \(' "$WORK/profile.txt" | head -40
    echo '```'
    echo
    echo "inclusive, the host's own functions and the library calls they make:"
    echo
    echo '```'
    callgrind_annotate --inclusive=yes "$WORK/callgrind.out" 2>/dev/null \
      | grep -E '^ *[0-9,]+ \(' | grep -E ' \?\?\?:(rv_|handle_message|send_|score|finish|evaluate|on_event|worker|fixture|canary|decoy|yajl_parse|yajl_gen_double|yajl_gen_string|rd_kafka_producev|rd_kafka_consumer_poll)' \
      | head -40
    echo '```'
  } >>"$RESULTS"
}
