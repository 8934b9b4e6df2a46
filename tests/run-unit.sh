#!/bin/sh
# Runs each unit-test binary; sums their "prog: N passed, N failed" lines.
# A binary that dies without its summary (sanitizer abort, crash) counts as one failure.
# Writes the totals to $CPLANE_TALLY (if set) as "unit P F".
passed=0 failed=0
for t in "$@"; do
	out=$("$t" 2>&1); rc=$?
	line=$(printf '%s\n' "$out" | grep -E '^[^ ]+: [0-9]+ passed, [0-9]+ failed$' | tail -n 1)
	if [ -z "$line" ]; then
		printf '%s\n' "$out" | tail -n 30
		echo "$(basename "$t"): died (exit $rc) before its summary"
		failed=$((failed + 1))
		continue
	fi
	p=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\1/')
	f=$(echo "$line" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed/\2/')
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
	[ "$f" != 0 ] && printf '%s\n' "$out" | grep -E '^FAIL|ERROR|runtime error' | head -n 40
	echo "  $line"
	passed=$((passed + p)); failed=$((failed + f))
done
echo "unit: $passed passed, $failed failed"
[ -n "${CPLANE_TALLY:-}" ] && echo "unit $passed $failed" >> "$CPLANE_TALLY"
[ "$failed" = 0 ]
