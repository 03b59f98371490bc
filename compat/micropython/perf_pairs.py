#!/usr/bin/env python3
"""Side-by-side timing of MicroPython builds on tests/perf_bench, in interleaved pairs.

    perf_pairs.py [-n N] [-m M] [-r ROUNDS] [--tests t1,t2] [--instructions] TESTS_DIR NAME=BINARY NAME=BINARY

Each benchmark is built into one script exactly as tests/run-perfbench.py builds it (the test, then
benchrun.py, then bm_run(N, M)) and run ROUNDS times on each build, the builds taking turns (A B, then
B A, ...) so that a drift of the machine's speed hits both alike. The figure is the benchmark's own
timed section (ticks_us around run(), as run-perfbench.py reports). Per benchmark: the median time on
each build, then the ratio of the first build to the second pair by pair - median, min and max - and
at the end the geometric mean of the median ratios. Every run must print the same result as the
others and as CPython's run of the same script where the test has no .exp file; a crash or a wrong
result is an error (exit status 1), never a skipped figure.

--instructions: instead of times, the instructions each whole run executes, counted by valgrind's
callgrind (one run per build: the count does not depend on the machine's load), and their ratio.
"""
import math
import os
import statistics
import subprocess
import sys

SKIP = ("viper_",)  # native emitter tests: the builds do not enable @micropython.viper


def build_script(tests_dir, test, n, m):
    with open(os.path.join(tests_dir, "perf_bench", test), "rb") as f:
        body = f.read()
    with open(os.path.join(tests_dir, "perf_bench", "benchrun.py"), "rb") as f:
        harness = f.read()
    return b"import sys\nsys.path.remove('')\n\n" + body + harness + b"bm_run(%d, %d)\n" % (n, m)


def run(binary, script):
    p = subprocess.run([binary], input=script, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    out = p.stdout.decode("ascii", "replace").strip()
    parts = out.split(None, 2)
    if p.returncode != 0 or len(parts) < 3 or not parts[0].lstrip("-").isdigit() or int(parts[0]) < 0:
        raise RuntimeError("%s: exit %d, output %r" % (binary, p.returncode, out[-300:]))
    return int(parts[0]), parts[2]


def instructions(binary, script):
    p = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", binary], input=script,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=1200)
    for line in p.stderr.decode("ascii", "replace").splitlines():
        if "Collected :" in line:
            return int(line.split(":")[-1].strip())
    raise RuntimeError("%s under callgrind: exit %d, %r" % (binary, p.returncode, p.stderr[-300:]))


def main(argv):
    n, m, rounds, only, count = 1000, 1000, 5, None, False
    args = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--instructions":
            count = True
            i += 1
            continue
        if a in ("-n", "-m", "-r", "--tests"):
            v = argv[i + 1]
            i += 2
            if a == "-n":
                n = int(v)
            elif a == "-m":
                m = int(v)
            elif a == "-r":
                rounds = int(v)
            else:
                only = v.split(",")
            continue
        args.append(a)
        i += 1
    if len(args) != 3 or "=" not in args[1] or "=" not in args[2]:
        print(__doc__, file=sys.stderr)
        return 2
    tests_dir = args[0]
    (na, ba), (nb, bb) = (x.split("=", 1) for x in args[1:])
    tests = sorted(
        t for t in os.listdir(os.path.join(tests_dir, "perf_bench"))
        if t.endswith(".py") and t != "benchrun.py" and not t.startswith(SKIP)
    )
    if only:
        tests = [t for t in tests if t[:-3] in only or t in only]
    if count:
        print("perf_bench N=%d M=%d, instructions per whole run (callgrind): %s / %s" % (n, m, na, nb))
        print("%-26s %14s %14s %8s" % ("benchmark", na, nb, "ratio"))
        ratios = []
        for t in tests:
            script = build_script(tests_dir, t, n, m)
            ia, ib = instructions(ba, script), instructions(bb, script)
            ratios.append(ia / ib)
            print("%-26s %14d %14d %8.3f" % (t[:-3], ia, ib, ia / ib))
            sys.stdout.flush()
        gm = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
        print("geometric mean of the instruction ratios %s/%s over %d benchmarks: %.3f (max %.3f)" % (
            na, nb, len(ratios), gm, max(ratios)))
        return 0
    print("perf_bench N=%d M=%d, %d interleaved rounds: %s / %s" % (n, m, rounds, na, nb))
    print("%-26s %12s %12s %8s %8s %8s" % ("benchmark", na + " us", nb + " us", "ratio", "min", "max"))
    ratios = []
    for t in tests:
        script = build_script(tests_dir, t, n, m)
        ta, tb, pair, results = [], [], [], set()
        for r in range(rounds):
            order = ((ba, ta), (bb, tb)) if r % 2 == 0 else ((bb, tb), (ba, ta))
            for binary, times in order:
                us, result = run(binary, script)
                times.append(us)
                results.add(result)
            pair.append(ta[-1] / tb[-1])
        if len(results) != 1:
            raise RuntimeError("%s: the builds disagree: %r" % (t, results))
        result = results.pop()
        exp = os.path.join(tests_dir, "perf_bench", t + ".exp")
        if result != "None":
            if os.path.isfile(exp):
                truth = open(exp).read().strip()
            else:
                p = subprocess.run(["python3", "-"], input=script, stdout=subprocess.PIPE, timeout=600)
                truth = p.stdout.decode().strip().split(None, 2)[2]
            if result != truth:
                raise RuntimeError("%s: result %r, expected %r" % (t, result, truth))
        med = statistics.median(pair)
        ratios.append(med)
        print("%-26s %12.0f %12.0f %8.3f %8.3f %8.3f" % (
            t[:-3], statistics.median(ta), statistics.median(tb), med, min(pair), max(pair)))
        sys.stdout.flush()
    gm = math.exp(sum(math.log(x) for x in ratios) / len(ratios))
    print("geometric mean of the median ratios %s/%s over %d benchmarks: %.3f (max %.3f)" % (
        na, nb, len(ratios), gm, max(ratios)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except RuntimeError as e:
        print("perf_pairs.py:", e, file=sys.stderr)
        sys.exit(1)
