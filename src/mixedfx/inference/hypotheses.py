"""lmerTest's hypothesis matrices for the type I, II and III anova tables of one model, and car's for glmer.

Type I (``get_contrasts_type1``): the rows of the Doolittle decomposition of X'X
that belong to each term, so each term is tested after the terms before it.
Type II (``get_contrasts_type2_unfolded``): a term contained in no other is
tested by its own coefficients; another term by the Doolittle rows of X'X with
its columns, then those of the terms containing it, moved last.

For each term of the fixed part, lmerTest (3.1-3, ``get_contrasts_type3``) builds
the rows L of ``L beta = 0``: in a model matrix recoded with treatment
contrasts, each term's "full" indicator coding (``~ 0 + term``) is expressed in
the model's columns, the columns of terms contained in a higher-order term are
made orthogonal to it, and the result is mapped back to the fit's coding
(``contr.poly`` for ordered factors). A model with a single term (or a single
column) gets type I hypotheses instead, from the Doolittle decomposition of X'X.

Those representations are identities between the columns of different codings
of the same variables, so they do not depend on the values of numeric
variables as long as the design has the same rank: the fit keeps its factors'
codes, and numeric variables are given generic stand-in values here. When the
stand-in design does not reproduce the fit's columns and rank (numeric
covariates that are collinear in the data), :func:`type3_contrasts` refuses.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from mixedfx.design.matrices import ModelMatrices
from mixedfx.design.model_matrix import MatrixSpec, matrix_spec, model_matrix
from mixedfx.design.rank import rank_keep
from mixedfx.rbase.rmath import zapsmall
from mixedfx.formula.evaluate import Factor, Value
from mixedfx.formula.terms import CONTRASTS, Terms, coding

__all__ = ["type1_contrasts", "type2_contrasts", "type3_contrasts", "column_terms", "term_variables",
           "marginal_terms"]

_SEED = 20240601
_ROW_TOL = 1e-8
_DOOLITTLE_EPS = 1e-6
_LM_TOL = 1e-7


def _zap(a: np.ndarray) -> np.ndarray:
    """R's ``zapsmall`` of a matrix."""
    return zapsmall(a.ravel()).reshape(a.shape)


def _term_labels_used(terms: Terms) -> list[str]:
    """Labels of the variables that appear in some term."""
    return list(dict.fromkeys(terms.labels[v] for term in terms.terms for v in term))


def _numeric_shape(label: str, names: tuple[str, ...], n: int) -> tuple[int, ...]:
    """Shape of a numeric variable, read from the column names it produced (``x`` or ``x1``, ``x2``, ...)."""
    parts = {part for name in names for part in name.split(":")}
    if label in parts:
        return (n,)
    width = 0
    while f"{label}{width + 1}" in parts:
        width += 1
    return (n, width)


def _stand_in_values(spec: MatrixSpec, n: int) -> dict[str, Value]:
    """The fit's factors and generic values for its numeric variables."""
    rng = np.random.default_rng(_SEED)
    return {label: spec.factors[label] if label in spec.factors
            else rng.uniform(1.0, 2.0, _numeric_shape(label, spec.names, n))
            for label in _term_labels_used(spec.terms)}


def _single(terms: Terms, term: tuple[int, ...]) -> Terms:
    """The formula ``~ 0 + term``."""
    return replace(terms, terms=(term,), intercept=False)


def _model_matrix(spec: MatrixSpec, values: dict[str, Value], n: int) -> tuple[np.ndarray, np.ndarray]:
    """R's model.matrix under ``spec``'s coding and its ``assign`` attribute."""
    blocks = [np.ones((n, 1))] if spec.terms.intercept else []
    assign = [0] if spec.terms.intercept else []
    for t, (term, codes) in enumerate(zip(spec.terms.terms, spec.codes)):
        block = model_matrix(replace(spec, terms=_single(spec.terms, term), codes=(codes,)), values, n)
        blocks.append(block)
        assign += [t + 1] * block.shape[1]
    return np.hstack(blocks) if blocks else np.zeros((n, 0)), np.asarray(assign, dtype=int)


def _term_columns(assign: np.ndarray, n_terms: int) -> list[np.ndarray]:
    """lmerTest's ``term2colX``: the columns of each term."""
    return [np.flatnonzero(assign == t + 1) for t in range(n_terms)]


