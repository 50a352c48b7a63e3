"""The random effects of a fit: conditional modes and variances, per-level coefficients, variance components."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mixedfx.fits.summary import VarCorrTable
from mixedfx.linalg.layout import templates, term_effects
from mixedfx.report.rtext import make_unique
from mixedfx.report.text import VARCORR_DIGITS, check_components

__all__ = ["RandomEffects"]


class RandomEffects:
    """lme4's ``ranef``, ``coef`` and ``VarCorr`` for :class:`mixedfx.fits.base.MixedModelFit`.

    The fit provides theta (``_theta``), the spherical random effects (``_u``),
    its factor (``_factor``), ``ks``, ``re_terms``, ``ngrps``, ``fixef``, ``sigma``
    and ``uses_scale``.
    """

    # --- random effects ----------------------------------------------------
    def _templates(self) -> list[np.ndarray]:
        return templates(self._theta, self.ks)

    def _term_effects(self) -> list[np.ndarray]:
        """Conditional modes b per term, as (levels, k) arrays, lme4's term order."""
        return term_effects(self._u, self._templates(), [t.n_levels for t in self.re_terms])

    def _term_condvar(self) -> list[np.ndarray]:
        """Conditional covariance blocks of b per term, (levels, k, k), lme4's term order."""
        s2 = self.sigma**2
        return [s2 * (tmpl @ blocks @ tmpl.T)
                for tmpl, blocks in zip(self._templates(), self._factor.conditional_covariance_blocks())]

    def ranef(self, condvar: bool = False) -> dict[str, pd.DataFrame]:
        """Conditional modes of the random effects, one DataFrame per grouping factor.

        Parameters
        ----------
        condvar : bool
            Attach the conditional covariance matrices as ``df.attrs["condvar"]``,
            an array (levels, k, k); terms of one factor are independent blocks.

        Returns
        -------
        dict of str to DataFrame
            Levels by term columns, in lme4's order of grouping factors.
        """
        effects = self._term_effects()
        cond = self._term_condvar() if condvar else None
        out: dict[str, pd.DataFrame] = {}
        for group in self.ngrps:
            idx = [i for i, t in enumerate(self.re_terms) if t.group == group]
            levels = list(self.re_terms[idx[0]].levels)
            names = [n for i in idx for n in self.re_terms[i].z_names]
            frame = pd.DataFrame(np.hstack([effects[i] for i in idx]), index=pd.Index(levels, name=group),
                                 columns=names)
            if cond is not None:
                frame.attrs["condvar"] = _block_diag_stack([cond[i] for i in idx])
            out[group] = frame
        return out

    def ranef_table(self) -> pd.DataFrame:
        """lme4's ``as.data.frame(ranef(fit, condVar = TRUE))``.

        Returns
        -------
        DataFrame
            Columns grpvar, term, grp, condval, condsd; one row per level and term.
        """
        rows = []
        for group, frame in self.ranef(condvar=True).items():
            sd = np.sqrt(np.diagonal(frame.attrs["condvar"], axis1=1, axis2=2))
            for j, term in enumerate(frame.columns):
                rows.append(pd.DataFrame({"grpvar": group, "term": term, "grp": frame.index.astype(str),
                                          "condval": frame.iloc[:, j].to_numpy(), "condsd": sd[:, j]}))
        return pd.concat(rows, ignore_index=True)

    def coef(self) -> dict[str, pd.DataFrame]:
        """Per-level coefficients: fixed effects plus the level's random effects, as lme4's ``coef``.

        As in lme4, a random-effect column the fixed part lacks (a random-only
        intercept or slope) is a fixed effect of 0, placed before the fixed effects
        in every group's table.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ 0 + Days + (1 | Subject)", mfx.datasets.load("sleepstudy"))
        >>> list(fit.coef()["Subject"].columns)
        ['(Intercept)', 'Days']
        """
        fixef = self.fixef
        ranef = self.ranef()
        missing = list(dict.fromkeys(name for frame in ranef.values() for name in frame.columns
                                     if name not in fixef.index))
        base = pd.concat([pd.Series(0.0, index=missing), fixef]) if missing else fixef
        out = {}
        for group, frame in ranef.items():
            table = pd.DataFrame(np.tile(base.to_numpy(), (len(frame), 1)), index=frame.index, columns=base.index)
            table[list(frame.columns)] += frame.to_numpy()
            out[group] = table
        return out

    def varcorr(self, comp: tuple[str, ...] | str = ("Std.Dev.",), digits: int = VARCORR_DIGITS) -> VarCorrTable:
        """lme4's ``VarCorr(fit)``: its ``as.data.frame``, printing as ``print(VarCorr(fit), comp, digits)``.

        Parameters
        ----------
        comp : tuple of str or str
            The printed columns: ``"Variance"``, ``"Std.Dev."`` or both.
        digits : int
            Significant digits of the print (lme4's default 5).

        Returns
        -------
        VarCorrTable
            Columns grp, var1, var2, vcov, sdcor: each term's variances, then its
            covariances (sdcor a correlation), the residual last.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> print(fit.varcorr(comp=("Variance", "Std.Dev."), digits=3))
         Groups   Name        Variance Std.Dev. Corr
         Subject  (Intercept) 612.1    24.74        
                  Days         35.1     5.92    0.07
         Residual             654.9    25.59        
        <BLANKLINE>
        """
        s2 = self.sigma**2
        groups = make_unique([t.group for t in self.re_terms])
        rows = []
        for group, term, tmpl in zip(groups, self.re_terms, self._templates()):
            cov = s2 * (tmpl @ tmpl.T)
            sd = np.sqrt(np.diag(cov))
            names = list(term.z_names)
            for i, name in enumerate(names):
                rows.append((group, name, None, cov[i, i], sd[i]))
            for j in range(len(names)):
                for i in range(j + 1, len(names)):
                    corr = cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else np.nan
                    rows.append((group, names[j], names[i], cov[i, j], corr))
        if self.uses_scale:
            rows.append(("Residual", None, None, s2, np.sqrt(s2)))
        table = VarCorrTable(pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"]))
        table.attrs.update(comp=check_components(comp), digits=digits)
        return table


def _block_diag_stack(stacks: list[np.ndarray]) -> np.ndarray:
    """Join per-level (levels, k_i, k_i) stacks into one block-diagonal (levels, K, K) stack."""
    n_levels = stacks[0].shape[0]
    total = sum(s.shape[1] for s in stacks)
    out = np.zeros((n_levels, total, total))
    start = 0
    for s in stacks:
        k = s.shape[1]
        out[:, start: start + k, start: start + k] = s
        start += k
    return out
