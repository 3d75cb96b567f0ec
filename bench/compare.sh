#!/usr/bin/env bash
# kaa for C++ side by side with its peers (../shared/bench-peers: standalone asio, libuv,
# Python asyncio/uvloop) and the Python kaa, in one invocation on one machine.
#
# Builds kaa's benchmarks (cmake Release -O2 -DNDEBUG into build/bench) and the peers'
# programs (g++ -O2 -DNDEBUG, run_all.sh's build steps, into $OUT/build), then runs every
# scenario RUNS times, kaa and the peers round-robin (a noisy phase of the machine hits
# different programs instead of all runs of one), a fresh process per run, and prints:
#   1. the median of every (scenario, program) as `scenario peer value unit`, followed by its
#      spread over the RUNS samples: `[min..max ±r%]`, r = (max − min) / median / 2;
#   2. per figure: kaa and the best peer (best of asio and libuv; B1: asio-await, B2: asio with
#      a live reactor), each with its spread, kaa/best peer, the target (issue 12: B1 ≤ 0.8×
#      asio-await, B6 ≤ 0.9× libuv, B8 abort and shutdown ≤ 1.0× asio; B9: RSS back within
#      110 % of the pre-spike RSS) and whether it is met — `met (close)` when kaa's worst run
#      misses the limit or the reference's best run would make it miss — and the Python kaa's
#      figure with the speed-up;
#   3. the same as markdown tables (comparison + every program's median and spread) for
#      bench/README.md.
#
# usage: bash bench/compare.sh
# env:   RUNS=3                      runs per program (median reported)
#        SCENARIOS="B1 B2 B3 B4 B5 B6 B7 B8 B9"  restrict, e.g. SCENARIOS="B1 B2"
#        PY_PEERS=1                  also run Python asyncio/uvloop (0: skip them, faster)
#        B5_PEERS=1                  0: skip the peers' echo servers for B5 (kaa's alone)
#        KAA_PY=auto                 a python2 that can `import kaa` (kaa.base) to rerun the
#                                    Python kaa; "auto" looks for one, "no" uses the recorded file
#        PEERS_DIR                   the peers' sources (default: ../shared/bench-peers relative
#                                    to the repository's root)
#        KAA_BUILD_DIR               kaa build tree (default build/bench)
#        OUT                         peers' build + samples (default $KAA_BUILD_DIR/peers)
#        SKIP_INSTALL=1              do not apt-get the peers' packages
#        SKIP_BUILD=1                reuse existing binaries
#
# Pinning as the peers: single-threaded programs on CPU 1 (taskset -c 1), B6 unpinned, B5 server
# on CPU 0 and load generator on CPU 1. Whole run with the defaults: about 8 minutes on 2 cores.
set -euo pipefail

ROOT=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
BUILD=${KAA_BUILD_DIR:-$ROOT/build/bench}
OUT=${OUT:-$BUILD/peers}
RUNS=${RUNS:-3}
SCENARIOS=${SCENARIOS:-"B1 B2 B3 B4 B5 B6 B7 B8 B9"}
PY_PEERS=${PY_PEERS:-1}
B5_PEERS=${B5_PEERS:-1}
KAA_PY=${KAA_PY:-auto}
ECHO_RT=${ECHO_RT:-2000000}
ECHO_MAX_S=${ECHO_MAX_S:-60}
PY=/usr/bin/python3  # Debian's python3: python3-uvloop is built for it; also runs the summary

if [[ -z "${PEERS_DIR:-}" && -f "$ROOT/../shared/bench-peers/common.hpp" ]]; then
    PEERS_DIR=$(cd "$ROOT/../shared/bench-peers" && pwd)
fi
if [[ -z "${PEERS_DIR:-}" || ! -f "$PEERS_DIR/common.hpp" ]]; then
    echo "compare.sh: peers not found; set PEERS_DIR to the bench-peers folder" >&2
    exit 1
