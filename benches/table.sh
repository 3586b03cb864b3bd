#!/usr/bin/env bash
# benches/table.sh: every case of the performance issue in one run, trafik beside nginx
# (and HAProxy when installed), as ratios to nginx measured in the same round.
#
# Each target is one process with three listeners (benches/table/): HTTP/1.1, HTTP/2
# cleartext (prior knowledge) and TLS (ALPN h2 + http/1.1, session tickets on), in
# front of proxy.sh's nginx backend, all on 127.0.0.1.
#
#   1. one worker each (trafik --workers 1, nginx worker_processes 1, HAProxy nbthread 1),
#      pinned: the proxies on CPU 1, load generators and backend on CPU 0. R rounds; in a
#      round every case runs on every target back to back, the target order rotating:
#        h1-hello-c50    wrk -t1 -c50 GET / (6 B)
#        h1-hello-c200   wrk -t1 -c200 GET /
#        h1-16k-c50      wrk -t1 -c50 GET /static/16k.bin
#        h2-tls          h2load -t1 -c50 -m10 https:// GET / (TLS 1.3, ALPN h2)
#        h2c             h2load -t1 -c50 -m10 http:// GET / (prior knowledge)
#        tls-full        4 x openssl s_time -new -tls1_3: full handshakes, no request
#        tls-resumed     4 x openssl s_time -reuse -tls1_3 -www /: resumed handshakes, one
#                        request each (the client needs the response to take in its ticket)
#   2. two workers each, unpinned (everything shares both CPUs): h1-hello-c50,
#      h1-hello-c200 (wrk -t2) and h2-tls (h2load -t2).
#   3. memory: RSS idle (after start), after every run (under load), and a soak of
#      --soak minutes on the phase-1 processes, every target loaded at once with the
#      cases in turn (10 s each), RSS sampled every 10 s.
#   4. instructions per request (benches/instructions.sh --table, callgrind), when
#      valgrind is installed.
# Per run: the rate, the proxy tree's CPU time (utime+stime from /proc) per request or
# handshake, the backend's, RSS after the run, errors (non-2xx, socket errors, h2load
# failures, s_time failures).
#
# Usage: benches/table.sh [--quick] [--rounds N] [--duration S] [--soak M]
#                         [--targets "nginx trafik haproxy"] [--trafik-bin PATH]
#   --quick: 1 round of 3 s per case, a 30 s soak, 500 requests for callgrind (checks
#   that everything works; about 5 min). Default: 3 rounds of 10 s, a 10 min soak
#   (about 40 min). --soak 0 skips the soak.
# Needs: nginx (Debian nginx-light), wrk, h2load (nghttp2-client), openssl, curl,
# taskset, ps; haproxy and valgrind optional. Installs nothing. Ports (127.0.0.1): the
# backend 19201 (TABLE_BACKEND_PORT), 18201/18211/18241 (nginx: h1, h2c, TLS),
# 18202/18242 (trafik: h1 and h2c on one port, TLS), 18205/18215/18245 (HAProxy),
# 19211-19213 (instructions.sh).
# Exit status: 0 clean; 1 setup failure; 3 some run had errors.

set -Eeuo pipefail
TABLE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=proxy.sh
source "$TABLE_DIR/proxy.sh"

SOAK=${SOAK:-10}         # minutes
SOAK_SECONDS=""          # set by --quick (30 s)
SLICE=10                 # seconds per soak load slice and between RSS samples
HS_CLIENTS=${HS_CLIENTS:-4}
INSTR_REQUESTS=2000
TARGETS_SET=0
# Ports of their own, so that proxy.sh or instructions.sh can run beside this script.
BACKEND_PORT=${TABLE_BACKEND_PORT:-19201}
declare -A H1_PORT=([nginx]=18201 [trafik]=18202 [haproxy]=18205)
declare -A H2C_PORT=([nginx]=18211 [trafik]=18202 [haproxy]=18215)
declare -A TLS_PORT=([nginx]=18241 [trafik]=18242 [haproxy]=18245)
PHASE1_CASES=(h1-hello-c50 h1-hello-c200 h1-16k-c50 h2-tls h2c tls-full tls-resumed)
PHASE2_CASES=(h1-hello-c50 h1-hello-c200 h2-tls)
SOAK_CASES=(h1-hello-c200 h2-tls h1-16k-c50 h2c tls-full)
declare -A MAX_RSS       # target -> largest RSS after a phase-1 run
LOAD_THREADS=1           # wrk -t / h2load -t: 1 pinned, 2 in phase 2

