"""mixedfx: linear mixed-effects models with lme4's formula syntax, numbers and summaries.

>>> import mixedfx as mfx
>>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=mfx.datasets.load("sleepstudy"))
>>> print(fit.summary())  # doctest: +SKIP
"""

from mixedfx import datasets, plots
from mixedfx.api import glmer, glmer_nb, lmer
from mixedfx.fits.base import MixedModelFit
from mixedfx.fits.summary import FitSummary, VarCorrTable
from mixedfx.fits.glmer import GlmerFit
from mixedfx.fits.lmer import LmerFit
from mixedfx.estimated_means import EmmGrid, EmmList, emmeans
from mixedfx.glmm import families
from mixedfx.glmm.control import GlmerControl
from mixedfx.inference.allfit import AllFitResult, all_fit
from mixedfx.inference.anova import AnovaTable, FTestTable, WaldTable, anova
from mixedfx.inference.bootstrap import BootstrapResult, bootstrap
from mixedfx.inference.covariance import vcov
from mixedfx.inference.drop1 import Drop1Table, drop1
from mixedfx.inference.influence import Influence, dfbeta, dfbetas, influence
from mixedfx.inference.lm_list import LmList, lm_list
from mixedfx.inference.modcomp import kr_modcomp, pb_modcomp
from mixedfx.inference.ranova import ranova
from mixedfx.inference.re_pca import re_pca
from mixedfx.lmm.control import LmerControl
from mixedfx.modular import (glmer_design, glmer_fit, glmer_model, lmer_design, lmer_fit, lmer_model, optimize_glmer,
                             optimize_lmer)

__all__ = ["datasets", "families", "plots", "lmer", "glmer", "glmer_nb", "anova", "all_fit", "AllFitResult", "bootstrap",
           "BootstrapResult", "AnovaTable", "FTestTable", "WaldTable", "drop1", "Drop1Table", "vcov", "ranova",
           "kr_modcomp", "pb_modcomp", "emmeans", "EmmGrid", "EmmList",
           "influence", "Influence", "dfbeta", "dfbetas", "re_pca", "lm_list", "LmList", "LmerControl",
           "GlmerControl", "LmerFit", "GlmerFit", "FitSummary", "VarCorrTable", "MixedModelFit", "lmer_design",
           "lmer_model", "optimize_lmer", "lmer_fit", "glmer_design", "glmer_model", "optimize_glmer", "glmer_fit"]
__version__ = "0.1.0"