fi
PB=$OUT/build
mkdir -p "$PB"
t_start=$(date +%s)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------- install (as run_all.sh)
if [[ "${SKIP_INSTALL:-0}" != 1 ]]; then
    pkgs=(g++ cmake libbenchmark-dev libasio-dev libuv1-dev python3 python3-uvloop util-linux iproute2)
    missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        if [[ $(id -u) == 0 ]]; then
            echo "compare.sh: installing ${missing[*]}" >&2
            apt-get update -qq >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
        else
            echo "compare.sh: WARNING: missing packages: ${missing[*]} (not root: not installing)" >&2
        fi
    fi
fi

# ---------------------------------------------------------------- build
KAA=$BUILD/bench/bench_kaa_bench
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    echo "compare.sh: building kaa (Release -O2) in $BUILD ..." >&2
    # KAA_WERROR=OFF: a measurement must not fail on a new compiler warning (the tests catch those).
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
        -DKAA_BUILD_BENCH=ON -DKAA_BUILD_TESTS=OFF -DKAA_BUILD_EXAMPLES=OFF -DKAA_SANITIZE= \
        -DKAA_WERROR=OFF >&2
    cmake --build "$BUILD" -j2 --target bench_kaa_bench >&2
    echo "compare.sh: building the peers in $PB ..." >&2
    CXX=(g++ -std=c++20 -O2 -DNDEBUG -pthread)
    ( cd "$PEERS_DIR"
      "${CXX[@]}" -o "$PB/asio_bench" asio_bench.cpp
      "${CXX[@]}" -o "$PB/uv_bench" uv_bench.cpp -luv
      "${CXX[@]}" -o "$PB/echo_client" echo_client.cpp  # kaa's B5 and B7 use them too
      "${CXX[@]}" -o "$PB/idle_client" idle_client.cpp
      "${CXX[@]}" -o "$PB/asio_idle_server" asio_idle_server.cpp
      "${CXX[@]}" -o "$PB/uv_idle_server" uv_idle_server.cpp -luv
      if [[ "$B5_PEERS" == 1 ]]; then
          "${CXX[@]}" -o "$PB/asio_echo_server" asio_echo_server.cpp
          "${CXX[@]}" -o "$PB/uv_echo_server" uv_echo_server.cpp -luv
          "${CXX[@]}" -o "$PB/epoll_echo_server" epoll_echo_server.cpp
      fi ) >&2
fi
[[ -x "$KAA" ]] || { echo "compare.sh: $KAA missing" >&2; exit 1; }
export KAA_BENCH_PEERS_BIN=$PB  # kaa_bench's B5_echo and B7_idle run the peers' clients from here

# ---------------------------------------------------------------- the Python kaa
KAA_PY_FILE=$PEERS_DIR/kaa_py/results-2026-11-26.txt
kaa_py_bin=""
if [[ "$KAA_PY" != no ]]; then
    cands=()
    if [[ "$KAA_PY" == auto ]]; then
        cands=(python2.7 python2)
        for v in "$HOME"/.pyenv/versions/2.*/bin/python2; do [[ -x "$v" ]] && cands+=("$v"); done
    else
        cands=("$KAA_PY")
    fi
    for c in "${cands[@]}"; do
        if "$c" -c 'import kaa, kaa.base' >/dev/null 2>&1; then kaa_py_bin=$c; break; fi
    done
fi
if [[ -n "$kaa_py_bin" ]]; then
    KAA_PY_NOTE="Python kaa rerun now with $kaa_py_bin (kaa_py/kaa_bench.py, its own N)"
else
    pys=$(ls -d "$HOME"/.pyenv/versions/2.* 2>/dev/null | xargs -r -n1 basename | paste -sd' ')
    KAA_PY_NOTE="Python kaa NOT rerun: no python2 here can import kaa.base (python2 found: ${pys:-none}); values are the recorded ones from kaa_py/results-2026-11-26.txt"
fi
echo "compare.sh: $KAA_PY_NOTE" >&2