table_usage() { sed -n '2,40p' "$0" | sed 's/^# \{0,1\}//'; }

table_args() {
    while (($#)); do
        case $1 in
            --quick) ROUNDS=1; DURATION=3; SOAK_SECONDS=30; INSTR_REQUESTS=500; shift ;;
            --rounds) ROUNDS=${2:?--rounds needs a value}; shift 2 ;;
            --duration) DURATION=${2:?--duration needs a value}; shift 2 ;;
            --soak) SOAK=${2:?--soak needs a value}; SOAK_SECONDS=""; shift 2 ;;
            --targets) TARGETS=${2:?--targets needs a value}; TARGETS_SET=1; shift 2 ;;
            --trafik-bin) TRAFIK_BIN=${2:?--trafik-bin needs a value}; shift 2 ;;
            -h | --help) table_usage; exit 0 ;;
            *) table_usage >&2; die "unknown argument: $1" ;;
        esac
    done
    ((TARGETS_SET)) || { TARGETS="nginx trafik"; command -v haproxy >/dev/null && TARGETS+=" haproxy"; }
    [[ $SOAK =~ ^[0-9]+$ ]] || die "--soak takes whole minutes, got '$SOAK'"
    [[ -n $SOAK_SECONDS ]] || SOAK_SECONDS=$((SOAK * 60))
    [[ $DURATION =~ ^[0-9]+$ && $ROUNDS =~ ^[0-9]+$ ]] || die "--rounds and --duration take whole numbers"
    read -r -a TARGET_LIST <<<"$TARGETS"
    local t
    for t in "${TARGET_LIST[@]}"; do
        [[ -n ${H1_PORT[$t]:-} ]] || die "unknown target '$t' (known: nginx trafik haproxy)"
        TARGET_PORT[$t]=${H1_PORT[$t]}
    done
    target_wanted nginx || die "nginx is the reference of every ratio: keep it in --targets"
}

