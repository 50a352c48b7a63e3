"""Write tests/reference/stage2_forms.csv: two random one-term glmer models where lme4's stage-2 deviance changes
form near its optimum, for tests/glmm/test_model.py.

Run from the repository root: ``python tests/reference/stage2_forms.py``; then
``Rscript tests/reference/scalar_glmer_r.R stage2_forms`` fits each model with lme4. The CSV is
committed, so the tests read the same rows on every machine.

The models are two of 60 random ones (a binomial, Poisson or Bernoulli response on
one to four normal covariates, 3 to 120 levels, standard deviations 0 to 4) checked
against lme4: the only ones where the two stages, after the one compiled call failed,
ended with a lower log-likelihood than lme4's (by 3.3e-4 and 3.9e-3), on a local
optimum of one of the forms the deviance takes as PIRLS's iterations change in number.
"""

from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).with_name("stage2_forms.csv")
KEEP = (28, 35)


def random_models(count: int = 60, seed: int = 20261204):
    """The random models in order, as (number, family, formula, rows); every model's draws are made, kept or not."""
    rng = np.random.default_rng(seed)
    for i in range(count):
        kind = ["binomial", "poisson", "bernoulli"][i % 3]
        levels = int(rng.choice([3, 5, 8, 15, 40, 120]))
        per_level = int(rng.choice([2, 4, 10, 30]))
        sd = float(rng.choice([0.0, 0.05, 0.3, 1.0, 2.5, 4.0]))
        p = int(rng.choice([1, 2, 4]))
        n = levels * per_level
        group = np.repeat(np.arange(levels), per_level)
        x = rng.normal(size=(n, p))
        slopes = rng.normal(scale=0.7, size=p)
        intercept = float(rng.normal(scale=1.0)) - (1.5 if kind == "poisson" and sd > 2 else 0)
        eta = intercept + x @ slopes + rng.normal(scale=sd, size=levels)[group]
        rows = pd.DataFrame(x, columns=[f"x{k}" for k in range(p)])
        rows["g"] = [f"G{k:03d}" for k in group]
        if kind == "binomial":
            size = rng.integers(1, 20, size=n)
            rows["k"], rows["size"] = rng.binomial(size, 1 / (1 + np.exp(-eta))), size
            response = "cbind(k, size - k)"
        elif kind == "bernoulli":
            rows["y"], response = rng.binomial(1, 1 / (1 + np.exp(-eta))), "y"
        else:
            rows["y"], response = rng.poisson(np.exp(np.clip(eta, -20, 6))), "y"
        formula = f"{response} ~ {' + '.join(rows.columns[:p])} + (1 | g)"
        yield i, "poisson" if kind == "poisson" else "binomial", formula, rows


if __name__ == "__main__":
    kept = [rows.assign(model=i, family=family, formula=formula)
            for i, family, formula, rows in random_models() if i in KEEP]
    pd.concat(kept, ignore_index=True).to_csv(OUT, index=False)