# ---------------------------------------------------------------- runs
P1="taskset -c 1"
taskset -c 1 true 2>/dev/null || { P1=""; echo "compare.sh: taskset unusable: unpinned" >&2; }
K="$P1 $KAA"
A="$P1 $PB/asio_bench"
U="$P1 $PB/uv_bench"
Y="$P1 $PY $PEERS_DIR/py_bench.py"
KP="$P1 $kaa_py_bin $PEERS_DIR/kaa_py/kaa_bench.py"

SAMPLES=$OUT/samples.txt
: > "$SAMPLES"

# group CMD...: RUNS rounds over the commands (each prints `scenario peer value unit` lines).
group() {
    local r c
    for ((r = 1; r <= RUNS; r++)); do
        for c in "$@"; do
            if ! eval "$c" >> "$SAMPLES"; then echo "compare.sh: FAILED: $c" >&2; fi
        done
    done
}

SERVER_PID=""
cleanup() { if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi; }
trap cleanup EXIT
next_port=39300
echo_run() {  # echo_run PEER SERVER-CMD... (the word PORT is replaced by a free port)
    local peer=$1; shift
    while :; do
        next_port=$((next_port + 1))
        [[ -z "$(ss -Hltn "sport = :$next_port" 2>/dev/null)" ]] && break
    done
    local args=("$@") i out rc=0
    for i in "${!args[@]}"; do [[ "${args[$i]}" == PORT ]] && args[$i]=$next_port; done
    taskset -c 0 "${args[@]}" & SERVER_PID=$!
    out=$(timeout $((ECHO_MAX_S + 30)) taskset -c 1 "$PB/echo_client" "$next_port" 64 "$ECHO_RT" "$ECHO_MAX_S" 64) || rc=$?
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    ((rc == 0)) || return 1
    echo "B5_echo $peer $(sed -n 's/.* rate \([0-9.]*\).*/\1/p' <<< "$out") rt/s"
}

idle_run() {  # idle_run SERVER: a peer's B7 server on CPU 0 against idle_client on CPU 1
    local client_pid rc=0
    if (($(ulimit -Sn) < 10064)); then ulimit -Sn 10064 2>/dev/null || true; fi
    while :; do
        next_port=$((next_port + 1))
        [[ -z "$(ss -Hltn "sport = :$next_port" 2>/dev/null)" ]] && break
    done
    timeout 90 taskset -c 0 "$1" "$next_port" 10000 > "$OUT/idle_server.out" & SERVER_PID=$!
    taskset -c 1 "$PB/idle_client" "$next_port" 10000 60 > /dev/null & client_pid=$!
    wait "$SERVER_PID" || rc=$?
    SERVER_PID=""
    kill "$client_pid" 2>/dev/null || true
    wait "$client_pid" 2>/dev/null || true
    ((rc == 0)) || return 1
    cat "$OUT/idle_server.out"
}

py() { [[ "$PY_PEERS" == 1 ]] && printf '%s\n' "$@" || true; }
kpy() { [[ -n "$kaa_py_bin" ]] && printf '%s\n' "$@" || true; }

