#!/bin/sh
# Prints a C file defining `const uint8_t NAME[]` and `const size_t NAME_len`
# holding FILE's bytes (build-time embedding; od and awk only).
set -eu
file=$1 name=$2
echo "/* Generated from $file by scripts/embed.sh: do not edit. */"
echo "#include <stddef.h>"
echo "#include <stdint.h>"
echo "extern const uint8_t ${name}[];"
echo "extern const size_t ${name}_len;"
echo "const uint8_t ${name}[] = {"
od -An -v -tu1 "$file" | awk '{ line = ""; for (i = 1; i <= NF; i++) line = line $i ","; if (line != "") print "\t" line }'
echo "};"
echo "const size_t ${name}_len = sizeof(${name});"
