"""performance's R² and ICC of mixed models: ``r2_nakagawa``, ``icc`` and insight's ``get_variance``.

:func:`r2` and :func:`icc` reproduce performance 0.10.2 (with insight 0.19)
for lmer and glmer fits: the same variance components, the same family-specific
choices, the same warnings (as ``UserWarning``) and NA results (as NaN).
"""

from __future__ import annotations

from mixedfx.performance.icc import icc
from mixedfx.performance.r2 import r2
from mixedfx.performance.variance_components import variance_components

__all__ = ["icc", "r2", "variance_components"]