for s in $SCENARIOS; do
    cmds=()
    case "${s%%_*}" in
        B1) cmds=("$K B1_spawn 1000000" "$A b1-await 1000000" "$A b1-spawn 1000000"
                  "$A b1-spawn-noio 1000000" "echo B1_spawn libuv n/a no_coroutines")
            mapfile -t -O ${#cmds[@]} cmds < <(py "$Y asyncio b1-await 1000000" "$Y asyncio b1-task 200000" \
                                                  "$Y uvloop b1-await 1000000" "$Y uvloop b1-task 200000"; kpy "$KP b1") ;;
        B2) cmds=("$K B2_yield 10000000" "$A b2 10000000" "$A b2-noio 10000000" "$U b2 10000000")
            mapfile -t -O ${#cmds[@]} cmds < <(py "$Y asyncio b2 1000000" "$Y uvloop b2 1000000"; kpy "$KP b2") ;;
        B3) cmds=("$K B3_timers 1000000" "$A b3 1000000" "$U b3 1000000")
            mapfile -t -O ${#cmds[@]} cmds < <(py "$Y asyncio b3 1000000" "$Y uvloop b3 1000000"; kpy "$KP b3") ;;
        B4) cmds=("$K B4_sleepers 100000" "$A b4 100000" "$U b4 100000")
            mapfile -t -O ${#cmds[@]} cmds < <(py "$Y asyncio b4 100000" "$Y uvloop b4 100000"; kpy "$KP b4") ;;
        B5) cmds=("$KAA B5_echo $ECHO_RT")
            if [[ "$B5_PEERS" == 1 ]]; then
                cmds+=("echo_run epoll-raw $PB/epoll_echo_server PORT" "echo_run asio $PB/asio_echo_server PORT"
                       "echo_run libuv $PB/uv_echo_server PORT")
            fi ;;
        B6) cmds=("$KAA B6_pool 200000" "$PB/asio_bench b6 200000" "$PB/asio_bench b6-post 200000"
                  "$PB/uv_bench b6 200000")
            mapfile -t -O ${#cmds[@]} cmds < <(py "$PY $PEERS_DIR/py_bench.py asyncio b6 50000" \
                                                  "$PY $PEERS_DIR/py_bench.py uvloop b6 50000"
                                               kpy "$kaa_py_bin $PEERS_DIR/kaa_py/kaa_bench.py b6")
            ;;
        B7) cmds=("$KAA B7_idle 10000" "idle_run $PB/asio_idle_server" "idle_run $PB/uv_idle_server") ;;
        # B8: the abort part and the shutdown part are one kaa run (both lines); the peers
        # have no Python programs for it.
        B8) cmds=("$K B8_abort 1000000" "$A b8 1000000" "$U b8 1000000") ;;
        # B9: kaa only (memory after a spike; no peer figure).
        B9) cmds=("$K B9_spike 1000000") ;;
        *) echo "compare.sh: unknown scenario '$s' (use B1..B9)" >&2; exit 2 ;;
    esac
    echo "compare.sh: ${s%%_*} (${#cmds[@]} programs x $RUNS runs)" >&2
    group "${cmds[@]}"
done
t_end=$(date +%s)

# ---------------------------------------------------------------- summary
HEADER="$(date -u +%Y-%m-%dT%H:%M:%SZ); $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)); median of $RUNS runs; $(g++ --version | head -1); asio $(dpkg-query -W -f='${Version}' libasio-dev 2>/dev/null || echo '?'), libuv $(dpkg-query -W -f='${Version}' libuv1-dev 2>/dev/null || echo '?'), $($PY --version 2>&1), uvloop $($PY -c 'import uvloop; print(uvloop.__version__)' 2>/dev/null || echo '?'); runtime $((t_end - t_start)) s; load average at start ${load_start}, at end $(cut -d' ' -f1-3 /proc/loadavg)"

"$PY" - "$SAMPLES" "$KAA_PY_FILE" "$([[ -n "$kaa_py_bin" ]] && echo measured || echo recorded)" \
      "$HEADER" "$KAA_PY_NOTE" "RUNS=$RUNS SCENARIOS=\"$SCENARIOS\" PY_PEERS=$PY_PEERS B5_PEERS=$B5_PEERS bash bench/compare.sh" <<'PYEOF'
import statistics, sys

samples_path, kaa_py_path, kaa_py_mode, header, kaa_py_note, command = sys.argv[1:7]

def read(path):
    order, vals = [], {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) != 4 or line.startswith('#'):
                continue
            k = (p[0], p[1], p[3])
            if k not in vals:
                order.append(k)
                vals[k] = []
            vals[k].append(p[2])
    return order, vals

def median(vs):
    try:
        return statistics.median(float(v) for v in vs)
    except ValueError:
        return vs[0]  # n/a and friends

def fmt(v):
    if isinstance(v, str):
        return v
    a = abs(v)
    if a >= 1000: return f"{v:.0f}"
    if a >= 100: return f"{v:.1f}"
    if a >= 1: return f"{v:.2f}"
    return f"{v:.3f}"

def numeric(v):
    try:
        float(v)
        return True
    except ValueError:
        return False

