#!/bin/sh
# Calls between the files of src/worker run one way: no two of its objects
# call each other (issue 17).  Reads the unit build's objects with nm; prints
# the harness's summary line so tests/run-unit.sh counts it as one test.
dir=${1:-build/test/obj/src/worker}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0
for o in "$dir"/*.o; do
	b=$(basename "$o" .o)
	nm -u "$o" | awk '{print $2}' | sort -u > "$tmp/$b.u"
	nm --defined-only "$o" | awk '$2 ~ /[TDBR]/ {print $3}' | sort -u > "$tmp/$b.d"
done
for a in "$tmp"/*.u; do
	a=$(basename "$a" .u)
	for b in "$tmp"/*.u; do
		b=$(basename "$b" .u)
		[ "$a" \< "$b" ] || continue
		ab=$(comm -12 "$tmp/$a.u" "$tmp/$b.d" | head -n 3 | tr '\n' ' ')
		ba=$(comm -12 "$tmp/$b.u" "$tmp/$a.d" | head -n 3 | tr '\n' ' ')
		if [ -n "$ab" ] && [ -n "$ba" ]; then
			echo "FAIL $a.c and $b.c call each other: $a -> $ab; $b -> $ba"
			failed=1
		fi
	done
done
[ -n "$(ls "$dir"/*.o 2>/dev/null)" ] || { echo "FAIL no objects in $dir"; failed=1; }
echo "check_calls.sh: $((1 - failed)) passed, $failed failed"
[ "$failed" = 0 ]
