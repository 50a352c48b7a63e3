"""lme4's ``rePCA``: principal components of each grouping factor's relative covariance factor.

For each grouping factor (terms on one factor joined block-diagonally, as for
``(Days || Subject)``), the singular value decomposition of its relative
covariance factor Lambda (the template, before scaling by sigma): the singular
values are the components' standard deviations in units of sigma, the left
singular vectors their rotation. Components with a standard deviation near zero
show a random-effects structure the data do not support.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.linalg as sla

from mixedfx.inference.fitted import fitted_model
from mixedfx.linalg.layout import templates
from mixedfx.rbase.rmath import r_round

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

__all__ = ["RePCA", "re_pca"]

# R's summary.prcomp rounds the proportions of variance to this many decimals.
_PROPORTION_DIGITS = 5


@dataclass(frozen=True)
class RePCA:
    """The principal components of one grouping factor's relative covariance factor (one ``prcomp`` of ``rePCA``).

    Attributes
    ----------
    group : str
        The grouping factor.
    sdev : ndarray, shape (k,)
        The components' standard deviations relative to sigma, decreasing (the
        singular values of Lambda).
    rotation : DataFrame, shape (k, k)
        The left singular vectors: a row per random-effects column (the terms'
        columns in lme4's order), a column per component (``PC1``, ...). Signs
        are LAPACK's, as R's.
    """

    group: str
    sdev: np.ndarray
    rotation: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """R's ``summary(prcomp)`` importance table.

        Returns
        -------
        DataFrame
            Rows "Standard deviation", "Proportion of Variance" and "Cumulative
            Proportion" (the proportions rounded to 5 decimals, as R), a column
            per component.
        """
        share = self.sdev**2 / np.sum(self.sdev**2)
        rounded = [[r_round(float(v), _PROPORTION_DIGITS) for v in values] for values in (share, np.cumsum(share))]
        return pd.DataFrame([self.sdev, *rounded], columns=self.rotation.columns,
                            index=["Standard deviation", "Proportion of Variance", "Cumulative Proportion"])


def re_pca(fit: MixedFit) -> dict[str, RePCA]:
    """Principal components of the random effects' relative covariance, per grouping factor (lme4's ``rePCA``).

    Parameters
    ----------
    fit : LmerFit or GlmerFit

    Returns
    -------
    dict of str to RePCA
        By grouping factor, in lme4's order of the terms.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> pca = re_pca(fit)["Subject"]
    >>> pca.sdev.round(4).tolist()
    [0.9669, 0.2309]
    >>> pca.summary().loc["Proportion of Variance"].tolist()
    [0.94605, 0.05395]
    """
    fitted_model(fit, "re_pca")
    tmpls = templates(fit.theta, fit.ks)
    out: dict[str, RePCA] = {}
    for group in dict.fromkeys(t.group for t in fit.re_terms):
        members = [i for i, t in enumerate(fit.re_terms) if t.group == group]
        factor = sla.block_diag(*(tmpls[i] for i in members))
        u, s, _ = np.linalg.svd(factor)
        names = [name for i in members for name in fit.re_terms[i].z_names]
        rotation = pd.DataFrame(u, index=names, columns=[f"PC{j + 1}" for j in range(len(s))])
        out[group] = RePCA(group=group, sdev=s, rotation=rotation)
    return out