order, vals = read(samples_path)
med = {k: median(v) for k, v in vals.items()}
spread = {k: (min(map(float, v)), max(map(float, v))) for k, v in vals.items()
          if all(numeric(x) for x in v)}

def rel_spread(k):
    """(max - min) / median / 2 in %, or None."""
    sp, m = spread.get(k), med.get(k)
    if not sp or not isinstance(m, float) or m == 0:
        return None
    return (sp[1] - sp[0]) / abs(m) / 2 * 100

def spread_txt(k):
    """`[min..max ±r%]` of a figure's samples ('' without numeric samples)."""
    sp = spread.get(k)
    if not sp:
        return ""
    r = rel_spread(k)
    return f"[{fmt(sp[0])}..{fmt(sp[1])} ±{r:.0f}%]" if r is not None else f"[{fmt(sp[0])}..{fmt(sp[1])}]"

# The Python kaa: measured in this run, or the recorded file.
kp = {}
if kaa_py_mode == 'measured':
    for (s, p, u), v in med.items():
        if p.startswith('kaa-py'):
            kp[(s, p, u)] = v
else:
    o2, v2 = read(kaa_py_path)
    run_prefixes = {k[0].split('_')[0] for k in med}
    for k in o2:
        if k[0].split('_')[0] in run_prefixes:
            kp[k] = median(v2[k])

print(f"# {header}")
print(f"# {kaa_py_note}")
print("## medians: scenario peer value unit")
for k in order:
    s, p, u = k
    if p.startswith('kaa-py'):
        continue
    print(f"{s} {p} {fmt(med[k])} {u}   {spread_txt(k)}".rstrip())
for k, v in kp.items():
    print(f"{k[0]} {k[1]} {fmt(v)} {k[2]}   # {kaa_py_mode}")

def val(s, p, u):
    v = med.get((s, p, u))
    return v if isinstance(v, float) else None

# (figure, unit, comparator peers, target: (reference peers, factor), higher_is_better, py figure
#  comparable per item, counts for the 50x speed target). A target of (None, limit) is an
#  absolute limit on kaa's figure.
ROWS = [
    ("B1_spawn", "ns/child", ["asio-await"], (["asio-await"], 0.8), False, True, True),
    ("B2_yield", "ns/yield", ["asio"], (["asio"], 1.0), False, True, True),
    ("B3_timers_overhead", "ms", ["asio", "libuv"], (["asio", "libuv"], 1.0), False, False, False),
    ("B3_timers_arm", "ns/timer", ["asio", "libuv"], None, False, True, True),
    ("B3_timers_peak_rss", "MiB", ["asio", "libuv"], None, False, False, False),
    ("B3_timers_rss_per_timer", "B/timer", ["asio", "libuv"], (["libuv"], 1.0), False, True, False),
    ("B4_sleepers_rss", "B/sleeper", ["asio", "libuv"], (["asio"], 0.5), False, True, False),
    ("B4_sleepers_time", "ms", ["asio", "libuv"], None, False, False, False),
    ("B4_sleepers_spawn", "ns/sleeper", [], None, False, True, True),
    ("B5_echo", "rt/s", ["asio", "libuv"], (["asio"], 1.0), True, True, True),
    ("B6_pool", "us/task", ["asio", "libuv"], (["libuv"], 0.9), False, True, True),
    ("B7_idle_rss", "B/conn", ["asio", "libuv"], (["libuv"], 2.0), False, False, False),
    ("B7_idle_accept", "ms", ["asio", "libuv"], None, False, False, False),
    ("B8_abort", "ns", ["asio", "libuv"], (["asio"], 1.0), False, False, False),
    ("B8_abort_rss", "B", ["asio"], None, False, False, False),
    ("B8_shutdown", "ms", ["asio"], (["asio"], 1.0), False, False, False),
    ("B9_rss_after_spike", "%", [], (None, 110.0), False, False, False),
]
scen_run = {k[0] for k in med}

