"""New data coded like the fitted data: the fit's columns, levels and contrasts, the terms ``re_form`` keeps.

``poly()``, ``scale()``, ``bs()`` and ``ns()`` are evaluated with the
parameters they learned on the fitted data (``DesignSpec.transforms``), as R's
predict uses the model's ``predvars``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixedfx.design.frame import grouping_factor
from mixedfx.design.matrices import ModelMatrices
from mixedfx.design.model_matrix import MatrixSpec, model_matrix
from mixedfx.errors import DataError, FormulaError
from mixedfx.formula.bars import parse_formula
from mixedfx.formula.evaluate import DataEnv, Factor, Value, as_column, as_factor, evaluate
from mixedfx.formula.transforms import LearnedTransforms

__all__ = ["NewReTerm", "NewDataMatrices", "selected_terms", "new_data_matrices"]

@dataclass(frozen=True)
class NewReTerm:
    """A fitted random-effects term evaluated on new data.

    Attributes
    ----------
    index : int
        Position of the term in the fit's ``re_terms``.
    group : str
        Grouping-factor name.
    codes : ndarray of int64
        Codes into the fitted term's levels; -1 for a level the fit has not seen.
    z : ndarray of float64, shape (n_new, k)
        The term's model matrix.
    z_names : list of str
        Column names of z.
    """

    index: int
    group: str
    codes: np.ndarray
    z: np.ndarray
    z_names: list[str]


@dataclass(frozen=True)
class NewDataMatrices:
    """Fixed-effects matrix, offset and random-effects terms for new data.

    Attributes
    ----------
    X : ndarray, shape (n_new, p)
        Same columns as the fit's X (NaN rows where a variable is missing).
    offset : ndarray, shape (n_new,)
        The formula's ``offset()`` terms on the new data (zeros if none).
    re_terms : list of NewReTerm
        The terms ``re_form`` selects, in the fit's order (all by default).
    rows : pandas.Index
        Index of the new data.
    """

    X: np.ndarray
    offset: np.ndarray
    re_terms: list[NewReTerm]
    rows: pd.Index


_POPULATION = {"", "NA", "~0", "0", "~-1", "-1", "~NULL", "NULL"}


def selected_terms(mm: ModelMatrices, re_form: str | None) -> list[int]:
    """Positions in ``mm.re_terms`` of the terms ``re_form`` keeps.

    Parameters
    ----------
    mm : ModelMatrices
        The fitted model's matrices.
    re_form : str or None
        None for every term; ``"~0"`` or ``"NA"`` for none; a formula of bar
        terms (``"~(1 | g)"``) for those terms.

    Returns
    -------
    list of int
    """
    if re_form is None:
        return list(range(len(mm.re_terms)))
    if not isinstance(re_form, str):
        raise TypeError(f"re_form must be None or a formula string, not {type(re_form).__name__}")
    text = re_form.strip()
    if text.replace(" ", "") in _POPULATION:
        return []
    wanted = [bar.text for bar in parse_formula(text if "~" in text else "~" + text).bars]
    fitted = [t.text for t in mm.re_terms]
    unknown = [w for w in wanted if w not in fitted]
    if unknown:
        raise FormulaError(f"re_form names random-effects terms the model does not have: {', '.join(unknown)}; "
                           f"the model's terms are: {', '.join(fitted)}")
    return [i for i, t in enumerate(fitted) if t in wanted]


def _new_values(specs: list[MatrixSpec], newdata: pd.DataFrame, fitted: LearnedTransforms) -> dict[str, Value]:
    env = DataEnv(newdata, fitted=fitted)
    values: dict[str, Value] = {}
    for spec in specs:
        terms = spec.terms
        used = {v for term in terms.terms for v in term} | set(terms.offsets)  # the response only where a term uses it
        for i, (label, node) in enumerate(zip(terms.labels, terms.variables)):
            if i not in used or label in values:
                continue
            value = as_column(evaluate(node, env), env.n, label)
            if label in spec.factors:
                value, unseen = as_factor(value, label).recode(spec.factors[label].levels)
                if unseen:
                    raise DataError(f"factor {label} has new level(s) {', '.join(unseen)} not seen in the fit; "
                                    f"its levels are: {', '.join(spec.factors[label].levels)}")
            elif isinstance(value, Factor):
                raise DataError(f"{label} was numeric in the fit but is a factor in the new data")
            values[label] = value
    return values


def new_data_matrices(mm: ModelMatrices, newdata: pd.DataFrame, *, re_form: str | None = None,
                      allow_new_levels: bool = False) -> NewDataMatrices:
    """Code new data with the fitted model's columns, levels and contrasts.

    Parameters
    ----------
    mm : ModelMatrices
        The fitted model's matrices.
    newdata : pandas.DataFrame
        New rows; the response is not needed.
    re_form : str, optional
        None for every random-effects term; ``"~0"`` or ``"NA"`` for none
        (population level); a formula of bar terms for a subset.
    allow_new_levels : bool
        Give grouping levels the fit has not seen (and missing ones) the
        code -1 instead of raising.

    Returns
    -------
    NewDataMatrices

    Raises
    ------
    TypeError
        ``newdata`` not a DataFrame.
    DataError
        Missing columns, new levels of a fixed-effect factor, or new grouping
        levels without ``allow_new_levels=True``.
    FormulaError
        A ``re_form`` naming terms the model does not have.
    """
    if not isinstance(newdata, pd.DataFrame):
        raise TypeError(f"newdata must be a pandas DataFrame, not {type(newdata).__name__}")
    spec = mm.spec
    chosen = selected_terms(mm, re_form)
    values = _new_values([spec.fixed, *(spec.slopes[i] for i in chosen)], newdata, spec.transforms)
    n = len(newdata)
    X = model_matrix(spec.fixed, values, n)[:, list(spec.keep)]
    fixed_terms = spec.fixed.terms
    offset = np.zeros(n)
    for i in fixed_terms.offsets:
        offset = offset + np.asarray(values[fixed_terms.labels[i]], dtype=np.float64)
    group_env = DataEnv(newdata, factorize=True)
    terms = []
    for i in chosen:
        fitted, bar = mm.re_terms[i], spec.formula.bars[i]
        group, unseen = grouping_factor(bar.group, group_env, fitted.group).recode(tuple(fitted.levels))
        missing = bool((group.codes < 0).any()) and not unseen
        if (unseen or missing) and not allow_new_levels:
            what = f"new level(s) {', '.join(unseen)}" if unseen else "missing values"
            raise DataError(f"grouping factor {fitted.group} of term ({fitted.text}) has {what} in the new data; "
                             "pass allow_new_levels=True to predict them at the population level")
        z = model_matrix(spec.slopes[i], values, n)
        terms.append(NewReTerm(index=i, group=fitted.group, codes=group.codes, z=z, z_names=list(fitted.z_names)))
    return NewDataMatrices(X=X, offset=offset, re_terms=terms, rows=newdata.index)
