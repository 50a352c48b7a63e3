"""mixedfx: linear mixed-effects models with lme4's formula syntax, numbers and summaries.

>>> import mixedfx as mfx
>>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=mfx.datasets.load("sleepstudy"))
>>> print(fit.summary())  # doctest: +SKIP
"""

from mixedfx import datasets, families
from mixedfx.allfit import AllFitResult, all_fit
from mixedfx.anova import AnovaTable, anova
from mixedfx.api import glmer, glmer_nb, lmer
from mixedfx.bootstrap import BootstrapResult, bootstrap
from mixedfx.glmer_fit import GlmerFit
from mixedfx.glmm import GlmerControl
from mixedfx.lmer_fit import LmerFit
from mixedfx.lmm import LmerControl
from mixedfx.results import FitSummary, MixedModelFit

__all__ = ["datasets", "families", "lmer", "glmer", "glmer_nb", "anova", "all_fit", "AllFitResult", "bootstrap",
           "BootstrapResult", "AnovaTable",
           "LmerControl",
           "GlmerControl", "LmerFit", "GlmerFit", "FitSummary", "MixedModelFit"]
__version__ = "0.1.0"
