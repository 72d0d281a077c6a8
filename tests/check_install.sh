#!/bin/sh
# The installed package works for a user outside the tree: `meson install` into a scratch
# directory, then apps/gp_demo.c (an example of the public API alone) compiled and linked with
# nothing but `pkg-config --cflags --libs graphpool` from that directory, and run: it must train
# (test accuracy above 0.5 after 30 epochs; chance is 0.25).
# Arguments: build dir, source dir, C compiler, the build's b_sanitize value.
set -eu
build=$1 src=$2 cc=$3 sanitize=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --no-rebuild --quiet --destdir "$tmp/root" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; exit 1; }
pc=$(find "$tmp/root" -name graphpool.pc | head -n 1)
[ -n "$pc" ] || { echo "no graphpool.pc installed"; exit 1; }
libdir=$(dirname "$(dirname "$pc")")
prefix=$(pkg-config --variable=prefix "$pc")
flags="--define-variable=prefix=$tmp/root$prefix"
san=""
[ "$sanitize" = none ] || san="-fsanitize=$sanitize"
# shellcheck disable=SC2046
"$cc" -std=c11 -Wall -Werror $san $(pkg-config $flags --cflags "$pc") "$src/apps/gp_demo.c" -o "$tmp/demo" \
    $(pkg-config $flags --libs "$pc") -lm
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/demo" --epochs 30 2>&1) || { echo "$out"; exit 1; }
echo "$out" | tail -n 1
# the last epoch's test accuracy (4 communities: chance 0.25) must show it learned
echo "$out" | tail -n 1 | awk '$1 == 30 && $4 > 0.5 {ok = 1} END {exit !ok}' ||
    { echo "gp_demo did not learn:"; echo "$out"; exit 1; }
echo "installed headers, graphpool.pc and the library build and run the example"
