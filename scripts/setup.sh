#!/bin/sh
# Installs what cplane's build and tests need, from Debian's packages.
# Idempotent: when everything is present it only asks dpkg once and exits.
# Run by the make targets that need it when build/.setup-stamp is missing.
set -eu

PKGS="make gcc libc6-dev musl-tools protobuf-c-compiler libbearssl-dev libprotobuf-c-dev
protobuf-compiler clang libclang-rt-14-dev llvm python3 python3-pytest python3-grpcio
python3-protobuf python3-h2 nghttp2-client umoci skopeo libcjson-dev dpkg-dev file openssl
valgrind procps python3-yaml"

missing=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' $PKGS 2>/dev/null |
	awk -v want="$(echo $PKGS)" 'BEGIN { n = split(want, w, " ") }
	     $2 ~ /^ii/ { ok[$1] = 1 }
	     END { for (i = 1; i <= n; i++) if (!(w[i] in ok)) printf "%s ", w[i] }')

has_deb_src() {
	grep -qs '^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list && return 0
	grep -qs '^Types:.*deb-src' /etc/apt/sources.list.d/*.sources && return 0
	return 1
}

need_src=0
has_deb_src || need_src=1

if [ -z "$missing" ] && [ "$need_src" = 0 ]; then
	exit 0
fi

if [ ! -r /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "setup: not a Debian system; install: $missing (and a deb-src source for 'apt-get source bearssl protobuf-c')" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "setup: run as root, or install: sudo apt-get install $missing (and add a deb-src entry for apt-get source)" >&2
	exit 1
fi

if [ "$need_src" = 1 ]; then
	# apt-get source needs a deb-src entry; mirror the binary sources we have.
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources \
			> /etc/apt/sources.list.d/cplane-deb-src.sources
	elif [ -f /etc/apt/sources.list ]; then
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list > /etc/apt/sources.list.d/cplane-deb-src.list
	else
		echo "Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" > /etc/apt/sources.list.d/cplane-deb-src.sources
	fi
fi

echo "setup: installing:${missing:- (none)}; deb-src: $([ $need_src = 1 ] && echo added || echo present)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
if [ -n "$missing" ]; then
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