table = []
for fig, unit, comps, target, higher, py_cmp, speed in ROWS:
    if fig not in scen_run:
        continue
    ours = val(fig, 'kaa', unit)
    kk = (fig, 'kaa', unit)
    ours_txt = f"{fmt(med.get(kk, 'n/a'))} {spread_txt(kk)}".rstrip()
    worst = None  # kaa's worst run
    if kk in spread:
        worst = spread[kk][0] if higher else spread[kk][1]
    cands = [(p, val(fig, p, unit)) for p in comps if val(fig, p, unit) is not None]
    best = None
    if cands:
        best = (max if higher else min)(cands, key=lambda x: x[1])
    ratio = f"{ours / best[1]:.2f}x" if ours is not None and best else "-"
    tgt_txt, status = "-", "-"
    def meets(v, lim):
        return v >= lim if higher else v <= lim
    if target:
        refs, factor = target
        rel = ">=" if higher else "<="
        limit = close_limit = None
        if refs is None:  # an absolute limit
            limit = close_limit = factor
            tgt_txt = f"{rel} {fmt(factor)} {unit}"
        else:
            rc = [(p, val(fig, p, unit)) for p in refs if val(fig, p, unit) is not None]
            if rc:
                ref = (max if higher else min)(rc, key=lambda x: x[1])
                limit = ref[1] * factor
                # The reference's best run (fastest for "lower is better").
                rsp = spread.get((fig, ref[0], unit))
                close_limit = (rsp[1] if higher else rsp[0]) * factor if rsp else limit
                tgt_txt = f"{rel} {factor:g}x {ref[0]} ({fmt(limit)})"
        if limit is not None:
            if ours is None:
                status = "n/a"
            elif not meets(ours, limit):
                status = "MISSED"
            elif (worst is not None and not meets(worst, limit)) or not meets(ours, close_limit):
                status = "met (close)"
            else:
                status = "met"
    pyv = kp.get((fig, 'kaa-py', unit))
    py_txt = fmt(pyv) if pyv is not None else "-"
    if pyv is not None and not py_cmp:
        py_txt += " (other N)"
    speedup = "-"
    if isinstance(pyv, float) and ours and py_cmp:
        f = (ours / pyv) if higher else (pyv / ours)
        speedup = f"{f:.0f}x" + ("" if not speed else (" met" if f >= 50 else " MISSED"))
    best_txt = f"{best[0]} {fmt(best[1])} {spread_txt((fig, best[0], unit))}".rstrip() if best else "-"
    table.append((fig, unit, ours_txt, best_txt, ratio, tgt_txt, status, py_txt, speedup))

cols = ("figure", "unit", "kaa", "best peer", "kaa/best", "target", "status",
        f"kaa-py ({kaa_py_mode})", "kaa-py/kaa")
print()
print("## comparison")
w = [max(len(str(r[i])) for r in table + [cols]) for i in range(len(cols))]
for r in [cols] + table:
    print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())

print()
print("## markdown")
print()
print(f"Command: `{command}`  ")
print(f"Run: {header}  ")
print(f"{kaa_py_note}.")
print()
print("| " + " | ".join(cols) + " |")
print("|" + "---|" * len(cols))
for r in table:
    print("| " + " | ".join(str(c) for c in r) + " |")
print()
print("Every program's median (same run; spread: min..max over the runs and ±half of it relative")
print("to the median):")
print()
print("| scenario | program | median | min..max | ± | unit |")
print("|---|---|---|---|---|---|")
for k in order:
    s, p, u = k
    sp = spread.get(k)
    sp_txt = f"{fmt(sp[0])}..{fmt(sp[1])}" if sp else "-"
    r = rel_spread(k)
    r_txt = f"{r:.0f}%" if r is not None else "-"
    print(f"| {s} | {p} | {fmt(med[k])} | {sp_txt} | {r_txt} | {u} |")
if kaa_py_mode == 'recorded':
    for k, v in kp.items():
        print(f"| {k[0]} | {k[1]} (recorded) | {fmt(v)} | - | - | {k[2]} |")
PYEOF
