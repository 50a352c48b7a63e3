"""lmer, glmer and glmer_nb: check the arguments, then run the stages of :mod:`mixedfx.modular`.

An lmer call imports only the linear model's stages: the generalized models'
machinery (:mod:`mixedfx.glmm`) loads with the first glmer call, and the Dask
passes (:mod:`mixedfx.partitioned`) with the first Dask DataFrame, so a command
line fit does not pay for imports it does not use.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from mixedfx.dataframes.convert import DataFrameLike, as_pandas
from mixedfx.dataframes.dask_frames import is_dask_frame
from mixedfx.errors import MixedFxError
from mixedfx.fits.call import FitCall
from mixedfx.fits.lmer import LmerFit
from mixedfx.formula.contrasts import ContrastSpec
from mixedfx.lmm.control import LmerControl
from mixedfx.modular import (as_control, checked_n_agq, glmer_design, glmer_fit, glmer_model, lmer_design, lmer_fit,
                             lmer_model, optimize_glmer, optimize_lmer, start_values)

if TYPE_CHECKING:
    from mixedfx.fits.glmer import GlmerFit
    from mixedfx.glmm.control import GlmerControl
    from mixedfx.glmm.families import Family

__all__ = ["lmer", "glmer", "glmer_nb"]


def lmer(formula: str, data: DataFrameLike, *, REML: bool = True, weights: str | np.ndarray | None = None,  # noqa: N803
         offset: np.ndarray | None = None, na_action: str = "omit",
         control: LmerControl | Mapping[str, Any] | None = None,
         contrasts: Mapping[str, ContrastSpec] | None = None, start: object = None,
         subset: object = None, verbose: int = 0) -> LmerFit:
    """Fit a linear mixed model, as lme4's ``lmer``.

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data : DataFrame
        The data; it is not modified. pandas, polars (eager or lazy), a pyarrow
        Table, or any frame with the Arrow or dataframe interchange protocol
        (converted once to pandas, :func:`mixedfx.dataframes.convert.as_pandas`).
    REML : bool
        Fit by REML (default) or maximum likelihood.
    weights : str or array-like, optional
        Prior weights: a column of ``data`` or one value per row.
    offset : array-like, optional
        A known term added to the linear predictor (besides any ``offset()`` in the formula).
    na_action : {"omit", "exclude", "fail"}
        Drop rows with missing values in the model's variables, or raise.
        ``"exclude"`` (R's ``na.exclude``) drops them too, and pads ``fitted()``,
        ``residuals()`` and ``predict()`` back to the input rows with NaN.
    control : LmerControl or dict, optional
        Optimiser settings.
    contrasts : dict, optional
        How the fixed part codes its factors, by variable, instead of R's default
        (``contr.treatment``; ``contr.poly`` for ordered factors): ``"contr.sum"``,
        ``"contr.helmert"``, ``"contr.poly"``, ``"contr.SAS"``, ``"contr.treatment"``,
        ``("contr.treatment", {"base": 2})``, or a matrix with a row per level
        (a DataFrame's columns name its columns). Columns are named as R names them
        (``period1`` for ``contr.sum``). As in lme4, the random part keeps R's defaults.
    start : array-like or dict, optional
        Starting theta in lme4's order (``fit.theta`` of another fit), or
        ``{"theta": ...}``; it replaces ``control.theta0``.
    subset : array-like or str, optional
        The rows to use, as R's ``subset``: a boolean mask, row positions, or a
        pandas query (``"Days > 2"``); applied before the NA action.
    verbose : int
        Print each evaluation of the criterion to standard error (1), with the
        parameters (2), as lme4's ``verbose``; it sets ``control.verbose``.

    Returns
    -------
    LmerFit

    Raises
    ------
    TypeError
        An argument of the wrong type (``formula`` not a string, ``data`` not
        a DataFrame, ``REML`` not a bool...).
    FormulaError
        A formula that does not parse (the message says where) or has no
        random-effects term.
    DataError
        Unknown columns (with near matches), no rows, a non-numeric response,
        infinite values, bad weights, grouping factors with one level or with
        as many levels as rows, a response the fixed effects fit exactly.
    MixedFxError
        A model too large for the memory available (its size is given).

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=mfx.datasets.load("sleepstudy"))
    >>> round(float(fit.fixef["Days"]), 2), fit.ngrps
    (10.47, {'Subject': 18})
    """
    control = as_control(control, LmerControl)
    if is_dask_frame(data):
        return _partitioned_lmer(formula, data, REML=REML, weights=weights, offset=offset, na_action=na_action,
                                 control=control, contrasts=contrasts, start=start, subset=subset, verbose=verbose)
    data = as_pandas(data)
    design = lmer_design(formula, data, weights=weights, offset=offset, na_action=na_action, contrasts=contrasts,
                         subset=subset)
    model = lmer_model(design, REML=REML)
    call = FitCall(lmer, formula, data, {"REML": REML, "weights": weights, "offset": offset, "na_action": na_action,
                                         "control": control, "contrasts": contrasts, "start": start,
                                         "subset": subset, "verbose": verbose})
    control = _with_start(control, start, verbose, model.lower.size)
    return lmer_fit(model, optimize_lmer(model, control), control, call)


def _partitioned_lmer(formula: str, data: Any, *, REML: bool, weights: str | np.ndarray | None,  # noqa: N803
                      offset: np.ndarray | None, na_action: str, control: LmerControl,
                      contrasts: Mapping[str, ContrastSpec] | None, start: object, subset: object,
                      verbose: int) -> LmerFit:
    """:func:`lmer` on a Dask DataFrame: the passes over its partitions, then the in-memory fit."""
    from mixedfx.partitioned.design import partitioned_lmer_model  # noqa: PLC0415 - with the first Dask frame
    from mixedfx.partitioned.fit import partitioned_lmer_fit  # noqa: PLC0415
    from mixedfx.partitioned.request import pass_request  # noqa: PLC0415

    if subset is not None:
        raise TypeError("subset does not apply to a Dask DataFrame: select the rows first (ddf[ddf.x > 2])")
    request = pass_request(formula, data.dtypes, weights=weights, offset=offset, na_action=na_action,
                           contrasts=contrasts)
    model, design = partitioned_lmer_model(data, request, REML)
    call = FitCall(lmer, formula, data, {"REML": REML, "weights": weights, "offset": offset,
                                         "na_action": na_action, "control": control, "contrasts": contrasts,
                                         "start": start, "verbose": verbose})
    control = _with_start(control, start, verbose, model.lower.size)
    return partitioned_lmer_fit(model, design, control, call)


def _with_start(control: LmerControl, start: object, verbose: int, n_theta: int) -> LmerControl:
    """The control with lme4's ``start`` (checked against the model's n_theta) and ``verbose`` in it."""
    theta0, _ = start_values(start, n_theta)
    if theta0 is not None:
        control = replace(control, theta0=tuple(theta0))
    if verbose:
        control = replace(control, verbose=_verbosity(verbose))
    return control


def glmer(formula: str, data: DataFrameLike, *, family: str | Family, weights: str | np.ndarray | None = None,
          offset: np.ndarray | None = None, nAGQ: int = 1, na_action: str = "omit",  # noqa: N803
          control: GlmerControl | Mapping[str, Any] | None = None,
          contrasts: Mapping[str, ContrastSpec] | None = None, start: object = None,
          subset: object = None, verbose: int = 0) -> GlmerFit | LmerFit:
    """Fit a generalized linear mixed model, as lme4's ``glmer``.

    Parameters
    ----------
    formula : str
        lme4 formula; a binomial response may be 0/1, logical, a two-level factor
        (first level = failure), a proportion with ``weights`` (the trials), or
        ``cbind(successes, failures)``.
    data : DataFrame
        The data; it is not modified. pandas, polars (eager or lazy), a pyarrow
        Table, or any frame with the Arrow or dataframe interchange protocol
        (converted once to pandas, :func:`mixedfx.dataframes.convert.as_pandas`).
        A Dask DataFrame is fitted where its partitions are, its rows never
        gathered (binomial and poisson families, nAGQ 0 or 1; weights and offset
        as column names): a
        :class:`~mixedfx.partitioned.glmer_fit.PartitionedGlmerFit`, whose PIRLS
        takes a round of tasks per iteration (:mod:`mixedfx.partitioned.glmer_model`).
    family : str or Family
        ``"binomial"``, ``"poisson"``, ``"Gamma"``, ``"inverse_gaussian"``,
        ``"gaussian"``, or an object from :mod:`mixedfx.glmm.families` (for another link).
    weights : str or array-like, optional
        Prior weights: a column of ``data`` or one value per row.
    offset : array-like, optional
        Added to the linear predictor (besides any ``offset()`` in the formula).
    nAGQ : int
        1: Laplace approximation; 0: faster, beta estimated inside PIRLS;
        more than 1: adaptive Gauss-Hermite quadrature with that many nodes (one
        scalar random-effects term only).
    na_action : {"omit", "exclude", "fail"}
        As for :func:`lmer`.
    control : GlmerControl or dict, optional
    contrasts : dict, optional
        As for :func:`lmer`.
    start : array-like or dict, optional
        Starting theta (lme4's order), or ``{"theta": ..., "fixef": ...}``: theta
        starts stage 1, fixef stage 2 (lme4's ``start``).
    subset, verbose
        As for :func:`lmer`.

    Returns
    -------
    GlmerFit
        (An LmerFit, with a warning, for the gaussian family with identity link,
        as lme4 does; a PartitionedGlmerFit for a Dask DataFrame.)

    Raises
    ------
    TypeError, FormulaError, DataError, MixedFxError
        As :func:`lmer`'s; also an unknown family or link (the valid ones are
        listed), responses the family does not allow (the value and its row
        are named), a factor response with more than two levels, a constant
        response, and ``nAGQ > 1`` for anything but a single scalar
        random-effects term.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> herd = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ...                  data=mfx.datasets.load("cbpp"), family="binomial")
    >>> round(float(herd.fixef.iloc[0]), 3), herd.predict(type="response")[:2].round(4).tolist()
    (-1.398, [0.3082, 0.1418])
    """
    from mixedfx.glmm.control import GlmerControl  # noqa: PLC0415 - loads with the first glmer call
    from mixedfx.glmm.families import get_family  # noqa: PLC0415

    fam = get_family(family)
    data = data if is_dask_frame(data) else as_pandas(data)
    if fam.name == "gaussian" and fam.link.name == "identity":
        warnings.warn("calling glmer() with family=gaussian (identity link) as a shortcut to lmer() is "
                      "deprecated; please call lmer() directly", FutureWarning, stacklevel=2)
        return lmer(formula, data, REML=False, weights=weights, offset=offset, na_action=na_action,
                    contrasts=contrasts, start=start, subset=subset, verbose=verbose)
    control = as_control(control, GlmerControl)
    if verbose:
        control = replace(control, verbose=_verbosity(verbose))
    call = FitCall(glmer, formula, data, {"family": fam, "weights": weights, "offset": offset, "nAGQ": nAGQ,
                                          "na_action": na_action, "control": control, "contrasts": contrasts,
                                          "start": start, "subset": subset, "verbose": verbose})
    if is_dask_frame(data):
        if subset is not None:
            raise TypeError("subset does not apply to a Dask DataFrame: select the rows first (ddf[ddf.x > 2])")
        from mixedfx.partitioned.glmer_fit import partitioned_glmer_fit  # noqa: PLC0415 - with the first Dask frame
        from mixedfx.partitioned.glmer_model import partitioned_glmer_model  # noqa: PLC0415
        from mixedfx.partitioned.request import pass_request  # noqa: PLC0415

        request = pass_request(formula, data.dtypes, weights=weights, offset=offset, na_action=na_action,
                               contrasts=contrasts)
        model = partitioned_glmer_model(data, request, fam, checked_n_agq(nAGQ), control)
        theta0, beta0 = start_values(start, model.lower.size, model.p)
        return partitioned_glmer_fit(model, call, theta0, beta0)
    design = glmer_design(formula, data, family=fam, weights=weights, offset=offset, na_action=na_action,
                          contrasts=contrasts, subset=subset)
    model = glmer_model(design, family=fam, nAGQ=nAGQ, control=control)
    theta0, beta0 = start_values(start, model.lower.size, design.X.shape[1])
    return glmer_fit(model, optimize_glmer(model, theta0, beta0), call)


def glmer_nb(formula: str, data: DataFrameLike, *, weights: str | np.ndarray | None = None,
             offset: np.ndarray | None = None, nAGQ: int = 1, na_action: str = "omit",  # noqa: N803
             control: GlmerControl | Mapping[str, Any] | None = None, tol: float = 5e-5,
             contrasts: Mapping[str, ContrastSpec] | None = None, subset: object = None) -> GlmerFit:
    """Fit a negative binomial mixed model, estimating its theta as lme4's ``glmer.nb``.

    A Poisson fit gives a first theta (MASS's ``theta.ml``); the negative binomial
    fit's -2 log-likelihood is then minimised over log(theta) within 3 of it.

    Parameters
    ----------
    formula, data, weights, offset, nAGQ, na_action, contrasts, subset
        As for :func:`glmer`.
    control : GlmerControl or dict, optional
        As for :func:`glmer`; PIRLS's tolerance is at most 1e-10 here (see the note in the code).
    tol : float
        Tolerance on log(theta).

    Returns
    -------
    GlmerFit

    Examples
    --------
    >>> import mixedfx as mfx
    >>> nb = mfx.glmer_nb("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", data=mfx.datasets.load("grouseticks"))
    >>> nb.family.name
    'Negative Binomial(2.0522)'
    """
    from mixedfx.fits.glmer import GlmerFit  # noqa: PLC0415 - loads with the first glmer_nb call
    from mixedfx.glmm.control import GlmerControl  # noqa: PLC0415
    from mixedfx.glmm.negative_binomial import fit_negative_binomial  # noqa: PLC0415

    if is_dask_frame(data):
        raise MixedFxError("glmer_nb on a Dask DataFrame is not available (its theta search refits many times): "
                           "fit the rows in memory (data=ddf.compute()), or fit a poisson glmer on the Dask frame")
    control = as_control(control, GlmerControl)
    data = as_pandas(data)
    design = glmer_design(formula, data, family="poisson", weights=weights, offset=offset, na_action=na_action,
                          contrasts=contrasts, subset=subset)
    start = glmer_model(design, family="poisson", nAGQ=nAGQ, control=control)
    call = FitCall(glmer_nb, formula, data, {"weights": weights, "offset": offset, "nAGQ": nAGQ,
                                             "na_action": na_action, "control": control, "tol": tol,
                                             "contrasts": contrasts, "subset": subset})
    return GlmerFit(*fit_negative_binomial(start.matrices, start.n_agq, control, tol), call=call)


def _verbosity(verbose: object) -> int:
    """lme4's ``verbose``: a whole number, 0 silent."""
    if isinstance(verbose, bool) or not isinstance(verbose, int | np.integer) or verbose < 0:
        raise TypeError(f"verbose must be a whole number (0, 1 or 2), not {verbose!r}")
    return int(verbose)
