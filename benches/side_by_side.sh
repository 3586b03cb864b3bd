#!/usr/bin/env bash
# benches/side_by_side.sh: two trafik builds and nginx at once, hello over HTTP/1.1, to
# judge a change's CPU per request when the machine is too noisy for table.sh's totals.
#
# Usage: benches/side_by_side.sh ROUNDS OLD_TRAFIK NEW_TRAFIK
# All three proxies run at the same time (one worker each, pinned on CPU 1) in front of
# one nginx backend; wrk (-t1) and the backend run on CPU 0. Each round runs wrk for 8 s
# at 50 and then 200 connections against nginx, OLD and NEW in turn, and prints the rate,
# the proxy's CPU time per request (utime+stime from /proc), its user time alone, and
# wrk's p99. Read the user time as NEW/OLD within a round: it follows the instruction
# count (benches/instructions.sh) where the total swings with the machine.
# Needs: nginx, wrk, curl, taskset. Ports: random in 20000-30000 on 127.0.0.1.
set -Eeuo pipefail
(($# == 3)) || { sed -n '2,12p' "$0"; exit 2; }
ROUNDS=$1 OLD=$2 NEW=$3
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
W=$(mktemp -d /tmp/side-by-side.XXXX)
BP=$((20000 + RANDOM % 10000))
PN=$((BP + 1)) PA=$((BP + 2)) PB=$((BP + 3))
mkdir -p "$W"/{run,logs,tmp,www}
# The same configurations as proxy.sh: benches/proxy/*.
render() { # TEMPLATE OUTPUT NAME PORT
    sed -e "s|@W@|$W|g" -e "s|@NAME@|$3|g" -e "s|@PORT@|$4|g" -e "s|@BACKEND_PORT@|$BP|g" \
        "$BENCH_DIR/proxy/$1" >"$2"
}
render backend.nginx.conf "$W/backend.conf" backend "$BP"
render proxy.nginx.conf "$W/px.conf" px "$PN"
render trafik.toml "$W/old.toml" old "$PA"
render trafik.toml "$W/new.toml" new "$PB"
PIDS=()
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; }
trap cleanup EXIT
taskset -c 0 nginx -p "$W/" -e "$W/logs/backend.err" -c "$W/backend.conf" -g 'daemon off;' &
PIDS+=($!)
taskset -c 1 nginx -p "$W/" -e "$W/logs/px.err" -c "$W/px.conf" -g 'daemon off; master_process off;' &
N=$!
PIDS+=("$N")
taskset -c 1 "$OLD" --configFile "$W/old.toml" --workers 1 >"$W/logs/old.log" 2>&1 &
TA=$!
PIDS+=("$TA")
taskset -c 1 "$NEW" --configFile "$W/new.toml" --workers 1 >"$W/logs/new.log" 2>&1 &
TB=$!
PIDS+=("$TB")
for ((i = 0; i < 100; i++)); do
    curl -sf -o /dev/null "http://127.0.0.1:$PA/" && curl -sf -o /dev/null "http://127.0.0.1:$PB/" &&
        curl -sf -o /dev/null "http://127.0.0.1:$PN/" && break
    sleep 0.2
done
ticks() { awk '{ print $14 + $15, $14 }' "/proc/$1/stat"; }
for p in $PN $PA $PB; do taskset -c 0 timeout 10 wrk -t1 -c200 -d2s "http://127.0.0.1:$p/" >/dev/null; done
for ((r = 1; r <= ROUNDS; r++)); do
    for c in 50 200; do
        for t in nginx old new; do
            case $t in nginx) pid=$N port=$PN ;; old) pid=$TA port=$PA ;; new) pid=$TB port=$PB ;; esac
            read -r t0 u0 < <(ticks "$pid")
            out=$(taskset -c 0 timeout 20 wrk -t1 -c"$c" -d8s --latency "http://127.0.0.1:$port/")
            read -r t1 u1 < <(ticks "$pid")
            n=$(awk '/requests in/ { print $1 }' <<<"$out")
            p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
            awk -v r="$r" -v c="$c" -v t="$t" -v n="$n" -v d=$((t1 - t0)) -v u=$((u1 - u0)) -v hz="$(getconf CLK_TCK)" -v p="$p99" \
                'BEGIN { printf "round %d c%d %-5s %7d req/s  CPU %6.2f us/req  user %5.2f  p99 %s\n", r, c, t, n / 8, d * 1e6 / hz / n, u * 1e6 / hz / n, p }'
        done
    done
done
