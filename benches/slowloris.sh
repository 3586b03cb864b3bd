#!/usr/bin/env bash
# benches/slowloris.sh: a normal client's latency while trafik holds thousands of
# slowloris connections, and whether the head deadline closes every one of them.
#
# What it does
#   1. Uses proxy.sh's machinery (sourced): the build, the nginx backend, pinning (trafik
#      on CPU 1; wrk, the backend and the slowloris client on CPU 0), cleanup on exit.
#   2. Starts trafik (`--workers 1`, benches/proxy/trafik.toml) with
#      `[respondingTimeouts] readHeaderTimeout = HEADER_TIMEOUT`.
#   3. Warms up (2 s), then measures a normal client alone: `wrk -t1 -cWRK_CONNS -dDURATION`.
#   4. Opens CONNS slowloris connections (benches/slowloris.py: each sends the start of a
#      request head, then one byte every INTERVAL s, never the end) and, once all are open,
#      measures the same wrk run again while trafik holds them.
#   5. Waits for the slowloris client to finish: every connection closed by trafik, or
#      HEADER_TIMEOUT + 30 s passed. Reports p99 alone and under slowloris, their ratio,
#      and how many slowloris connections trafik closed and after how long.
#
# Usage: benches/slowloris.sh [--conns N] [--duration S] [--header-timeout S]
#                             [--interval S] [--trafik-bin PATH] [--unpinned]
#
# Needs what proxy.sh needs (nginx, wrk, taskset, cargo or --trafik-bin) and python3.
# Talks only to 127.0.0.1; raises its own open-file limit (2 x CONNS + 1000 descriptors:
# the client's sockets and trafik's); every process it starts is bounded in time and
# stopped on exit. Exit status: 0 clean; 1 setup failure; 3 finished, but p99 under
# slowloris exceeded 1.5 x p99 alone, a slowloris connection was not closed by trafik (or
# was answered), or wrk reported errors.

set -Eeuo pipefail

SLOW_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# proxy.sh gives DURATION its own default: keep this script's.
SLOW_DURATION=${DURATION:-5}
# shellcheck source=benches/proxy.sh
source "$SLOW_DIR/proxy.sh"

CONNS=${CONNS:-3000}                 # slowloris connections
DURATION=$SLOW_DURATION              # seconds per wrk run
HEADER_TIMEOUT=${HEADER_TIMEOUT:-15} # trafik's readHeaderTimeout, seconds
INTERVAL=${INTERVAL:-3}              # seconds between two bytes of a slowloris head
WRK_CONNS=${WRK_CONNS:-50}           # the normal client's connections
TARGETS=trafik

slow_usage() {
    cat <<EOF
Usage: benches/slowloris.sh [options]   (see the header of this file)
  --conns N            slowloris connections                 [CONNS=$CONNS]
  --duration S         seconds per wrk run                   [DURATION=$DURATION]
  --header-timeout S   trafik's readHeaderTimeout            [HEADER_TIMEOUT=$HEADER_TIMEOUT]
  --interval S         seconds between slowloris bytes       [INTERVAL=$INTERVAL]
  --wrk-conns N        the normal client's connections       [WRK_CONNS=$WRK_CONNS]
  --trafik-bin PATH    use this trafik binary, skip the build [TRAFIK_BIN]
  --unpinned           no CPU pinning                         [PINNED=0]
  --scratch DIR        scratch/results dir (default: mktemp)  [SCRATCH]
EOF
}

slow_parse_args() {
    while (($#)); do
        case $1 in
            --conns) CONNS=${2:?}; shift 2 ;;
            --duration) DURATION=${2:?}; shift 2 ;;
            --header-timeout) HEADER_TIMEOUT=${2:?}; shift 2 ;;
            --interval) INTERVAL=${2:?}; shift 2 ;;
            --wrk-conns) WRK_CONNS=${2:?}; shift 2 ;;
            --trafik-bin) TRAFIK_BIN=${2:?}; shift 2 ;;
            --unpinned) PINNED=0; shift ;;
            --scratch) SCRATCH=${2:?}; shift 2 ;;
            -h | --help) slow_usage; exit 0 ;;
            *) slow_usage >&2; die "unknown argument: $1" ;;
        esac
    done
    local name
    for name in CONNS DURATION HEADER_TIMEOUT INTERVAL WRK_CONNS; do
        [[ ${!name} =~ ^[0-9]+$ && ${!name} -ge 1 ]] || die "$name must be a positive integer, got '${!name}'"
    done
    command -v python3 >/dev/null || die "python3 not found (apt-get install -y python3)"
}

raise_fd_limit() {
    local want=$((2 * CONNS + 1000)) hard
    hard=$(ulimit -Hn)
    if [[ $hard != unlimited ]] && ((hard < want)); then
        die "the hard open-file limit ($hard) is below the $want descriptors this run needs"
    fi
    ulimit -n "$want" 2>/dev/null || ulimit -n "$hard"
    log "open-file limit for this run: $(ulimit -n)"
}

start_slow_trafik() {
    local port=${TARGET_PORT[trafik]}
    render trafik.toml "$SCRATCH/conf/trafik.toml" trafik "$port"
    printf '\n[respondingTimeouts]\nreadHeaderTimeout = "%ss"\n' "$HEADER_TIMEOUT" >>"$SCRATCH/conf/trafik.toml"
    spawn trafik "$PROXY_CPU" "$TRAFIK_BIN" --workers 1 -c "$SCRATCH/conf/trafik.toml"
    TARGET_PID[trafik]=$SPAWNED_PID
    wait_ready trafik "$SPAWNED_PID" "$port"
    pin_tree "$SPAWNED_PID" "$PROXY_CPU"
    log "started trafik on 127.0.0.1:$port (pid $SPAWNED_PID), readHeaderTimeout ${HEADER_TIMEOUT}s"
}

