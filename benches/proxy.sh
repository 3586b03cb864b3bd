#!/usr/bin/env bash
# benches/proxy.sh: trafik vs nginx as a reverse proxy, in the same run.
#
# What it does
#   1. Builds trafik (`cargo build --release`, honouring CARGO_TARGET_DIR).
#   2. Creates a scratch dir and renders the configs in benches/proxy/ into it.
#   3. Starts, all on 127.0.0.1 only and on ports it first checks are free:
#        backend  nginx, 1 worker, keepalive: `/` -> 200 "hello\n" (6 B),
#                 `/static/16k.bin` -> a 16 KiB static file (sendfile)
#        nginx    nginx reverse proxy, 1 worker, upstream keepalive pool
#        trafik   `trafik --workers 1 -c trafik.toml` (Traefik 1.x file config)
#   4. Warms every target up (2 s at c200 per body), then runs R rounds. In a
#      round every case runs on every target back to back with
#      `wrk -t1 -cC -dDs --latency`; the target order rotates each round.
#      Cases: hello at c50, hello at c200, 16k at c50.
#   5. Per run it records req/s, p50, p99, the proxy's CPU time per request
#      (utime+stime delta of its process tree from /proc over the run), the
#      backend's CPU per request, the proxy tree's RSS after the run, and wrk's
#      "Non-2xx or 3xx responses" and "Socket errors" counts.
#   6. Prints one table per case (medians over rounds, plus trafik/nginx ratios
#      = median of the same-round ratios) and leaves results.csv, summary.txt
#      and every raw wrk output in the scratch dir.
#
# Method and nginx configs follow /work/shared/reference/peer-baseline.md.
# Pinned mode (default): the proxy under test on CPU 1, wrk and the backend on
# CPU 0, so the proxy owns one core. --unpinned leaves placement to the kernel.
#
# Usage: benches/proxy.sh [--duration S] [--rounds N] [--quick] [--unpinned]
#                         [--targets "nginx trafik"] [--trafik-bin PATH]
#                         [--scratch DIR]
#   benches/proxy.sh --help lists the options and the environment variables.
#
# Needs: nginx and wrk (Debian: apt-get install -y nginx-light wrk), taskset
# (util-linux), cargo for the build; curl is used for a response sanity check
# if present. Installs nothing. Every wrk run is bounded by `timeout`, and an
# EXIT/INT/TERM trap stops every process the script started.
#
# Exit status: 0 all runs clean; 1 setup failure; 3 finished, but at least one
# run had socket errors, non-2xx responses or a wrk failure (flagged with "!").

set -Eeuo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
TEMPLATE_DIR=$BENCH_DIR/proxy

# ---- settings (environment variables; flags below override them) ----------
DURATION=${DURATION:-10}            # seconds per measured run
ROUNDS=${ROUNDS:-3}                 # interleaved rounds
WARMUP=${WARMUP:-2}                 # seconds of warm-up per target and body
WARMUP_CONNS=${WARMUP_CONNS:-200}   # connections during warm-up
PINNED=${PINNED:-1}                 # 1 = pinned, 0 = unpinned
PROXY_CPU=${PROXY_CPU:-1}           # pinned: CPU of the proxy under test
LOAD_CPU=${LOAD_CPU:-0}             # pinned: CPU of wrk and the backend
TARGETS=${TARGETS:-"nginx trafik"}  # proxies to compare: nginx, trafik, nginx2
TRAFIK_BIN=${TRAFIK_BIN:-}          # use this binary instead of building
NGINX=${NGINX:-nginx}               # nginx binary (also found in /usr/sbin)
SCRATCH=${SCRATCH:-}                # scratch dir (default: a new mktemp dir)
BACKEND_PORT=${BACKEND_PORT:-19001}
NGINX_PORT=${NGINX_PORT:-18081}
TRAFIK_PORT=${TRAFIK_PORT:-18082}
NGINX2_PORT=${NGINX2_PORT:-18083}   # "nginx2": a second nginx proxy, A/A check
TRAFIK_RES_PORT=${TRAFIK_RES_PORT:-18084} # "trafik-res": trafik with the resilience stack
TRAFIK_BASE_PORT=${TRAFIK_BASE_PORT:-18085} # "trafik-base": another trafik build, same config
TRAFIK_BASE_BIN=${TRAFIK_BASE_BIN:-}      # its binary (--trafik-base-bin)

# The three cases: name, request path, wrk connections.
CASE_NAMES=(hello-c50 hello-c200 16k-c50)
CASE_PATHS=(/ / /static/16k.bin)
CASE_CONNS=(50 200 50)

