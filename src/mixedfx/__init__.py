"""mixedfx: linear and generalized linear mixed-effects models with lme4's syntax and numbers."""

from mixedfx import datasets

__all__ = ["datasets"]
__version__ = "0.1.0"
