#!/bin/sh
# Fetch Debian's `mbedtls` source package (2.28.x) into third_party/mbedtls (gitignored).
# Nothing of mbedTLS is committed. deb-src entries are derived from this machine's own apt
# configuration (/etc/apt/sources.list.d/*.sources, "Types: deb" -> "deb-src") and used through
# private apt lists in a temporary directory; /etc/apt is not modified and no mirror is named here.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/third_party/mbedtls"
if [ -f "$dest/include/mbedtls/ssl.h" ] && [ -f "$dest/everest/x25519.c" ]; then
    echo "mbedtls: already at $dest"; exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/lists/partial" "$tmp/src"
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    sed 's/^Types:[[:space:]]*deb[[:space:]]*$/Types: deb-src/' "$f"; echo
done > "$tmp/src.sources"
grep -q '^Types: deb-src' "$tmp/src.sources" || { echo "mbedtls: no deb822 apt sources found" >&2; exit 1; }
opts="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$tmp/parts -o Dir::State::Lists=$tmp/lists -o Dir::Cache=$tmp/cache -o Debug::NoLocking=1"
mkdir -p "$tmp/parts" "$tmp/cache/archives/partial"; mv "$tmp/src.sources" "$tmp/parts/src.sources"
# shellcheck disable=SC2086
apt-get $opts update -qq
# shellcheck disable=SC2086
(cd "$tmp/src" && apt-get $opts source -qq mbedtls)
srcdir=$(find "$tmp/src" -maxdepth 1 -type d -name 'mbedtls-*' | head -n 1)
[ -n "$srcdir" ] || { echo "mbedtls: source package not unpacked" >&2; exit 1; }
mkdir -p "$dest"
mkdir -p "$dest/library"
# Sources and headers only: SwiftPM compiles whatever else it finds in the target (Makefiles).
cp "$srcdir"/library/*.c "$srcdir"/library/*.h "$dest/library/"
cp -R "$srcdir/include" "$dest/"
cp "$srcdir/LICENSE" "$dest/" 2>/dev/null || true
# Everest (HACL*'s verified X25519, shipped in mbedTLS's 3rdparty/): headers beside mbedTLS's,
# sources in everest/ (Package.swift compiles the three files its CMake file names).
cp -R "$srcdir/3rdparty/everest/include/everest" "$dest/include/"
mkdir -p "$dest/everest"
cp -R "$srcdir"/3rdparty/everest/library/* "$dest/everest/"
echo "mbedtls: $(basename "$srcdir") -> $dest"
