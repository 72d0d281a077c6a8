#!/usr/bin/env python3
"""Mutation fuzzing of the apps' input readers (not part of the test suite; run by hand).

    python3 tests/fuzz_inputs.py BUILD_DIR [SEED] [CASES]

BUILD_DIR should be a sanitized build (meson setup build-san -Db_sanitize=address,undefined).
Each case copies a real input (150 lines of USAir, a 12-node GML graph, a split file, a pairs
file for --predict, the MUTAG TU folder, or a MAT-file fixture of tests/fixtures; data from
$GP_DATA_DIR, default ../shared/data), changes 1-3 lines at random (MAT-files: 1-4 bytes
changed, inserted or cut) (a token replaced by NaN, inf, huge or negative numbers, junk bytes,
an empty or 5000-character string; lines inserted, deleted, cut or the file truncated), runs
gp-linkpred or gp-graphclass on it for one epoch and reports every case that crashed, ended with
a signal or an exit status other than 0, 1 or 2, or printed a sanitizer report. Then the counts of
failed cases (exit 1/2, which is what bad input should give) and their last stderr line, so
that messages can be checked for the file and line they name.
"""
import collections, os, random, shutil, subprocess, sys, tempfile

if len(sys.argv) < 2:
    sys.exit(__doc__)
apps = os.path.join(sys.argv[1], "apps")
random.seed(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
cases = int(sys.argv[3]) if len(sys.argv) > 3 else 100
data = os.environ.get("GP_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))
env = dict(os.environ, GP_DATA_DIR=data, ASAN_OPTIONS="detect_leaks=1",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
JUNK = ["nan", "NaN", "inf", "-1", "0", "-0", "1e400", "9223372036854775808", "99999999999", "", " ", "\t",
        "\x00", "\xff\xfe", "a" * 5000, "#", "%", "1.5", "0x10", "+3", "--", "\n", "\r\n", "2 3 4 5", ",", "1,2",
        "\xef\xbb\xbf", "\xef\xbb\xbf1 2", "source,target", "from to weight", "node,x1,x2"]


def mutate(text):
    lines = text.split("\n")
    for _ in range(random.randint(1, 3)):
        k = random.randrange(len(lines))
        r = random.random()
        toks = lines[k].split()
        if r < 0.4 and toks:
            toks[random.randrange(len(toks))] = random.choice(JUNK)
            lines[k] = " ".join(toks)
        elif r < 0.55:
            lines.insert(k, random.choice(JUNK))
        elif r < 0.7:
            del lines[k]
        elif r < 0.8:
            lines[k] = lines[k][: random.randrange(len(lines[k]) + 1)]
        elif r < 0.9:
            lines = lines[:k] or [""]
        else:
            lines[k] = lines[k] + random.choice(JUNK)
    return "\n".join(lines)


def write(path, text):
    with open(path, "w", encoding="latin-1") as f:
        f.write(text)


failed, bad = [], 0


def run(cmd, tag):
    global bad
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, timeout=300)
    except subprocess.TimeoutExpired:
        print("TIMEOUT", tag, cmd)
        bad += 1
        return
    err = p.stderr.decode("latin-1")
    if p.returncode != 0:
        failed.append((tag, p.returncode, (err.strip().split("\n") or [""])[-1][:200]))
    if p.returncode < 0 or p.returncode not in (0, 1, 2) or "Sanitizer" in err or "runtime error" in err:
        print("BAD", tag, p.returncode, cmd)
        print(err[-3000:])
        bad += 1


edges = "\n".join(open(os.path.join(data, "linkpred", "USAir.edges")).read().split("\n")[:150])
pairs = [l.split()[:2] for l in edges.split("\n") if l.strip()]
gml = "\n".join(["graph [", " directed 0"] + [f' node [ id {k} label "n{k}" ]' for k in range(12)] +
                [f" edge [ source {k} target {(k * 5 + 1) % 12} ]" for k in range(12)] + ["]"])
lp = os.path.join(apps, "gp-linkpred")
fixtures = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
with tempfile.TemporaryDirectory() as work:
    for i in range(cases):
        d = os.path.join(work, str(i))
        os.makedirs(d)
        g = os.path.join(d, "g.txt")
        kind = random.choice(["edges", "edges", "tu", "tu", "gml", "split", "pairs", "mat", "mat"])
        if kind == "edges":
            write(g, mutate(edges))
            run([lp, g, "--epochs", "1", "--recommend", "3", "--quiet", "--json"], kind)
        elif kind == "gml":
            write(g + ".gml", mutate(gml))
            run([lp, g + ".gml", "--epochs", "1", "--quiet", "--method", "cn"], kind)
        elif kind == "mat":  # bytes changed, cut or inserted in a MAT-file network or split
            name = random.choice(["mat_net.mat", "mat_dense.mat", "mat_uint8.mat", "mat_split.mat"])
            blob = bytearray(open(os.path.join(fixtures, name), "rb").read())
            for _ in range(random.randint(1, 4)):
                r, k = random.random(), random.randrange(len(blob))
                if r < 0.6:
                    blob[k] = random.randrange(256)
                elif r < 0.8:
                    del blob[k:]
                else:
                    blob[k:k] = bytes(random.randrange(256) for _ in range(random.randint(1, 8)))
                if not blob:
                    break
            with open(g + ".mat", "wb") as f:
                f.write(blob)
            if name == "mat_split.mat":
                run([lp, os.path.join(fixtures, "mat_net.mat"), "--split-file", g + ".mat", "--quiet",
                     "--method", "cn"], "mat:" + name)
            else:
                run([lp, g + ".mat", "--epochs", "1", "--quiet", "--method", "cn"], "mat:" + name)
        elif kind == "split":
            write(g, edges)
            parts = ["test_pos", "test_neg", "val_pos", "train_pos"]
            write(g + ".split", mutate("\n".join(f"{parts[k % 4]} {u} {v}" for k, (u, v) in enumerate(pairs))))
            run([lp, g, "--split-file", g + ".split", "--quiet", "--method", "ra"], kind)
        elif kind == "pairs":
            write(g, edges)
            write(g + ".pairs", mutate("\n".join(" ".join(p) for p in pairs[:10])))
            run([lp, g, "--epochs", "1", "--predict", g + ".pairs", "--quiet"], kind)
        else:
            t = os.path.join(d, "MUTAG")
            shutil.copytree(os.path.join(data, "tu", "MUTAG"), t)
            fn = random.choice([x for x in os.listdir(t) if x.endswith(".txt")])
            write(os.path.join(t, fn), mutate(open(os.path.join(t, fn), encoding="latin-1").read()))
            run([os.path.join(apps, "gp-graphclass"), "--dataset", t, "--folds", "2", "--max-folds", "1",
                 "--epochs", "1", "--hidden", "8", "--quiet", "--json", "--features",
                 random.choice(["auto", "all"])], kind + ":" + fn)
        shutil.rmtree(d)
print(f"{cases} cases, {bad} bad (crash, signal, sanitizer report, timeout or exit status > 2)")
print("failed cases by kind and exit status:", dict(collections.Counter((t.split(':')[0], rc) for t, rc, _ in failed)))
for t, rc, m in failed:
    print("  ", t, rc, m)
sys.exit(1 if bad else 0)
