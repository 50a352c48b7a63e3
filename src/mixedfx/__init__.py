"""mixedfx: linear mixed-effects models with lme4's formula syntax, numbers and summaries.

>>> import mixedfx as mfx
>>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=mfx.datasets.load("sleepstudy"))
>>> print(fit.summary())  # doctest: +SKIP
"""

from mixedfx import datasets
from mixedfx.glmm import families
from mixedfx.inference.allfit import AllFitResult, all_fit
from mixedfx.inference.anova import AnovaTable, anova
from mixedfx.api import glmer, glmer_nb, lmer
from mixedfx.inference.bootstrap import BootstrapResult, bootstrap
from mixedfx.fits.glmer import GlmerFit
from mixedfx.glmm.control import GlmerControl
from mixedfx.fits.lmer import LmerFit
from mixedfx.lmm.control import LmerControl
from mixedfx.fits.base import FitSummary, MixedModelFit

__all__ = ["datasets", "families", "lmer", "glmer", "glmer_nb", "anova", "all_fit", "AllFitResult", "bootstrap",
           "BootstrapResult", "AnovaTable",
           "LmerControl",
           "GlmerControl", "LmerFit", "GlmerFit", "FitSummary", "MixedModelFit"]
__version__ = "0.1.0"
