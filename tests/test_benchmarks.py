"""The benchmark scripts run on small sizes: they read the package's public results, which a change can break."""

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_scale_benchmark_runs_and_its_subset_equals_the_in_memory_fit():
    # the panel and its subset only: the crossed table's dense rest is 5,000 items wide whatever its rows
    run = subprocess.run([sys.executable, str(BENCHMARKS / "scale.py"), "--panel-rows", "20000",
                          "--partition-rows", "10000", "--subset-rows", "10000", "--skip", "crossed"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("passes 2 for the fit + 3 for the summary's residual quantiles") == 2
    found = re.search(r"criterion relative difference ([0-9.e+-]+), largest fixed-effect difference ([0-9.e+-]+)",
                      run.stdout)
    assert found is not None, run.stdout[-2000:]
    assert float(found.group(1)) < 1e-8 and float(found.group(2)) < 1e-6
