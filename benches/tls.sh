#!/usr/bin/env bash
# benches/tls.sh: trafik vs nginx as a TLS-terminating reverse proxy, same run.
#
# Same method as benches/proxy.sh (whose helpers it sources): the same nginx
# backend, nginx (1 worker) and trafik (--workers 1) pinned on one CPU, the load
# generators on the other, rounds with a rotating target order, medians and
# same-round trafik/nginx ratios. Two cases:
#   handshakes  full TLS handshakes per second (no resumption): HS_CLIENTS
#               parallel `openssl s_time -new` loops for DURATION seconds
#   h2          HTTP/2 requests per second over TLS (ALPN h2):
#               `h2load -t1 -c50 -m10 -D DURATION` on GET /
# Per run: rate, the proxy's CPU time per handshake / request, RSS.
#
# Usage: benches/tls.sh [--duration S] [--rounds N] [--quick] [--unpinned]
#                       [--trafik-bin PATH] [--scratch DIR]
# Needs: nginx (with ssl and http2: Debian's nginx-light), h2load (Debian:
# nghttp2-client), openssl, taskset, cargo. Installs nothing.
# Exit status: 0 clean; 1 setup failure; 3 some run failed or had errors.

set -Eeuo pipefail
TLS_BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=proxy.sh
source "$TLS_BENCH_DIR/proxy.sh"

HS_CLIENTS=${HS_CLIENTS:-4}          # parallel s_time loops for the handshake case
H2_CONNS=${H2_CONNS:-50}
H2_STREAMS=${H2_STREAMS:-10}
TARGETS="nginx trafik"
NGINX_PORT=${NGINX_TLS_PORT:-18443}
TRAFIK_PORT=${TRAFIK_TLS_PORT:-18444}
TLS_CASES=(handshakes h2)

