#!/usr/bin/python3
"""Checks gp-data's .mat conversions against the registered link-prediction files (by hand; needs
python3-scipy and the benchmark data, not run in CI):

  python3 tests/check_linkpred_fetch.py BUILD DATA_DIR WORK_DIR

SEAL's and WalkPool's .mat files cannot be downloaded here, so this writes stand-ins from the
data directory's converted files (SciPy: `net` as a sparse symmetric double matrix of the
network's size from linkpred/meta.tsv; train_pos ... as 1-based k x 2 double arrays in the
file's order), lays them out as in the two repositories under WORK_DIR/src, points a copy of
the registry at them (file:// URLs in place of raw.githubusercontent.com) and runs
`gp-data fetch` for every network into the empty WORK_DIR/data, then `gp-data verify`: every
edge list, split and meta.tsv must come out byte for byte as registered.
"""
import gzip, os, subprocess, sys
import numpy as np
import scipy.io
import scipy.sparse as sp

build, data, work = sys.argv[1:4]
src, out = os.path.join(work, "src"), os.path.join(work, "data")
os.makedirs(out, exist_ok=True)
meta = {l.split("\t")[0]: int(l.split("\t")[1]) for l in open(os.path.join(data, "linkpred/meta.tsv")) if not l.startswith("#")}
reg_lines = []
for line in open(os.path.join(os.path.dirname(__file__), "..", "data", "registry.tsv")):
    c = line.rstrip("\n").split("\t")
    if line.startswith("#") or c[1] != "linkpred":
        continue
    if c[6].startswith("mat:"):
        rel = c[6][4:].split("/", 6)[6]  # owner/repo/commit/PATH -> PATH (after the host)
        dest = os.path.join(src, c[6][4:].split("/")[3], rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if c[2] == "edgelist":
            n = meta[c[0]]
            e = np.loadtxt(os.path.join(data, c[3]), dtype=np.int64, ndmin=2)
            a = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
            scipy.io.savemat(dest, {"net": (a + a.T).tocsc()})
        else:
            parts = {}
            for l in gzip.open(os.path.join(data, c[3]), "rt"):
                p, u, v = l.split()
                parts.setdefault(p, []).append([int(u) + 1, int(v) + 1])
            scipy.io.savemat(dest, {p: np.array(x, dtype=float) for p, x in parts.items()})
        c[6] = "mat:file://" + dest
    reg_lines.append("\t".join(c) + "\n")
registry = os.path.join(work, "registry.tsv")
open(registry, "w").writelines(reg_lines)
gp_data = os.path.join(build, "apps", "gp-data")
for net in meta:
    subprocess.run([gp_data, "--data-dir", out, "--registry", registry, "fetch", net], check=False)
r = subprocess.run([gp_data, "--data-dir", out, "--registry", registry, "verify"], capture_output=True, text=True)
print(r.stdout.splitlines()[-1])
sys.exit(r.returncode)
