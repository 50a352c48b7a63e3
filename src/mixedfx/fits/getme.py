"""lme4's ``getME`` and the model accessors of a fit: ``model.frame``, ``model.matrix`` and ``terms``.

Every answer is computed from a fit's public pieces (``fit.model``,
``fit.model.matrices``, the estimates, ``fit.optimum`` for generalized fits):
Z, Lambda and their products are assembled as scipy sparse matrices in lme4's
order of the random effects (term by term in lme4's order, level-major within
a term), and the factor of the penalised system is taken once more by the
project's one Cholesky (:func:`mixedfx.linalg.factorizer.factorize`) at the
fit's final weights.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixedfx.design.frame import model_frame as design_model_frame
from mixedfx.design.matrices import used_rows
from mixedfx.errors import MixedFxError
from mixedfx.formula.evaluate import Factor
from mixedfx.formula.syntax import Binary, Paren
from mixedfx.formula.terms import Terms, expand_terms
from mixedfx.linalg.cross import cross_products
from mixedfx.linalg.factor import BlockedFactor, as_dense, block_diagonal
from mixedfx.linalg.factorizer import factorize
from mixedfx.linalg.layout import TermLayout, templates, term_layouts, theta_lower_bounds
from mixedfx.lmm.model import LinearMixedModel
from mixedfx.report.rtext import make_unique

if TYPE_CHECKING:
    import scipy.sparse as sp

    from mixedfx.fits.base import MixedModelFit

__all__ = ["GETME_NAMES", "ModelTerms", "get_me", "model_frame", "model_matrix", "terms"]

GETME_NAMES = (
    "X", "Z", "Zt", "Ztlist", "mmList", "y", "mu", "u", "b", "Gp", "Tp", "L", "Lambda", "Lambdat", "Lind",
    "Tlist", "A", "RX", "RZX", "sigma", "flist", "fixef", "beta", "theta", "ST", "REML", "is_REML", "n_rtrms",
    "n_rfacs", "N", "n", "p", "q", "p_i", "l_i", "q_i", "k", "m_i", "m", "cnms", "devcomp", "offset", "lower",
    "devfun", "glmer.nb.theta", "weights",
)
"""The names :func:`get_me` answers: lme4 1.1-31's ``getME`` names, then ``weights`` (lme4's ``weights(fit)``)."""

_MODEL_MATRIX_TYPES = ("fixed", "random", "randomListRaw")


class _Pieces:
    """What getME's answers are made of, each formed on first use from the fit's public pieces."""

    def __init__(self, fit: MixedModelFit) -> None:
        self.fit = fit
        self.model = fit.model
        self.mm = fit.model.matrices
        self.terms = self.mm.ordered_terms
        self.glmm = not isinstance(self.model, LinearMixedModel)  # told without loading the generalized models
        self.theta = np.asarray(fit.theta, dtype=float)
        self.ks = [t.k for t in self.terms]

    # --- the random-effects structure ------------------------------------------------
    @cached_property
    def layouts(self) -> list[TermLayout]:
        return term_layouts(self.terms)

    @cached_property
    def gp(self) -> np.ndarray:
        """lme4's Gp: where each term's columns of Z start, then q."""
        return np.concatenate([[0], np.cumsum([t.q for t in self.layouts])]).astype(np.int64)

    @cached_property
    def z(self) -> sp.csc_matrix:
        import scipy.sparse as sp  # noqa: PLC0415 - a one-term model's fit does not load scipy.sparse

        z = sp.hstack([t.matrix for t in self.layouts], format="csc")
        z.eliminate_zeros()
        return z

    @cached_property
    def lambdat(self) -> tuple[sp.csc_matrix, np.ndarray]:
        """Lambda' with lme4's structure (the template's lower triangle, zeros kept) and theta's index per entry."""
        import scipy.sparse as sp  # noqa: PLC0415 - a one-term model's fit does not load scipy.sparse

        data, rows, counts, lind = [], [], [], []
        offsets = _theta_offsets(self.ks)
        for start, t, tmpl, first in zip(self.gp[:-1], self.layouts, templates(self.theta, self.ks), offsets):
            k = t.k
            col, row = np.array([(a, b) for a in range(k) for b in range(a + 1)]).T  # Lambda[col, row]
            position = first + np.array([_theta_position(a, b, k) for a, b in zip(col, row)])
            base = start + k * np.arange(t.n_levels)
            rows.append((base[:, None] + row[None, :]).ravel())
            data.append(np.tile(tmpl[col, row], t.n_levels))
            lind.append(np.tile(position, t.n_levels))
            counts.append(np.tile(np.arange(1, k + 1), t.n_levels))
        indptr = np.concatenate([[0], np.cumsum(np.concatenate(counts))])
        q = int(self.gp[-1])
        matrix = sp.csc_matrix((np.concatenate(data), np.concatenate(rows), indptr), shape=(q, q))
        return matrix, np.concatenate(lind).astype(np.int64)

    # --- the state at the estimates -----------------------------------------------------
    @cached_property
    def working(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The response (offset subtracted) and the weights of the final penalised least-squares problem."""
        if not self.glmm:
            return np.asarray(self.mm.y, dtype=float) - self.mm.offset, self.mm.weights
        return self.model.working_response(self.fit.optimum.state.eta, self.model.offset)

    @cached_property
    def factor(self) -> BlockedFactor:
        """The factor of [Z Lambda, X, y]' W [Z Lambda, X, y] + diag(I, 0, 0) at the fit's theta and final weights."""
        y, w = self.working
        return factorize(cross_products(self.layouts, self.mm.X, y, w), self.theta)

    @cached_property
    def l_blocks(self) -> tuple[sp.csc_matrix, np.ndarray]:
        """The random effects' factor L (lower, q x q) and the rows of the whole factor for X (p x q)."""
        import scipy.sparse as sp  # noqa: PLC0415 - a one-term model's fit does not load scipy.sparse

        f = self.factor
        qr, p = f.q_rest, f.p
        l_r1 = f.l_r1
        lower = sp.bmat([[block_diagonal(f.l11), None],
                         [sp.csr_matrix(l_r1[:qr]), sp.csr_matrix(np.tril(f.l_rr[:qr, :qr]))]],
                        format="csc")
        lower.eliminate_zeros()
        x_rows = np.hstack([as_dense(l_r1[qr: qr + p]), f.l_rr[qr: qr + p, :qr]])
        return lower, x_rows

    @cached_property
    def u(self) -> np.ndarray:
        if self.glmm:
            return np.asarray(self.fit.optimum.state.u, dtype=float).copy()
        return self.factor.solve_coefficients()[1]

    @cached_property
    def mu(self) -> np.ndarray:
        return self.fit.optimum.state.mu.copy() if self.glmm else used_rows(self.fit.fitted(), self.mm)

    @cached_property
    def weights(self) -> np.ndarray:
        if self.glmm:
            return np.asarray(self.model.weights, dtype=float).copy()
        w = self.mm.weights
        return np.ones(self.mm.X.shape[0]) if w is None else np.asarray(w, dtype=float).copy()

    # --- names --------------------------------------------------------------------------
    @cached_property
    def keys(self) -> list[str]:
        """Grouping factors per term, lme4's order, made unique as R's make.unique (keys of cnms, ST, Tlist)."""
        return list(make_unique([t.group for t in self.terms]))

    def tnames(self, diag_only: bool = False) -> list[str]:
        """lme4's tnames: ``Subject.(Intercept)``, ``Subject.Days.(Intercept)``, ``Subject.Days``."""
        out = []
        for t in self.terms:
            for j in range(t.k):
                out.extend(f"{t.group}.{t.z_names[i]}" + ("" if i == j else f".{t.z_names[j]}")
                           for i in range(j, j + 1 if diag_only else t.k))
        return out

    @cached_property
    def factors(self) -> tuple[list[str], list[int]]:
        """The distinct grouping factors in lme4's order (flist) and each term's factor (0-based assign)."""
        names = list(dict.fromkeys(t.group for t in self.terms))
        return names, [names.index(t.group) for t in self.terms]

    def devcomp(self) -> dict[str, dict[str, float | int]]:
        """lme4's ``devcomp``: the criterion's components (cmp) and the model's dimensions (dims)."""
        fit, f, n, p = self.fit, self.factor, self.mm.X.shape[0], self.mm.X.shape[1]
        pearson = np.asarray(used_rows(fit.residuals("pearson"), self.mm), dtype=float)
        wrss, ussq = float(pearson @ pearson), float(self.u @ self.u)
        pwrss = wrss + ussq
        reml = bool(fit.reml)
        dev = -2.0 * float(fit.loglik)
        cmp = {"ldL2": f.logdet_re, "ldRX2": f.logdet_x, "wrss": wrss, "ussq": ussq, "pwrss": pwrss,
               "drsum": float(fit.optimum.state.dev) if self.glmm else np.nan,
               "REML": dev if reml else np.nan, "dev": np.nan if reml else dev,
               "sigmaML": np.sqrt(pwrss / n) if fit.uses_scale else np.nan,
               "sigmaREML": np.nan if self.glmm else np.sqrt(pwrss / (n - p))}
        if self.glmm:
            cmp["tolPwrss"] = self.model.control.tol_pwrss
        dims = {"N": n, "n": n, "p": p, "nmp": n - p, "q": int(self.gp[-1]), "nth": len(self.theta)}
        if self.glmm:
            dims.update(nAGQ=int(fit.nagq), compDev=1)
        dims.update(useSc=int(fit.uses_scale), reTrms=len(self.terms), spFe=0, REML=p if reml else 0,
                    GLMM=int(self.glmm), NLMM=0)
        return {"cmp": {k: float(v) for k, v in cmp.items()}, "dims": dims}

    def devfun(self) -> Callable[[np.ndarray], float]:
        """lme4's devfun: the criterion of theta (lmer, nAGQ = 0) or of theta then beta (glmer)."""
        if not self.glmm:
            return self.model.objective
        optimum = self.fit.optimum
        start = optimum.state.eta if optimum.eta_start is None else optimum.eta_start
        return self.model.stage1_objective(start) if self.fit.nagq == 0 else self.model.stage2_objective(start)


def _theta_position(i: int, j: int, k: int) -> int:
    """Position of a template's element (i, j), i >= j, in its term's theta (the lower triangle column-major)."""
    return j * k - j * (j - 1) // 2 + (i - j)


def _theta_offsets(ks: list[int]) -> list[int]:
    """Where each term's share of theta starts."""
    return [int(v) for v in np.concatenate([[0], np.cumsum([k * (k + 1) // 2 for k in ks])])[:-1]]


def _st(tmpl: np.ndarray) -> np.ndarray:
    """lme4's ST form of a template: its diagonal, below it the columns divided by their diagonal element."""
    diag = np.diag(tmpl)
    scaled = np.divide(tmpl, diag[None, :], out=np.zeros_like(tmpl), where=diag[None, :] != 0)
    return np.tril(scaled, -1) + np.diag(diag)


def _flist(pc: _Pieces) -> pd.DataFrame:
    names, assign = pc.factors
    first = {t.group: t for t in reversed(pc.terms)}
    frame = pd.DataFrame({name: pd.Categorical.from_codes(first[name].codes, categories=list(first[name].levels))
                          for name in names}, index=pc.mm.rows)
    frame.attrs["assign"] = assign
    return frame


def _per_term(pc: _Pieces, values: Sequence[int]) -> pd.Series:
    """A Series over the terms, named by their bar text as lme4's mmList names (p_i, q_i, m_i)."""
    return pd.Series(list(values), index=[t.text for t in pc.terms], dtype=np.int64)


def _ztlist(pc: _Pieces) -> dict[str, sp.csr_matrix]:
    zt = pc.z.T.tocsr()
    rows = [start + j + t.k * np.arange(t.n_levels) for start, t in zip(pc.gp[:-1], pc.layouts) for j in range(t.k)]
    return dict(zip(pc.tnames(diag_only=True), (zt[r] for r in rows)))


def _nb_theta(pc: _Pieces) -> float:
    theta = getattr(pc.fit.family, "theta", None) if pc.glmm else None
    return float("nan") if theta is None else float(theta)


_ANSWERS: dict[str, Callable[[_Pieces], Any]] = {
    "X": lambda pc: np.array(pc.mm.X, dtype=float),
    "Z": lambda pc: pc.z.copy(),
    "Zt": lambda pc: pc.z.T.tocsc(),
    "Ztlist": _ztlist,
    "mmList": lambda pc: {t.text: np.array(t.z, dtype=float) for t in pc.terms},
    "y": lambda pc: np.array(pc.model.y if pc.glmm else pc.mm.y, dtype=float),
    "mu": lambda pc: pc.mu.copy(),
    "u": lambda pc: pc.u.copy(),
    "b": lambda pc: pc.lambdat[0].T @ pc.u,
    "Gp": lambda pc: pc.gp.copy(),
    "Tp": lambda pc: pd.Series(np.concatenate([[0], np.cumsum([k * (k + 1) // 2 for k in pc.ks])]).astype(np.int64),
                               index=["beg__", *(t.group for t in pc.terms)]),
    "L": lambda pc: pc.l_blocks[0].copy(),
    "Lambda": lambda pc: pc.lambdat[0].T.tocsc(),
    "Lambdat": lambda pc: pc.lambdat[0].copy(),
    "Lind": lambda pc: pc.lambdat[1].copy(),
    "Tlist": lambda pc: dict(zip(pc.keys, templates(pc.theta, pc.ks))),
    "A": lambda pc: (pc.lambdat[0] @ pc.z.T).tocsc(),
    "RX": lambda pc: pc.factor.r_x.T.copy(),
    "RZX": lambda pc: pc.l_blocks[1].T.copy(),
    "sigma": lambda pc: float(pc.fit.sigma),
    "flist": _flist,
    "fixef": lambda pc: pc.fit.fixef,
    "beta": lambda pc: pc.fit.fixef.to_numpy(),
    "theta": lambda pc: pd.Series(pc.theta.copy(), index=pc.tnames()),
    "ST": lambda pc: dict(zip(pc.keys, (_st(t) for t in templates(pc.theta, pc.ks)))),
    "REML": lambda pc: pc.mm.X.shape[1] if pc.fit.reml else 0,
    "is_REML": lambda pc: bool(pc.fit.reml),
    "n_rtrms": lambda pc: len(pc.terms),
    "n_rfacs": lambda pc: len(pc.factors[0]),
    "N": lambda pc: pc.mm.X.shape[0],
    "n": lambda pc: pc.mm.X.shape[0],
    "p": lambda pc: pc.mm.X.shape[1],
    "q": lambda pc: int(pc.gp[-1]),
    "p_i": lambda pc: _per_term(pc, pc.ks),
    "l_i": lambda pc: pd.Series([pc.fit.ngrps[g] for g in pc.factors[0]], index=pc.factors[0], dtype=np.int64),
    "q_i": lambda pc: _per_term(pc, [t.q for t in pc.layouts]),
    "k": lambda pc: len(pc.terms),
    "m_i": lambda pc: _per_term(pc, [k * (k + 1) // 2 for k in pc.ks]),
    "m": lambda pc: len(pc.theta),
    "cnms": lambda pc: {key: list(t.z_names) for key, t in zip(pc.keys, pc.terms)},
    "devcomp": lambda pc: pc.devcomp(),
    "offset": lambda pc: np.array(pc.mm.offset, dtype=float),
    "lower": lambda pc: pd.Series(theta_lower_bounds(pc.ks), index=pc.tnames()),
    "devfun": lambda pc: pc.devfun(),
    "glmer.nb.theta": _nb_theta,
    "weights": lambda pc: pc.weights.copy(),
}


def get_me(fit: MixedModelFit, name: str | Sequence[str]) -> Any:
    """lme4's ``getME(fit, name)``: a piece of a fitted model by lme4's name.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
    name : str or sequence of str
        One of :data:`GETME_NAMES`, ``"ALL"`` for all of them, or several names
        (answered as a dict, as getME answers a vector of names with a list).

    Returns
    -------
    object
        As lme4 1.1-31 answers, in Python's types:

        - ``X``: ndarray (n, p). ``Z`` (n x q), ``Zt``, ``Lambda``, ``Lambdat``
          (q x q, lme4's structure: each template's lower triangle, zeros kept),
          ``A`` (= Lambdat Zt), ``L``: scipy sparse CSC matrices, random effects
          in lme4's order (terms in lme4's order, each level's k columns together).
          ``Ztlist``: rows of Zt per theta diagonal name, as CSR matrices.
        - ``L``: the lower-triangular Cholesky factor of Lambda' Z' W Z Lambda + I
          (W: the prior weights for lmer; glmer's working weights at the final
          PIRLS state) in that natural order, ``L @ L.T == A @ W @ A.T + I``.
          lme4's ``L`` is a CHOLMOD factor with a fill-reducing permutation P
          (``L@perm``): ``as(L, "sparseMatrix")`` is the Cholesky factor of
          P (Lambda' Z' W Z Lambda + I) P', which equals this one where
          ``L@perm`` is the identity (one term, or terms CHOLMOD leaves in
          place) and otherwise is the factor of the same matrix with rows and
          columns permuted. ``RZX`` (q x p, solves L RZX = Lambda' Z' W X) is
          likewise in natural order; ``RX`` (p x p, upper triangular,
          RX' RX = X' W X - RZX' RZX) is lme4's whatever the permutation.
        - ``theta``, ``lower``, ``fixef``: Series with lme4's names
          (``Subject.Days.(Intercept)``); ``beta``, ``u``, ``b``, ``y``, ``mu``,
          ``offset``, ``weights`` (prior weights; for a binomial ``cbind``
          response the trials, with ``y`` the proportions): ndarrays.
        - ``Gp``: int64 ndarray, 0-based as lme4's; ``Lind``: the 0-based
          position in theta of each stored entry of ``Lambdat`` (lme4's is 1-based).
        - ``flist``: DataFrame of the distinct grouping factors (categoricals)
          on the fitted rows; ``attrs["assign"]`` gives each term's factor, 0-based.
        - ``cnms``, ``ST``, ``Tlist``: dicts by grouping factor in lme4's term
          order; where a factor has several terms lme4's list repeats its name,
          here the later keys are made unique as R's make.unique (``Subject.1``).
        - ``Tp``, ``p_i``, ``l_i``, ``q_i``, ``m_i``: int Series (per term, named
          by the bar text as lme4's mmList; ``l_i`` per grouping factor);
          ``mmList``: dict of bar text to the term's model matrix.
        - ``devcomp``: ``{"cmp": {...}, "dims": {...}}`` with lme4's keys in
          lme4's order (NaN where lme4 has NA; ``compDev`` is always 1).
        - ``devfun``: the criterion the fit minimised, a function of theta
          (lmer, glmer with nAGQ = 0) or of theta then beta (glmer).
        - ``REML`` (p for a REML fit, else 0), ``is_REML``, ``sigma``, the counts
          ``n_rtrms``, ``n_rfacs``, ``N``, ``n``, ``p``, ``q``, ``k``, ``m``, and
          ``glmer.nb.theta`` (NaN unless negative binomial).

    Raises
    ------
    ValueError
        An unknown name; the message lists the valid ones.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> get_me(fit, "Z").shape, get_me(fit, "Gp").tolist()
    ((180, 36), [0, 36])
    >>> get_me(fit, "cnms")
    {'Subject': ['(Intercept)', 'Days']}
    >>> get_me(fit, "devcomp")["dims"]["nth"]
    3
    """
    pieces = _Pieces(fit)
    if not isinstance(name, str):
        return {one: _answer(pieces, one) for one in name}
    if name == "ALL":
        return {one: _answer(pieces, one) for one in GETME_NAMES}
    return _answer(pieces, name)


def _answer(pieces: _Pieces, name: str) -> Any:
    if name not in _ANSWERS:
        raise ValueError(f"getME has no {name!r}; the names are: {', '.join(GETME_NAMES)} (or 'ALL')")
    return _ANSWERS[name](pieces)


def _frame_columns(label: str, value: Any) -> dict[str, Any]:
    """One model-frame variable as DataFrame columns: a factor as a categorical, a matrix as ``label[, j]``."""
    if isinstance(value, Factor):
        if value.logical:
            return {label: value.codes.astype(bool)}
        return {label: pd.Categorical.from_codes(value.codes, categories=list(value.levels), ordered=value.ordered)}
    value = np.asarray(value)
    if value.ndim == 1:
        return {label: value}
    return {f"{label}[, {j + 1}]": value[:, j] for j in range(value.shape[1])}


def model_frame(fit: MixedModelFit, data: pd.DataFrame | None = None) -> pd.DataFrame:
    """R's ``model.frame(fit)``: the variables the model used, on the rows it used.

    The data are evaluated once more (``fit.call.data`` unless ``data`` is
    given), with the call's weights, offset and NA policy.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
    data : DataFrame, optional
        The fitted data, for a fit without a call (built stage by stage, or
        unpickled).

    Returns
    -------
    DataFrame
        Indexed by the fitted rows' labels: the response, then the formula's
        variables with bars read as ``+`` (fixed part first, then each bar
        term's variables and its grouping variables), then ``(weights)`` and
        ``(offset)`` where those arguments were given, as R names them. Factors
        are categoricals (levels no fitted row uses dropped, as R's); a matrix
        variable such as ``cbind(successes, failures)``, one column in R, is
        split into ``label[, 1]``, ``label[, 2]`` (``attrs["matrices"]`` maps the
        label to them). The response is the fit's (a refit's new one).

    Raises
    ------
    MixedFxError
        No data: the fit has no call and ``data`` was not given.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> list(model_frame(fit).columns)
    ['Reaction', 'Days', 'Subject']
    """
    call = fit.call
    if data is None and (call is None or call.data is None):
        raise MixedFxError("model_frame needs the fitted data: this fit has none (built stage by stage or "
                           "unpickled); pass data=")
    data = call.data if data is None else data
    arguments = {} if call is None else call.arguments
    mm = fit.model.matrices
    frame = design_model_frame(mm.spec.formula, data, weights=arguments.get("weights"),
                               offset=arguments.get("offset"), na_action=arguments.get("na_action", "omit"),
                               subset=arguments.get("subset"))
    values = dict(frame.values)
    response = frame.fixed.labels[0]
    if not isinstance(values[response], Factor):
        values[response] = np.asarray(mm.y, dtype=float)
    columns: dict[str, Any] = {}
    matrices: dict[str, list[str]] = {}
    for label, value in values.items():
        part = _frame_columns(label, value)
        if list(part) != [label]:
            matrices[label] = list(part)
        columns.update(part)
    if frame.weights is not None:
        columns["(weights)"] = frame.weights
    if arguments.get("offset") is not None:
        formula_part = sum((np.asarray(values[frame.fixed.labels[i]], dtype=float) for i in frame.fixed.offsets),
                           np.zeros(len(frame.rows)))
        columns["(offset)"] = frame.offset - formula_part
    out = pd.DataFrame(columns, index=frame.rows)
    if len(out) != len(mm.rows):
        out = out.loc[mm.rows]
    out.attrs["matrices"] = matrices
    return out


def model_matrix(fit: MixedModelFit, type: str = "fixed") -> Any:  # noqa: A002 - lme4's argument name
    """lme4's ``model.matrix(fit, type)``.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
    type : {"fixed", "random", "randomListRaw"}

    Returns
    -------
    DataFrame, scipy sparse matrix or dict
        ``"fixed"``: X as a DataFrame with R's column names, indexed by the
        fitted rows. ``"random"``: Z (``get_me(fit, "Z")``), CSC, columns in
        lme4's order (their levels: ``get_me(fit, "flist")``, by ``Gp``'s
        blocks). ``"randomListRaw"``: per random-effects term in lme4's order,
        named by its bar text (``"Days | Subject"``), its model matrix as a
        DataFrame with R's column names.

    Raises
    ------
    ValueError
        Another ``type``.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> list(model_matrix(fit).columns), model_matrix(fit, "random").shape
    (['(Intercept)', 'Days'], (180, 36))
    >>> list(model_matrix(fit, "randomListRaw"))
    ['Days | Subject']
    """
    if type not in _MODEL_MATRIX_TYPES:
        raise ValueError(f"type must be one of {', '.join(map(repr, _MODEL_MATRIX_TYPES))}, not {type!r}")
    mm = fit.model.matrices
    if type == "fixed":
        return pd.DataFrame(np.array(mm.X, dtype=float), columns=list(mm.x_names), index=mm.rows)
    if type == "random":
        return get_me(fit, "Z")
    return {t.text: pd.DataFrame(np.array(t.z, dtype=float), columns=list(t.z_names), index=mm.rows)
            for t in mm.ordered_terms}


@dataclass(frozen=True)
class ModelTerms:
    """What R's ``terms(fit)`` says of a mixed model's formula.

    Attributes
    ----------
    response : str
        The response as R deparses it (``attr(terms, "variables")[[2]]``).
    variables : list of str
        R's ``attr(terms, "variables")``: the response first, then each variable.
    term_labels : list of str
        R's ``attr(terms, "term.labels")``: ``"Days"``, ``"recipe:temperature"``.
    intercept : bool
        R's ``attr(terms, "intercept")``.
    offsets : list of str
        The ``offset(...)`` variables (R's ``attr(terms, "offset")``, by label).
    """

    response: str
    variables: list[str]
    term_labels: list[str]
    intercept: bool
    offsets: list[str]


def terms(fit: MixedModelFit, fixed_only: bool = True) -> ModelTerms:
    """lme4's ``terms(fit, fixed.only)``: the labels of the formula's terms.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
    fixed_only : bool
        The fixed part's terms (lme4's default); False for the whole formula
        with each bar read as ``+`` (``(Days | Subject)`` as ``(Days + Subject)``,
        lme4's ``subbars``), the bar terms after the fixed part and as expanded
        (``||`` already split into its terms).

    Returns
    -------
    ModelTerms

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> terms(fit).term_labels, terms(fit, fixed_only=False).term_labels
    (['Days'], ['Days', 'Subject'])
    """
    formula = fit.model.matrices.spec.formula
    if fixed_only:
        expanded: Terms = fit.model.matrices.spec.fixed.terms
    else:
        rhs = formula.fixed
        for bar in formula.bars:
            rhs = Binary("+", rhs, Paren(Binary("+", bar.lhs, bar.group)))
        expanded = expand_terms(rhs, formula.response)
    return ModelTerms(response=expanded.labels[0], variables=list(expanded.labels),
                      term_labels=expanded.term_labels, intercept=bool(expanded.intercept),
                      offsets=[expanded.labels[i] for i in expanded.offsets])
