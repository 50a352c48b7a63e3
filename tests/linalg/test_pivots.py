"""Every factor of the penalised system decides singularity by the same relative pivot floor.

A singular matrix's last pivot comes out as a rounding error of either sign,
depending on the machine; these tests hold whatever that sign is: exactly
collinear columns and columns collinear up to 1e-14 relative noise fail in
every factor, and well-conditioned columns (on very different scales) never do.
"""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.design.matrices import build_model_matrices
from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.model import GeneralizedLinearMixedModel
from mixedfx.glmm.pirls import PirlsError
from mixedfx.linalg.cross import cross_products
from mixedfx.linalg.factorizer import OneTermFactorizer, SmallScalarFactorizer, factorize, factorizer_for
from mixedfx.linalg.layout import TermLayout
from mixedfx.linalg.one_term import class_criterion_parts, criterion_parts, level_classes, scalar_criterion_parts
from mixedfx.linalg.pivots import EPSILON, pivot_floor

SEEDS = range(12)
KINDS = ["exact", "noisy", "independent"]


def _fixed(rng, n, kind):
    """X with an intercept and two columns: the last a multiple of the second (up to noise) or independent."""
    x = rng.normal(size=n)
    if kind == "exact":
        last = 2.0 * x
    elif kind == "noisy":
        last = 2.0 * x * (1.0 + 1e-14 * rng.uniform(-1.0, 1.0, n))
    else:
        # independent, on scales far apart: a per-column floor never mistakes scale for rank
        x, last = 1e8 * x, 1e-8 * rng.normal(size=n)
    return np.column_stack([np.ones(n), x, last])


def _singular(kind):
    return kind != "independent"


def test_the_floor_scales_with_the_column_and_the_order():
    assert pivot_floor(4.0, 10) == pytest.approx(40 * EPSILON)
    assert pivot_floor(np.array([1.0, 1e16]), 3) == pytest.approx([3 * EPSILON, 3e16 * EPSILON])


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", SEEDS)
def test_one_vector_term(kind, seed):
    rng = np.random.default_rng(seed)
    n, n_levels = 300, 60
    codes = np.arange(n) % n_levels
    z = np.column_stack([np.ones(n), rng.normal(size=n)])
    cp = cross_products([TermLayout(codes=codes, z=z, n_levels=n_levels)], _fixed(rng, n, kind), rng.normal(size=n))
    assert isinstance(factorizer_for(cp), OneTermFactorizer)
    theta = np.array([0.8, 0.3, 0.6])
    assert (criterion_parts(*OneTermFactorizer(cp).blocks, theta)[0] == 1) == _singular(kind)
    _assert_factorize(cp, theta, kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", SEEDS)
def test_one_term_by_classes_of_levels(kind, seed):
    rng = np.random.default_rng(seed)
    n_levels, times = 60, np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    codes = np.repeat(np.arange(n_levels), len(times))
    t = np.tile(times, n_levels)
    cp = cross_products([TermLayout(codes=codes, z=np.column_stack([np.ones_like(t), t]), n_levels=n_levels)],
                        _fixed(rng, codes.size, kind), rng.normal(size=codes.size))
    classes = level_classes(*OneTermFactorizer(cp).blocks[:2])
    assert classes is not None
    theta = np.array([0.8, 0.3, 0.6])
    assert (class_criterion_parts(*classes, OneTermFactorizer(cp).blocks[2], theta)[0] == 1) == _singular(kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", SEEDS)
def test_crossed_scalar_terms_with_a_small_rest(kind, seed):
    rng = np.random.default_rng(seed)
    n = 300
    codes = [np.arange(n) % 60, rng.integers(0, 6, n), rng.integers(0, 4, n)]
    layouts = [TermLayout(codes=c, z=np.ones((n, 1)), n_levels=int(c.max()) + 1) for c in codes]
    cp = cross_products(layouts, _fixed(rng, n, kind), rng.normal(size=n))
    assert isinstance(factorizer_for(cp), SmallScalarFactorizer)
    theta = np.array([0.8, 1.7, 0.3])
    assert (scalar_criterion_parts(*SmallScalarFactorizer(cp).blocks, theta)[0] == 1) == _singular(kind)
    _assert_factorize(cp, theta, kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", SEEDS[:4])
def test_crossed_scalar_terms_with_a_sparse_coupling(kind, seed):
    rng = np.random.default_rng(seed)
    n = 1200
    codes = [np.arange(n) % 400, rng.integers(0, 200, n)]
    layouts = [TermLayout(codes=c, z=np.ones((n, 1)), n_levels=int(c.max()) + 1) for c in codes]
    cp = cross_products(layouts, _fixed(rng, n, kind), rng.normal(size=n))
    assert not isinstance(factorizer_for(cp), OneTermFactorizer) and hasattr(cp.a_r1, "tocsr")
    _assert_factorize(cp, np.array([0.8, 0.5]), kind)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", SEEDS[:4])
def test_a_vector_term_crossed_with_a_scalar_one(kind, seed):
    rng = np.random.default_rng(seed)
    n = 300
    first, second = np.arange(n) % 60, rng.integers(0, 8, n)
    z = np.column_stack([np.ones(n), rng.normal(size=n)])
    layouts = [TermLayout(codes=first, z=z, n_levels=60), TermLayout(codes=second, z=np.ones((n, 1)), n_levels=8)]
    cp = cross_products(layouts, _fixed(rng, n, kind), rng.normal(size=n))
    _assert_factorize(cp, np.array([0.8, 0.3, 0.6, 0.5]), kind)


def _assert_factorize(cp, theta, kind):
    if _singular(kind):
        with pytest.raises(np.linalg.LinAlgError):
            factorize(cp, theta)
    else:
        assert np.all(np.isfinite(np.diagonal(factorize(cp, theta).l_rr)))


def _glmm(kind, seed, dense):
    """A Poisson model whose X is replaced after the design's own rank check (which would drop the column).

    ``dense``: crossed factors that fill the PIRLS factor's rest block (LAPACK factors
    it), else a pattern factored in the compiled loop.
    """
    rng = np.random.default_rng(seed)
    n, first, second = (1000, 200, 120) if dense else (300, 60, 5)
    data = pd.DataFrame({"g": pd.Categorical(np.arange(n) % first), "h": pd.Categorical(rng.integers(0, second, n)),
                         "y": rng.poisson(2.0, n), "x": rng.normal(size=n)})
    matrices = build_model_matrices("y ~ x + (1 | g) + (1 | h)", data)
    matrices = replace(matrices, X=_fixed(rng, n, kind), x_names=["(Intercept)", "x", "x2"])
    model = GeneralizedLinearMixedModel(matrices, mfx.families.get_family("poisson"), 1)
    assert model.pirls_engines[0].kernel.dense == dense
    return model


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("seed", SEEDS[:6])
@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("dense", [False, True])
def test_the_pirls_factor(kind, seed, compiled, dense):
    model = _glmm(kind, seed, dense)
    if not compiled:
        model = GeneralizedLinearMixedModel(model.matrices, model.family, 1, GlmerControl(compiled_pirls=False))
    theta = np.array([0.6, 0.4])
    if _singular(kind):
        with pytest.raises(PirlsError):
            model.pirls(theta, None, model.eta_start)
    else:
        assert np.all(np.isfinite(model.pirls(theta, None, model.eta_start).beta))
