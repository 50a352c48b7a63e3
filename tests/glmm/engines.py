"""What the compiled-engine tests share: the same model with PIRLS run by the Python loop."""

from dataclasses import replace

from mixedfx.glmm.model import GeneralizedLinearMixedModel


def python_loop(model: GeneralizedLinearMixedModel) -> GeneralizedLinearMixedModel:
    """The same model with PIRLS run by the Python loop."""
    return GeneralizedLinearMixedModel(model.matrices, model.family, model.n_agq,
                                       replace(model.control, compiled_pirls=False))
