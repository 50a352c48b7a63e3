"""mixedfx: linear mixed-effects models with lme4's formula syntax, numbers and summaries.

>>> import mixedfx as mfx
>>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=mfx.datasets.load("sleepstudy"))
>>> print(fit.summary())  # doctest: +SKIP
"""

from mixedfx import datasets
from mixedfx.anova import AnovaTable, anova
from mixedfx.api import lmer
from mixedfx.lmm import LmerControl
from mixedfx.lmer_fit import LmerFit
from mixedfx.results import FitSummary, MixedModelFit

__all__ = ["datasets", "lmer", "anova", "AnovaTable", "LmerControl", "LmerFit", "FitSummary", "MixedModelFit"]
__version__ = "0.1.0"
