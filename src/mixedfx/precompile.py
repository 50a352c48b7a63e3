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


def precompile(verbose: bool = False) -> float:
    """Fit :data:`FIRST_FITS` and form their summaries, which compiles their kernels into numba's cache.

    Parameters
    ----------
    verbose : bool
        Print each fit's seconds to stderr.

    Returns
    -------
    float
        The seconds taken.
    """
    from mixedfx import api, datasets

    start = time.perf_counter()
    for function, formula, data, kwargs in FIRST_FITS:
        began = time.perf_counter()
        fit = getattr(api, function)(formula, datasets.load(data), **kwargs)
        str(fit.summary())  # as the command prints it: the summary reads the factor, which the fit forms lazily
        if verbose:
            print(f"mixedfx.precompile: {function}({formula!r}) {time.perf_counter() - began:.1f} s", file=sys.stderr)
    return time.perf_counter() - start


if __name__ == "__main__":
    precompile(verbose=True)
