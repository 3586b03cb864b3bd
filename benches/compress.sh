#!/usr/bin/env bash
# benches/compress.sh: trafik's `compress = true` vs nginx's gzip at the same level (6),
# on a 64 KiB text body, in the same run.
#
# What it does: sources proxy.sh for its helpers (build, scratch dir, pinning, wrk runs,
# CPU accounting, the summary table), serves a 64 KiB text file from the same nginx
# backend, and compares nginx (proxy-gzip.nginx.conf: gzip on, level 6, min length
# 1,400) with trafik (trafik-gzip.toml: compress = true; gzip's level is flate2's
# default, 6), both asked for `Accept-Encoding: gzip` by `wrk -t1`. Before measuring it
# checks that both answer gzip that decodes to the backend's exact bytes, and prints the
# compressed sizes (same level, different deflate implementations: close, not equal).
# Cases: 64 KiB at c10 and at c50.
#
# Usage: benches/compress.sh [proxy.sh options: --rounds N --duration S --trafik-bin PATH
#                             --unpinned --scratch DIR]
# Needs: what proxy.sh needs, and gzip (for the check).

set -Eeuo pipefail

# shellcheck source=proxy.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/proxy.sh"

TARGETS="nginx trafik"
CASE_NAMES=(text64k-gzip-c10 text64k-gzip-c50)
CASE_PATHS=(/static/64k.txt /static/64k.txt)
CASE_CONNS=(10 50)

# The body: 64 KiB of text that compresses as prose does (about 3:1), made the same way
# every run (no randomness, so every run compresses the same bytes).
write_body() {
    awk 'BEGIN {
        split("the proxy routes each request to a backend server chosen by the load balancer \
while health checks mark servers down and the circuit breaker opens when errors grow \
operators edit configuration files and watch changes apply without a restart", w, " ")
        n = length(w); s = 7; out = ""
        while (length(out) < 65536) {
            s = (s * 1103515245 + 12345) % 2147483648
            out = out w[int(s / 65536) % n + 1] ((s % 13 == 0) ? ".\n" : " ")
        }
        printf "%s", substr(out, 1, 65536)
    }' >"$SCRATCH/www/static/64k.txt"
    chmod 644 "$SCRATCH/www/static/64k.txt"
}

start_targets() {
    local t port
    for t in "${TARGET_LIST[@]}"; do
        port=${TARGET_PORT[$t]}
        case $t in
            nginx)
                render proxy-gzip.nginx.conf "$SCRATCH/conf/$t.conf" "$t" "$port"
                spawn "$t" "$PROXY_CPU" "$NGINX" -p "$SCRATCH/" -e "$SCRATCH/logs/$t.err" \
                    -c "$SCRATCH/conf/$t.conf" -g 'daemon off;'
                TARGET_PID[$t]=$SPAWNED_PID
                wait_ready "$t" "$SPAWNED_PID" "$port"
                pin_tree "$SPAWNED_PID" "$PROXY_CPU"
                ;;
            trafik) start_trafik trafik trafik-gzip.toml ;;
            *) die "compress.sh compares nginx and trafik only (got $t)" ;;
        esac
        log "started $t on 127.0.0.1:$port (pid ${TARGET_PID[$t]})"
    done
}

# Both must answer gzip that decodes to the file, or the comparison means nothing.
sanity_check() {
    local t port size body=$SCRATCH/tmp/check.gz i
    for t in "${TARGET_LIST[@]}"; do
        port=${TARGET_PORT[$t]}
        for ((i = 0; i < 50; i++)); do
            curl -s --max-time 5 -H 'Accept-Encoding: gzip' -D "$SCRATCH/tmp/check.head" \
                -o "$body" "http://127.0.0.1:$port/static/64k.txt" && break
            sleep 0.1
        done
        grep -qi '^content-encoding: gzip' "$SCRATCH/tmp/check.head" ||
            die "$t did not answer gzip (headers in $SCRATCH/tmp/check.head)"
        gzip -dc <"$body" | cmp -s - "$SCRATCH/www/static/64k.txt" ||
            die "$t's gzip does not decode to the backend's file"
        size=$(stat -c %s "$body")
        log "$t: 65536 bytes -> $size gzipped"
        echo "$t gzip size: $size" >>"$SCRATCH/meta.txt"
    done
}

warm_up() {
    local t
    for t in "${TARGET_LIST[@]}"; do
        run_wrk "$SCRATCH/wrk/warmup-$t.txt" 10 "$WARMUP" \
            "http://127.0.0.1:${TARGET_PORT[$t]}/static/64k.txt" || true
    done
}

# proxy.sh's run_wrk, asking for gzip.
run_wrk() {
    local outfile=$1 conns=$2 duration=$3 url=$4 rc=0
    local cmd=(timeout -k 5 $((duration + 20)) wrk -t1 -c"$conns" -d"${duration}s" --latency
        -H 'Accept-Encoding: gzip' "$url")
    if ((PINNED)); then cmd=(taskset -c "$LOAD_CPU" "${cmd[@]}"); fi
    "${cmd[@]}" </dev/null >"$outfile" 2>&1 &
    CHILD_PID=$!
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    return "$rc"
}

compress_main() {
    parse_args "$@"
    TARGETS="nginx trafik"
    validate_settings
    prepare_run
    command -v gzip >/dev/null || die "needs gzip"
    write_body
    start_targets
    sanity_check
    record_idle_rss
    warm_up
    local runs=$((ROUNDS * ${#CASE_NAMES[@]} * ${#TARGET_LIST[@]}))
    log "measuring: $runs runs of ${DURATION}s"
    run_rounds
    print_summary | tee "$SCRATCH/summary.txt"
    ((ANY_FLAGGED == 0)) || exit 3
}

compress_main "$@"