tls_check_tools() {
    local missing=()
    if ! command -v "$NGINX" >/dev/null && [[ $NGINX == nginx && -x /usr/sbin/nginx ]]; then
        NGINX=/usr/sbin/nginx
    fi
    command -v "$NGINX" >/dev/null || missing+=(nginx-light)
    command -v h2load >/dev/null || missing+=(nghttp2-client)
    command -v openssl >/dev/null || missing+=(openssl)
    command -v curl >/dev/null || missing+=(curl)
    command -v taskset >/dev/null || missing+=(util-linux)
    command -v ps >/dev/null || missing+=(procps)
    ((${#missing[@]} == 0)) || die "missing tools; on Debian install them with: apt-get install -y ${missing[*]}"
}

make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=bench.test -addext subjectAltName=DNS:bench.test \
        -keyout "$SCRATCH/conf/key.pem" -out "$SCRATCH/conf/cert.pem" 2>/dev/null ||
        die "openssl could not make the benchmark certificate"
    chmod 644 "$SCRATCH/conf/key.pem" "$SCRATCH/conf/cert.pem"
}

tls_start_targets() {
    render_tls() { sed -e "s|@W@|$SCRATCH|g" -e "s|@NAME@|$2|g" -e "s|@PORT@|$3|g" \
        -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" "$TLS_BENCH_DIR/tls/$1" >"$4"; }
    render_tls proxy.nginx.conf nginx "$NGINX_PORT" "$SCRATCH/conf/nginx-tls.conf"
    spawn nginx "$PROXY_CPU" "$NGINX" -p "$SCRATCH/" -e "$SCRATCH/logs/nginx.err" \
        -c "$SCRATCH/conf/nginx-tls.conf" -g 'daemon off;'
    TARGET_PID[nginx]=$SPAWNED_PID
    wait_ready nginx "$SPAWNED_PID" "$NGINX_PORT"
    render_tls trafik.toml trafik "$TRAFIK_PORT" "$SCRATCH/conf/trafik-tls.toml"
    spawn trafik "$PROXY_CPU" "$TRAFIK_BIN" --workers 1 -c "$SCRATCH/conf/trafik-tls.toml"
    TARGET_PID[trafik]=$SPAWNED_PID
    wait_ready trafik "$SPAWNED_PID" "$TRAFIK_PORT"
    local t
    for t in nginx trafik; do
        pin_tree "${TARGET_PID[$t]}" "$PROXY_CPU"
        log "started $t on 127.0.0.1:${TARGET_PORT[$t]} (pid ${TARGET_PID[$t]})"
    done
}

tls_sanity() {
    local t port out i
    for t in nginx trafik; do
        port=${TARGET_PORT[$t]}
        for ((i = 0; i < 50; i++)); do
            out=$(curl -sk --http2 --max-time 5 -w ' %{http_version}' "https://127.0.0.1:$port/") || true
            [[ $out == "hello"*" 2" ]] && break
            sleep 0.1
        done
        [[ $out == "hello"*" 2" ]] || die "$t: GET / over h2 returned '$out', expected hello over HTTP/2"
    done
    log "both targets answer hello over TLS + HTTP/2"
}

# load CMD...: runs on the load CPU when pinned, bounded by timeout.
load() {
    local cmd=(timeout -k 5 $((DURATION + 30)) "$@")
    if ((PINNED)); then cmd=(taskset -c "$LOAD_CPU" "${cmd[@]}"); fi
    "${cmd[@]}"
}

# run_case CASE PORT OUTFILE: prints "count seconds" (handshakes or requests).
run_case() {
    local case=$1 port=$2 out=$3 i pids=()
    case $case in
        handshakes)
            for ((i = 0; i < HS_CLIENTS; i++)); do
                load openssl s_time -connect "127.0.0.1:$port" -new -time "$DURATION" \
                    </dev/null >"$out.$i" 2>&1 &
                pids+=($!)
            done
            for i in "${pids[@]}"; do wait "$i" || true; done
            # "N connections in T real seconds, …": sum N, take the longest T.
            cat "$out".* >"$out"
            awk '/connections in [0-9.]+ real seconds/ { n += $1; if ($4 > t) t = $4 }
                 END { if (n > 0) print n, t; else print "NA NA" }' "$out"
            ;;
        h2)
            load h2load -t1 -c"$H2_CONNS" -m"$H2_STREAMS" -D "$DURATION" "https://127.0.0.1:$port/" \
                </dev/null >"$out" 2>&1 || true
            # "requests: N total, N started, N done, N succeeded, …" and "finished in Ts, …"
            awk '/^requests:/ { ok = $8 } /^finished in/ { t = $3; sub(/s,$/, "", t) }
                 END { if (ok > 0) print ok, t; else print "NA NA" }' "$out"
            ;;
    esac
}

tls_rounds() {
    echo "round,case,target,count,seconds,rate,proxy_cpu_us_per_op,rss_mb,status" >"$SCRATCH/results.csv"
    local round c t order i
    for ((round = 1; round <= ROUNDS; round++)); do
        order=(nginx trafik)
        ((round % 2)) || order=(trafik nginx)
        log "round $round/$ROUNDS, order: ${order[*]}"
        for c in "${TLS_CASES[@]}"; do
            for t in "${order[@]}"; do
                local pids p0 p1 count secs rate cpu status=ok
                pids=$(tree_pids "${TARGET_PID[$t]}")
                p0=$(cpu_ticks $pids)
                read -r count secs < <(run_case "$c" "${TARGET_PORT[$t]}" "$SCRATCH/wrk/r$round-$c-$t.txt")
                p1=$(cpu_ticks $pids)
                for p in $pids; do kill -0 "$p" 2>/dev/null || die "$t died during round $round, $c"; done
                if [[ $count == NA ]]; then
                    status=failed; ANY_FLAGGED=1; rate=NA; cpu=NA
                else
                    rate=$(awk -v n="$count" -v s="$secs" 'BEGIN { printf "%.1f", n / s }')
                    cpu=$(awk -v d=$((p1 - p0)) -v n="$count" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')
                fi
                echo "$round,$c,$t,$count,$secs,$rate,$cpu,$(rss_mb $pids),$status" >>"$SCRATCH/results.csv"
                log "  $c $t: $rate/s, CPU $cpu us/op [$status]"
            done
        done
    done
}

tls_summary() {
    local c t
    echo
    echo "trafik vs nginx, TLS termination: $ROUNDS round(s) x ${DURATION}s; medians; x ng = median same-round ratio"
    for c in "${TLS_CASES[@]}"; do
        echo
        case $c in
            handshakes) echo "== handshakes: full TLS handshakes/s, $HS_CLIENTS x openssl s_time -new ==" ;;
            h2) echo "== h2: HTTP/2 req/s over TLS, h2load -c$H2_CONNS -m$H2_STREAMS, GET / (6 B) ==" ;;
        esac
        printf '%-8s %12s %12s %8s %10s %10s\n' target "per second" "CPU us/op" "RSS MB" "rate x ng" "CPU x ng"
        for t in nginx trafik; do
            local col rate cpu rss rr cr
            col() { awk -F, -v c="$c" -v t="$t" -v k="$1" 'NR > 1 && $2 == c && $3 == t && $k != "NA" { print $k }' "$SCRATCH/results.csv"; }
            ratio() { awk -F, -v c="$c" -v t="$t" -v k="$1" 'NR > 1 && $2 == c && $k != "NA" {
                    if ($3 == t) num[$1] = $k; if ($3 == "nginx") den[$1] = $k }
                    END { for (r in num) if ((r in den) && den[r] > 0) print num[r] / den[r] }' "$SCRATCH/results.csv"; }
            rate=$(col 6 | median); cpu=$(col 7 | median); rss=$(col 8 | median)
            rr=$(ratio 6 | median); cr=$(ratio 7 | median)
            printf '%-8s %12s %12s %8s %10s %10s\n' "$t" "$(fmt %.0f "$rate")" "$(fmt %.1f "$cpu")" \
                "$(fmt %.1f "$rss")" "$(fmt %.2f "$rr")" "$(fmt %.2f "$cr")"
        done
    done
    echo
    echo "raw results: $SCRATCH/results.csv (tool outputs in $SCRATCH/wrk/)"
}

tls_main() {
    parse_args "$@"
    validate_settings
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    tls_check_tools
    build_trafik
    check_ports_free
    make_scratch
    make_cert
    start_backend
    tls_start_targets
    tls_sanity
    log "warm-up: 2 s of h2 per target"
    local saved=$DURATION t
    DURATION=2
    for t in nginx trafik; do run_case h2 "${TARGET_PORT[$t]}" "$SCRATCH/wrk/warmup-$t.txt" >/dev/null; done
    DURATION=$saved
    tls_rounds
    tls_summary | tee "$SCRATCH/summary.txt"
    ((ANY_FLAGGED == 0)) || exit 3
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    tls_main "$@"
fi
