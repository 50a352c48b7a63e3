"""Diagnostic and effect plots of fitted mixed models, drawn with matplotlib (the ``mixedfx[plot]`` extra).

Each function returns a :class:`matplotlib.figure.Figure` made without pyplot,
so it needs no GUI backend: save it with ``fig.savefig("plot.png")``, or show
it in a notebook by leaving it as a cell's value. Importing this package does
not import matplotlib; drawing does, and raises ImportError without it.

- :func:`caterpillar`: conditional modes with intervals (lme4's ``dotplot(ranef(fit, condVar = TRUE))``)
- :func:`residuals`: Pearson residuals against fitted values with a smooth (``plot(fit)``)
- :func:`qq`: normal QQ plots of the residuals and the random effects (``qqmath``)
- :func:`profile`: zeta against each parameter of ``fit.profile()`` (``xyplot(profile(fit))``)
- :func:`effects`: the data and each group's fitted line over a variable, with the population line
"""

from mixedfx.plots.diagnostics import qq, residuals
from mixedfx.plots.effects_plot import effects
from mixedfx.plots.profile_plot import profile
from mixedfx.plots.ranef_plot import caterpillar

__all__ = ["caterpillar", "residuals", "qq", "profile", "effects"]