# ---- state ------------------------------------------------------------------
STARTED_PIDS=()          # root pids of every long-running process we started
CHILD_PID=""             # the wrk run in progress, if any
BACKEND_PID=""
declare -A TARGET_PID    # target name -> root pid
declare -A TARGET_PORT   # target name -> port
declare -A IDLE_RSS_MB   # target name -> RSS after start, before any load
CLK_TCK=$(getconf CLK_TCK)
ANY_FLAGGED=0

# ---- small helpers ----------------------------------------------------------
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
    cat <<EOF
Usage: benches/proxy.sh [options]

Compares trafik with nginx as a reverse proxy in front of the same nginx
backend, all on 127.0.0.1. See benches/README.md.

Options (environment variable in brackets):
  --duration S        seconds per measured run             [DURATION=$DURATION]
  --rounds N          interleaved rounds                   [ROUNDS=$ROUNDS]
  --quick             1 round of 5 s (a smoke test, not a measurement)
  --unpinned          no CPU pinning                        [PINNED=0]
  --targets "A B"     proxies to run: nginx trafik trafik-res nginx2 trafik-base
                                                           [TARGETS="$TARGETS"]
                      (nginx is the reference for the ratio columns;
                       trafik-res is trafik with retry, health check, circuit
                       breaker, maxConn and stickiness on the backend, to
                       measure what the resilience stack costs;
                       nginx2 is a second identical nginx, for an A/A check;
                       trafik-base is another trafik build with trafik's
                       config, to compare two builds in the same rounds)
  --trafik-bin PATH   use this trafik binary, skip the build [TRAFIK_BIN]
  --trafik-base-bin PATH  the trafik-base target's binary  [TRAFIK_BASE_BIN]
  --scratch DIR       scratch/results dir (default: mktemp) [SCRATCH]
  -h, --help          this text

More environment variables: WARMUP=$WARMUP WARMUP_CONNS=$WARMUP_CONNS
  PROXY_CPU=$PROXY_CPU LOAD_CPU=$LOAD_CPU BACKEND_PORT=$BACKEND_PORT
  NGINX_PORT=$NGINX_PORT TRAFIK_PORT=$TRAFIK_PORT NGINX2_PORT=$NGINX2_PORT
  NGINX=$NGINX (binary)
  CARGO_TARGET_DIR (where the release binary is looked for after the build)
EOF
}

parse_args() {
    while (($#)); do
        case $1 in
            --duration) DURATION=${2:?--duration needs a value}; shift 2 ;;
            --duration=*) DURATION=${1#*=}; shift ;;
            --rounds) ROUNDS=${2:?--rounds needs a value}; shift 2 ;;
            --rounds=*) ROUNDS=${1#*=}; shift ;;
            --quick) ROUNDS=1; DURATION=5; shift ;;
            --unpinned) PINNED=0; shift ;;
            --pinned) PINNED=1; shift ;;
            --targets) TARGETS=${2:?--targets needs a value}; shift 2 ;;
            --targets=*) TARGETS=${1#*=}; shift ;;
            --trafik-bin) TRAFIK_BIN=${2:?--trafik-bin needs a value}; shift 2 ;;
            --trafik-bin=*) TRAFIK_BIN=${1#*=}; shift ;;
            --trafik-base-bin) TRAFIK_BASE_BIN=${2:?--trafik-base-bin needs a value}; shift 2 ;;
            --scratch) SCRATCH=${2:?--scratch needs a value}; shift 2 ;;
            --scratch=*) SCRATCH=${1#*=}; shift ;;
            -h | --help) usage; exit 0 ;;
            *) usage >&2; die "unknown argument: $1" ;;
        esac
    done
}

validate_settings() {
    local name value
    for name in DURATION ROUNDS WARMUP WARMUP_CONNS BACKEND_PORT NGINX_PORT TRAFIK_PORT TRAFIK_RES_PORT NGINX2_PORT TRAFIK_BASE_PORT; do
        value=${!name}
        [[ $value =~ ^[0-9]+$ && $value -ge 1 ]] || die "$name must be a positive integer, got '$value'"
    done
    [[ $PINNED == 0 || $PINNED == 1 ]] || die "PINNED must be 0 or 1"
    read -r -a TARGET_LIST <<<"$TARGETS"
    ((${#TARGET_LIST[@]} > 0)) || die "no targets"
    local t
    for t in "${TARGET_LIST[@]}"; do
        case $t in
            nginx) TARGET_PORT[$t]=$NGINX_PORT ;;
            trafik) TARGET_PORT[$t]=$TRAFIK_PORT ;;
            trafik-res) TARGET_PORT[$t]=$TRAFIK_RES_PORT ;;
            nginx2) TARGET_PORT[$t]=$NGINX2_PORT ;;
            trafik-base)
                TARGET_PORT[$t]=$TRAFIK_BASE_PORT
                [[ -x $TRAFIK_BASE_BIN ]] || die "trafik-base needs --trafik-base-bin PATH"
                ;;
            *) die "unknown target '$t' (known: nginx trafik trafik-res nginx2 trafik-base)" ;;
        esac
    done
}