table_tools() {
    local missing=() tool
    if ! command -v "$NGINX" >/dev/null && [[ -x /usr/sbin/nginx ]]; then NGINX=/usr/sbin/nginx; fi
    command -v "$NGINX" >/dev/null || missing+=(nginx-light)
    for tool in wrk:wrk h2load:nghttp2-client openssl:openssl curl:curl taskset:util-linux ps:procps; do
        command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
    done
    if target_wanted haproxy && ! command -v haproxy >/dev/null; then missing+=(haproxy); fi
    ((${#missing[@]} == 0)) || die "missing tools; on Debian: apt-get install -y ${missing[*]}"
    (($(nproc) >= 2)) || die "needs 2 CPUs"
}

table_ports_free() {
    local t p
    for p in "$BACKEND_PORT" $(for t in "${TARGET_LIST[@]}"; do echo "${H1_PORT[$t]} ${H2C_PORT[$t]} ${TLS_PORT[$t]}"; done); do
        if port_in_use "$p"; then die "port 127.0.0.1:$p is in use"; fi
    done
}

make_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=bench.test -addext subjectAltName=DNS:bench.test \
        -keyout "$SCRATCH/conf/key.pem" -out "$SCRATCH/conf/cert.pem" 2>/dev/null ||
        die "openssl could not make the benchmark certificate"
    cat "$SCRATCH/conf/cert.pem" "$SCRATCH/conf/key.pem" >"$SCRATCH/conf/haproxy.pem"
    chmod 644 "$SCRATCH"/conf/*.pem
}

# render_target TEMPLATE OUTPUT TARGET WORKERS
render_target() {
    sed -e "s|@W@|$SCRATCH|g" -e "s|@NAME@|$3|g" -e "s|@WORKERS@|$4|g" \
        -e "s|@H1_PORT@|${H1_PORT[$3]}|g" -e "s|@H2C_PORT@|${H2C_PORT[$3]}|g" \
        -e "s|@TLS_PORT@|${TLS_PORT[$3]}|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" \
        "$TABLE_DIR/table/$1" >"$2"
}

# start_target TARGET WORKERS: one process (tree) with the three listeners.
start_target() {
    local t=$1 workers=$2 conf
    case $t in
        nginx)
            conf=$SCRATCH/conf/nginx-w$workers.conf
            render_target nginx.conf "$conf" nginx "$workers"
            spawn nginx "$PROXY_CPU" "$NGINX" -p "$SCRATCH/" -e "$SCRATCH/logs/nginx.err" -c "$conf" -g 'daemon off;' ;;
        trafik)
            conf=$SCRATCH/conf/trafik-w$workers.toml
            render_target trafik.toml "$conf" trafik "$workers"
            spawn trafik "$PROXY_CPU" "$TRAFIK_BIN" --workers "$workers" -c "$conf" ;;
        haproxy)
            conf=$SCRATCH/conf/haproxy-w$workers.cfg
            render_target haproxy.cfg "$conf" haproxy "$workers"
            spawn haproxy "$PROXY_CPU" haproxy -db -f "$conf" ;;
    esac
    TARGET_PID[$t]=$SPAWNED_PID
    wait_ready "$t" "$SPAWNED_PID" "${TLS_PORT[$t]}"
    pin_tree "$SPAWNED_PID" "$PROXY_CPU"
}

# Every listener of every target answers hello: h1, h2c, and h2 over TLS.
table_sanity() {
    local t out want i url
    for t in "${TARGET_LIST[@]}"; do
        for url in "--http1.1 http://127.0.0.1:${H1_PORT[$t]}/ 1.1" \
            "--http2-prior-knowledge http://127.0.0.1:${H2C_PORT[$t]}/ 2" \
            "--http2 https://127.0.0.1:${TLS_PORT[$t]}/ 2"; do
            read -r flag u want <<<"$url"
            for ((i = 0; i < 50; i++)); do
                out=$(curl -sk "$flag" --max-time 5 -w ' %{http_version}' "$u") || true
                [[ $out == "hello"*" $want" ]] && break
                sleep 0.1
            done
            [[ $out == "hello"*" $want" ]] || die "$t: GET $u ($flag) returned '$out', expected hello over HTTP/$want"
        done
    done
    log "every target answers hello over HTTP/1.1, h2c and h2 over TLS"
}

# load CMD...: on the load CPU when pinned, bounded by timeout.
load() {
    local cmd=(timeout -k 5 $((DURATION + 30)) "$@")
    if ((PINNED)); then cmd=(taskset -c "$LOAD_CPU" "${cmd[@]}"); fi
    "${cmd[@]}" </dev/null
}

# run_case CASE TARGET SECONDS OUT: runs the load; prints
# "count seconds p99_ms errors extra" (extra: the share of resumed handshakes, or -).
run_case() {
    local c=$1 t=$2 secs=$3 out=$4 i pids=()
    local DURATION=$secs
    case $c in
        h1-*)
            local conns=${c##*-c} path=/
            [[ $c == *16k* ]] && path=/static/16k.bin
            load wrk -t"$LOAD_THREADS" -c"$conns" -d"${secs}s" --latency "http://127.0.0.1:${H1_PORT[$t]}$path" >"$out" 2>&1 || true
            local rps p50 p99 reqs non2xx sockerr
            read -r rps p50 p99 reqs non2xx sockerr < <(parse_wrk "$out")
            if [[ $reqs == NA ]]; then echo "NA NA NA 1 -"; return; fi
            awk -v n="$reqs" -v r="$rps" -v p="$p99" -v e=$((non2xx + sockerr)) \
                'BEGIN { printf "%d %.3f %s %d -\n", n, (r > 0 ? n / r : 0), p, e }'
            ;;
        h2-tls | h2c)
            local url=https://127.0.0.1:${TLS_PORT[$t]}/
            [[ $c == h2c ]] && url=http://127.0.0.1:${H2C_PORT[$t]}/
            load h2load -t"$LOAD_THREADS" -c50 -m10 -D "$secs" "$url" >"$out" 2>&1 || true
            # requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
            # status codes: N 2xx, N 3xx, N 4xx, N 5xx
            awk '/^requests:/ { ok = $8; bad = $10 + $12 + $14 }
                 /^status codes:/ { bad += $5 + $7 + $9 }
                 /^finished in/ { s = $3; sub(/s,$/, "", s) }
                 END { if (ok > 0) print ok, s, "-", bad, "-"; else print "NA NA NA 1 -" }' "$out"
            ;;
        tls-full | tls-resumed)
            local how=(-new)
            [[ $c == tls-resumed ]] && how=(-reuse -www /)
            for ((i = 0; i < HS_CLIENTS; i++)); do
                load openssl s_time -connect "127.0.0.1:${TLS_PORT[$t]}" -tls1_3 "${how[@]}" -time "$secs" >"$out.$i" 2>&1 &
                pids+=($!)
            done
            for i in "${pids[@]}"; do wait "$i" || true; done
            cat "$out".* >"$out"
            rm -f "$out".*
            # "N connections in T real seconds"; a line of one character per connection:
            # 'r' resumed, anything else a full handshake.
            awk '/connections in [0-9.]+ real seconds/ { n += $1; if ($4 > s) s = $4 }
                 /^[*r123]+$/ { all += length($0); r += gsub(/r/, "") }
                 /ERROR|error:|errno/ { bad++ }
                 END { if (n > 0) printf "%d %s - %d %.0f%%\n", n, s, bad, (all ? 100 * r / all : 0);
                       else print "NA NA NA 1 -" }' "$out"
            ;;
    esac
}

RESULTS_HEADER="phase,round,case,target,count,seconds,rate,p99_ms,cpu_us,user_us,backend_us,rss_mb,errors,extra,status"

# measure PHASE ROUND CASE TARGET: one run, appended to results.csv.
measure() {
    local phase=$1 round=$2 c=$3 t=$4
    local pids bpids p0 p1 u0 u1 b0 b1 count secs p99 errors extra
    pids=$(tree_pids "${TARGET_PID[$t]}")
    bpids=$(tree_pids "$BACKEND_PID")
    p0=$(cpu_ticks $pids); u0=$(user_ticks $pids); b0=$(cpu_ticks $bpids)
    read -r count secs p99 errors extra < <(run_case "$c" "$t" "$DURATION" "$SCRATCH/wrk/p$phase-r$round-$c-$t.txt")
    p1=$(cpu_ticks $pids); u1=$(user_ticks $pids); b1=$(cpu_ticks $bpids)
    local p
    for p in $pids $bpids; do kill -0 "$p" 2>/dev/null || die "pid $p of $t or the backend died during $c (logs in $SCRATCH/logs)"; done
    local rss rate=NA cpu=NA ucpu=NA bcpu=NA status=ok
    rss=$(rss_mb $pids)
    if [[ $count == NA ]] || ((count == 0)); then
        status=failed
    else
        rate=$(awk -v n="$count" -v s="$secs" 'BEGIN { printf "%.1f", (s > 0 ? n / s : 0) }')
        cpu=$(awk -v d=$((p1 - p0)) -v n="$count" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')
        ucpu=$(awk -v d=$((u1 - u0)) -v n="$count" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", d * 1e6 / hz / n }')
        bcpu=$(awk -v d=$((b1 - b0)) -v n="$count" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", d * 1e6 / hz / n }')
        ((errors == 0)) || status=errors
    fi
    [[ $status == ok ]] || ANY_FLAGGED=1
    if ((phase == 1)) && awk -v a="$rss" -v b="${MAX_RSS[$t]:-0}" 'BEGIN { exit !(a > b) }'; then MAX_RSS[$t]=$rss; fi
    echo "$phase,$round,$c,$t,$count,$secs,$rate,$p99,$cpu,$ucpu,$bcpu,$rss,$errors,$extra,$status" >>"$SCRATCH/results.csv"
    log "  $c $t: $rate/s, CPU $cpu us/op (user $ucpu), RSS $rss MB, errors $errors${extra:+ $extra} [$status]"
}

# rounds PHASE CASE...: ROUNDS interleaved rounds, the target order rotating.
rounds() {
    local phase=$1 round c i n=${#TARGET_LIST[@]} order
    shift
    for ((round = 1; round <= ROUNDS; round++)); do
        order=()
        for ((i = 0; i < n; i++)); do order+=("${TARGET_LIST[$(((i + round - 1) % n))]}"); done
        log "phase $phase, round $round/$ROUNDS, order: ${order[*]}"
        for c in "$@"; do
            for t in "${order[@]}"; do measure "$phase" "$round" "$c" "$t"; done
        done
    done
}

warm_up() {
    local t c
    for t in "${TARGET_LIST[@]}"; do
        for c in h1-hello-c200 h2-tls; do run_case "$c" "$t" 2 "$SCRATCH/wrk/warmup-$t-$c.txt" >/dev/null; done
    done
}

stop_targets() {
    local t
    for t in "${TARGET_LIST[@]}"; do stop_tree "${TARGET_PID[$t]}"; done
}

# ---- the soak: every target under load at once, RSS every SLICE seconds ---------------
soak() {
    local end=$((SECONDS + SOAK_SECONDS)) t loaders=() i c left
    echo "seconds $(printf '%s ' "${TARGET_LIST[@]}")" >"$SCRATCH/soak.txt"
    for t in "${TARGET_LIST[@]}"; do
        (
            i=0
            while ((SECONDS < end)); do
                c=${SOAK_CASES[$((i % ${#SOAK_CASES[@]}))]} left=$((end - SECONDS))
                ((left >= 2)) || break
                run_case "$c" "$t" $((left < SLICE ? left : SLICE)) "$SCRATCH/wrk/soak-$t.txt" >>"$SCRATCH/wrk/soak-$t.counts"
                i=$((i + 1))
            done
        ) &
        loaders+=($!)
    done
    local start=$SECONDS line
    while ((SECONDS < end)); do
        kill -0 "$BACKEND_PID" 2>/dev/null || die "the backend (pid $BACKEND_PID) died during the soak"
        line=$((SECONDS - start))
        for t in "${TARGET_LIST[@]}"; do line+=" $(rss_mb $(tree_pids "${TARGET_PID[$t]}"))"; done
        echo "$line" >>"$SCRATCH/soak.txt"
        sleep "$SLICE"
    done
    for i in "${loaders[@]}"; do wait "$i" || true; done
    line=$((SECONDS - start))
    for t in "${TARGET_LIST[@]}"; do line+=" $(rss_mb $(tree_pids "${TARGET_PID[$t]}"))"; done
    echo "$line" >>"$SCRATCH/soak.txt"
    for t in "${TARGET_LIST[@]}"; do
        awk '$4 > 0 { bad = 1 } END { exit bad }' "$SCRATCH/wrk/soak-$t.counts" ||
            { log "the soak's load on $t had errors: $SCRATCH/wrk/soak-$t.counts"; ANY_FLAGGED=1; }
    done
}

# ---- summary ----------------------------------------------------------------------------
col() { # col PHASE CASE TARGET FIELD: the field's values over rounds
    awk -F, -v ph="$1" -v c="$2" -v t="$3" -v k="$4" '
        NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
        $1 == ph && $3 == c && $4 == t && $(idx[k]) != "NA" && $(idx[k]) != "-" { print $(idx[k]) }' "$SCRATCH/results.csv"
}
ratio() { # ratio PHASE CASE TARGET FIELD: TARGET/nginx per round
    awk -F, -v ph="$1" -v c="$2" -v t="$3" -v k="$4" '
        NR == 1 { for (i = 1; i <= NF; i++) idx[$i] = i; next }
        $1 != ph || $3 != c || $(idx[k]) == "NA" { next }
        $4 == t { num[$2] = $(idx[k]) }
        $4 == "nginx" { den[$2] = $(idx[k]) }
        END { for (r in num) if ((r in den) && den[r] > 0) print num[r] / den[r] }' "$SCRATCH/results.csv"
}

phase_table() {
    local phase=$1 c t
    shift
    printf '%-14s %-8s %10s %8s %10s %8s %9s %8s %7s %9s %9s %s\n' case target "per s" "p99 ms" "CPU us/op" "user" "bk us/op" "RSS MB" errors "rate x ng" "CPU x ng" "note"
    for c in "$@"; do
        for t in "${TARGET_LIST[@]}"; do
            local rate p99 cpu ucpu bcpu rss errs rr cr note=""
            rate=$(col "$phase" "$c" "$t" rate | median); p99=$(col "$phase" "$c" "$t" p99_ms | median)
            cpu=$(col "$phase" "$c" "$t" cpu_us | median); ucpu=$(col "$phase" "$c" "$t" user_us | median); bcpu=$(col "$phase" "$c" "$t" backend_us | median)
            rss=$(col "$phase" "$c" "$t" rss_mb | median)
            errs=$(col "$phase" "$c" "$t" errors | awk '{ n += $1 } END { print n + 0 }')
            rr=$(ratio "$phase" "$c" "$t" rate | median); cr=$(ratio "$phase" "$c" "$t" cpu_us | median)
            if [[ $c == tls-* && $cpu != - ]]; then
                note="$(awk -v u="$cpu" 'BEGIN { printf "%.0f", 1e6 / u }') per CPU-s"
                [[ $c == tls-resumed ]] && note+=", resumed $(col "$phase" "$c" "$t" extra | head -n 1)"
            fi
            printf '%-14s %-8s %10s %8s %10s %8s %9s %8s %7s %9s %9s %s\n' "$c" "$t" "$(fmt %.0f "$rate")" \
                "$(fmt %.2f "$p99")" "$(fmt %.1f "$cpu")" "$(fmt %.2f "$ucpu")" "$(fmt %.1f "$bcpu")" "$(fmt %.1f "$rss")" "$errs" \
                "$(fmt %.2f "$rr")" "$(fmt %.2f "$cr")" "$note"
        done
    done
}

memory_table() {
    local t i
    printf '%-8s %8s %14s %s\n' target "idle MB" "under load MB" "soak: RSS every minute (MB), first -> last, max"
    for t in "${TARGET_LIST[@]}"; do
        i=$(( $(printf '%s\n' "${TARGET_LIST[@]}" | grep -n -x "$t" | cut -d: -f1) + 1 ))
        local curve="-"
        if [[ -s $SCRATCH/soak.txt ]]; then
            curve=$(awk -v k="$i" 'NR > 1 { v[++n] = $k; if ($k > max) max = $k }
                END { if (n == 0) { print "-"; exit }
                      for (j = 1; j <= n; j++) if (j % 6 == 1 || j == n) line = line " " v[j]
                      printf "%s | %s -> %s, max %s", substr(line, 2), v[1], v[n], max }' "$SCRATCH/soak.txt")
        fi
        printf '%-8s %8s %14s %s\n' "$t" "${IDLE_RSS_MB[$t]}" "${MAX_RSS[$t]:--}" "$curve"
    done
}

print_table() {
    echo
    echo "trafik beside nginx (and HAProxy): $ROUNDS round(s) x ${DURATION}s per case; $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); load average at the start: $LOAD_AT_START, at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "medians over rounds; 'x ng' = median of same-round target/nginx ratios (rate: higher is better; CPU: lower is better)"
    echo "CPU us/op = utime+stime of the proxy's process tree per request (per handshake in tls-*); user = its utime alone"
    echo "(the rest is the kernel's: system calls, TCP over loopback); bk = the backend's utime+stime"
    echo
    echo "== 1. one worker each, pinned (proxy on CPU $PROXY_CPU; load + backend on CPU $LOAD_CPU) =="
    phase_table 1 "${PHASE1_CASES[@]}"
    echo
    echo "== 2. two workers each (trafik --workers 2, nginx worker_processes 2, HAProxy nbthread 2), unpinned, load -t2 =="
    phase_table 2 "${PHASE2_CASES[@]}"
    echo
    echo "== 3. memory: RSS of the process tree; under load = largest after a phase-1 run; soak ${SOAK_SECONDS}s, all loaded at once =="
    memory_table
    if [[ -s $SCRATCH/instructions.txt ]]; then
        echo
        echo "== 4. trafik's user-space instructions per request / handshake (benches/instructions.sh --table) =="
        cat "$SCRATCH/instructions.txt"
    fi
    echo
    if ((ANY_FLAGGED)); then echo "!! some runs failed or had errors: see the errors column and $SCRATCH/results.csv"; else echo "no errors in any run"; fi
    echo "raw: $SCRATCH/results.csv, soak.txt, wrk/ (every tool's output), conf/, logs/"
}

# What a run does first (memory.sh too): traps that stop everything it starts, the tools,
# trafik's build, free ports, a scratch directory and a certificate.
table_prepare() {
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    table_tools
    target_wanted trafik && build_trafik
    table_ports_free
    make_scratch
    make_cert
}

table_main() {
    table_args "$@"
    LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
    table_prepare
    write_meta
    echo "$RESULTS_HEADER" >"$SCRATCH/results.csv"
    start_backend
    local t
    for t in "${TARGET_LIST[@]}"; do start_target "$t" 1; log "started $t (pid ${TARGET_PID[$t]})"; done
    table_sanity
    for t in "${TARGET_LIST[@]}"; do IDLE_RSS_MB[$t]=$(rss_mb $(tree_pids "${TARGET_PID[$t]}")); done
    log "warm-up"
    warm_up
    log "phase 1: ${#PHASE1_CASES[@]} cases x ${#TARGET_LIST[@]} targets x $ROUNDS rounds x ${DURATION}s"
    rounds 1 "${PHASE1_CASES[@]}"
    if ((SOAK_SECONDS > 0)); then
        log "soak: ${SOAK_SECONDS}s, every target loaded, RSS every ${SLICE}s"
        soak
    fi
    stop_targets
    log "phase 2: two workers each, unpinned"
    local saved=$PINNED
    PINNED=0 LOAD_THREADS=2
    # The backend too may run on either CPU now.
    for t in $(tree_pids "$BACKEND_PID"); do taskset -a -p -c "0-$(($(nproc) - 1))" "$t" >/dev/null; done
    for t in "${TARGET_LIST[@]}"; do start_target "$t" 2; done
    table_sanity
    warm_up
    rounds 2 "${PHASE2_CASES[@]}"
    stop_targets
    PINNED=$saved LOAD_THREADS=1
    if target_wanted trafik && command -v valgrind >/dev/null; then
        log "instructions per request (callgrind, $INSTR_REQUESTS requests per case)"
        BACKEND_PORT=19211 PORT=19212 TLS_PORT=19213 "$TABLE_DIR/instructions.sh" --table --requests "$INSTR_REQUESTS" --trafik-bin "$TRAFIK_BIN" \
            >"$SCRATCH/instructions.txt" 2>"$SCRATCH/logs/instructions.err" ||
            { log "instructions.sh failed: $SCRATCH/logs/instructions.err"; ANY_FLAGGED=1; }
    fi
    print_table | tee "$SCRATCH/summary.txt"
    ((ANY_FLAGGED == 0)) || exit 3
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    table_main "$@"
fi
