"""mixedfx: linear mixed-effects models with lme4's formula syntax, numbers and summaries.

>>> import mixedfx as mfx
>>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=mfx.datasets.load("sleepstudy"))
>>> print(fit.summary())  # doctest: +SKIP

The names below are imported when first used (PEP 562), so ``import mixedfx``
loads none of pandas, scipy or numba: ``mfx.lmer`` imports the fitting
stages, ``mfx.plots`` the plots, each once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# the public modules, and each other public name with the module that defines it
_SUBMODULES = {"datasets": "mixedfx.datasets", "families": "mixedfx.glmm.families", "plots": "mixedfx.plots"}
_EXPORTS = {
    "lmer": "mixedfx.api", "glmer": "mixedfx.api", "glmer_nb": "mixedfx.api",
    "anova": "mixedfx.inference.anova", "AnovaTable": "mixedfx.inference.anova",
    "FTestTable": "mixedfx.inference.anova", "WaldTable": "mixedfx.inference.anova",
    "all_fit": "mixedfx.inference.allfit", "AllFitResult": "mixedfx.inference.allfit",
    "bootstrap": "mixedfx.inference.bootstrap", "BootstrapResult": "mixedfx.inference.bootstrap",
    "drop1": "mixedfx.inference.drop1", "Drop1Table": "mixedfx.inference.drop1",
    "vcov": "mixedfx.inference.covariance", "ranova": "mixedfx.inference.ranova",
    "kr_modcomp": "mixedfx.inference.modcomp", "pb_modcomp": "mixedfx.inference.modcomp",
    "emmeans": "mixedfx.estimated_means", "EmmGrid": "mixedfx.estimated_means", "EmmList": "mixedfx.estimated_means",
    "influence": "mixedfx.inference.influence", "Influence": "mixedfx.inference.influence",
    "dfbeta": "mixedfx.inference.influence", "dfbetas": "mixedfx.inference.influence",
    "re_pca": "mixedfx.inference.re_pca", "lm_list": "mixedfx.inference.lm_list", "LmList": "mixedfx.inference.lm_list",
    "LmerControl": "mixedfx.lmm.control", "GlmerControl": "mixedfx.glmm.control",
    "LmerFit": "mixedfx.fits.lmer", "GlmerFit": "mixedfx.fits.glmer", "MixedModelFit": "mixedfx.fits.base",
    "FitSummary": "mixedfx.fits.summary", "VarCorrTable": "mixedfx.fits.summary",
    "lmer_design": "mixedfx.modular", "lmer_model": "mixedfx.modular", "optimize_lmer": "mixedfx.modular",
    "lmer_fit": "mixedfx.modular", "glmer_design": "mixedfx.modular", "glmer_model": "mixedfx.modular",
    "optimize_glmer": "mixedfx.modular", "glmer_fit": "mixedfx.modular",
}

__all__ = [*_SUBMODULES, *_EXPORTS]
__version__ = "0.1.0"

if TYPE_CHECKING:  # what the names are, for type checkers and editors
    from mixedfx import datasets, plots
    from mixedfx.api import glmer, glmer_nb, lmer
    from mixedfx.estimated_means import EmmGrid, EmmList, emmeans
    from mixedfx.fits.base import MixedModelFit
    from mixedfx.fits.glmer import GlmerFit
    from mixedfx.fits.lmer import LmerFit
    from mixedfx.fits.summary import FitSummary, VarCorrTable
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
    from mixedfx.modular import (glmer_design, glmer_fit, glmer_model, lmer_design, lmer_fit, lmer_model,
                                 optimize_glmer, optimize_lmer)


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use and keep the name here."""
    if name in _SUBMODULES:
        value = importlib.import_module(_SUBMODULES[name])
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'mixedfx' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
