"""Time mixedfx side by side with lme4 (in R) and the ``glmm`` package, and report ratios.

Usage (from the repository root, mixedfx installed)::

    python benchmarks/run.py [--cases NAME ...] [--repeat 5] [--out benchmarks/results.json]
                             [--r-max-seconds 60] [--no-r] [--no-glmm] [--first-use]

Each case runs in a fresh subprocess so its peak memory (data included) is its own.
mixedfx is timed in-process: model building plus fit from an already loaded
DataFrame, the median of ``--repeat`` runs after five warm-up runs (fits under
0.1 s are repeated for at least a second). lme4 is timed inside
R with ``system.time`` when ``Rscript`` and lme4 are installed; cases whose lme4
time (from the issue's table) exceeds ``--r-max-seconds`` use that recorded time
instead, marked "(recorded)". Times are never asserted anywhere: machines are
shared and noisy, so read the ratios from one run. Each row also gives the criterion
mixedfx reached (lme4's: REML criterion or deviance for lmer, -2 log-likelihood for
glmer) and its difference from lme4's in the same run (NaN where lme4's time is
recorded). Cases marked ``refit`` also time ``fit.refit`` with a new (simulated)
response, the median of 1,000 refits, and a 1,000-replicate parametric bootstrap
(``mixedfx.bootstrap`` of the fixed effects), printed below the table. ``--first-use``
then times a new user's first commands in a fresh venv (``benchmarks/first_use.py``);
``--cases --first-use`` times only those.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from cases import CASES, Case  # noqa: E402
import first_use  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MAKE_DATA = ROOT.parent / "shared" / "bench" / "make_data.py"
CACHE = ROOT / "benchmarks" / ".data"
WARM_UP = 5
MAX_REPEAT = 500
REFITS = 1000


def load_data(case: Case):
    """The case's DataFrame: a bundled data set, or a generated CSV (built once into the cache)."""
    import pandas as pd

    import mixedfx as mfx

    if not case.generated:
        return mfx.datasets.load(case.data)
    path = generated_csv(case.data)
    frame = pd.read_csv(path)
    for col in case.factors:
        frame[col] = frame[col].astype("category")
    if case.binary is not None:
        name, column, threshold = case.binary
        frame[name] = (frame[column] > threshold).astype(int)
    frame.attrs["name"] = case.data
    return frame


def generated_csv(name: str) -> Path:
    """Path of a generated data set, building it with the shared make_data.py when missing."""
    path = CACHE / f"{name}.csv"
    if not path.exists():
        if not MAKE_DATA.exists():
            raise SystemExit(f"{name} needs {MAKE_DATA} (the shared benchmark data generator)")
        subprocess.run([sys.executable, str(MAKE_DATA), str(CACHE), name], check=True, stdout=sys.stderr)
    return path


def fit_once(case: Case, data) -> tuple[float, float]:
    """One mixedfx fit (model building included); returns seconds and the criterion it reached.

    The criterion is lme4's: the REML criterion or deviance of lmer, -2 log-likelihood of glmer.
    """
    import mixedfx as mfx

    start = time.perf_counter()
    if case.family is None:
        fit = mfx.lmer(case.formula, data=data, REML=case.reml)
    else:
        fit = mfx.glmer(case.formula, data=data, family=case.family)
    seconds = time.perf_counter() - start
    return seconds, float(fit.opt_summary.fval if case.family is None else -2.0 * fit.loglik)


