#!/bin/sh
# make image: Dockerfile.scratch through Docker's engine. Without one, says so
# and points at `make oci`, which builds the same image with no daemon.
#   sh scripts/image.sh NAME:TAG VERSION COMMIT SOURCE
set -eu
[ $# = 4 ] || { echo "usage: sh scripts/image.sh NAME:TAG VERSION COMMIT SOURCE" >&2; exit 2; }
ref=$1 version=$2 commit=$3 source=$4
if ! command -v docker >/dev/null 2>&1; then
	echo "make image: docker is not installed; 'make oci' builds the same image without a daemon (build/cplane-image.tar)" >&2
	exit 1
fi
if ! docker info >/dev/null 2>&1; then
	echo "make image: docker's engine is not reachable ('docker info' failed); start it, or use 'make oci' (no daemon needed)" >&2
	exit 1
fi
exec docker build -f Dockerfile.scratch \
	--build-arg VERSION="$version" --build-arg COMMIT="$commit" --build-arg SOURCE="$source" \
	-t "$ref" .
