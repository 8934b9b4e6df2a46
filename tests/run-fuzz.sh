#!/bin/sh
# replay BIN...: run each fuzzer over its committed corpus (tests/fuzz/corpus/NAME/), one test each.
# fuzz SECONDS BIN...: fuzz each for SECONDS into build/fuzz/corpus/NAME (seeded from the committed one).
mode=$1; shift
secs=60
[ "$mode" = fuzz ] && { secs=$1; shift; }
passed=0 failed=0
for bin in "$@"; do
	name=$(basename "$bin" | sed 's/^fuzz_//')
	seeds=tests/fuzz/corpus/$name
	dict=tests/fuzz/$name.dict
	dictarg=""; [ -f "$dict" ] && dictarg="-dict=$dict"
	if [ "$mode" = replay ]; then
		if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds" 2>/dev/null)" ]; then
			echo "  fuzz_$name: no corpus in $seeds"; failed=$((failed + 1)); continue
		fi
		if "$bin" -runs=0 $dictarg "$seeds" >"build/fuzz/$name.replay.log" 2>&1; then
			echo "  fuzz_$name: replayed $(ls "$seeds" | wc -l) inputs"; passed=$((passed + 1))
		else
			tail -n 40 "build/fuzz/$name.replay.log"
			echo "  fuzz_$name: FAILED on its corpus"; failed=$((failed + 1))
		fi
	else
		work=build/fuzz/corpus/$name
		mkdir -p "$work"
		echo "== fuzz_$name for ${secs}s"
		if "$bin" -max_total_time="$secs" -print_final_stats=1 $dictarg "$work" "$seeds" \
			>"build/fuzz/$name.fuzz.log" 2>&1; then
			grep -E 'stat::number_of_executed_units|stat::peak_rss' "build/fuzz/$name.fuzz.log" | sed 's/^/  /'
			passed=$((passed + 1))
		else
			tail -n 60 "build/fuzz/$name.fuzz.log"; failed=$((failed + 1))
		fi
	fi
done
echo "fuzz: $passed passed, $failed failed"
[ -n "${CPLANE_TALLY:-}" ] && echo "fuzz $passed $failed" >> "$CPLANE_TALLY"
[ "$failed" = 0 ]