def time_glmm(case: Case, data, repeat: int) -> float | None:
    """Median time of the ``glmm`` package's fit, or None when it is not installed or fails."""
    try:
        import glmm
    except ImportError:
        return None
    family = case.family or "gaussian"
    try:
        glmm.fit(data, case.formula, family)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            glmm.fit(data, case.formula, family)
            times.append(time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - a peer's failure is reported, not fatal
        print(f"  glmm failed on {case.name}: {type(exc).__name__}: {str(exc)[:120]}", file=sys.stderr)
        return None
    return statistics.median(times)


def fixed_effects(fit):
    """The bootstrap's statistic: the fixed-effect estimates."""
    return fit.fixef


def time_refit(case: Case, data) -> dict[str, float]:
    """Median seconds of ``fit.refit`` over REFITS simulated responses, and a REFITS-replicate bootstrap's seconds."""
    import mixedfx as mfx

    fit = mfx.lmer(case.formula, data=data, REML=case.reml)
    responses = fit.simulate(REFITS, seed=1).to_numpy()
    for j in range(WARM_UP * 4):
        fit.refit(responses[:, j])
    times = []
    for j in range(REFITS):
        start = time.perf_counter()
        fit.refit(responses[:, j])
        times.append(time.perf_counter() - start)
    mfx.bootstrap(fit, fixed_effects, 10, seed=2, progress=False)
    start = time.perf_counter()
    mfx.bootstrap(fit, fixed_effects, REFITS, seed=1, progress=False)
    return {"refit": statistics.median(times), "bootstrap": time.perf_counter() - start}


def child(name: str, repeat: int, with_glmm: bool) -> None:
    """Run one case in this (fresh) process and print its measurements as JSON."""
    case = next(c for c in CASES if c.name == name)
    data = load_data(case)
    _, criterion = fit_once(case, data)  # warm-up: loads the compiled kernels
    warm = [fit_once(case, data)[0] for _ in range(WARM_UP - 1)] if case.lme4_seconds < 10 else []
    # millisecond fits settle only after a few runs (caches, allocator): time them at least a second
    if warm and statistics.median(warm) < 0.1:
        repeat = max(repeat, min(MAX_REPEAT, math.ceil(1.0 / statistics.median(warm))))
    times = [fit_once(case, data)[0] for _ in range(repeat)]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    glmm_seconds = time_glmm(case, data, repeat) if with_glmm else None
    refit = time_refit(case, data) if case.refit and case.family is None else {}
    print(json.dumps({"mixedfx": statistics.median(times), "criterion": criterion, "peak_mb": peak_mb,
                      "glmm": glmm_seconds, **refit}))


R_SCRIPT = """
suppressMessages(library(lme4))
d <- read.csv("{csv}")
for (f in c({factors})) d[[f]] <- factor(d[[f]])
{binary}
fit <- function() {call}
m <- fit()
times <- replicate({repeat}, system.time(fit())[["elapsed"]])
criterion <- if (isLMM(m)) {{ if (isREML(m)) REMLcrit(m) else deviance(m) }} else -2 * as.numeric(logLik(m))
cat(sprintf("%.6f", criterion), median(times), "\\n")
"""


def r_repeats(recorded_seconds: float) -> int:
    """How many lme4 fits to time: more for the fast ones, whose single times are coarse (1 ms clock)."""
    if recorded_seconds < 0.1:
        return 20
    return 3 if recorded_seconds < 1 else 1


def r_available() -> bool:
    """Whether Rscript with lme4 is installed."""
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", "library(lme4)"], capture_output=True)
    return probe.returncode == 0


def time_lme4(case: Case, repeat: int) -> tuple[float, float]:
    """Median lme4 time measured inside R with system.time (data read outside the timing), and its criterion."""
    import mixedfx as mfx

    with tempfile.TemporaryDirectory() as tmp:
        if case.generated:
            csv = generated_csv(case.data)
            factors = case.factors
        else:
            csv = Path(tmp) / f"{case.data}.csv"
            frame = mfx.datasets.load(case.data)
            frame.to_csv(csv, index=False)
            factors = tuple(c for c in frame.columns if str(frame[c].dtype) == "category")
        family = "" if case.family is None else f", family = {case.family}"
        fn = "lmer" if case.family is None else "glmer"
        reml = "" if case.reml else ", REML = FALSE"
        call = f"{fn}({case.formula}, data = d{family}{reml})"
        binary = "" if case.binary is None else "d${0} <- as.integer(d${1} > {2})".format(*case.binary)
        script = R_SCRIPT.format(csv=csv, factors=", ".join(f'"{f}"' for f in factors), call=call, repeat=repeat,
                                 binary=binary)
        out = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=True)
    criterion, seconds = out.stdout.split()[-2:]
    return float(seconds), float(criterion)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="*", default=[c.name for c in CASES])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"))
    parser.add_argument("--r-max-seconds", type=float, default=60.0)
    parser.add_argument("--no-r", action="store_true")
    parser.add_argument("--no-glmm", action="store_true")
    parser.add_argument("--first-use", action="store_true",
                        help="then time a new user's first commands in a fresh venv (benchmarks/first_use.py)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.repeat, not args.no_glmm)
        return 0
    if args.cases:
        run_cases(args)
    if args.first_use:
        first_rows = first_use.measure(args.repeat)
        first_use.print_table(first_rows)
        (ROOT / "benchmarks" / "first_use.json").write_text(json.dumps(first_rows, indent=2))
    return 0


def run_cases(args: argparse.Namespace) -> None:
    """Time the chosen cases against lme4 (and glmm), print the table and write it to ``args.out``."""
    with_r = not args.no_r and r_available()
    rows = []
    header = (f"{'case':<24}{'mixedfx s':>11}{'lme4 s':>13}{'ratio':>9}{'target':>8}{'glmm s':>9}{'peak MB':>9}"
              f"{'criterion':>16}{'- lme4':>10}")
    print(header)
    for case in (c for c in CASES if c.name in args.cases):
        repeat = args.repeat if case.lme4_seconds < 10 else 1
        cmd = [sys.executable, __file__, "--child", case.name, "--repeat", str(repeat)]
        if args.no_glmm:
            cmd.append("--no-glmm")
        result = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
        measured = with_r and case.lme4_seconds <= args.r_max_seconds
        lme4, lme4_criterion = (time_lme4(case, r_repeats(case.lme4_seconds)) if measured
                                else (case.lme4_seconds, float("nan")))
        row = {"case": case.name, **result, "lme4": lme4, "lme4_measured": measured, "lme4_criterion": lme4_criterion,
               "ratio": lme4 / result["mixedfx"], "target": case.target}
        rows.append(row)
        glmm_text = "-" if row["glmm"] is None else f"{row['glmm']:.4f}"
        lme4_text = f"{lme4:.3f}" + ("" if measured else "*")
        print(f"{case.name:<24}{row['mixedfx']:>11.4f}{lme4_text:>13}{row['ratio']:>9.1f}{case.target:>8.0f}"
              f"{glmm_text:>9}{row['peak_mb']:>9.0f}{row['criterion']:>16.4f}"
              f"{row['criterion'] - lme4_criterion:>10.4f}", flush=True)
    print("* lme4 time recorded in the issue for this machine kind, not measured in this run")
    for row in rows:
        if "refit" in row:
            print(f"{row['case']} refit with a new response: {1e3 * row['refit']:.3f} ms (median of {REFITS}); "
                  f"bootstrap of {REFITS} replicates: {row['bootstrap']:.2f} s")
    Path(args.out).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    sys.exit(main())
