#!/usr/bin/env bash
# fuzz/run.sh BUILD_DIR SECONDS TARGET...: runs each libFuzzer target for SECONDS on a fresh copy
# of fuzz/corpus/<target without "fuzz_"> (so the committed corpus never grows). A crash, leak,
# sanitizer report, timeout or failed property leaves its input in BUILD_DIR/run/<target>/ and
# makes the script fail after the other targets ran. Used by `make fuzz` and `make test`.
set -u
build=$1
seconds=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
failed=()
for target in "$@"; do
    name=${target#fuzz_}
    work="$build/run/$target"
    rm -rf "$work"
    mkdir -p "$work/corpus"
    if [ -d "$src/corpus/$name" ]; then cp "$src/corpus/$name"/* "$work/corpus/" 2>/dev/null; fi
    echo "== $target: ${seconds}s on $(ls "$work/corpus" | wc -l) seed(s)"
    start=$(date +%s)
    if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
       UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
       "$build/fuzz/$target" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
           -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1; then
        echo "   ok: $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" | grep -o '[0-9]*$') runs," \
             "$(( $(date +%s) - start ))s"
    else
        echo "   FINDING after $(( $(date +%s) - start ))s (log: $work/log):"
        grep -E "^(==[0-9]+==ERROR|SUMMARY|fuzz_|MODEL|.*runtime error)|artifact_prefix|Test unit written" \
            "$work/log" | head -20 | sed 's/^/   /'
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: findings in: ${failed[*]}" >&2
    exit 1
fi