def _doolittle_lower(x: np.ndarray) -> np.ndarray:
    """lmerTest's ``doolittle(x)$L``: the unit lower factor of x = L U, small entries zeroed."""
    n = x.shape[0]
    lower, upper = np.eye(n), np.zeros((n, n))
    for i in range(n):
        upper[i] = x[i] - lower[i, :i] @ upper[:i]
        below = x[i + 1:, i] - lower[i + 1:, :i] @ upper[:i, i]
        lower[i + 1:, i] = 0.0 if abs(upper[i, i]) < _DOOLITTLE_EPS else below / upper[i, i]
    lower[np.abs(lower) < _DOOLITTLE_EPS] = 0.0
    return lower


def _type1(gram: np.ndarray, assign: np.ndarray, terms: Terms) -> dict[str, np.ndarray]:
    """lmerTest's ``get_contrasts_type1`` (used for a single term or a single column), from X'X."""
    p = gram.shape[1]
    if p == 0 or (p == 1 and terms.intercept):
        return {}
    full = np.ones((1, 1)) if p == 1 else _doolittle_lower(gram).T
    return {label: full[cols] for label, cols in zip(terms.term_labels, _term_columns(assign, len(terms.terms)))}


def _containment(spec: MatrixSpec, values: dict[str, Value]) -> list[list[int]]:
    """lmerTest's ``containment``: per term, the terms that contain it.

    A term's variables are those with a 1 in R's ``factors`` attribute (coded by
    contrasts); a term is contained in another when its variables are a proper
    subset of the other's and both have the same numeric variables.
    """
    terms = spec.terms
    r_codes = coding(replace(terms, intercept=True), [0] * len(terms.labels))
    variables = [{v for v, code in zip(term, codes) if code == CONTRASTS} for term, codes in zip(terms.terms, r_codes)]
    numeric = [{v for v in vs if np.ndim(values[terms.labels[v]]) == 1
                and not isinstance(values[terms.labels[v]], Factor)} for vs in variables]
    return [[b for b in range(len(variables))
             if variables[a] < variables[b] and numeric[a] == numeric[b]] for a in range(len(variables))]


