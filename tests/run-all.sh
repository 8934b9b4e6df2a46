#!/bin/sh
# make test: build, then every suite; ends with one line "N passed, N failed, N skipped".
# Each suite appends "name passed failed [skipped]" to $CPLANE_TALLY.
tally=$(mktemp)
export CPLANE_TALLY=$tally
MAKE=${MAKE:-make}
status=0

step() {
	name=$1; shift
	echo "== $name"
	before=$(wc -l < "$tally")
	if ! "$@"; then
		status=1
		# a step that failed before tallying (e.g. a compile error) still counts
		[ "$(wc -l < "$tally")" = "$before" ] && echo "$name 0 1" >> "$tally"
	fi
}

if ! $MAKE -s build/cplane; then
	echo "build: FAILED"; echo "build 0 1" >> "$tally"; status=1
else
	echo "build 1 0" >> "$tally"
	file build/cplane | grep -q 'statically linked' || { echo "build/cplane is not static"; echo "static 0 1" >> "$tally"; }
fi
step unit $MAKE -s unit
step fuzz-replay $MAKE -s fuzz-replay
step e2e $MAKE -s e2e

passed=$(awk '{p += $2} END {print p + 0}' "$tally")
failed=$(awk '{f += $3} END {print f + 0}' "$tally")
skipped=$(awk '{s += $4} END {print s + 0}' "$tally")
rm -f "$tally"
[ "$failed" != 0 ] && status=1
echo "$passed passed, $failed failed, $skipped skipped"
exit $status
