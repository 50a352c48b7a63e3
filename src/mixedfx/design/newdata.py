"""New data coded like the fitted data: the fit's columns, levels and contrasts, the terms ``re_form`` keeps.

``poly()``, ``scale()``, ``bs()`` and ``ns()`` are evaluated with the
parameters they learned on the fitted data (``DesignSpec.transforms``), as R's
predict uses the model's ``predvars``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixedfx.dataframes.convert import as_pandas
from mixedfx.design.frame import grouping_factor
from mixedfx.design.matrices import ModelMatrices
from mixedfx.design.model_matrix import MatrixSpec, model_matrix
from mixedfx.errors import DataError, FormulaError
from mixedfx.formula.bars import BarTerm, parse_formula
from mixedfx.formula.evaluate import DataEnv, Factor, Value, as_column, as_factor, evaluate
from mixedfx.formula.terms import expand_terms
from mixedfx.formula.transforms import LearnedTransforms

__all__ = ["NewReTerm", "NewDataMatrices", "selected_terms", "selected_columns", "new_data_matrices"]

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
    """Positions in ``mm.re_terms`` of the terms ``re_form`` keeps (all or some of their columns).

    Parameters
    ----------
    mm : ModelMatrices
        The fitted model's matrices.
    re_form : str or None
        None for every term; ``"~0"`` or ``"NA"`` for none; a formula of bar
        terms (``"~(1 | g)"``) for those terms or parts of them (see :func:`selected_columns`).

    Returns
    -------
    list of int
    """
    return sorted(selected_columns(mm, re_form))


def selected_columns(mm: ModelMatrices, re_form: str | None) -> dict[int, np.ndarray]:
    """The columns of each term ``re_form`` keeps, as lme4's ``predict(re.form =)`` reads it.

    A bar term of ``re_form`` is one of the model's terms, or a part of one on the
    same grouping factor: ``(1 | Subject)`` of ``(Days | Subject)`` keeps its
    intercept column. Parts are named by their numeric variables (a term with a
    factor is matched whole).

    Parameters
    ----------
    mm : ModelMatrices
    re_form : str or None

    Returns
    -------
    dict of int to ndarray of bool
        By position in ``mm.re_terms``, which of the term's columns are kept.

    Raises
    ------
    TypeError
        ``re_form`` not a string.
    FormulaError
        A bar term that is no model term, nor a part of one.
    """
    if re_form is None:
        return {i: np.ones(len(t.z_names), dtype=bool) for i, t in enumerate(mm.re_terms)}
    if not isinstance(re_form, str):
        raise TypeError(f"re_form must be None or a formula string, not {type(re_form).__name__}")
    text = re_form.strip()
    if text.replace(" ", "") in _POPULATION:
        return {}
    kept: dict[int, np.ndarray] = {}
    for bar in parse_formula(text if "~" in text else "~" + text).bars:
        position, columns = _matching_term(mm, bar)
        kept[position] = kept.get(position, np.zeros_like(columns)) | columns
    return kept


def _matching_term(mm: ModelMatrices, bar: BarTerm) -> tuple[int, np.ndarray]:
    """The model term a bar term of ``re_form`` is, or is a part of, and the columns it keeps."""
    fitted = [t.text for t in mm.re_terms]
    if bar.text in fitted:
        position = fitted.index(bar.text)
        return position, np.ones(len(mm.re_terms[position].z_names), dtype=bool)
    terms = expand_terms(bar.lhs)
    names = (["(Intercept)"] if terms.intercept else []) + terms.term_labels
    for position, term in enumerate(mm.re_terms):
        spec = mm.spec.slopes[position]
        if term.group == bar.group_name and not spec.factors and set(names) <= set(term.z_names):
            return position, np.isin(np.asarray(term.z_names), names)
    raise FormulaError(f"re_form names a random-effects term the model does not have, nor a part of one: "
                       f"{bar.text}; the model's terms are: {', '.join(fitted)}")


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
    newdata = as_pandas(newdata, "newdata")
    if newdata.empty and not len(newdata):
        raise DataError("newdata has no rows: give the rows to predict (or newdata=None for the fitted rows)")
    spec = mm.spec
    columns = selected_columns(mm, re_form)
    chosen = sorted(columns)
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
        z = model_matrix(spec.slopes[i], values, n) * columns[i]  # the columns re_form leaves out are 0
        terms.append(NewReTerm(index=i, group=fitted.group, codes=group.codes, z=z, z_names=list(fitted.z_names)))
    return NewDataMatrices(X=X, offset=offset, re_terms=terms, rows=newdata.index)