def _residuals(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Residuals of the least-squares fit of the columns of y on those of x (R's ``lm.fit``)."""
    if not x.shape[1]:
        return y
    return y - x @ np.linalg.lstsq(x, y, rcond=_LM_TOL)[0]


def _full_indicator_matrix(terms: Terms, values: dict[str, Value], n: int) -> tuple[np.ndarray, list[str]]:
    """lmerTest's ``get_rdX``: every term coded as ``~ 0 + term``, after an intercept column."""
    blocks = [np.ones((n, 1))] if terms.intercept else []
    names = ["(Intercept)"] if terms.intercept else []
    for term in terms.terms:
        spec = matrix_spec(_single(terms, term), values)
        blocks.append(model_matrix(spec, values, n))
        names += spec.names
    return np.hstack(blocks), names


def _type3(spec: MatrixSpec, values: dict[str, Value], x_orig: np.ndarray) -> dict[str, np.ndarray]:
    """lmerTest's ``get_contrasts_type3`` with ``extract_contrasts_type3``."""
    terms, n = spec.terms, x_orig.shape[0]
    treatment = {k: replace(v, ordered=False) if isinstance(v, Factor) else v for k, v in values.items()}
    treat_spec = matrix_spec(terms, treatment)
    x_full, assign_full = _model_matrix(treat_spec, treatment, n)
    keep = rank_keep(x_full)
    x, names = x_full[:, keep], [treat_spec.names[j] for j in keep]
    columns = _term_columns(assign_full[keep], len(terms.terms))
    full, full_names = _full_indicator_matrix(terms, values, n)
    x_inv = np.linalg.pinv(x, rcond=np.sqrt(np.finfo(float).eps))
    lmat = _zap((x_inv @ full).T)
    contained = _containment(spec, values)
    for t in sorted(range(len(terms.terms)), key=lambda t: -len(terms.terms[t])):
        if contained[t]:
            inner = np.concatenate([columns[u] for u in contained[t]])
            lmat[:, columns[t]] = _zap(_residuals(lmat[:, inner], lmat[:, columns[t]]))
    position = {name: i for i, name in reversed(list(enumerate(full_names)))}
    lmat = lmat[[position[name] for name in names]]
    mapping = _zap(x_inv @ x_orig)
    out = {}
    for label, cols in zip(terms.term_labels, columns):
        rows = lmat[:, cols].T
        out[label] = rows[np.abs(rows).sum(axis=1) > _ROW_TOL] @ mapping
    return out


def type3_contrasts(matrices: ModelMatrices) -> dict[str, np.ndarray]:
    """lmerTest's type III hypotheses for each fixed-effect term.

    Parameters
    ----------
    matrices : ModelMatrices
        The fitted model's matrices (its design spec and X).

    Returns
    -------
    dict of str to ndarray
        By term label, in formula order, the rows L (r x p, over the fit's X
        columns) of the hypothesis ``L beta = 0``; r may be 0. Empty for a model
        without terms (intercept only).

    Raises
    ------
    NotImplementedError
        When the design cannot be rebuilt without the numeric data (numeric
        covariates collinear in the data, or columns not named as expected).
    """
    spec, keep = matrices.spec.fixed, list(matrices.spec.keep)
    n = matrices.X.shape[0]
    values = _stand_in_values(spec, n)
    x_full, assign_full = _model_matrix(spec, values, n)
    if matrix_spec(spec.terms, values, spec.contrasts_arg).names != spec.names or rank_keep(x_full) != keep:
        raise NotImplementedError("lmerTest's type III hypotheses for this model depend on the values of its "
                                  "numeric covariates (collinear columns), which the fit does not keep")
    if matrices.X.shape[1] <= 1 or len(spec.terms.terms) <= 1:
        return _type1(matrices.x_gram, assign_full[keep], spec.terms)
    return _type3(spec, values, x_full[:, keep])


def column_terms(matrices: ModelMatrices) -> np.ndarray:
    """R's ``assign`` attribute of the fit's X: per kept column, its term (1, 2, ... in formula order; 0 the intercept).

    Parameters
    ----------
    matrices : ModelMatrices
        The fitted model's matrices.

    Returns
    -------
    ndarray of int, shape (p,)

    Examples
    --------
    >>> import mixedfx as mfx
    >>> design = mfx.lmer_design("angle ~ recipe + temp + (1 | replicate)", mfx.datasets.load("cake"))
    >>> column_terms(design).tolist()
    [0, 1, 1, 2]
    """
    spec = matrices.spec.fixed
    # the coding's factors hold the rows it was learnt on: a fit from a Dask frame's, a few rows per level
    n = next((len(factor.codes) for factor in spec.factors.values()), matrices.X.shape[0])
    return _model_matrix(spec, _stand_in_values(spec, n), n)[1][list(matrices.spec.keep)]


def term_variables(matrices: ModelMatrices) -> list[set[int]]:
    """Per fixed-effect term, its variables (the non-zero rows of R's ``factors`` attribute)."""
    return [set(term) for term in matrices.spec.fixed.terms.terms]


def type1_contrasts(matrices: ModelMatrices) -> dict[str, np.ndarray]:
    """lmerTest's type I hypotheses: each term after those before it in the formula.

    Parameters
    ----------
    matrices : ModelMatrices
        The fitted model's matrices.

    Returns
    -------
    dict of str to ndarray
        By term label, in formula order, the rows L (r x p) of ``L beta = 0``.
    """
    return _type1(matrices.x_gram, column_terms(matrices), matrices.spec.fixed.terms)


def type2_contrasts(matrices: ModelMatrices) -> dict[str, np.ndarray]:
    """lmerTest's type II hypotheses (``get_contrasts_type2_unfolded``).

    Parameters
    ----------
    matrices : ModelMatrices
        The fitted model's matrices.

    Returns
    -------
    dict of str to ndarray
        By term label, in formula order, the rows L (r x p) of ``L beta = 0``.
    """
    spec = matrices.spec.fixed
    terms, gram = spec.terms, matrices.x_gram
    p = gram.shape[1]
    assign = column_terms(matrices)
    if p <= 1 or len(terms.terms) <= 1:
        return _type1(gram, assign, terms)
    contained_in = _containment(spec, _stand_in_values(spec, matrices.X.shape[0]))
    columns = _term_columns(assign, len(terms.terms))
    out = {}
    for t, label in enumerate(terms.term_labels):
        if not contained_in[t]:
            out[label] = np.eye(p)[columns[t]]
            continue
        moved = np.concatenate([columns[t], *(columns[u] for u in contained_in[t])])
        order = np.concatenate([np.setdiff1d(np.arange(p), moved), moved])
        lower = _doolittle_lower(gram[np.ix_(order, order)]).T
        rows = lower[np.isin(order, columns[t])]
        restored = np.empty_like(rows)
        restored[:, order] = rows
        out[label] = restored
    return out


def marginal_terms(matrices: ModelMatrices) -> list[int]:
    """R's ``drop.scope``: the fixed-effect terms no other term contains (those that can be dropped alone).

    Examples
    --------
    >>> import mixedfx as mfx
    >>> design = mfx.lmer_design("angle ~ recipe * temp + (1 | replicate)", mfx.datasets.load("cake"))
    >>> marginal_terms(design)
    [2]
    """
    variables = term_variables(matrices)
    return [t for t, own in enumerate(variables)
            if not any(u != t and own <= other for u, other in enumerate(variables))]
