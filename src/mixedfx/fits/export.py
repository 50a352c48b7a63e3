"""A fit as plain data: a JSON-ready dict for reports and services (the command line's ``--json``)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mixedfx.fits.base import MixedModelFit

__all__ = ["fit_to_dict"]


def _number(value: Any) -> float | None:
    """A float, or None for NaN and infinities (JSON has neither)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _name(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


def fit_to_dict(fit: MixedModelFit) -> dict[str, Any]:
    """The fit's numbers as a dict of str, float, int, list and dict only (``json.dumps`` takes it as it is).

    Keys: formula, method, (family, link, nagq for glmer), nobs, ngrps, fixef,
    se, theta, sigma, loglik, aic, bic, deviance, reml_criterion (None for ML
    and glmer fits), df_resid, varcorr (the rows of ``as.data.frame(VarCorr)``),
    singular, optimizer, messages. NaN and infinite values are None.

    Examples
    --------
    >>> import json, mixedfx as mfx
    >>> fit = mfx.lmer("Yield ~ 1 + (1 | Batch)", mfx.datasets.load("Dyestuff"))
    >>> record = fit_to_dict(fit)
    >>> record["ngrps"], round(record["fixef"]["(Intercept)"], 1), len(json.dumps(record)) > 0
    ({'Batch': 6}, 1527.5, True)
    """
    se = np.sqrt(np.diag(fit.vcov.to_numpy(dtype=float)))
    varcorr = [{"grp": row.grp, "var1": _name(row.var1), "var2": _name(row.var2), "vcov": _number(row.vcov),
                "sdcor": _number(row.sdcor)} for row in fit.varcorr().itertuples(index=False)]
    family = getattr(fit, "family", None)
    generalized = {} if family is None else {"family": family.name, "link": fit.link, "nagq": fit.nagq}
    return {
        "formula": fit.formula_text,
        "method": fit.method,
        **generalized,
        "nobs": int(fit.nobs),
        "ngrps": {name: int(n) for name, n in fit.ngrps.items()},
        "fixef": {name: _number(v) for name, v in fit.fixef.items()},
        "se": {name: _number(v) for name, v in zip(fit.fixef.index, se)},
        "theta": [_number(v) for v in fit.theta],
        "sigma": _number(fit.sigma),
        "loglik": _number(fit.loglik),
        "aic": _number(fit.aic),
        "bic": _number(fit.bic),
        "deviance": _number(fit.deviance),
        "reml_criterion": _number(fit.reml_criterion),
        "df_resid": int(fit.df_resid),
        "varcorr": varcorr,
        "singular": bool(fit.is_singular),
        "optimizer": fit.optimizer,
        "messages": list(fit.messages),
    }
