"""Compile the kernels of the fits a new user runs first into numba's cache beside the modules.

``pip install .`` runs this while it builds the wheel (``setup.py``'s ``build_py``),
so numba's cache files (``__pycache__/*.nbi``, ``*.nbc``) ship in the wheel and
the first ``mixedfx fit`` after installing loads compiled code instead of
compiling it for 10 to 60 seconds. numba keys a cache entry on its module's
source text (not its path or time), the numba version and the CPU, so entries
built on the installing machine are found after installation; where any of
these differ (a wheel built elsewhere), numba compiles on first use as before.

The fits are chosen by the kernels they compile: a scalar term (Dyestuff) covers
every one-term and nested lmer (sleepstudy's ``(Days | Subject)`` too), crossed
scalar terms (Penicillin) the sparse Schur kernels, a weighted lmer the weighted
cross-products' BLAS kernel, and cbpp's binomial fit the
Newton path of one scalar term and, by lme4's two stages, the compiled PIRLS of
scalar terms with its gradient (Poisson fits too). Other models compile what
they need on first use.

``python -m mixedfx.precompile`` builds the cache again, for example after
installing a wheel built on another machine.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time

__all__ = ["FIRST_FITS", "precompile"]

# (function, formula, bundled data set, keyword arguments)
FIRST_FITS: tuple[tuple[str, str, str, dict], ...] = (
    ("lmer", "Yield ~ 1 + (1 | Batch)", "Dyestuff", {}),
    ("lmer", "diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin", {}),
    # prior weights: the weighted columns' product with the rows by BLAS's dgemm (mixedfx.linalg.lapack)
    ("lmer", "incidence ~ period + (1 | herd)", "cbpp", {"weights": "size"}),
    ("glmer", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", {"family": "binomial"}),
    # lme4's two stages through PIRLS, which models with other terms take (one scalar term takes the Newton path)
    ("glmer", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
     {"family": "binomial", "control": {"scalar_newton": False}}),
)


def precompile(verbose: bool = False, here: bool = False) -> float:
    """Fit :data:`FIRST_FITS` and form their summaries, which compiles their kernels into numba's cache.

    The fits run in up to two processes (numba compiles on one core; its cache
    files are written whole and replaced, so two processes may write them): the
    longest first.

    Parameters
    ----------
    verbose : bool
        Print each fit's seconds to stderr.
    here : bool
        Fit in this process instead, which keeps their kernels loaded in it (the
        command server's warm-up: each call's fork then finds them loaded).

    Returns
    -------
    float
        The seconds taken.
    """
    start = time.perf_counter()
    order = sorted(range(len(FIRST_FITS)), key=lambda i: FIRST_FITS[i][0] != "glmer")  # glmer's compile longest
    workers = 1 if here else min(2, os.cpu_count() or 1)
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            timings = list(pool.imap_unordered(_fit_one, order))
    else:
        timings = [_fit_one(i) for i in order]
    if verbose:
        for i, seconds in sorted(timings):
            function, formula = FIRST_FITS[i][:2]
            print(f"mixedfx.precompile: {function}({formula!r}) {seconds:.1f} s", file=sys.stderr)
    return time.perf_counter() - start


def _fit_one(index: int) -> tuple[int, float]:
    """Fit :data:`FIRST_FITS`' ``index`` and form its summary's text; the index and the seconds taken."""
    from mixedfx import api, datasets

    began = time.perf_counter()
    function, formula, data, kwargs = FIRST_FITS[index]
    fit = getattr(api, function)(formula, datasets.load(data), **kwargs)
    str(fit.summary())  # as the command prints it: the summary reads the factor, which the fit forms lazily
    return index, time.perf_counter() - began


if __name__ == "__main__":
    precompile(verbose=True)
