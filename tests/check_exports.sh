#!/bin/sh
# The shared library exports only the public API: gp_* names, none of the internal gp_i_*
# helpers and nothing without the prefix (hidden visibility + GP_API). OpenMP named critical
# sections (.gomp_critical_user_*) are compiler-made common symbols and are allowed, and so is
# the gcov runtime a coverage build (-Db_coverage=true) links in (__gcov_*, mangle_path).
set -eu
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -v '^gp_' | grep -v '^\.gomp_critical_user_' |
    grep -v -e '^__gcov_' -e '^mangle_path$' || true)
internal=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep '^gp_i_' || true)
count=$(nm -D --defined-only "$lib" | awk '$2 == "T" {print $3}' | grep -c '^gp_')
if [ -n "$bad$internal" ]; then
    echo "unexpected exported symbols:"; echo "$bad"; echo "$internal"
    exit 1
fi
echo "$count public functions exported, no internal symbols"
