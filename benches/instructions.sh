#!/usr/bin/env bash
# benches/instructions.sh: user-space instructions per request, counted by callgrind.
#
# Why: on a shared 2-vCPU VM, req/s and CPU time per request move by ±10 % from one run
# to the next, more than the differences we want to see (one layer's cost). The number
# of instructions trafik executes per request is exact and repeatable to a fraction of a
# percent, so it is what to compare when changing the request path. It does not count the
# kernel's share (system calls are the same with and without the layers: `strace -c`
# shows 2 sendto + 2 recvfrom per request either way), so a ratio of instructions is an
# upper bound of the ratio of CPU time.
#
# What it does: starts the nginx backend of proxy.sh on 127.0.0.1, then, for each
# configuration, runs trafik under `valgrind --tool=callgrind`, sends WARM requests, zeroes
# the counters, sends N requests on one keep-alive connection (curl's URL globbing), dumps
# the counters and divides. Configurations: benches/proxy/trafik.toml ("bare") and
# trafik-resilient.toml ("resilient"), nginx as a proxy (proxy.nginx.conf, the peer of
# proxy.sh and table.sh; its ratio to "bare" is the exact one of user-space work), plus
# any trafik.toml templates given as arguments (rendered the same way: @PORT@ and
# @BACKEND_PORT@).
#
# Usage: benches/instructions.sh [--requests N] [--trafik-bin PATH] [EXTRA.toml...]
#        benches/instructions.sh --table [--requests N] [--trafik-bin PATH]
# --table: instead, the cases of benches/table.sh on one trafik (benches/table/trafik.toml,
# a plain and a TLS entry point): hello and 16 KiB over HTTP/1.1, h2c and h2 over TLS
# (h2load, N requests one at a time on one connection), full TLS 1.3 handshakes (openssl
# s_time -new, no request) and resumed ones (s_time -reuse -www /, one request each),
# each counted alone (counters zeroed before, dumped after).
# Needs: valgrind, nginx, curl (Debian: apt-get install -y valgrind nginx-light curl);
# --table also h2load (nghttp2-client) and openssl.
# HOST_HEADER=name sends that Host header with the counted requests (default: 127.0.0.1:PORT).
# Takes about 30 s per configuration.

set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
REQUESTS=2000
WARM=300
TRAFIK_BIN=
TABLE=0
EXTRA=()
while (($#)); do
    case $1 in
        --requests) REQUESTS=$2; shift 2 ;;
        --trafik-bin) TRAFIK_BIN=$2; shift 2 ;;
        --table) TABLE=1; shift ;;
        -h | --help) sed -n '2,31p' "$0"; exit 0 ;;
        *) EXTRA+=("$1"); shift ;;
    esac
done

for tool in valgrind callgrind_control callgrind_annotate nginx curl; do
    command -v "$tool" >/dev/null || { echo "needs $tool (see --help)" >&2; exit 1; }
done
if [[ -z $TRAFIK_BIN ]]; then
    (cd "$REPO_DIR" && cargo build --release --locked >&2)
    TRAFIK_BIN=${CARGO_TARGET_DIR:-$REPO_DIR/target}/release/trafik
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/trafik-instr.XXXXXX")
mkdir -p "$W"/{run,logs,tmp,www/static}
chmod 755 "$W" "$W/www"
BACKEND_PORT=${BACKEND_PORT:-19101}
PORT=${PORT:-19102}
HOST_ARGS=()
[[ -n ${HOST_HEADER:-} ]] && HOST_ARGS=(-H "Host: $HOST_HEADER")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

render() { sed -e "s|@W@|$W|g" -e "s|@NAME@|px|g" -e "s|@PORT@|$PORT|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" "$1" >"$2"; }
ready() { # ready URL: waits up to 60 s (valgrind starts slowly)
    local i
    for ((i = 0; i < 600; i++)); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
    echo "no answer from $1" >&2
    return 1
}

render "$BENCH_DIR/proxy/backend.nginx.conf" "$W/backend.conf"
nginx -p "$W/" -e "$W/logs/backend.err" -c "$W/backend.conf" -g 'daemon off;' &
PIDS+=($!)
ready "http://127.0.0.1:$BACKEND_PORT/"

# count NAME TEMPLATE: prints instructions per request. A template named *.nginx.conf is
# an nginx proxy (one worker, no master, so that callgrind sees the process that serves).
count() {
    local name=$1 template=$2 out="$W/callgrind.$1"
    local cmd=("$TRAFIK_BIN" --workers 1 -c "$W/$name.toml")
    if [[ $template == *.nginx.conf ]]; then
        render "$template" "$W/$name.conf"
        cmd=(nginx -p "$W/" -e "$W/logs/$name.err" -c "$W/$name.conf" -g 'daemon off; master_process off;')
    else
        render "$template" "$W/$name.toml"
    fi
    valgrind --tool=callgrind --callgrind-out-file="$out" "${cmd[@]}" >"$W/logs/$name.out" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    ready "http://127.0.0.1:$PORT/"
    # A few requests at once first, so that the backend pool keeps more than one idle
    # connection: hyper-util drops a host's idle list when its last connection is taken
    # and allocates it again on return, which would otherwise be counted per request
    # depending on how many connections earlier requests happened to open.
    curl -s -Z --parallel-max 4 -o /dev/null "http://127.0.0.1:$PORT/?w=[1-40]" 2>/dev/null
    curl -s -o /dev/null "${HOST_ARGS[@]}" "http://127.0.0.1:$PORT/?[1-$WARM]"
    callgrind_control -z "$pid" >/dev/null 2>&1
    curl -s -o /dev/null "${HOST_ARGS[@]}" "http://127.0.0.1:$PORT/?[1-$REQUESTS]"
    callgrind_control -d "$pid" >/dev/null 2>&1
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    local dump total
    dump=$(ls -t "$out".* | head -n 1)
    total=$(callgrind_annotate "$dump" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
    echo $((total / REQUESTS))
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }

# total PID OUT: dumps the counters of the callgrind run PID and prints the total.
total() {
    callgrind_control -d "$1" >/dev/null 2>&1
    callgrind_annotate "$(ls -v "$2".* | tail -n 1)" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}'
}

