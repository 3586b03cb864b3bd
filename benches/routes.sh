#!/usr/bin/env bash
# benches/routes.sh: what 10,000 frontends cost against one (issue 19 item 2).
#
# Generates a configuration of N frontends (default 10,000) on top of proxy.sh's one
# catch-all frontend: a quarter `HostRegexp:{sub:[a-z]+}.rI.example.com` templates, the
# rest half `Host:hI.example.com`, half `Host:hI.example.com;PathPrefix:/pI`, each with a
# backend of its own (as v1's providers make them: one backend per service) unless
# --backends says fewer. Then, for the 1-frontend configuration (benches/proxy/trafik.toml)
# and the N-frontend one:
#   - instructions per request (benches/instructions.sh, callgrind) for a request whose host
#     no frontend names (127.0.0.1: it ends on the catch-all after the index is consulted),
#     and, with --hosts, for a template host and an exact host;
#   - RSS idle after start, and after 6 s of wrk load (50 connections, same request), and
#     the anonymous part of each (Pss_Anon: the heap and the allocator's pages);
#   - compile_ms of the first configuration and of a one-frontend change (the file
#     provider's reload), from the "configuration applied" log line;
#   - failed requests under that load while the change is applied.
# Everything on 127.0.0.1; every process started here is stopped on exit.
#
# Usage: benches/routes.sh [--n N] [--backends B] [--trafik-bin PATH] [--profile P]
#                          [--hosts] [--no-instructions]
# Needs: valgrind, nginx, curl, wrk. Without --trafik-bin it builds with
# `cargo build --profile P` (default release) and uses target/P/trafik.
set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
N=10000
BACKENDS=
TRAFIK_BIN=
PROFILE=release
HOSTS=0
INSTRUCTIONS=1
while (($#)); do
    case $1 in
        --n) N=$2; shift 2 ;;
        --backends) BACKENDS=$2; shift 2 ;;
        --trafik-bin) TRAFIK_BIN=$2; shift 2 ;;
        --profile) PROFILE=$2; shift 2 ;;
        --hosts) HOSTS=1; shift ;;
        --no-instructions) INSTRUCTIONS=0; shift ;;
        -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
BACKENDS=${BACKENDS:-$N}

for tool in nginx curl wrk; do
    command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
if [[ -z $TRAFIK_BIN ]]; then
    (cd "$REPO_DIR" && cargo build --profile "$PROFILE" --locked --bin trafik >&2)
    TRAFIK_BIN=${CARGO_TARGET_DIR:-$REPO_DIR/target}/$PROFILE/trafik
fi

W=$(mktemp -d "${TMPDIR:-/tmp}/trafik-routes.XXXXXX")
mkdir -p "$W"/{run,logs,tmp,www/static}
chmod 755 "$W" "$W/www"
BACKEND_PORT=${BACKEND_PORT:-19111}
PORT=${PORT:-19112}
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# gen_frontends FILE: the N frontends and their backends, appended in TOML.
gen_frontends() {
    awk -v n="$N" -v nb="$BACKENDS" -v bport="@BACKEND_PORT@" 'BEGIN {
      for (b = 0; b < nb; b++) {
        printf "[backends.b%d.servers.s]\nurl = \"http://127.0.0.1:%s\"\n", b, bport
      }
      for (i = 0; i < n; i++) {
        printf "[frontends.f%d]\nbackend = \"b%d\"\n", i, i % nb
        if (i % 4 == 0) rule = sprintf("HostRegexp:{sub:[a-z]+}.r%d.example.com", i)
        else if (i % 4 == 1) rule = sprintf("Host:h%d.example.com", i)
        else if (i % 4 == 2) rule = sprintf("Host:h%d.example.com;PathPrefix:/p%d", i, i)
        else rule = sprintf("Host:h%d.example.com", i)
        printf "[frontends.f%d.routes.r]\nrule = \"%s\"\n", i, rule
      }
    }' >>"$1"
}

# The N-frontend template for instructions.sh: proxy.sh's configuration plus the frontends.
ONE="$BENCH_DIR/proxy/trafik.toml"
MANY="$W/routes-$N.toml"
cp "$ONE" "$MANY"
gen_frontends "$MANY"

render() { sed -e "s|@W@|$W|g" -e "s|@PORT@|$PORT|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" "$1" >"$2"; }
ready() {
    local i
    for ((i = 0; i < 600; i++)); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
    echo "no answer from $1" >&2
    return 1
}
rss_mb() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
# The process's anonymous memory (heap and allocator pages, not the binary's file pages).
anon_mb() { awk '/^Pss_Anon/ { printf "%.1f", $2 / 1024 }' "/proc/$1/smaps_rollup"; }
# compile_ms of the Kth "configuration applied" line of a log (empty while there is none).
compile_ms() {
    grep 'configuration applied' "$1" | sed -n "${2}p" | sed -E 's/.*compile_ms=([0-9]+).*/\1/'
}

