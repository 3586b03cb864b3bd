#!/usr/bin/env bash
# benches/memory.sh: where trafik's memory is, idle and under load, in a few minutes.
#
# table.sh's memory phase gives one number per state; this script gives the breakdown
# that finding the memory needs, on the same processes and loads (it sources table.sh:
# same configs, ports, backend, pinning and cases). Per state (idle after the sanity
# requests, then after each case) it prints, per target:
#   VmRSS, RssAnon, RssFile (/proc/PID/status), the thread count, and the five largest
#   mappings by Rss from /proc/PID/smaps (anonymous ones named by their size class).
# Then, with --soak S, every target loaded at once for S seconds (table.sh's soak, the
# load cycling through its cases) with RSS sampled every 10 s: the curve is in
# soak.txt and printed.
#
# Usage: benches/memory.sh [--trafik-bin PATH] [--targets "nginx trafik"]
#                          [--duration S] [--soak SECONDS] [--workers N] [--cases "..."]
# Defaults: --duration 8, --workers 1, no soak, cases h1-hello-c50 h1-hello-c200 h2-tls
# h1-16k-c50 h2c tls-full (table.sh's names). MEM_PORT_OFFSET=N moves every port by N.
# Environment given to the script reaches trafik (e.g. MIMALLOC_SHOW_STATS=1, whose
# report lands in the scratch dir's logs/trafik.out when trafik stops).

set -Eeuo pipefail
MEM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=table.sh
source "$MEM_DIR/table.sh"

MEM_CASES=(h1-hello-c50 h1-hello-c200 h2-tls h1-16k-c50 h2c tls-full)
MEM_WORKERS=1
MEM_SOAK=0
DURATION=8
# Ports of its own (table.sh's + 100 + MEM_PORT_OFFSET), so that table.sh, proxy.sh or
# a second memory.sh (MEM_PORT_OFFSET=50: two binaries compared over the same time) can
# run beside it.
o=${MEM_PORT_OFFSET:-0}
[[ $o =~ ^[0-9]+$ ]] || die "MEM_PORT_OFFSET takes a whole number"
BACKEND_PORT=$((19301 + o))
H1_PORT=([nginx]=$((18301 + o)) [trafik]=$((18302 + o)) [haproxy]=$((18305 + o)))
H2C_PORT=([nginx]=$((18311 + o)) [trafik]=$((18302 + o)) [haproxy]=$((18315 + o)))
TLS_PORT=([nginx]=$((18341 + o)) [trafik]=$((18342 + o)) [haproxy]=$((18345 + o)))

mem_args() {
    local rest=()
    while (($#)); do
        case $1 in
            --soak) MEM_SOAK=${2:?--soak needs seconds}; shift 2 ;;
            --workers) MEM_WORKERS=${2:?--workers needs a value}; shift 2 ;;
            --cases) read -r -a MEM_CASES <<<"${2:?--cases needs a list}"; shift 2 ;;
            --duration) DURATION=${2:?--duration needs seconds}; shift 2 ;;
            *) rest+=("$1"); shift ;;
        esac
    done
    # table.sh's own options (--targets, --trafik-bin); its soak is ours.
    table_args "${rest[@]}" --soak 0
    [[ $MEM_SOAK =~ ^[0-9]+$ && $MEM_WORKERS =~ ^[0-9]+$ ]] || die "--soak and --workers take whole numbers"
}

# breakdown LABEL: one line per target, then its largest mappings.
breakdown() {
    local label=$1 t pid
    for t in "${TARGET_LIST[@]}"; do
        pid=${TARGET_PID[$t]}
        # nginx: the master and its workers; summed like table.sh's rss_mb.
        # Open descriptors: client and backend connections still held (pooled ones too).
        awk -v label="$label" -v t="$t" -v total="$(rss_mb $(tree_pids "$pid"))" \
            -v fds="$(find "/proc/$pid/fd" -mindepth 1 2>/dev/null | wc -l)" '
            /^VmRSS:/ { rss = $2 } /^RssAnon:/ { anon = $2 } /^RssFile:/ { file = $2 }
            /^Threads:/ { thr = $2 }
            END { printf "%-14s %-8s tree %6.1f MB | root: VmRSS %6.1f RssAnon %6.1f RssFile %5.1f MB, %d threads, %d fds\n",
                  label, t, total, rss / 1024, anon / 1024, file / 1024, thr, fds }' "/proc/$pid/status"
        if [[ $t == trafik ]]; then
            # The largest mappings: "size-kB rss-kB name" (anonymous: [anon]).
            awk '/^[0-9a-f]+-[0-9a-f]+ / { split($1, a, "-"); name = ($6 == "" ? "[anon]" : $6) }
                 /^Size:/ { size = $2 } /^Rss:/ { printf "%d %d %s\n", size, $2, name }' "/proc/$pid/smaps" |
                sort -k2,2nr | head -n 6 |
                awk '{ printf "%-14s %-8s   mapping %9.1f MB, resident %6.1f MB  %s\n", "", "", $1 / 1024, $2 / 1024, $3 }'
        fi
    done
}

mem_main() {
    mem_args "$@"
    table_prepare
    echo "$RESULTS_HEADER" >"$SCRATCH/results.csv"
    start_backend
    local t c
    for t in "${TARGET_LIST[@]}"; do start_target "$t" "$MEM_WORKERS"; done
    table_sanity
    breakdown idle | tee "$SCRATCH/memory.txt"
    for c in "${MEM_CASES[@]}"; do
        for t in "${TARGET_LIST[@]}"; do measure 1 1 "$c" "$t"; done
        breakdown "$c" | tee -a "$SCRATCH/memory.txt"
    done
    if ((MEM_SOAK > 0)); then
        SOAK_SECONDS=$MEM_SOAK
        log "soak: ${SOAK_SECONDS}s, every target loaded, RSS every ${SLICE}s"
        soak
        echo "soak (s, RSS MB per target):" | tee -a "$SCRATCH/memory.txt"
        tee -a "$SCRATCH/memory.txt" <"$SCRATCH/soak.txt"
        breakdown after-soak | tee -a "$SCRATCH/memory.txt"
    fi
    stop_targets
    log "breakdowns: $SCRATCH/memory.txt; trafik's output (MIMALLOC_SHOW_STATS): $SCRATCH/logs/trafik.out"
}

mem_main "$@"