open_fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# measure NAME: one wrk run; prints "rps p50 p99 requests non2xx socket_errors".
measure_wrk() {
    local out=$SCRATCH/wrk/$1.txt rc=0
    run_wrk "$out" "$WRK_CONNS" "$DURATION" "http://127.0.0.1:${TARGET_PORT[trafik]}/" || rc=$?
    ((rc == 0)) || log "warning: wrk exited with $rc (see $out)"
    parse_wrk "$out"
}

slow_main() {
    slow_parse_args "$@"
    validate_settings
    raise_fd_limit
    prepare_run
    start_slow_trafik
    sanity_check
    echo "slowloris: conns=$CONNS interval=${INTERVAL}s readHeaderTimeout=${HEADER_TIMEOUT}s wrk=c$WRK_CONNS x ${DURATION}s" >>"$SCRATCH/meta.txt"
    local pid=${TARGET_PID[trafik]}

    log "warm-up: 2 s"
    run_wrk "$SCRATCH/wrk/warmup.txt" "$WRK_CONNS" 2 "http://127.0.0.1:${TARGET_PORT[trafik]}/" || true
    log "wrk alone: ${DURATION}s at c$WRK_CONNS"
    local base
    base=$(measure_wrk alone)

    log "opening $CONNS slowloris connections"
    local ready=$SCRATCH/tmp/slowloris.ready cmd
    cmd=(timeout -k 5 $((HEADER_TIMEOUT + 60)) python3 "$SLOW_DIR/slowloris.py" --port "${TARGET_PORT[trafik]}"
        --conns "$CONNS" --interval "$INTERVAL" --max-time $((HEADER_TIMEOUT + 30)) --ready-file "$ready")
    if ((PINNED)); then cmd=(taskset -c "$LOAD_CPU" "${cmd[@]}"); fi
    local slow_started=$SECONDS
    "${cmd[@]}" </dev/null >"$SCRATCH/slowloris.json" 2>"$SCRATCH/logs/slowloris.err" &
    local slow_pid=$!
    STARTED_PIDS+=("$slow_pid")
    local i=0
    while [[ ! -s $ready ]] && ((i++ < 600)); do sleep 0.1; done
    [[ -s $ready ]] || die "the slowloris client did not open its connections within 60 s (see $SCRATCH/logs/slowloris.err)"
    log "slowloris: $(cat "$ready"); trafik has $(open_fds "$pid") descriptors open"

    log "wrk under slowloris: ${DURATION}s at c$WRK_CONNS"
    local loaded
    loaded=$(measure_wrk slowloris)
    local fds_during
    fds_during=$(open_fds "$pid")
    local wrk_done_after=$((SECONDS - slow_started))

    log "waiting for trafik to close the slowloris connections (at most $((HEADER_TIMEOUT + 30)) s)"
    wait "$slow_pid" || true
    local fds_after
    fds_after=$(open_fds "$pid")

    local rps0 p50_0 p99_0 n0 bad0 err0 rps1 p50_1 p99_1 n1 bad1 err1
    read -r rps0 p50_0 p99_0 n0 bad0 err0 <<<"$base"
    read -r rps1 p50_1 p99_1 n1 bad1 err1 <<<"$loaded"
    local summary
    summary=$(cat "$SCRATCH/slowloris.json")
    local ratio
    ratio=$(awk -v a="$p99_1" -v b="$p99_0" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "NA" }')

    {
        echo
        echo "slowloris vs a normal client: trafik --workers 1, readHeaderTimeout ${HEADER_TIMEOUT}s; wrk -t1 -c$WRK_CONNS -d${DURATION}s GET /"
        printf '%-22s %10s %8s %8s %10s %8s\n' run "req/s" "p50 ms" "p99 ms" requests errors
        printf '%-22s %10s %8s %8s %10s %8s\n' alone "$rps0" "$p50_0" "$p99_0" "$n0" $((bad0 + err0))
        printf '%-22s %10s %8s %8s %10s %8s\n' "with $CONNS slowloris" "$rps1" "$p50_1" "$p99_1" "$n1" $((bad1 + err1))
        echo "p99 under slowloris / alone: $ratio (limit 1.5)"
        echo "wrk under slowloris ended ${wrk_done_after}s after the slowloris client started (the first closes are due at ${HEADER_TIMEOUT}s)"
        echo "trafik's open descriptors: $fds_during while holding them, $fds_after after"
        echo "slowloris client: $summary"
    } | tee "$SCRATCH/summary.txt"

    local problems=()
    awk -v r="$ratio" 'BEGIN { exit !(r != "NA" && r <= 1.5) }' || problems+=("p99 ratio $ratio over 1.5")
    ((bad0 + err0 + bad1 + err1 == 0)) || problems+=("wrk errors")
    ((wrk_done_after < HEADER_TIMEOUT)) || problems+=("wrk ran past the head deadline: raise --header-timeout")
    python3 - "$SCRATCH/slowloris.json" "$CONNS" <<'EOF' || problems+=("slowloris connections not all closed by trafik")
import json, sys
s = json.load(open(sys.argv[1]))
n = int(sys.argv[2])
sys.exit(0 if s["opened"] == n and s["closed_by_server"] == n and s["answered"] == 0 else 1)
EOF
    if ((${#problems[@]})); then
        echo "!! ${problems[*]}"
        exit 3
    fi
    echo "every slowloris connection was closed by trafik's head deadline; p99 within 1.5x"
}

slow_main "$@"
