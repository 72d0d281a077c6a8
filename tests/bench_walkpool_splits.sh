#!/bin/bash
# WalkPool on the fixed 90/10 splits of the link-prediction networks (issue: WalkPool targets).
#
#   tests/bench_walkpool_splits.sh [-b BUILD] [-t THREADS] [-s "1 2 ..."] [-o OUT.md]
#                                  [-x "EXTRA gp-linkpred ARGS"] [NET ...]
#
# Runs gp-linkpred (the paper's configuration: its defaults) on every split of every network
# given (default: the eight of ../shared/data/linkpred), with the best heuristic of the same
# split for comparison (--compare=walkpool,ra,aa,cn,ppr,katz), keeps one JSON line per run in
# OUT.runs.jsonl (a rerun skips the runs already there, so the benchmark can be resumed; a run
# stopped in the middle continues after its last finished epoch from its training state,
# OUT.states/NET_K.gps, gp-linkpred --resume, removed when the run is complete), and
# prints a table of mean +- std test AUC per network, also written to OUT.md
# (default docs/walkpool_splits.md). Per-network options follow the reference code: Power uses
# 3 hops, PB and Ecoli cap each hop at 100 nodes. Data: $GP_DATA_DIR (default ../shared/data).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$here/build
threads=2
splits="1 2 3 4 5 6 7 8 9 10"
out=$here/docs/walkpool_splits.md
more=""
while getopts "b:t:s:o:x:" opt; do
    case $opt in
    b) build=$(cd "$OPTARG" && pwd) ;;
    t) threads=$OPTARG ;;
    s) splits=$OPTARG ;;
    o) out=$OPTARG ;;
    x) more=$OPTARG ;;
    *) sed -n 2,15p "$0" >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
nets=${*:-USAir NS PB Yeast Celegans Power Router Ecoli}
export GP_DATA_DIR=${GP_DATA_DIR:-$here/../shared/data}
app=$build/apps/gp-linkpred
[ -x "$app" ] || { echo "no $app: build first (meson setup build && ninja -C build)" >&2; exit 2; }
runs=${out%.md}.runs.jsonl
states=${out%.md}.states
touch "$runs"
mkdir -p "$states"

for net in $nets; do
    extra=""
    [ "$net" = Power ] && extra="--hops 3"
    { [ "$net" = PB ] || [ "$net" = Ecoli ]; } && extra="--max-nodes-per-hop 100"
    for k in $splits; do
        if grep -q "\"net\": \"$net\", \"split\": $k," "$runs"; then continue; fi
        echo "$(date +%T) $net split $k" >&2
        state=$states/${net}_$k.gps
        line=$("$app" --dataset "$net" --split "$k" $extra --threads "$threads" $more --quiet --json \
            --resume "$state" --compare=walkpool,ra,aa,cn,ppr,katz | tr -d '\n')
        echo "{\"net\": \"$net\", \"split\": $k, \"run\": $line}" >> "$runs"
        rm -f "$state"
    done
done
rmdir "$states" 2>/dev/null || true

# Table: mean and sample std of the test AUC (%) of walkpool and of the best heuristic (by
# mean) per network, over the splits present in the runs file.
awk -v nets="$nets" '
function grab(s, key,    i, r) { i = index(s, "\"" key "\": "); if (!i) return ""; r = substr(s, i + length(key) + 4); sub(/[,}].*/, "", r); gsub(/"/, "", r); return r }
{
    net = grab($0, "net")
    n = split($0, parts, "\"method\": ")
    for (j = 2; j <= n; j++) {
        m = parts[j]; sub(/,.*/, "", m); gsub(/"/, "", m)
        auc = grab(parts[j], "test_auc") * 100
        key = net SUBSEP m; cnt[key]++; sum[key] += auc; sq[key] += auc * auc; meth[m] = 1
    }
}
END {
    print "| network | splits | WalkPool test AUC (%) | best heuristic | its AUC (%) |"
    print "|---|---:|---:|---|---:|"
    nn = split(nets, list, " ")
    for (i = 1; i <= nn; i++) {
        net = list[i]; key = net SUBSEP "walkpool"; c = cnt[key]
        if (!c) continue
        mu = sum[key] / c; sd = c > 1 ? sqrt((sq[key] - c * mu * mu) / (c - 1)) : 0
        best = ""; bmu = -1
        for (m in meth) if (m != "walkpool" && cnt[net SUBSEP m]) {
            v = sum[net SUBSEP m] / cnt[net SUBSEP m]; if (v > bmu) { bmu = v; best = m } }
        printf "| %s | %d | %.2f +- %.2f | %s | %.2f |\n", net, c, mu, sd, best, bmu
    }
}' "$runs" | tee "$out"
