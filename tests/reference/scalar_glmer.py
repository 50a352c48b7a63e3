"""Write tests/reference/scalar_glmer.csv: random one-term glmer models, for tests/glmm/test_scalar_lme4.py.

Run from the repository root: ``python tests/reference/scalar_glmer.py``; then
``Rscript tests/reference/scalar_glmer_r.R`` fits each model with lme4. The CSV is
committed, so the tests read the same rows on every machine.

The models are :func:`tests.glmm.test_scalar_laplace._data`'s (a covariate x, a
three-level factor f, a group g; binomial successes s of s + fl trials, or Poisson
counts y with an exposure t), chosen among 80 random ones as those where the
compiled Newton path and the two stages through PIRLS differed most: few or many
levels, standard deviations from 0.05 to 2.5, with and without an offset.
"""

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.glmm.test_scalar_laplace import _data  # noqa: E402

OUT = Path(__file__).with_name("scalar_glmer.csv")
# (seed, family, levels, rows per level, sd of the random effects, offset)
MODELS = [
    (13, "poisson", 30, 20, 0.5, True),
    (104, "binomial", 200, 2, 0.3, False),
    (127, "poisson", 8, 20, 2.5, False),
    (128, "binomial", 3, 5, 2.5, False),
    (137, "poisson", 3, 5, 2.5, True),
    (159, "poisson", 20, 2, 0.05, False),
    (166, "binomial", 200, 2, 0.3, False),
]


def main() -> None:
    frames = []
    for seed, family, n_levels, per_level, sd, offset in MODELS:
        formula, data = _data(seed, family, n_levels, per_level, sd, offset)
        frames.append(data.assign(model=seed, family=family, formula=formula))
    pd.concat(frames, ignore_index=True).to_csv(OUT, index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
