#!/bin/sh
# Builds BearSSL and protobuf-c with musl-gcc into build/deps/ from Debian's
# source packages (apt-get source), for the static release binary.  Nothing of
# theirs is committed; this runs once and leaves build/deps/.stamp.
set -eu

out=${1:-build/deps}
mkdir -p "$out/src" "$out/lib" "$out/include/protobuf-c"
out=$(cd "$out" && pwd)
cd "$out/src"

if [ ! -d bearssl ] || [ ! -d protobuf-c ]; then
	rm -rf ./*
	# -qq: the _apt sandbox warning under root is expected and harmless.
	apt-get source -qq bearssl protobuf-c >/dev/null 2>apt-source.log || {
		cat apt-source.log >&2
		echo "build-deps: 'apt-get source bearssl protobuf-c' failed (is there a deb-src entry? run scripts/setup.sh as root)" >&2
		exit 1
	}
	mv bearssl-*/ bearssl
	mv protobuf-c-*/ protobuf-c
fi

jobs=$(nproc 2>/dev/null || echo 2)

# BearSSL's own makefile, with musl-gcc and size optimisation; only the static lib.
make -s -C bearssl -j"$jobs" CC=musl-gcc LD=musl-gcc LDDLL=musl-gcc \
	CFLAGS="-W -Wall -Os -fPIC -ffunction-sections -fdata-sections" \
	DLL=no TOOLS=no TESTS=no lib >/dev/null
cp bearssl/build/libbearssl.a "$out/lib/"
cp bearssl/inc/*.h "$out/include/"

# protobuf-c's runtime is one C file; the compiler (protoc-c) comes from Debian's package.
musl-gcc -std=c99 -Os -ffunction-sections -fdata-sections -I protobuf-c \
	-c protobuf-c/protobuf-c/protobuf-c.c -o protobuf-c.o
ar rcs "$out/lib/libprotobuf-c.a" protobuf-c.o
cp protobuf-c/protobuf-c/protobuf-c.h "$out/include/protobuf-c/"

touch "$out/.stamp"
