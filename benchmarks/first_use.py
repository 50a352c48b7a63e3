"""Time a new user's first minute: a fresh venv, ``pip install`` of this repository, then the first commands.

Usage (from anywhere; needs only the Python that makes the venv)::

    python benchmarks/first_use.py [--repeat 5] [--python python3] [--keep DIR] [--out benchmarks/first_use.json]

``benchmarks/run.py --first-use`` runs it after the cases. Every step runs in a
fresh process, in order, in an empty working folder:

- ``install``: ``pip install <repository>`` into a new venv in a temporary folder;
- ``first lmer``: the README's ``mixedfx fit "Yield ~ 1 + (1 | Batch)" --data Dyestuff``;
- ``first glmer``: ``mixedfx fit "cbind(incidence, size - incidence) ~ period + (1 | herd)" --data cbpp
  --family binomial``;
- ``first --json``: the README's ``--json`` example on the bundled sleepstudy,
  ``mixedfx fit "Reaction ~ Days + (Days | Subject)" --data sleepstudy --ml --json``;
- ``warm command``: the README's command again (the median of ``--repeat``);
- ``serve``: ``mixedfx serve``, which starts the warm command server and returns once it answers;
- ``served command``: the README's command again, now answered by the server (the median of ``--repeat``;
  its CPU is the calling process's: the fit's is the server's), then ``mixedfx serve --stop``;
- ``import``: ``python -c "import mixedfx"`` (the median of ``--repeat``).

Each row gives wall seconds and the process's CPU seconds (user + system; less
sensitive to other processes on a shared machine) and the 1-minute load average
before the step. The children run without ``PYTHONDONTWRITEBYTECODE`` and
``NUMBA_*`` variables, as on a new user's machine (pip byte-compiles the
installed modules either way). Times are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LMER = ["fit", "Yield ~ 1 + (1 | Batch)", "--data", "Dyestuff"]
GLMER = ["fit", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "--data", "cbpp", "--family", "binomial"]
JSON = ["fit", "Reaction ~ Days + (Days | Subject)", "--data", "sleepstudy", "--ml", "--json"]
# the targets in wall seconds (#20)
TARGETS = {"first lmer": 3.0, "first glmer": 3.0, "first --json": 3.0, "warm command": 0.8, "served command": 0.8,
           "import": 0.3}


def user_env(runtime: Path | None = None) -> dict[str, str]:
    """This process's environment less what a new user would not have set; the command server's socket in
    ``runtime`` (so that a server of the caller's is neither used nor stopped)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("NUMBA_")}
    if runtime is not None:
        env["XDG_RUNTIME_DIR"] = str(runtime)
    return env


def timed(command: list[str], cwd: Path, runtime: Path | None = None) -> dict[str, float]:
    """Run ``command`` to completion (output discarded); its wall and CPU seconds and the load before it."""
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=user_env(runtime), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall": wall, "cpu": cpu, "load": load}


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    """The run of median wall time (its CPU and load with it)."""
    return sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]


def measure(repeat: int = 5, python: str = sys.executable, keep: Path | None = None) -> list[dict]:
    """Make a venv, install the repository, and time the first commands; one row per step."""
    with tempfile.TemporaryDirectory(prefix="mixedfx-first-use-") as tmp:
        venv = keep if keep is not None else Path(tmp) / "venv"
        work = Path(tmp) / "work"
        work.mkdir()
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        rows = [{"step": "install", **timed([str(venv / "bin" / "pip"), "install", "-q", str(ROOT)], work)}]
        mixedfx = str(venv / "bin" / "mixedfx")
        for step, args in (("first lmer", LMER), ("first glmer", GLMER), ("first --json", JSON)):
            rows.append({"step": step, **timed([mixedfx, *args], work)})
        rows.append({"step": "warm command", **median_of([timed([mixedfx, *LMER], work) for _ in range(repeat)])})
        runtime = Path(tmp) / "run"
        runtime.mkdir(mode=0o700)
        rows.append({"step": "serve", **timed([mixedfx, "serve", "--idle-minutes", "5"], work, runtime)})
        try:
            served = [timed([mixedfx, *LMER], work, runtime) for _ in range(repeat)]
        finally:
            timed([mixedfx, "serve", "--stop"], work, runtime)
        rows.append({"step": "served command", **median_of(served)})
        importing = [str(venv / "bin" / "python"), "-c", "import mixedfx"]
        rows.append({"step": "import", **median_of([timed(importing, work) for _ in range(repeat)])})
    for row in rows:
        row["target"] = TARGETS.get(row["step"])
    return rows


def print_table(rows: list[dict]) -> None:
    """The rows as a table: step, wall and CPU seconds, target, load average before the step."""
    print(f"{'first use':<16}{'wall s':>9}{'cpu s':>9}{'target s':>10}{'load':>7}")
    for row in rows:
        target = "-" if row["target"] is None else f"{row['target']:.1f}"
        print(f"{row['step']:<16}{row['wall']:>9.2f}{row['cpu']:>9.2f}{target:>10}{row['load']:>7.1f}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of the warm command and of the import")
    parser.add_argument("--python", default=sys.executable, help="the Python that makes the venv")
    parser.add_argument("--keep", type=Path, help="make the venv here and keep it (default: a temporary folder)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "first_use.json"))
    args = parser.parse_args(argv)
    rows = measure(args.repeat, args.python, args.keep)
    print_table(rows)
    Path(args.out).write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
