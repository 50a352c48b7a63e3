"""What the criterion's gradient needs from a factor when a scalar first term meets vector-valued terms sparsely.

The quantities of :mod:`mixedfx.linalg.derivatives` for
:class:`~mixedfx.linalg.factorizer.VectorRestFactorizer` (``(service | d) + (1 |
s)``), where G's coupling block is wanted only on the coupling's non-zeros. With
the first term scalar, its level l's block of the factor is ``D_l = theta_1^2
A11_l + 1`` and ``K D^-1``'s column l is ``s_l Lambda_r' A_r1[:, l]``, ``s_l =
theta_1 / D_l``, so every block of G that the derivatives read comes from the
rest's inverse ``G_rr = S^-1`` and the scaled coupling ``At = Lambda_r' A_r1``:

- the first term's share: ``sum_l theta_1 (1 / D_l + s_l^2 Q_l) A11_l - s_l Q_l``,
  ``Q_l = At_l' G_rr At_l``;
- G's coupling column l on its non-zeros: ``-s_l G_rr At_l``, met by
  ``theta_1 A_r1[:, l]`` on each rest term's blocks;
- G_rr met by ``Lambda_r' A_rr`` on A_rr's non-zero block pairs.

Each column costs the square of its non-zeros, as the Schur update does.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import numba
import numpy as np

from mixedfx.linalg.cross import CrossProducts
from mixedfx.linalg.derivatives import TemplateDerivatives, rest_inverse_lower, template_spreads
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.linalg.layout import templates
from mixedfx.linalg.sparse_gram import BlockSchur

__all__ = ["scalar_first_derivatives"]


def scalar_first_derivatives(cross: CrossProducts, factor: BlockedFactor, theta: np.ndarray, size: int,
                             schur: BlockSchur) -> TemplateDerivatives:
    """:class:`~mixedfx.linalg.derivatives.TemplateDerivatives` at ``theta`` for a scalar first term and a sparse coupling.

    Parameters
    ----------
    cross : CrossProducts
        The model's blocks.
    factor : BlockedFactor
        Their factor at ``theta``.
    theta : ndarray
        Internal term order, the first term scalar.
    size : int
        Rows of the rest inside C: ``q_rest + p`` for REML, ``q_rest`` for the deviance.
    schur : BlockSchur
        The coupling's completed pattern and A_rr's block pairs (the factoriser's).

    Returns
    -------
    TemplateDerivatives
    """
    layout = cross.layout
    tmpls = templates(theta, layout.ks)
    stacked = schur.stacked_templates(tmpls[1:])
    blocks = schur.blocks
    theta1 = float(theta[0])
    scale = theta1 / factor.l11[:, 0, 0] ** 2
    g_rr = rest_inverse_lower(factor.l_rr, size, single=True)
    n_rest = len(layout.ks) - 1
    kmax = stacked.shape[1]
    rest = np.zeros((n_rest, kmax, kmax))
    quadratic = np.empty(len(scale))
    _column_terms(schur.ptr, schur.idx, schur.data, schur.scaled_coupling(stacked), g_rr, size, layout.q_rest,
                  scale, theta1, schur.block_of_row, blocks.starts, blocks.template_of_block, rest, quadratic)
    _pair_terms(cross.a_rr, g_rr, size, layout.q_rest, schur.pair_rows, schur.pair_cols, blocks.starts,
                blocks.template_of_block, stacked, rest)
    a11 = cross.a11[:, 0, 0]
    first = float(np.sum(scale * a11 + scale * (theta1 * scale * a11 - 1.0) * quadratic))
    logdet = [np.array([[2.0 * first]])] + [2.0 * rest[t, :k, :k].T for t, k in enumerate(layout.ks[1:])]
    return TemplateDerivatives(logdet=logdet, spread=template_spreads(cross, factor, tmpls))


@numba.njit(cache=True, error_model="numpy")
def _column_terms(ptr, idx, data, scaled, g_rr, size, q_rest, scale, theta1, block_of_row, starts, template_of_block,
                  rest, quadratic):
    """Per coupling column l: ``quadratic[l] = At_l' G_rr At_l``, and G's coupling met by ``theta_1 A_r1`` added to
    each rest term's ``rest[term, c, r]`` (G_rr read from its lower triangle)."""
    most = 0
    for col in range(ptr.shape[0] - 1):
        most = max(most, ptr[col + 1] - ptr[col])
    g_col = np.zeros(most)
    for col in range(ptr.shape[0] - 1):
        lo, hi = ptr[col], ptr[col + 1]
        form = 0.0
        for e in range(lo, hi):
            row = idx[e]
            if row >= size:
                break
            acc = 0.0
            for f in range(lo, hi):
                if idx[f] >= size:
                    break
                other = idx[f]
                acc += (g_rr[row, other] if row >= other else g_rr[other, row]) * scaled[f]
            g_col[e - lo] = acc
            form += scaled[e] * acc
        quadratic[col] = form
        factor = -scale[col] * theta1
        for e in range(lo, hi):
            row = idx[e]
            if row >= q_rest:
                break
            block = block_of_row[row]
            first = starts[block]
            r = row - first
            term = template_of_block[block]
            for c in range(starts[block + 1] - first):
                rest[term, c, r] += factor * g_col[e - lo - r + c] * data[e]


@numba.njit(cache=True, error_model="numpy")
def _pair_terms(a_rr, g_rr, size, q_rest, pair_rows, pair_cols, starts, template_of_block, tmpls, rest):
    """G_rr (its lower triangle) met by ``Lambda_r' A_rr`` on A_rr's non-zero block pairs, added to each rest term's
    ``rest[term, c, r]``."""
    for pair in range(pair_rows.shape[0]):
        for side in range(2):
            source, target = (pair_rows[pair], pair_cols[pair]) if side == 0 else (pair_cols[pair], pair_rows[pair])
            if side == 1 and source == target:
                continue
            ts, tt = starts[source], starts[target]
            if tt >= q_rest or ts >= size:
                continue
            ks, kt = starts[source + 1] - ts, starts[target + 1] - tt
            t = tmpls[template_of_block[source]]
            term = template_of_block[target]
            for r in range(kt):
                for i in range(ks):
                    # (T_source' A_rr[source, target])[i, r]
                    scaled = 0.0
                    for a in range(i, ks):
                        scaled += t[a, i] * a_rr[ts + a, tt + r]
                    for c in range(kt):
                        a, b = tt + c, ts + i
                        rest[term, c, r] += (g_rr[a, b] if a >= b else g_rr[b, a]) * scaled