# drive CASE N: sends case CASE's load, N requests (about: s_time runs for a time), and
# prints how many requests or handshakes were made.
drive() {
    local c=$1 n=$2 out=$W/drive.out
    case $c in
        hello) curl -s -o /dev/null "http://127.0.0.1:$PORT/?[1-$n]"; echo "$n" ;;
        16k) curl -s -o /dev/null "http://127.0.0.1:$PORT/static/16k.bin?[1-$n]"; echo "$n" ;;
        h2c | h2-tls)
            local url=http://127.0.0.1:$PORT/
            [[ $c == h2-tls ]] && url=https://127.0.0.1:$TLS_PORT/
            timeout 300 h2load -t1 -c1 -m1 -n "$n" "$url" >"$out" 2>&1 || true
            awk '/^requests:/ { print $8 }' "$out" ;;
        tls-full | tls-resumed)
            local how=(-new) secs=$((n / 100 + 2))
            [[ $c == tls-resumed ]] && how=(-reuse -www /)
            timeout $((secs + 60)) openssl s_time -connect "127.0.0.1:$TLS_PORT" -tls1_3 "${how[@]}" \
                -time "$secs" </dev/null >"$out" 2>&1 || true
            awk '/connections in [0-9.]+ real seconds/ { print $1 }' "$out" ;;
    esac
}

# The cases of benches/table.sh, each alone on one trafik under callgrind.
table_mode() {
    command -v h2load >/dev/null && command -v openssl >/dev/null || { echo "--table needs h2load and openssl" >&2; exit 1; }
    TLS_PORT=${TLS_PORT:-19103}
    mkdir -p "$W/conf"
    head -c 16384 /dev/urandom >"$W/www/static/16k.bin"
    chmod 644 "$W/www/static/16k.bin"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=bench.test -keyout "$W/conf/key.pem" -out "$W/conf/cert.pem" 2>/dev/null
    sed -e "s|@W@|$W|g" -e "s|@H1_PORT@|$PORT|g" -e "s|@TLS_PORT@|$TLS_PORT|g" \
        -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" "$BENCH_DIR/table/trafik.toml" >"$W/table.toml"
    local out=$W/callgrind.table
    valgrind --tool=callgrind --callgrind-out-file="$out" \
        "$TRAFIK_BIN" --workers 1 -c "$W/table.toml" >"$W/logs/table.out" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    ready "http://127.0.0.1:$PORT/"
    curl -s -Z --parallel-max 4 -o /dev/null "http://127.0.0.1:$PORT/?w=[1-40]" 2>/dev/null
    printf '%-12s %12s %8s  %s\n' case instr/op ops "(op: a request; a handshake in tls-*)"
    local c n count before after
    for c in hello 16k h2c h2-tls tls-full tls-resumed; do
        n=$REQUESTS
        [[ $c == tls-* ]] && n=$((REQUESTS / 4))
        drive "$c" $((n / 10 + 10)) >/dev/null
        callgrind_control -z "$pid" >/dev/null 2>&1
        count=$(drive "$c" "$n")
        after=$(total "$pid" "$out")
        if [[ -z $count || $count == 0 || -z $after ]]; then
            printf '%-12s %12s %8s\n' "$c" failed "${count:-0}"
            continue
        fi
        printf '%-12s %12d %8d\n' "$c" $((after / count)) "$count"
    done
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "(user-space instructions of trafik per request or handshake, callgrind; scratch: $W)"
}

if ((TABLE)); then
    table_mode
    exit 0
fi

bare=$(count bare "$BENCH_DIR/proxy/trafik.toml")
printf '%-28s %10s %8s\n' configuration instr/req ratio
printf '%-28s %10d %8s\n' bare "$bare" 1.000
resilient=$(count resilient "$BENCH_DIR/proxy/trafik-resilient.toml")
printf '%-28s %10d %8s\n' resilient "$resilient" "$(ratio "$resilient" "$bare")"
# The same requests through nginx's proxy (benches/proxy/proxy.nginx.conf): the exact
# ratio of user-space work, which table.sh's CPU times show only through the VM's noise.
nginx_px=$(count nginx "$BENCH_DIR/proxy/proxy.nginx.conf")
printf '%-28s %10d %8s\n' "nginx (proxy.nginx.conf)" "$nginx_px" "$(ratio "$nginx_px" "$bare")"
for t in "${EXTRA[@]}"; do
    n=$(count "$(basename "$t" .toml)" "$t")
    printf '%-28s %10d %8s\n' "$(basename "$t")" "$n" "$(ratio "$n" "$bare")"
done
echo "(user-space instructions per request over $REQUESTS sequential keep-alive requests; scratch: $W)"
