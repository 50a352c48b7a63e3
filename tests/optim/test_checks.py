"""The control objects' fields are checked on construction (issue [robustness] item 7), and lme4's checkScaleX."""

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.optim.checks import scale_x_message


@pytest.mark.parametrize(("kind", "field", "value", "error", "words"), [
    (mfx.GlmerControl, "tol_pwrss", "x", TypeError, "control tol_pwrss must be a finite number"),
    (mfx.GlmerControl, "tol_pwrss", -1.0, ValueError, "control tol_pwrss must be positive"),
    (mfx.LmerControl, "theta0", (float("nan"),), ValueError, "control theta0 must be finite"),
    (mfx.LmerControl, "maxeval", "many", TypeError, "control maxeval must be a whole number"),
    (mfx.LmerControl, "maxeval", 0, ValueError, "control maxeval must be at least 1"),
    (mfx.LmerControl, "use_gradient", "yes", TypeError, "control use_gradient must be True or False"),
    (mfx.LmerControl, "singular_tol", float("inf"), TypeError, "control singular_tol must be a finite number"),
])
def test_bad_control_fields_are_refused_by_name(kind, field, value, error, words):
    with pytest.raises(error, match=words):
        kind(**{field: value})


def test_good_control_fields_pass():
    assert mfx.LmerControl(maxeval=np.int64(50), xtol_abs=np.float64(1e-6), inward_tol=-1.0).maxeval == 50
    with pytest.raises(TypeError, match="tol_pwrss"):
        mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
                  family="binomial", control={"tol_pwrss": "x"})


def test_scale_check_leaves_out_indicator_columns():
    indicators = np.column_stack([np.ones(4), [0.0, 1, 0, 1], [1e4, 3e4, 2e4, 5e4]])
    assert scale_x_message(indicators, 1e3) is not None  # one column's sd is far from 1
    assert scale_x_message(indicators[:, :2], 1e3) is None
