#!/usr/bin/env bash
# Runs kaa's benchmark scenarios (bench/kaa_bench.cpp) RUNS times each, a fresh process per run,
# and prints the median of each figure as `scenario kaa value unit` (the peers' format).
#
# usage: bash bench/run.sh                      (after `make bench`, which calls it)
# env:   KAA_BUILD_DIR  build tree holding bench/bench_kaa_bench (default: build/bench)
#        RUNS=3         runs per scenario
#        SCENARIOS="B1 B2 B3 B4 B5 B6 B7 B8 B9"   restrict to some scenarios
#        KAA_BENCH_PEERS_BIN  where the peers' echo_client and idle_client are (B5, B7); built
#                       from ../shared/bench-peers into $KAA_BUILD_DIR/peers/build if missing
#
# Pinning as in ../shared/bench-peers: single-threaded scenarios on CPU 1 (taskset -c 1, when
# taskset works here), B6 (thread pool) unpinned. Runs go round-robin over the scenarios, so a
# noisy phase of the machine hits different scenarios instead of every run of one.
# Every sample goes to $KAA_BUILD_DIR/bench/samples.txt; the spread (min..max) to stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
BUILD=${KAA_BUILD_DIR:-$ROOT/build/bench}
BIN=$BUILD/bench/bench_kaa_bench
RUNS=${RUNS:-3}
SCENARIOS=${SCENARIOS:-"B1 B2 B3 B4 B5 B6 B7 B8 B9"}

if [[ ! -x "$BIN" ]]; then
    echo "run.sh: $BIN not found; build it first (make bench)" >&2
    exit 1
fi

# B5 and B7 drive kaa with the peers' load generators (no library needed to build them).
PEERS_DIR=${PEERS_DIR:-$ROOT/../shared/bench-peers}
export KAA_BENCH_PEERS_BIN=${KAA_BENCH_PEERS_BIN:-$BUILD/peers/build}
if [[ ! -x "$KAA_BENCH_PEERS_BIN/echo_client" || ! -x "$KAA_BENCH_PEERS_BIN/idle_client" ]] &&
   [[ -f "$PEERS_DIR/echo_client.cpp" ]]; then
    mkdir -p "$KAA_BENCH_PEERS_BIN"
    for c in echo_client idle_client; do
        g++ -std=c++20 -O2 -DNDEBUG -o "$KAA_BENCH_PEERS_BIN/$c" "$PEERS_DIR/$c.cpp" ||
            echo "run.sh: cannot build $c" >&2
    done
fi

PIN=()
if taskset -c 1 true 2>/dev/null; then
    PIN=(taskset -c 1)
else
    echo "run.sh: taskset -c 1 does not work here; running unpinned" >&2
fi

# scenario_cmds B1..B9: the command lines of one scenario, one per line.
scenario_cmds() {
    case "$1" in
        B1) echo "${PIN[*]} $BIN B1_spawn 1000000" ;;
        B2) echo "${PIN[*]} $BIN B2_yield 10000000" ;;
        B3) echo "${PIN[*]} $BIN B3_timers 1000000" ;;
        B4) echo "${PIN[*]} $BIN B4_sleepers 100000" ;;
        B5) echo "$BIN B5_echo 2000000" ;;  # pins itself to CPU 0, the client to CPU 1
        B7) echo "$BIN B7_idle 10000" ;;    # likewise
        B6) echo "$BIN B6_pool 200000" ;;  # unpinned: the pool needs more than one CPU
        B8) echo "${PIN[*]} $BIN B8_abort 1000000" ;;  # abort, then shutdown: both lines
        B9) echo "${PIN[*]} $BIN B9_spike 1000000" ;;  # RSS after a spike, % of before
        *) echo "run.sh: unknown scenario '$1' (use B1..B9)" >&2; return 1 ;;
    esac
}

cmds=()
for s in $SCENARIOS; do
    while IFS= read -r c; do cmds+=("$c"); done < <(scenario_cmds "${s%%_*}")
done

samples=$BUILD/bench/samples.txt
: > "$samples"
echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(nproc) CPUs; median of $RUNS runs; kaa (C++) Release -O2;" \
     "$(${CXX:-c++} --version 2>/dev/null | head -1); load average $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= RUNS; r++)); do
    for c in "${cmds[@]}"; do
        if ! $c >> "$samples"; then echo "run.sh: FAILED: $c" >&2; fi
    done
done

# Median per (scenario, peer, unit) in first-seen order; non-numeric values (n/a) kept as is.
# Number format as the peers' summarize.py: 4 significant-ish digits.
awk '
function fmt(v,   a) {
    a = v < 0 ? -v : v
    if (a >= 1000) return sprintf("%.0f", v)
    if (a >= 100)  return sprintf("%.1f", v)
    if (a >= 1)    return sprintf("%.2f", v)
    return sprintf("%.3f", v)
}
NF == 4 && $1 !~ /^#/ {
    k = $1 SUBSEP $2 SUBSEP $4
    if (!(k in n)) { order[++nk] = k; first[k] = $3 }
    v[k, ++n[k]] = $3
}
END {
    for (i = 1; i <= nk; i++) {
        k = order[i]; split(k, p, SUBSEP)
        if (first[k] !~ /^-?[0-9.]+$/) { print p[1], p[2], first[k], p[3]; continue }
        m = n[k]
        for (a = 1; a <= m; a++) x[a] = v[k, a] + 0
        for (a = 2; a <= m; a++) { t = x[a]; for (b = a - 1; b >= 1 && x[b] > t; b--) x[b + 1] = x[b]; x[b + 1] = t }
        med = (m % 2) ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2
        print p[1], p[2], fmt(med), p[3]
        printf("  %s %s: median %s (min %s .. max %s, n=%d) %s\n", p[1], p[2], fmt(med), fmt(x[1]), fmt(x[m]), m, p[3]) > "/dev/stderr"
    }
}' "$samples"