render "$BENCH_DIR/proxy/backend.nginx.conf" "$W/backend.conf"
nginx -p "$W/" -e "$W/logs/backend.err" -c "$W/backend.conf" -g 'daemon off;' &
PIDS+=($!)
ready "http://127.0.0.1:$BACKEND_PORT/"

# measure NAME TEMPLATE: prints
# "rss_idle rss_load compile_first compile_change failed anon_idle anon_load".
# The dynamic part goes in its own watched file, so that a change reloads only it.
measure() {
    local name=$1 template=$2 dir="$W/$1"
    mkdir -p "$dir"
    render "$template" "$dir/all.toml"
    # Static part: everything before the first [backends]; dynamic part: the rest.
    awk '/^\[backends/ { dyn = 1 } !dyn' "$dir/all.toml" | sed -e 's/^logLevel = .*/logLevel = "INFO"/' \
        -e "s|^\[file\]|[file]\nfilename = \"$dir/dyn.toml\"\nwatch = true|" >"$dir/trafik.toml"
    awk '/^\[backends/ { dyn = 1 } dyn' "$dir/all.toml" >"$dir/dyn.toml"
    taskset -c 1 "$TRAFIK_BIN" --workers 1 -c "$dir/trafik.toml" >"$dir/out.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    ready "http://127.0.0.1:$PORT/"
    local idle load first change failed anon_idle anon_load
    idle=$(rss_mb "$pid")
    anon_idle=$(anon_mb "$pid")
    first=$(compile_ms "$dir/out.log" 1)
    # Load, and a one-frontend change applied in its middle (a new frontend f-new).
    taskset -c 0 timeout 30 wrk -t1 -c50 -d6s "http://127.0.0.1:$PORT/" >"$dir/wrk.txt" 2>&1 &
    local wrk=$!
    sleep 2
    printf '[frontends.fnew]\nbackend = "bench"\n[frontends.fnew.routes.r]\nrule = "Host:new.example.com"\n' >>"$dir/dyn.toml"
    local i
    for ((i = 0; i < 300; i++)); do
        [[ -n $(compile_ms "$dir/out.log" 2) ]] && break
        sleep 0.1
    done
    change=$(compile_ms "$dir/out.log" 2)
    wait "$wrk" || true
    load=$(rss_mb "$pid")
    anon_load=$(anon_mb "$pid")
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H 'Host: new.example.com' "http://127.0.0.1:$PORT/") == 200 ]] ||
        echo "$name: the changed configuration does not serve new.example.com" >&2
    failed=$(awk '/Non-2xx|Socket errors/ { for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+,?$/) { gsub(",", "", $i); s += $i } } END { print s + 0 }' "$dir/wrk.txt")
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo "$idle $load ${first:-?} ${change:-?} $failed $anon_idle $anon_load"
}

printf '%-14s %10s %10s %12s %12s %8s %10s %10s\n' configuration 'RSS idle' 'RSS load' 'compile ms' 'change ms' failed \
    'anon idle' 'anon load'
for cfg in "1:$ONE" "$N:$MANY"; do
    name=${cfg%%:*}
    read -r idle load first change failed anon_idle anon_load < <(measure "f$name" "${cfg#*:}")
    printf '%-14s %7s MB %7s MB %12s %12s %8s %7s MB %7s MB\n' "$name frontend(s)" "$idle" "$load" "$first" "$change" \
        "$failed" "$anon_idle" "$anon_load"
done

if ((INSTRUCTIONS)); then
    echo
    "$BENCH_DIR/instructions.sh" --trafik-bin "$TRAFIK_BIN" "$MANY"
    if ((HOSTS)); then
        # Other ports: a valgrind'd trafik of the previous run may still hold them.
        HOST_HEADER="abc.r4.example.com" PORT=19132 BACKEND_PORT=19131 \
            "$BENCH_DIR/instructions.sh" --trafik-bin "$TRAFIK_BIN" "$MANY" | sed 's/^/template host: /'
        HOST_HEADER="h5.example.com" PORT=19142 BACKEND_PORT=19141 \
            "$BENCH_DIR/instructions.sh" --trafik-bin "$TRAFIK_BIN" "$MANY" | sed 's/^/exact host: /'
    fi
fi
echo "(binary: $TRAFIK_BIN; scratch: $W)"
