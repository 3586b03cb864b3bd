#!/usr/bin/env bash
# benches/kv.sh: the [etcd] provider with a big store. Loads N frontends and N backends
# (default 10,000 each, v1's key layout, one etcd transaction) into an etcd this script
# starts, then measures, for the default throttle and for providersThrottleDuration = "0s":
#   - start: from trafik's start to the last frontend answering 200;
#   - change: from etcd acknowledging the `etcdctl put` of one frontend's rule to the new
#     rule answering 200, polled every 2 ms (SAMPLES times in a row, each after the previous
#     went live);
#   - trafik's RSS with the N frontends loaded, after the changes.
# Everything on 127.0.0.1; every process started here is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-10000}
SAMPLES=${SAMPLES:-3}
ETCD_PORT=${ETCD_PORT:-12379}
ETCD_PEER_PORT=${ETCD_PEER_PORT:-12380}
BACKEND_PORT=${BACKEND_PORT:-19101}
TRAFIK_PORT=${TRAFIK_PORT:-18181}
TRAFIK_BIN=${TRAFIK_BIN:-}
# How long one wait may take before the run is declared failed.
DEADLINE_S=${DEADLINE_S:-300}

usage() {
  echo "usage: benches/kv.sh [--trafik-bin PATH] [--n N] [--samples K]"
  echo "env: N SAMPLES ETCD_PORT ETCD_PEER_PORT BACKEND_PORT TRAFIK_PORT TRAFIK_BIN DEADLINE_S"
}
while [ $# -gt 0 ]; do
  case "$1" in
    --trafik-bin) TRAFIK_BIN=$2; shift 2 ;;
    --n) N=$2; shift 2 ;;
    --samples) SAMPLES=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage; exit 2 ;;
  esac
done

missing=()
for tool in etcd etcdctl curl awk; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: ${missing[*]} (Debian: etcd-server etcd-client curl)" >&2
  exit 1
fi
for port in "$ETCD_PORT" "$ETCD_PEER_PORT" "$BACKEND_PORT" "$TRAFIK_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is taken; set the *_PORT variables" >&2
    exit 1
  fi
done
if [ -z "$TRAFIK_BIN" ]; then
  cargo build --release --bin trafik
  TRAFIK_BIN=${CARGO_TARGET_DIR:-target}/release/trafik
fi

scratch=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT

ctl() { ETCDCTL_API=3 etcdctl --endpoints "127.0.0.1:$ETCD_PORT" "$@"; }
now_ms() { date +%s%3N; }

# Waits until `cond` succeeds, polling every 10 ms; fails the run past the deadline.
until_ok() {
  local end=$(( $(date +%s) + DEADLINE_S ))
  until "$@"; do
    if [ "$(date +%s)" -gt "$end" ]; then echo "timed out: $*" >&2; exit 1; fi
    sleep 0.01
  done
}
# One request over bash's own TCP (no process started per poll, so a poll costs about a
# millisecond, not curl's ten), answered 200 or not.
serves() {
  exec 3<>"/dev/tcp/127.0.0.1/$TRAFIK_PORT" || return 1
  printf 'GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n' "$1" >&3
  local status
  IFS= read -r status <&3
  exec 3<&-
  [[ $status == "HTTP/1.1 200"* ]]
}
# Polls `serves HOST` every 2 ms until it answers 200; fails the run past the deadline.
until_served() {
  local end=$(( $(date +%s) + DEADLINE_S ))
  until serves "$1" 2>/dev/null; do
    if [ "$(date +%s)" -gt "$end" ]; then echo "timed out: serves $1" >&2; exit 1; fi
    sleep 0.002
  done
}

# etcd, with room for the whole store in one transaction.
etcd --name bench --data-dir "$scratch/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster "bench=http://127.0.0.1:$ETCD_PEER_PORT" \
  --max-txn-ops $((3 * N + 10)) --max-request-bytes 67108864 \
  >"$scratch/etcd.log" 2>&1 &
pids+=($!)
until_ok ctl endpoint health >/dev/null 2>&1

# `etcdctl txn` reads: compares, blank line, puts, blank line, failure ops, blank line.
awk -v n="$N" -v port="$BACKEND_PORT" 'BEGIN {
  print ""
  for (i = 0; i < n; i++) {
    printf "put /bench/backends/b%d/servers/s/url http://127.0.0.1:%d\n", i, port
    printf "put /bench/frontends/f%d/backend b%d\n", i, i
    printf "put /bench/frontends/f%d/routes/r/rule Host:f%d.bench\n", i, i
  }
  print ""; print ""
}' >"$scratch/ops"
t0=$(now_ms)
ctl txn <"$scratch/ops" >/dev/null
echo "store: $N frontends + $N backends ($((3 * N)) keys) written in $(( $(now_ms) - t0 )) ms"

"$TRAFIK_BIN" echo "127.0.0.1:$BACKEND_PORT" >"$scratch/echo.log" 2>&1 &
pids+=($!)

run_case() {
  local id=$1 label=$2 throttle_line=$3 dir="$scratch/$1"
  mkdir -p "$dir"
  cat >"$dir/trafik.toml" <<TOML
$throttle_line
[entryPoints.http]
address = "127.0.0.1:$TRAFIK_PORT"
[etcd]
endpoint = "127.0.0.1:$ETCD_PORT"
prefix = "/bench"
TOML
  local t0 t1 pid
  t0=$(now_ms)
  "$TRAFIK_BIN" --configFile "$dir/trafik.toml" >"$dir/out.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  until_served "f$((N - 1)).bench"
  t1=$(now_ms)
  local changes=()
  for k in $(seq 1 "$SAMPLES"); do
    local host="changed-$id-$k.bench" c0
    # From the moment etcd acknowledged the write (etcdctl's own start-up, about 20 ms,
    # is not trafik's latency) to the first 200 on the new rule.
    ctl put "/bench/frontends/f$((N / 2))/routes/r/rule" "Host:$host" >/dev/null
    c0=$(now_ms)
    until_served "$host"
    changes+=("$(( $(now_ms) - c0 ))")
  done
  local rss
  rss=$(awk '/^VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$pid/status")
  printf '%-24s start to last route: %6d ms   one-key change live (ms): %s   RSS %s MB\n' \
    "$label" "$((t1 - t0))" "${changes[*]}" "$rss"
  kill "$pid"
  wait "$pid" 2>/dev/null || true
}

# A first, unreported run: the first start reads a cold etcd and page cache and took
# about a second longer than the same start warm, whichever throttle came first.
run_case warmup "warm-up" 'providersThrottleDuration = "0s"' >/dev/null
run_case default "default throttle (2s)" ""
run_case zero "throttle 0s" 'providersThrottleDuration = "0s"'
