"""A fit's linear predictor on its own rows or on new ones: X beta + offset + the chosen random effects' Z b."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixedfx.design.matrices import ModelMatrices
from mixedfx.design.newdata import new_data_matrices, selected_columns
from mixedfx.linalg.layout import random_part

__all__ = ["Predictor"]


@dataclass(frozen=True)
class Predictor:
    """What a linear predictor needs of a fit: its matrices, fixed effects and conditional modes.

    Small enough to send to a cluster's workers with each partition's task.

    Attributes
    ----------
    matrices : ModelMatrices
        The fit's matrices (its rows are read only for ``newdata=None``).
    beta : ndarray, shape (p,)
        Fixed effects.
    effects : list of ndarray, shape (levels, k)
        Conditional modes b by term, in the order of ``matrices.re_terms`` (formula order).
    """

    matrices: ModelMatrices
    beta: np.ndarray
    effects: list[np.ndarray]

    def linear_predictor(self, newdata: pd.DataFrame | None = None, re_form: str | None = None,
                         allow_new_levels: bool = False) -> np.ndarray:
        """X beta + offset + the selected terms' (or their selected columns') Z b, for the fitted rows or new ones.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> round(float(fit.predictor.linear_predictor(re_form="~0")[0]), 2)
        251.41
        """
        if newdata is None:
            mm = self.matrices
            columns = selected_columns(mm, re_form)
            kept = sorted(columns)
            codes = [mm.re_terms[i].codes for i in kept]
            zs = [mm.re_terms[i].z * columns[i] for i in kept]
        else:
            mm = new_data_matrices(self.matrices, newdata, re_form=re_form, allow_new_levels=allow_new_levels)
            kept = [term.index for term in mm.re_terms]
            codes, zs = [t.codes for t in mm.re_terms], [t.z for t in mm.re_terms]
        fixed = mm.X @ self.beta + mm.offset
        if not kept:
            return fixed
        return fixed + random_part(codes, zs, [self.effects[i] for i in kept])
