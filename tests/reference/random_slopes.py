"""Write tests/reference/random_slopes.csv: random designs of correlated slopes, for tests/lmm/test_optimum.py.

Run from the repository root: ``python tests/reference/random_slopes.py``; then
``Rscript tests/reference/random_slopes_r.R`` fits each design with lme4. The CSV is
committed, so the tests read the same rows on every machine (numpy's multivariate
normal depends on the LAPACK it runs on).

Each design: 30 groups g of 10 rows with k = 3, 4 or 5 correlated random effects
(an intercept and slopes on x1..x{k-1}; one standard deviation near 0, correlations
near +-0.97); odd seeds add a crossed factor h of 12 levels with ``(1 + x1 | h)``.
"""

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).with_name("random_slopes.csv")
SEEDS, KS = range(6), (3, 4, 5)


def design(seed: int, k: int) -> pd.DataFrame:
    """One design's rows: y, g, h (odd seeds), x1..x4 (unused ones 0)."""
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(30), 10)
    X = np.column_stack([np.ones(g.size)] + [rng.normal(size=g.size) for _ in range(k - 1)])
    sds = rng.uniform(0.3, 1.5, k)
    sds[rng.integers(1, k)] = 1e-3
    rho = rng.choice([-0.97, 0.97])
    corr = np.full((k, k), rho * 0.5)
    corr[0, 1:] = corr[1:, 0] = rho
    np.fill_diagonal(corr, 1.0)
    w, v = np.linalg.eigh(corr)
    corr = v @ np.diag(np.maximum(w, 1e-6)) @ v.T
    b = rng.multivariate_normal(np.zeros(k), corr * np.outer(sds, sds), size=30)
    y = X @ rng.normal(size=k) + np.sum(X * b[g], axis=1) + rng.normal(scale=0.5, size=g.size)
    h = rng.integers(0, 12, g.size) if seed % 2 else np.zeros(g.size, dtype=int)
    if seed % 2:
        y = y + rng.normal(size=12)[h]
    frame = pd.DataFrame({"design": f"s{seed}k{k}", "y": y.round(6), "g": g, "h": h})
    for j in range(1, 5):
        frame[f"x{j}"] = X[:, j].round(6) if j < k else 0.0
    return frame


def formula(name: str) -> str:
    """The model of a design named ``s{seed}k{k}``."""
    seed, k = int(name[1:name.index("k")]), int(name[name.index("k") + 1:])
    slopes = " + ".join(f"x{j}" for j in range(1, k))
    return f"y ~ {slopes} + ({slopes} | g)" + (" + (1 + x1 | h)" if seed % 2 else "")


if __name__ == "__main__":
    pd.concat([design(seed, k) for seed in SEEDS for k in KS]).to_csv(OUT, index=False)
