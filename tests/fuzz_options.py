#!/usr/bin/env python3
"""Random command lines for the apps (not part of the test suite; run by hand).

    python3 tests/fuzz_options.py BUILD_DIR [SEED] [CASES]

BUILD_DIR should be a sanitized build (meson setup build-san -Db_sanitize=address,undefined).
Each case runs gp-graphclass (MUTAG, 2 folds, 1 epoch), gp-linkpred (the generated demo network,
1 epoch), gp-nodeclass (Cora, 2 epochs) or gp-data generate (a good or bad spec) with 1-4 options drawn at random from the app's own
options, each with a typical value, a boundary value or a bad one (negative, zero, huge, NaN,
empty, junk, a missing or unwritable path), output files in a scratch directory. It reports
every case that crashed, ended with a signal or an exit status other than 0, 1 or 2, printed a
sanitizer report, or ran past the time limit; then the counts of exit statuses and the last
stderr line of each distinct usage error, so that messages can be read.
Data: $GP_DATA_DIR (default ../shared/data): MUTAG and Cora. FUZZ_SHOW=TEXT also prints the command
of every failure whose message contains TEXT.
"""
import collections, os, random, subprocess, sys, tempfile

if len(sys.argv) < 2:
    sys.exit(__doc__)
apps = os.path.abspath(os.path.join(sys.argv[1], "apps"))
random.seed(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
cases = int(sys.argv[3]) if len(sys.argv) > 3 else 100
data = os.path.abspath(os.environ.get("GP_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")))
env = dict(os.environ, GP_DATA_DIR=data, ASAN_OPTIONS="detect_leaks=1",
           UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
TIMEOUT = 120

BAD_NUM = ["-1", "0", "-0", "nan", "inf", "1e400", "9223372036854775808", "", "x", "1.5", "0x10", "2,3"]


def num(*good):
    """An option value: one of the good ones most of the time, else a bad or boundary number."""
    return lambda d: random.choice(good) if random.random() < 0.6 else random.choice(BAD_NUM)


def word(*good):
    return lambda d: random.choice(good) if random.random() < 0.7 else random.choice(["", "nosuch", "x" * 300, "a,b"])


def path(kind):
    def make(d):
        r = random.random()
        if r < 0.5:
            return os.path.join(d, kind + str(random.randrange(3)))
        if r < 0.7:
            return "/nonexistent/dir/" + kind
        if r < 0.8:
            return d  # a directory
        return ""
    return make


FLAG = None
POOLS = ["topk", "sagpool:ratio=0.5", "gnp", "sum", "mean", "max", "maxmean", "gpn", "rp:perms=2", "klgnn",
         "rplocal", "topk:ratio=0", "topk:min_score=0.1", "gpn:gnn_layers=0", "topk,sum", "sum,gnp:p=2"]
GRAPHCLASS = {
    "--layer": word("graphconv", "gcn", "gin", "sage", "gat", "gnpconv"),
    "--hidden": num("8", "16", "1"), "--blocks": num("0", "1", "2", "3"), "--encoder": FLAG,
    "--pool": lambda d: random.choice(POOLS) if random.random() < 0.8 else random.choice(["", "nosuch", "topk:foo=1", ","]),
    "--ratio": num("0.5", "1", "0.01"), "--readout": word("sum", "mean", "max", "maxmean", "gnp"),
    "--jk": word("sum", "last"), "--mlp": word("16", "16,8", "0", ""), "--mlp-norm": word("none", "layer"),
    "--dropout": num("0", "0.5", "0.99"), "--lr": num("1e-3", "1e-2"), "--weight-decay": num("0", "1e-4"),
    "--batch-size": num("1", "16", "1000"), "--eval-batch-size": num("1", "64"), "--patience": num("0", "1"),
    "--select": word("loss", "acc"), "--clip-norm": num("0", "1"), "--gnp-lr": num("0", "0.2"), "--cosine": FLAG,
    "--warmup-epochs": num("0", "1"), "--preset": word("topk", "gpn-PROTEINS", "topk-DD", "gpn"),
    "--write-parse": path("parse"), "--final-runs": num("1", "2"), "--grid": word("lr=1e-3/1e-2", "hidden=8/16", "readout=sum/max", "lr=1/2,lr=3"),
    "--folds": num("2", "3"), "--fold-files": FLAG, "--val-ratio": num("0", "0.1", "0.5"),
    "--max-folds": num("1", "0"), "--fold-range": word("1-1", "2-2", "1-2", "3-1"), "--resume": path("resume.jsonl"),
    "--features": word("labels", "ones", "degree", "all", "labels+degree", "attr"), "--seed": num("1", "7"),
    "--threads": num("1", "2"), "--json": FLAG, "--save": path("model"),
}
LINKPRED = {
    "--batch-size": num("1", "8", "64"), "--bce": FLAG,
    "--curve": path("curve.tsv"), "--drnl": FLAG, "--dropout": num("0", "0.5"), "--heads": num("1", "2"),
    "--hidden": num("4", "8"), "--hops": num("1", "2", "3"), "--json": FLAG, "--layers": num("1", "2"),
    "--lr": num("1e-3"), "--max-candidates": num("1", "10", "100000"), "--max-nodes-per-hop": num("0", "5", "100"),
    "--method": word("walkpool", "cn", "aa", "ra", "pa", "katz", "ppr", "svd"), "--one-based": FLAG,
    "--output": path("out.txt"), "--recommend": num("1", "5"), "--for": word("0", "17", "299", "300"),
    "--save-model": path("m.gpm"), "--load-model": path("m.gpm"), "--resume": path("state.gps"),
    "--seed": num("1", "2"), "--test-ratio": num("0.1", "0.5", "0.9"), "--val-ratio": num("0", "0.05", "0.5"),
    "--threads": num("1", "2"), "--torch-init": FLAG, "--walk-len": num("1", "2", "4"),
    "--predict": path("pairs.txt"), "--header": FLAG, "--no-header": FLAG,
}
NODECLASS = {
    "--aggr": word("mean", "max", "sum"), "--attn-dropout": num("0", "0.6"), "--dropout": num("0", "0.5"),
    "--heads": num("1", "2"), "--hidden": num("4", "16"), "--layer": word("gcn", "sage", "gat", "gin", "graphconv", "mlp"),
    "--layers": num("1", "2", "3"), "--lr": num("1e-2"), "--no-feature-norm": FLAG, "--out-heads": num("1", "2"),
    "--save": path("node.gpm"), "--seed": num("1"), "--split": word("public", "random", "1"), "--threads": num("1", "2"),
    "--wd-all": FLAG, "--wd-first": FLAG, "--weight-decay": num("0", "5e-4"),
}
GPDATA = {"--seed": num("1", "7", "18446744073709551615"), "--output": path("gen.txt")}
SPECS = ["ba:n=50", "ba:n=50,m=60", "ws:n=30,k=2,p=0.3", "ws:n=5,k=3", "er:n=40,p=0.1", "er:n=1,p=1",
         "lattice:rows=4,cols=5", "lattice:rows=2,cols=2,periodic=1", "trilattice:rows=3,cols=3,periodic=1",
         "", "ba", "ba:", "ba:n=", "ba:n=1e9x", "er:n=10,p=nan", "ws:n=10,,k=2", "nosuch:n=3", "ba:n=-5",
         "lattice:rows=3,cols=3,periodic=2", "er:n=10,p=0.5,p=0.2"]
JOBS = [
    ("gp-graphclass", ["--dataset", "MUTAG", "--folds", "2", "--max-folds", "1", "--epochs", "1", "--quiet"], GRAPHCLASS),
    ("gp-linkpred", ["--epochs", "1", "--quiet"], LINKPRED),
    ("gp-nodeclass", ["--epochs", "2", "--quiet"], NODECLASS),
    ("gp-data", ["generate"], GPDATA),
]


def sanitizer_report(err):
    return any(s in err for s in ("runtime error:", "AddressSanitizer", "LeakSanitizer", "UndefinedBehaviorSanitizer"))


statuses, messages, bad = collections.Counter(), collections.Counter(), 0
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "pairs.txt0"), "w") as f:
        f.write("0 1\n2 5\n")
    for case in range(cases):
        app, base, opts = random.choice(JOBS)
        args = list(base)
        for name in random.sample(sorted(opts), random.randint(1, min(4, len(opts)))):
            args.append(name)
            if opts[name] is not FLAG:
                args.append(opts[name](d))
        if app == "gp-linkpred" and random.random() < 0.15:  # an optional argument: --compare[=LIST]
            args.append(random.choice(["--compare", "--compare=cn,aa", "--compare=katz,nosuch", "--compare="]))
        if app == "gp-data":  # the generator's spec, good or bad
            args.insert(1, random.choice(SPECS))
        cmd = [os.path.join(apps, app)] + args
        try:
            p = subprocess.run(cmd, capture_output=True, env=env, timeout=TIMEOUT, cwd=d)
            rc, err = p.returncode, p.stderr.decode("latin-1")
        except subprocess.TimeoutExpired:
            rc, err = "timeout", ""
        statuses[(app, rc)] += 1
        if rc not in (0, 1, 2) or sanitizer_report(err):
            bad += 1
            print(f"BAD case {case}: exit {rc}: {' '.join(repr(a) if ' ' in a or not a else a for a in cmd)}")
            print("   " + "\n   ".join(err.strip().split("\n")[-8:]), flush=True)
        elif rc in (1, 2):
            last = err.strip().split("\n")[-1] if err.strip() else "(no message)"
            messages[(app, rc, last[:160])] += 1
            if os.environ.get("FUZZ_SHOW") and os.environ["FUZZ_SHOW"] in last:  # the command behind a message
                print(f"case {case}: {' '.join(cmd)}\n   {last}", flush=True)
        if rc in (1, 2) and not err.strip():
            bad += 1
            print(f"BAD case {case}: exit {rc} without a message: {' '.join(cmd)}")
print(f"{cases} cases, {bad} bad (crash, signal, sanitizer report, timeout, exit status > 2 or a failure without a message)")
print("exit statuses:", dict(sorted(statuses.items(), key=str)))
for (app, rc, msg), n in sorted(messages.items()):
    print(f"   {app} {rc} x{n}: {msg}")
