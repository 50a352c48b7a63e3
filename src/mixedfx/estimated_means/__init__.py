"""Estimated marginal means, their contrasts and multiplicity adjustments, as R's emmeans package computes them.

>>> import mixedfx as mfx
>>> from mixedfx.estimated_means import emmeans
>>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
>>> list(emmeans(fit, "Days").summary().columns)
['Days', 'emmean', 'SE', 'df', 'lower.CL', 'upper.CL']
"""

from mixedfx.estimated_means.marginal_means import EmmGrid, EmmList, emmeans

__all__ = ["emmeans", "EmmGrid", "EmmList"]
