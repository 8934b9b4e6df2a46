#!/bin/sh
# Builds cplane's FROM-scratch image without a daemon: one layer holding one
# file, /cplane (0755, owned 0:0 so the 65532 user cannot rewrite it).
#
#   sh scripts/oci.sh BINARY OUTDIR
#
# writes OUTDIR/oci               an OCI image layout, tagged IMAGE_TAG
#        OUTDIR/cplane-image.tar  a docker-archive of IMAGE_NAME:IMAGE_TAG, for
#                                 `docker load`, `kind load image-archive`,
#                                 `minikube image load`
# env:   IMAGE_NAME (cplane), IMAGE_TAG (contents of VERSION), IMAGE_SOURCE,
#        IMAGE_REVISION, IMAGE_LICENSES (Apache-2.0), SOURCE_DATE_EPOCH
#        (default: the last commit's time, so rebuilding the same commit gives
#        the same digests).
#
# Why unpack/copy/repack rather than `umoci insert`: Debian's umoci 0.4.7
# `insert` writes a truncated layer tar (an upstream bug, fixed later).
# --rootless maps whoever runs this to 0:0 in the layer, so it needs no root.
set -eu

die() { echo "oci: $*" >&2; exit 1; }

[ $# = 2 ] || die "usage: sh scripts/oci.sh BINARY OUTDIR"
bin=$1
out=$2
top=$(cd "$(dirname "$0")/.." && pwd)

for tool in umoci skopeo file; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found (sh scripts/setup.sh installs it)"
done
[ -f "$bin" ] || die "$bin: no such file (run make first)"
# A scratch image has no loader and no libc: anything but a static binary
# would fail at exec with a confusing "no such file or directory".
file -L "$bin" | grep -q 'statically linked' || die "$bin is not a static binary"

name=${IMAGE_NAME:-cplane}
tag=${IMAGE_TAG:-$(cat "$top/VERSION" 2>/dev/null || echo 0.0.0)}
source=${IMAGE_SOURCE:-$(git -C "$top" config --get remote.origin.url 2>/dev/null || true)}
source=${source:-unknown}
revision=${IMAGE_REVISION:-$(git -C "$top" rev-parse HEAD 2>/dev/null || echo unknown)}
licenses=${IMAGE_LICENSES:-Apache-2.0}
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 0)}
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

case $(uname -m) in
x86_64) arch=amd64 ;;
aarch64 | arm64) arch=arm64 ;;
armv7l) arch=arm ;;
i?86) arch=386 ;;
ppc64le) arch=ppc64le ;;
s390x) arch=s390x ;;
riscv64) arch=riscv64 ;;
*) die "unknown machine $(uname -m): set the image architecture by hand" ;;
esac

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/cplane-oci.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

layout=$work/oci
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci unpack --rootless --image "$layout:$tag" "$work/bundle"

cp "$bin" "$work/bundle/rootfs/cplane"
chmod 0755 "$work/bundle/rootfs/cplane"
touch -d "@$epoch" "$work/bundle/rootfs/cplane"
# Put the root's mtime back as unpack left it, so the diff holds /cplane alone
# rather than also an entry for "/".
touch -d @0 "$work/bundle/rootfs"

umoci repack --image "$layout:$tag" \
	--history.created "$created" --history.created_by "COPY cplane /cplane" \
	"$work/bundle"

set -- --config.label "org.opencontainers.image.title=cplane" \
	--config.label "org.opencontainers.image.description=A light-weight Kubernetes control plane in one static binary" \
	--config.label "org.opencontainers.image.source=$source" \
	--config.label "org.opencontainers.image.version=$tag" \
	--config.label "org.opencontainers.image.revision=$revision" \
	--config.label "org.opencontainers.image.licenses=$licenses"
umoci config --image "$layout:$tag" --no-history \
	--created "$created" --os linux --architecture "$arch" \
	--config.entrypoint /cplane --config.user 65532:65532 \
	--config.exposedports 50051/tcp --config.exposedports 8080/tcp \
	--config.stopsignal SIGTERM \
	"$@" \
	--manifest.annotation "org.opencontainers.image.version=$tag" \
	--manifest.annotation "org.opencontainers.image.created=$created"
umoci gc --layout "$layout"

# docker-archive from the OCI layout; both ends are files we just wrote, so
# the signature policy has nothing to say.
rm -f "$work/image.tar"
skopeo --insecure-policy copy -q "oci:$layout:$tag" "docker-archive:$work/image.tar:$name:$tag"

rm -rf "$out/oci" "$out/cplane-image.tar"
mv "$layout" "$out/oci"
mv "$work/image.tar" "$out/cplane-image.tar"
echo "oci: $name:$tag ($arch) -> $out/oci, $out/cplane-image.tar"
