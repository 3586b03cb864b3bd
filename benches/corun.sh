#!/usr/bin/env bash
# benches/corun.sh: what trafik's resilience stack costs, measured by running a bare
# trafik and a trafik with the stack at the same time, on the same CPU.
#
# Why: on a shared VM one process's req/s moves by ±10–15 % from one run to the next
# (CPU steal, frequency), more than the few percent to measure. Run side by side on one
# core, with one wrk each, the two share whatever the machine does to that core at that
# moment: the scheduler gives each about half of it, so the ratio of their request
# counts is the inverse ratio of their CPU time per request, and the noise cancels. An
# A/A run (the same config twice: --b trafik.toml) gives ratios within about ±1 %.
#
# What it does: sources proxy.sh for its helpers, starts the same nginx backend on the
# load CPU, then both trafiks (--workers 1) on the proxy CPU, A from trafik.toml and B
# from trafik-resilient.toml (or the templates given). It checks both answer, warms
# them up together, then for R rounds runs each case (hello c50, hello c200, 16k c50) as
# two simultaneous `wrk -t1 -cC -dDs` on the load CPU, one per trafik, and records each
# one's requests and CPU time (utime+stime of its tree, from /proc). It prints, per
# case, the median over rounds of B/A requests and of B/A CPU per request, and each
# round's request ratio; results.csv stays in the scratch dir.
#
# Usage: benches/corun.sh [--rounds N] [--duration S] [--trafik-bin PATH]
#                         [--a TEMPLATE] [--b TEMPLATE] [--b-bin PATH] [--scratch DIR]
#   Templates are file names in benches/proxy/ (rendered with @PORT@, @BACKEND_PORT@).
#   --b-bin: B runs this binary (A runs --trafik-bin): two builds compared, e.g.
#   `--b trafik.toml --trafik-bin BASE --b-bin NEW`.
# Needs: what proxy.sh needs (nginx, wrk, taskset, ps; curl for the response check) and
# 2 CPUs. Ports: BACKEND_PORT (19001), TRAFIK_PORT (18082), TRAFIK_RES_PORT (18084).

set -Eeuo pipefail

# Its own defaults, before proxy.sh sets those of its own.
CORUN_ROUNDS=${ROUNDS:-8}
CORUN_DURATION=${DURATION:-5}
# shellcheck source=proxy.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/proxy.sh"

ROUNDS=$CORUN_ROUNDS
DURATION=$CORUN_DURATION
A_TEMPLATE=trafik.toml
B_TEMPLATE=trafik-resilient.toml
B_BIN=
TARGETS="trafik trafik-res"

corun_args() {
    while (($#)); do
        case $1 in
            --rounds) ROUNDS=${2:?--rounds needs a value}; shift 2 ;;
            --duration) DURATION=${2:?--duration needs a value}; shift 2 ;;
            --trafik-bin) TRAFIK_BIN=${2:?--trafik-bin needs a value}; shift 2 ;;
            --a) A_TEMPLATE=${2:?--a needs a template}; shift 2 ;;
            --b) B_TEMPLATE=${2:?--b needs a template}; shift 2 ;;
            --b-bin) B_BIN=${2:?--b-bin needs a value}; shift 2 ;;
            --scratch) SCRATCH=${2:?--scratch needs a value}; shift 2 ;;
            -h | --help) sed -n '2,28p' "${BASH_SOURCE[0]}"; exit 0 ;;
            *) die "unknown argument: $1 (see --help)" ;;
        esac
    done
    local t
    for t in "$A_TEMPLATE" "$B_TEMPLATE"; do
        [[ -f $TEMPLATE_DIR/$t ]] || die "no template $TEMPLATE_DIR/$t"
    done
}

