#!/usr/bin/env bash
# Run the libFuzzer harnesses and the sanitizer build of the unit tests (mk/fuzz.mk).
#
#   tools/run-fuzz.sh fuzz     SECONDS BUILD_FUZZ_DIR NAME...   each harness for SECONDS, a table at the end
#   tools/run-fuzz.sh smoke    SECONDS BUILD_FUZZ_DIR NAME...   each harness briefly over its seed corpus
#   tools/run-fuzz.sh sanitize 0       BUILD_SAN_DIR  PROGRAM...  unit tests under ASan + UBSan
#
# Harness NAME is built as BUILD_FUZZ_DIR/fuzz_NAME; its seeds are tests/fuzz/corpus/NAME, its
# dictionary tests/fuzz/fuzz_NAME.dict and extra libFuzzer flags tests/fuzz/fuzz_NAME.options
# (one per line), when present. Harnesses run one at a time (the machine is shared).
set -u
cd "$(dirname "$0")/.."

mode=${1:?mode}
seconds=${2:?seconds}
dir=${3:?build directory}
shift 3

# Pass the harness's dictionary and options.
harness_flags() {
    local name=$1
    [ -f "tests/fuzz/fuzz_$name.dict" ] && printf '%s\n' "-dict=tests/fuzz/fuzz_$name.dict"
    [ -f "tests/fuzz/fuzz_$name.options" ] && grep -v '^#' "tests/fuzz/fuzz_$name.options"
    return 0
}

# From a libFuzzer log: total executions (summed over restarts), last cov/ft/corpus figures.
stat_execs() { sed -n 's/^stat::number_of_executed_units: *//p' "$1" | awk '{s += $1} END {print s + 0}'; }
last_status() { grep -E '^#[0-9]+.*cov: ' "$1" | tail -n 1; }
field() { sed -n "s/.* $1: \\([0-9]*\\).*/\\1/p" <<<"$2"; }
corpus_units() { sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$1"; }

# Crash, leak, timeout and out-of-memory inputs libFuzzer left in a directory.
count_findings() { find "$1" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) 2>/dev/null | wc -l; }

run_fuzz() {
    local total_execs=0 total_findings=0 rows=()
    for name in "$@"; do
        local bin="$dir/fuzz_$name" corpus="$dir/corpus-$name" findings="$dir/findings-$name" log="$dir/fuzz-$name.log"
        mkdir -p "$corpus" "$findings"
        : >"$log"
        touch "$log.start"
        local before
        before=$(count_findings "$findings")
        local start=$SECONDS runs=0
        mapfile -t flags < <(harness_flags "$name")
        echo "fuzz: $name for ${seconds}s (log $log)"
        # A crash ends a libFuzzer run: record it and continue with the time left (at most 5 restarts).
        while [ $((SECONDS - start)) -lt "$seconds" ] && [ $runs -lt 6 ]; do
            local left=$((seconds - (SECONDS - start)))
            "$bin" -max_total_time="$left" -print_final_stats=1 -timeout=10 -artifact_prefix="$findings/" \
                "${flags[@]}" "$corpus" "tests/fuzz/corpus/$name" >>"$log" 2>&1
            local rc=$?
            runs=$((runs + 1))
            [ $rc -eq 0 ] && break
        done
        local execs status new
        execs=$(stat_execs "$log")
        status=$(last_status "$log")
        new=$(($(count_findings "$findings") - before))
        total_execs=$((total_execs + execs))
        total_findings=$((total_findings + new))
        rows+=("$(printf '%-12s %12s %7s %8s %7s %9s' "$name" "$execs" "$(field cov "$status")" \
            "$(field ft "$status")" "$(corpus_units "$status")" "$new")")
        if [ "$new" -gt 0 ]; then
            grep -hE 'fuzz invariant violated|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$log" |
                sort -u | sed "s/^/fuzz: $name: /"
            find "$findings" -maxdepth 1 -type f -newer "$log.start" 2>/dev/null | sed "s/^/fuzz: $name: finding /"
        fi
    done
    echo
    printf '%-12s %12s %7s %8s %7s %9s\n' harness executions cov ft corpus findings
    printf '%s\n' "${rows[@]}"
    echo
    echo "fuzz: $# harnesses, $total_execs executions, $total_findings findings (inputs in $dir/findings-<harness>/)"
    [ "$total_findings" -eq 0 ]
}

run_smoke() {
    local passed=0 failed=0
    for name in "$@"; do
        local bin="$dir/fuzz_$name" corpus="$dir/smoke-corpus-$name" findings="$dir/smoke-findings-$name"
        local log="$dir/smoke-$name.log"
        rm -rf "$corpus" "$findings"
        mkdir -p "$corpus" "$findings"
        mapfile -t flags < <(harness_flags "$name")
        "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -artifact_prefix="$findings/" \
            "${flags[@]}" "$corpus" "tests/fuzz/corpus/$name" >"$log" 2>&1
        local rc=$? status
        status=$(last_status "$log")
        if [ $rc -eq 0 ]; then
            passed=$((passed + 1))
            echo "fuzz-smoke: $name: $(stat_execs "$log") executions, cov $(field cov "$status"), ft $(field ft "$status"): ok"
        else
            failed=$((failed + 1))
            grep -B2 -A30 -E 'fuzz invariant violated|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' \
                "$log" | head -n 60
            echo "fuzz-smoke: $name FAILED (exit $rc; log $log; input in $findings/)"
        fi
    done
    echo "fuzz: $passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}

run_sanitize() {
    local programs=0 tests=0 failed=0 reports=0
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
    for t in "$@"; do
        local out rc p f r
        out=$("$t" 2>&1)
        rc=$?
        programs=$((programs + 1))
        p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
        f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -n 1)
        r=$(printf '%s\n' "$out" | grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: [A-Za-z]*Sanitizer')
        tests=$((tests + ${p:-0}))
        reports=$((reports + r))
        if [ $rc -ne 0 ] || [ "${f:-0}" -ne 0 ] || [ "$r" -ne 0 ]; then
            failed=$((failed + ${f:-1}))
            printf '%s\n' "$out" | grep -A25 -E 'ERROR: |runtime error:|\[  FAILED  \]|\[  ERROR   \]' | head -n 60
            echo "sanitize: $(basename "$t") FAILED (exit $rc, $r sanitizer report lines)"
        else
            echo "sanitize: $(basename "$t"): ${p:-0} passed"
        fi
    done
    echo "sanitize: $programs programs, $tests passed, $failed failed, $reports sanitizer reports"
    [ "$failed" -eq 0 ] && [ "$reports" -eq 0 ]
}

case $mode in
fuzz) run_fuzz "$@" ;;
smoke) run_smoke "$@" ;;
sanitize) run_sanitize "$@" ;;
*)
    echo "usage: $0 fuzz|smoke|sanitize SECONDS DIR NAME..." >&2
    exit 2
    ;;
esac