target_wanted() { [[ " ${TARGET_LIST[*]} " == *" $1 "* ]]; }

# ---- cleanup ----------------------------------------------------------------
# The root pid plus all its descendants, one per line.
tree_pids() {
    local pid=$1 child
    [[ -d /proc/$pid ]] || return 0
    echo "$pid"
    # ps exits 1 when there are no children.
    for child in $(ps -o pid= --ppid "$pid" 2>/dev/null || true); do
        tree_pids "$child"
    done
}

# Stops a process tree: TERM to the root, then KILL whatever is left after 5 s.
stop_tree() {
    local root=$1 pids i p alive
    pids=$(tree_pids "$root")
    [[ -n $pids ]] || return 0
    kill -TERM "$root" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        alive=0
        for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
    wait "$root" 2>/dev/null || true
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM ERR
    if [[ -n $CHILD_PID ]]; then
        kill -TERM "$CHILD_PID" 2>/dev/null
        wait "$CHILD_PID" 2>/dev/null
    fi
    local pid
    for pid in "${STARTED_PIDS[@]}"; do stop_tree "$pid"; done
    if ((${#STARTED_PIDS[@]})); then log "stopped all benchmark processes"; fi
    [[ -n $SCRATCH && -d $SCRATCH ]] && log "scratch dir (kept): $SCRATCH"
    exit "$rc"
}

# ---- prerequisites and build -----------------------------------------------
check_tools() {
    local missing=()
    # Debian puts nginx in /usr/sbin, which is not on a normal user's PATH.
    if ! command -v "$NGINX" >/dev/null && [[ $NGINX == nginx && -x /usr/sbin/nginx ]]; then
        NGINX=/usr/sbin/nginx
    fi
    command -v "$NGINX" >/dev/null || missing+=(nginx-light)
    command -v wrk >/dev/null || missing+=(wrk)
    command -v taskset >/dev/null || missing+=(util-linux)
    command -v ps >/dev/null || missing+=(procps)
    if ((${#missing[@]})); then
        die "missing tools; on Debian/Ubuntu install them with: apt-get install -y ${missing[*]}"
    fi
    if { target_wanted trafik || target_wanted trafik-res; } && [[ -z $TRAFIK_BIN ]]; then
        command -v cargo >/dev/null || die "cargo not found (needed to build trafik; or pass --trafik-bin)"
    fi
    if ((PINNED)); then
        local ncpu
        ncpu=$(nproc)
        ((PROXY_CPU < ncpu && LOAD_CPU < ncpu)) ||
            die "pinned mode needs CPUs $PROXY_CPU and $LOAD_CPU but only $ncpu are available; use --unpinned"
        ((PROXY_CPU != LOAD_CPU)) || die "PROXY_CPU and LOAD_CPU must differ"
    fi
}

build_trafik() {
    target_wanted trafik || target_wanted trafik-res || return 0
    if [[ -n $TRAFIK_BIN ]]; then
        [[ -x $TRAFIK_BIN ]] || die "--trafik-bin $TRAFIK_BIN is not an executable"
        log "using trafik binary $TRAFIK_BIN (no build)"
        return 0
    fi
    local target_dir=${CARGO_TARGET_DIR:-$REPO_DIR/target}
    [[ $target_dir == /* ]] || target_dir=$PWD/$target_dir
    log "building trafik: cargo build --release (target dir $target_dir)"
    (cd "$REPO_DIR" && CARGO_TARGET_DIR=$target_dir cargo build --release) ||
        die "cargo build --release failed (run with --targets nginx to benchmark nginx alone)"
    TRAFIK_BIN=$target_dir/release/trafik
    [[ -x $TRAFIK_BIN ]] || die "build succeeded but $TRAFIK_BIN does not exist"
}

# ---- scratch dir and configs -----------------------------------------------
make_scratch() {
    if [[ -z $SCRATCH ]]; then
        SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/trafik-bench.XXXXXX")
    fi
    mkdir -p "$SCRATCH"/{conf,run,logs,tmp,www/static,wrk}
    SCRATCH=$(cd "$SCRATCH" && pwd)
    # nginx workers started by root run as "nobody" and must reach www/.
    chmod 755 "$SCRATCH" "$SCRATCH"/www "$SCRATCH"/www/static
    head -c 16384 /dev/urandom >"$SCRATCH/www/static/16k.bin"
    chmod 644 "$SCRATCH/www/static/16k.bin"
    log "scratch dir: $SCRATCH"
}

# render TEMPLATE OUTPUT NAME PORT: substitutes the @...@ placeholders.
render() {
    local template=$1 output=$2 name=$3 port=$4
    sed -e "s|@W@|$SCRATCH|g" -e "s|@NAME@|$name|g" -e "s|@PORT@|$port|g" \
        -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" "$TEMPLATE_DIR/$template" >"$output"
}

write_meta() {
    {
        echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "host: $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
        echo "nginx: $("$NGINX" -v 2>&1)"
        echo "wrk: $( (wrk -v 2>&1 || true) | head -n 1)"
        if target_wanted trafik || target_wanted trafik-res; then
            echo "trafik: $TRAFIK_BIN"
            echo "git: $(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo '?')$(cd "$REPO_DIR" && git diff --quiet HEAD 2>/dev/null || echo ' (dirty)')"
        fi
        echo "settings: duration=${DURATION}s rounds=$ROUNDS warmup=${WARMUP}s@c$WARMUP_CONNS pinned=$PINNED proxy_cpu=$PROXY_CPU load_cpu=$LOAD_CPU targets=[$TARGETS]"
        echo "ports: backend=$BACKEND_PORT nginx=$NGINX_PORT trafik=$TRAFIK_PORT trafik-res=$TRAFIK_RES_PORT nginx2=$NGINX2_PORT"
    } >"$SCRATCH/meta.txt"
}

# ---- processes ---------------------------------------------------------------
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

check_ports_free() {
    local ports=("$BACKEND_PORT") t
    for t in "${TARGET_LIST[@]}"; do ports+=("${TARGET_PORT[$t]}"); done
    if (($(printf '%s\n' "${ports[@]}" | sort -u | wc -l) != ${#ports[@]})); then
        die "ports must all differ: ${ports[*]}"
    fi
    local p
    for p in "${ports[@]}"; do
        if port_in_use "$p"; then
            die "port 127.0.0.1:$p is already in use; pick others with BACKEND_PORT/NGINX_PORT/TRAFIK_PORT"
        fi
    done
}

# spawn NAME CPU CMD...: starts CMD in the background (under taskset when
# pinned), output to logs/NAME.out; sets SPAWNED_PID.
spawn() {
    local name=$1 cpu=$2
    shift 2
    if ((PINNED)); then
        taskset -c "$cpu" "$@" </dev/null >"$SCRATCH/logs/$name.out" 2>&1 &
    else
        "$@" </dev/null >"$SCRATCH/logs/$name.out" 2>&1 &
    fi
    SPAWNED_PID=$!
    STARTED_PIDS+=("$SPAWNED_PID")
}

# wait_ready NAME PID PORT: waits up to 10 s for PORT to accept connections.
wait_ready() {
    local name=$1 pid=$2 port=$3 i
    for ((i = 0; i < 100; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "$name exited during startup; last lines of its logs:"
            tail -n 20 "$SCRATCH/logs/$name".* >&2 || true
            die "$name did not start"
        fi
        port_in_use "$port" && return 0
        sleep 0.1
    done
    die "$name did not listen on 127.0.0.1:$port within 10 s (logs in $SCRATCH/logs)"
}

# pin_tree PID CPU: re-applies the affinity to every thread of every process
# in the tree (they were started under taskset already; this catches
# anything that changed its own affinity).
pin_tree() {
    local root=$1 cpu=$2 p
    ((PINNED)) || return 0
    for p in $(tree_pids "$root"); do
        taskset -a -p -c "$cpu" "$p" >/dev/null
    done
}

start_backend() {
    render backend.nginx.conf "$SCRATCH/conf/backend.conf" backend "$BACKEND_PORT"
    spawn backend "$LOAD_CPU" "$NGINX" -p "$SCRATCH/" -e "$SCRATCH/logs/backend.err" \
        -c "$SCRATCH/conf/backend.conf" -g 'daemon off;'
    BACKEND_PID=$SPAWNED_PID
    wait_ready backend "$BACKEND_PID" "$BACKEND_PORT"
    pin_tree "$BACKEND_PID" "$LOAD_CPU"
}

start_nginx_proxy() {
    local name=$1 port=${TARGET_PORT[$1]}
    render proxy.nginx.conf "$SCRATCH/conf/$name.conf" "$name" "$port"
    spawn "$name" "$PROXY_CPU" "$NGINX" -p "$SCRATCH/" -e "$SCRATCH/logs/$name.err" \
        -c "$SCRATCH/conf/$name.conf" -g 'daemon off;'
    TARGET_PID[$name]=$SPAWNED_PID
    wait_ready "$name" "$SPAWNED_PID" "$port"
    pin_tree "$SPAWNED_PID" "$PROXY_CPU"
}

# start_trafik NAME TEMPLATE [BINARY]
start_trafik() {
    local name=$1 template=$2 port=${TARGET_PORT[$1]} bin=${3:-$TRAFIK_BIN}
    render "$template" "$SCRATCH/conf/$name.toml" "$name" "$port"
    spawn "$name" "$PROXY_CPU" "$bin" --workers 1 -c "$SCRATCH/conf/$name.toml"
    TARGET_PID[$name]=$SPAWNED_PID
    wait_ready "$name" "$SPAWNED_PID" "$port"
    pin_tree "$SPAWNED_PID" "$PROXY_CPU"
}

start_targets() {
    local t
    for t in "${TARGET_LIST[@]}"; do
        case $t in
            nginx | nginx2) start_nginx_proxy "$t" ;;
            trafik) start_trafik trafik trafik.toml ;;
            trafik-res) start_trafik trafik-res trafik-resilient.toml ;;
            trafik-base) start_trafik trafik-base trafik.toml "$TRAFIK_BASE_BIN" ;;
        esac
        log "started $t on 127.0.0.1:${TARGET_PORT[$t]} (pid ${TARGET_PID[$t]})"
    done
}

# check_responses PORT: succeeds if GET / is 200 "hello" and GET
# /static/16k.bin is 200 with the 16 KiB file; otherwise prints what came back.
check_responses() {
    local port=$1 out body=$SCRATCH/tmp/check.body
    out=$(curl -s --max-time 5 -o "$body" -w '%{http_code}' "http://127.0.0.1:$port/") || true
    if [[ $out != 200 || $(head -c 100 "$body") != hello ]]; then
        echo "GET / returned status '$out' and body '$(head -c 60 "$body" | tr -c '[:print:]' .)', expected 200 \"hello\""
        return 1
    fi
    out=$(curl -s --max-time 5 -o "$body" -w '%{http_code} %{size_download}' "http://127.0.0.1:$port/static/16k.bin") || true
    if [[ $out != "200 16384" ]] || ! cmp -s "$body" "$SCRATCH/www/static/16k.bin"; then
        echo "GET /static/16k.bin returned '$out' (status, bytes), expected 200 and the 16384-byte file"
        return 1
    fi
}

# Checks that the backend and each target serve both bodies correctly before
# any load; a target gets 5 s to load its routes after it starts listening.
sanity_check() {
    if ! command -v curl >/dev/null; then
        log "curl not found: skipping the response check"
        return 0
    fi
    local t port i problem
    for t in backend "${TARGET_LIST[@]}"; do
        if [[ $t == backend ]]; then port=$BACKEND_PORT; else port=${TARGET_PORT[$t]}; fi
        for ((i = 0; i < 50; i++)); do
            problem=$(check_responses "$port") && break
            sleep 0.1
        done
        [[ -z $problem ]] || die "$t on 127.0.0.1:$port: $problem (logs in $SCRATCH/logs)"
    done
    log "all targets return the expected responses"
}

# ---- measurements ----------------------------------------------------------
# Sum of utime+stime (clock ticks) over the given pids; with --user first, utime alone
# (user_ticks).
cpu_ticks() {
    local p sum=0 fields f user=0
    [[ ${1:-} == --user ]] && { user=1; shift; }
    for p in "$@"; do
        [[ -r /proc/$p/stat ]] || continue
        # Drop "pid (comm) " first: comm may contain spaces.
        fields=$(sed 's/^.*) //' "/proc/$p/stat" 2>/dev/null) || continue
        read -r -a f <<<"$fields"
        # fields 14 and 15 of stat(5)
        if ((user)); then sum=$((sum + f[11])); else sum=$((sum + f[11] + f[12])); fi
    done
    echo "$sum"
}
user_ticks() { cpu_ticks --user "$@"; }

# Sum of RSS over the given pids, in MB.
rss_mb() {
    ps -o rss= -p "$(IFS=,; echo "$*")" 2>/dev/null | awk '{ kb += $1 } END { printf "%.1f", kb / 1024 }'
}

# run_wrk OUTFILE CONNS DURATION URL: one bounded wrk run (on the load CPU when
# pinned), in the background so that the trap can stop it. Returns wrk's
# exit status (124 = killed by timeout).
run_wrk() {
    local outfile=$1 conns=$2 duration=$3 url=$4 rc=0
    local cmd=(timeout -k 5 $((duration + 20)) wrk -t1 -c"$conns" -d"${duration}s" --latency "$url")
    if ((PINNED)); then cmd=(taskset -c "$LOAD_CPU" "${cmd[@]}"); fi
    "${cmd[@]}" </dev/null >"$outfile" 2>&1 &
    CHILD_PID=$!
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    return "$rc"
}

# parse_wrk FILE: prints "rps p50_ms p99_ms requests non2xx socket_errors";
# fields wrk did not print come out as "NA". Latencies are converted from
# wrk's units (us, ms, s, m, h) to milliseconds.
parse_wrk() {
    awk '
        function to_ms(s,   n, unit) {
            n = s + 0; unit = s; sub(/^[0-9.]+/, "", unit)
            if (unit == "us") return n / 1000
            if (unit == "ms") return n
            if (unit == "s")  return n * 1000
            if (unit == "m")  return n * 60000
            if (unit == "h")  return n * 3600000
            return "NA"
        }
        BEGIN { rps = p50 = p99 = reqs = "NA"; non2xx = 0; sockerr = 0 }
        $1 == "50%" { p50 = to_ms($2) }
        $1 == "99%" { p99 = to_ms($2) }
        / requests in / { reqs = $1 }
        /^Requests\/sec:/ { rps = $2 }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/ {
            # Socket errors: connect 0, read 0, write 0, timeout 0
            for (i = 3; i <= NF; i += 2) { v = $(i + 1); gsub(/,/, "", v); sockerr += v }
        }
        END { print rps, p50, p99, reqs, non2xx, sockerr }
    ' "$1"
}

CSV_HEADER="round,position,case,target,conns,path,duration_s,requests,rps,p50_ms,p99_ms,proxy_cpu_us_per_req,backend_cpu_us_per_req,rss_mb,non2xx,socket_errors,wrk_rc,status,wrk_output"

# measure ROUND POSITION CASE_INDEX TARGET: one measured run, appended to
# results.csv.
measure() {
    local round=$1 position=$2 ci=$3 target=$4
    local case_name=${CASE_NAMES[$ci]} path=${CASE_PATHS[$ci]} conns=${CASE_CONNS[$ci]}
    local port=${TARGET_PORT[$target]} root=${TARGET_PID[$target]}
    local outfile="$SCRATCH/wrk/r${round}-${case_name}-${target}.txt"
    local proxy_pids backend_pids p0 p1 b0 b1 rc=0

    proxy_pids=$(tree_pids "$root")
    backend_pids=$(tree_pids "$BACKEND_PID")
    p0=$(cpu_ticks $proxy_pids)
    b0=$(cpu_ticks $backend_pids)
    run_wrk "$outfile" "$conns" "$DURATION" "http://127.0.0.1:$port$path" || rc=$?
    p1=$(cpu_ticks $proxy_pids)
    b1=$(cpu_ticks $backend_pids)

    local p
    for p in $proxy_pids; do
        kill -0 "$p" 2>/dev/null || die "$target (pid $p) died during round $round, $case_name; see $SCRATCH/logs/$target.*"
    done
    for p in $backend_pids; do
        kill -0 "$p" 2>/dev/null || die "the backend (pid $p) died during round $round, $case_name; see $SCRATCH/logs/backend.*"
    done
    local rss
    rss=$(rss_mb $proxy_pids)

    local rps p50 p99 reqs non2xx sockerr
    read -r rps p50 p99 reqs non2xx sockerr < <(parse_wrk "$outfile")

    local status="" proxy_us="NA" backend_us="NA"
    ((rc == 0)) || status+="wrk-exit-$rc;"
    [[ $rps != NA && $reqs != NA && $p50 != NA && $p99 != NA ]] || status+="unparsed;"
    ((non2xx == 0)) || status+="non2xx;"
    ((sockerr == 0)) || status+="socket-errors;"
    if [[ $reqs != NA ]] && ((reqs > 0)); then
        proxy_us=$(awk -v d=$((p1 - p0)) -v n="$reqs" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')
        backend_us=$(awk -v d=$((b1 - b0)) -v n="$reqs" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')
    fi
    if [[ -n $status ]]; then
        status=${status%;}
        ANY_FLAGGED=1
    else
        status=ok
    fi

    echo "$round,$position,$case_name,$target,$conns,$path,$DURATION,$reqs,$rps,$p50,$p99,$proxy_us,$backend_us,$rss,$non2xx,$sockerr,$rc,$status,$outfile" \
        >>"$SCRATCH/results.csv"
    log "  $case_name $target: $rps req/s, p50 $p50 ms, p99 $p99 ms, CPU $proxy_us us/req, RSS $rss MB [$status]"
}

record_idle_rss() {
    local t
    for t in "${TARGET_LIST[@]}"; do
        IDLE_RSS_MB[$t]=$(rss_mb $(tree_pids "${TARGET_PID[$t]}"))
    done
}

warm_up() {
    local t path rc sockerr non2xx
    for t in "${TARGET_LIST[@]}"; do
        for path in / /static/16k.bin; do
            local body=hello
            [[ $path == / ]] || body=16k
            local outfile="$SCRATCH/wrk/warmup-$t-$body.txt"
            rc=0
            run_wrk "$outfile" "$WARMUP_CONNS" "$WARMUP" "http://127.0.0.1:${TARGET_PORT[$t]}$path" || rc=$?
            read -r _ _ _ _ non2xx sockerr < <(parse_wrk "$outfile")
            if ((rc != 0 || non2xx != 0 || sockerr != 0)); then
                log "warning: warm-up of $t on $path: wrk exit $rc, $non2xx non-2xx, $sockerr socket errors (see $outfile)"
            fi
        done
    done
}

run_rounds() {
    echo "$CSV_HEADER" >"$SCRATCH/results.csv"
    local n=${#TARGET_LIST[@]} round ci i order
    for ((round = 1; round <= ROUNDS; round++)); do
        # Rotate the target order by one each round.
        order=()
        for ((i = 0; i < n; i++)); do order+=("${TARGET_LIST[$(((i + round - 1) % n))]}"); done
        log "round $round/$ROUNDS, order: ${order[*]}"
        for ((ci = 0; ci < ${#CASE_NAMES[@]}; ci++)); do
            for ((i = 0; i < n; i++)); do
                measure "$round" $((i + 1)) "$ci" "${order[$i]}"
            done
        done
    done
}

# ---- summary ------------------------------------------------------------------
# column_values CASE TARGET COLUMN: the column's values over rounds, one a line.
column_values() {
    awk -F, -v c="$1" -v t="$2" -v col="$3" '
        NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
        $(idx["case"]) == c && $(idx["target"]) == t && $(idx[col]) != "NA" { print $(idx[col]) }
    ' "$SCRATCH/results.csv"
}

# ratio_values CASE TARGET COLUMN [REFERENCE]: TARGET/REFERENCE (default nginx)
# for COLUMN, one per round in which both have a value.
ratio_values() {
    awk -F, -v c="$1" -v t="$2" -v col="$3" -v ref="${4:-nginx}" '
        NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
        $(idx["case"]) != c || $(idx[col]) == "NA" { next }
        $(idx["target"]) == t   { num[$(idx["round"])] = $(idx[col]) }
        $(idx["target"]) == ref { den[$(idx["round"])] = $(idx[col]) }
        END { for (r in num) if ((r in den) && den[r] > 0) print num[r] / den[r] }
    ' "$SCRATCH/results.csv"
}

# median: of the numbers on stdin (mean of the middle two for an even count);
# prints "-" for no input.
median() {
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "-"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# sum_errors CASE TARGET: non-2xx + socket errors over all rounds, and "!" if
# any run of this case and target was flagged.
sum_errors() {
    awk -F, -v c="$1" -v t="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
        $(idx["case"]) == c && $(idx["target"]) == t {
            n += $(idx["non2xx"]) + $(idx["socket_errors"]); if ($(idx["status"]) != "ok") bad = 1 }
        END { printf "%d%s", n, (bad ? "!" : "") }
    ' "$SCRATCH/results.csv"
}

fmt() { # fmt PRINTF_FORMAT VALUE: formats a number, passes "-" through
    if [[ $2 == - ]]; then printf '%s' -; else printf "$1" "$2"; fi
}


# Two targets' same-round ratios per case (A / B), medians: `pair_table TITLE A B EACH
# LABEL`, EACH the column also listed round by round (rps or proxy_cpu_us_per_req).
pair_table() {
    local title=$1 a=$2 b=$3 each=$4 label=$5
    echo
    echo "== $title, median of same-round ratios =="
    printf '%-12s %14s %14s %s\n' case "req/s ratio" "CPU ratio" "(each round's $label)"
    for ((ci = 0; ci < ${#CASE_NAMES[@]}; ci++)); do
        local c=${CASE_NAMES[$ci]}
        printf '%-12s %14s %14s (%s)\n' "$c" \
            "$(fmt %.3f "$(ratio_values "$c" "$a" rps "$b" | median)")" \
            "$(fmt %.3f "$(ratio_values "$c" "$a" proxy_cpu_us_per_req "$b" | median)")" \
            "$(ratio_values "$c" "$a" "$each" "$b" | sort -g | awk '{ printf "%s%.2f", (NR > 1 ? " " : ""), $1 }')"
    done
}
print_summary() {
    local ci t pin_desc
    if ((PINNED)); then
        pin_desc="pinned: proxy on CPU $PROXY_CPU, wrk + backend on CPU $LOAD_CPU"
    else
        pin_desc="unpinned"
    fi
    echo
    echo "trafik vs nginx reverse proxy: $ROUNDS round(s) x ${DURATION}s per run, wrk -t1, $pin_desc"
    echo "medians over rounds; 'x nginx' = median of same-round target/nginx ratios;"
    echo "CPU = utime+stime of the process tree per request; RSS after the run (idle in brackets)"
    for ((ci = 0; ci < ${#CASE_NAMES[@]}; ci++)); do
        local c=${CASE_NAMES[$ci]}
        echo
        echo "== $c: GET ${CASE_PATHS[$ci]}, ${CASE_CONNS[$ci]} connections =="
        printf '%-8s %9s %8s %8s %10s %12s %14s %8s %11s %10s\n' \
            target "req/s" "p50 ms" "p99 ms" "CPU us/req" "backend us/r" "RSS MB (idle)" errors "req/s x ng" "CPU x ng"
        for t in "${TARGET_LIST[@]}"; do
            local rps p50 p99 cpu bcpu rss errs rratio cratio
            rps=$(column_values "$c" "$t" rps | median)
            p50=$(column_values "$c" "$t" p50_ms | median)
            p99=$(column_values "$c" "$t" p99_ms | median)
            cpu=$(column_values "$c" "$t" proxy_cpu_us_per_req | median)
            bcpu=$(column_values "$c" "$t" backend_cpu_us_per_req | median)
            rss=$(column_values "$c" "$t" rss_mb | median)
            errs=$(sum_errors "$c" "$t")
            if target_wanted nginx; then
                rratio=$(ratio_values "$c" "$t" rps | median)
                cratio=$(ratio_values "$c" "$t" proxy_cpu_us_per_req | median)
            else
                rratio=-; cratio=-
            fi
            printf '%-8s %9s %8s %8s %10s %12s %14s %8s %11s %10s\n' "$t" \
                "$(fmt %.0f "$rps")" "$(fmt %.2f "$p50")" "$(fmt %.2f "$p99")" \
                "$(fmt %.1f "$cpu")" "$(fmt %.1f "$bcpu")" \
                "$(fmt %.1f "$rss") ($(fmt %.1f "${IDLE_RSS_MB[$t]}"))" "$errs" \
                "$(fmt %.2f "$rratio")" "$(fmt %.2f "$cratio")"
        done
    done
    if target_wanted trafik && target_wanted trafik-base; then
        pair_table "trafik / trafik-base (two builds)" trafik trafik-base proxy_cpu_us_per_req "CPU ratio"
    fi
    if target_wanted trafik && target_wanted trafik-res; then
        pair_table "what the resilience stack costs: trafik-res / trafik" trafik-res trafik rps "req/s ratio"
    fi
    echo
    if ((ANY_FLAGGED)); then
        echo "!! some runs had socket errors, non-2xx responses or wrk failures (errors column marked '!');"
        echo "!! their figures are not comparable. Details: status column of $SCRATCH/results.csv"
    else
        echo "no socket errors, no non-2xx responses, every wrk run completed"
    fi
    echo "raw results: $SCRATCH/results.csv (wrk outputs in $SCRATCH/wrk/, setup in $SCRATCH/meta.txt)"
}

# ---- main ----------------------------------------------------------------------
# Everything up to the targets, for this script and corun.sh: traps, tools, build, free
# ports, scratch dir, and the backend.
prepare_run() {
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR

    check_tools
    build_trafik
    check_ports_free
    make_scratch
    write_meta

    start_backend
    log "started backend on 127.0.0.1:$BACKEND_PORT (pid $BACKEND_PID)"
}

main() {
    parse_args "$@"
    validate_settings
    prepare_run
    start_targets
    sanity_check
    record_idle_rss

    log "warm-up: ${WARMUP}s at c$WARMUP_CONNS per target and body"
    warm_up
    local runs=$((ROUNDS * ${#CASE_NAMES[@]} * ${#TARGET_LIST[@]}))
    log "measuring: $runs runs of ${DURATION}s (about $((runs * DURATION / 60 + 1)) min)"
    run_rounds

    print_summary | tee "$SCRATCH/summary.txt"
    ((ANY_FLAGGED == 0)) || exit 3
}

# Run main unless the file is sourced (sourcing gives access to the functions,
# e.g. `source benches/proxy.sh; parse_wrk some-wrk-output.txt`).
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