# corun_wrk ROUND CASE_INDEX: one simultaneous pair of wrk runs; appends a CSV row and,
# past the warm-up (round 0), prints it.
corun_wrk() {
    local round=$1 ci=$2 name=${CASE_NAMES[$2]} path=${CASE_PATHS[$2]} conns=${CASE_CONNS[$2]}
    local a_pid=${TARGET_PID[trafik]} b_pid=${TARGET_PID[trafik-res]}
    local a_out="$SCRATCH/wrk/r$round-$name-a.txt" b_out="$SCRATCH/wrk/r$round-$name-b.txt"
    local a_ticks b_ticks pids=() p t rc=0
    a_ticks=$(cpu_ticks $(tree_pids "$a_pid"))
    b_ticks=$(cpu_ticks $(tree_pids "$b_pid"))
    for t in trafik trafik-res; do
        local out=$a_out
        [[ $t == trafik ]] || out=$b_out
        taskset -c "$LOAD_CPU" timeout -k 5 $((DURATION + 20)) \
            wrk -t1 -c"$conns" -d"${DURATION}s" "http://127.0.0.1:${TARGET_PORT[$t]}$path" \
            </dev/null >"$out" 2>&1 &
        pids+=($!)
        STARTED_PIDS+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || rc=$?; done
    ((rc == 0)) || die "wrk failed in round $round, $name (see $a_out, $b_out)"
    a_ticks=$(($(cpu_ticks $(tree_pids "$a_pid")) - a_ticks))
    b_ticks=$(($(cpu_ticks $(tree_pids "$b_pid")) - b_ticks))
    local a_reqs b_reqs a_err b_err a_non2xx a_sock b_non2xx b_sock
    read -r _ _ _ a_reqs a_non2xx a_sock < <(parse_wrk "$a_out")
    read -r _ _ _ b_reqs b_non2xx b_sock < <(parse_wrk "$b_out")
    a_err=$((a_non2xx + a_sock))
    b_err=$((b_non2xx + b_sock))
    ((a_err == 0 && b_err == 0)) || die "errors in round $round, $name: A $a_err, B $b_err (see $a_out, $b_out)"
    echo "$round,$name,$a_reqs,$b_reqs,$a_ticks,$b_ticks" >>"$SCRATCH/results.csv"
    ((round > 0)) || return 0
    awk -v r="$round" -v n="$name" -v a="$a_reqs" -v b="$b_reqs" -v ta="$a_ticks" -v tb="$b_ticks" 'BEGIN {
        printf "[round %d] %-10s A %8d req  B %8d req  B/A req %.3f  B/A CPU per req %.3f\n",
            r, n, a, b, b / a, (tb / b) / (ta / a) }' >&2
}

corun_summary() {
    local ci name
    printf '\nB = %s%s, A = %s, side by side on CPU %s (wrk and the backend on CPU %s)\n' \
        "$B_TEMPLATE" "${B_BIN:+ on $B_BIN}" "$A_TEMPLATE" "$PROXY_CPU" "$LOAD_CPU"
    printf '%d rounds of %d s; medians over rounds\n' "$ROUNDS" "$DURATION"
    printf '%-12s %12s %18s  %s\n' case "B/A req" "B/A CPU per req" "(each round's B/A req)"
    for ((ci = 0; ci < ${#CASE_NAMES[@]}; ci++)); do
        name=${CASE_NAMES[$ci]}
        local req cpu each
        req=$(awk -F, -v n="$name" '$2 == n { print $4 / $3 }' "$SCRATCH/results.csv" | median)
        cpu=$(awk -F, -v n="$name" '$2 == n && $5 > 0 && $6 > 0 { print ($6 / $4) / ($5 / $3) }' \
            "$SCRATCH/results.csv" | median)
        each=$(awk -F, -v n="$name" '$2 == n { printf "%.3f\n", $4 / $3 }' "$SCRATCH/results.csv" |
            sort -g | tr '\n' ' ')
        printf '%-12s %12.3f %18.3f  (%s)\n' "$name" "$req" "$cpu" "${each% }"
    done
    printf 'raw results: %s/results.csv\n' "$SCRATCH"
}

corun_main() {
    corun_args "$@"
    validate_settings
    ((PINNED)) || die "corun needs pinning: both trafiks must share one CPU"
    prepare_run
    start_trafik trafik "$A_TEMPLATE"
    start_trafik trafik-res "$B_TEMPLATE" "${B_BIN:-$TRAFIK_BIN}"
    sanity_check
    log "warm-up: both at once, ${WARMUP}s per case"
    local ci round
    for ((ci = 0; ci < ${#CASE_NAMES[@]}; ci++)); do
        DURATION=$WARMUP corun_wrk 0 "$ci"
    done
    # The warm-up's rows go.
    echo "round,case,a_requests,b_requests,a_ticks,b_ticks" >"$SCRATCH/results.csv"
    log "measuring: $ROUNDS rounds x ${#CASE_NAMES[@]} cases x ${DURATION}s (about $((ROUNDS * ${#CASE_NAMES[@]} * (DURATION + 1) / 60 + 1)) min)"
    for ((round = 1; round <= ROUNDS; round++)); do
        for ((ci = 0; ci < ${#CASE_NAMES[@]}; ci++)); do
            corun_wrk "$round" "$ci"
        done
    done
    corun_summary | tee "$SCRATCH/summary.txt"
}

corun_main "$@"
