"""lme4's check settings (``check.conv.grad``, ``check.conv.hess``, ``check.conv.singular``, ``check.scaleX``).

Each check has an action: ``"ignore"`` (not run, nothing said), ``"message"`` or
``"warning"`` (its text goes to ``fit.messages``, as lme4 prints it), or
``"stop"`` (the fit raises :class:`mixedfx.errors.MixedFxError` with the text).
mixedfx does not raise Python warnings for these: what lme4 warns about is in
``fit.messages``, read when asked.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, fields

import numpy as np

__all__ = ["CheckSettings", "ACTIONS", "SCALE_X_MESSAGE", "scale_x_message", "spread_message", "check_control_fields"]

ACTIONS = ("ignore", "message", "warning", "stop")
SCALE_X_MESSAGE = "Some predictor variables are on very different scales: consider rescaling"


@dataclass(frozen=True)
class CheckSettings:
    """The actions and tolerances of lme4's checks of a fit (fields of LmerControl and GlmerControl).

    Attributes
    ----------
    check_conv_grad : str
        The gradient check at the optimum (lme4's ``check.conv.grad``), ``"warning"`` by default.
    check_conv_grad_tol : float
        Its tolerance on the largest scaled gradient component.
    check_conv_hess : str
        The Hessian checks at the optimum (``check.conv.hess``).
    check_conv_hess_tol : float
        Their tolerance on the eigenvalues.
    check_conv_singular : str
        The singular-fit message (``check.conv.singular``), ``"message"`` by default;
        its tolerance is ``singular_tol``.
    check_scale_x : str
        lme4's check that the fixed-effect columns are on similar scales (``check.scaleX``).
    check_scale_x_tol : float
        The largest ratio of two columns' standard deviations (or of one to 1) allowed.
    """

    check_conv_grad: str = "warning"
    check_conv_grad_tol: float = 2e-3
    check_conv_hess: str = "warning"
    check_conv_hess_tol: float = 1e-6
    check_conv_singular: str = "message"
    check_scale_x: str = "warning"
    check_scale_x_tol: float = 1e3

    def __post_init__(self) -> None:
        for name in ("check_conv_grad", "check_conv_hess", "check_conv_singular", "check_scale_x"):
            value = getattr(self, name)
            if value not in ACTIONS:
                raise ValueError(f"{name} must be one of {', '.join(map(repr, ACTIONS))}, not {value!r}")


def scale_x_message(X: np.ndarray, tol: float) -> str | None:
    """lme4's ``checkScaleX``: its message where X's non-0/1 columns' scales differ by more than ``tol``.

    Columns holding only 0 and 1 (the intercept, indicators) are left out; the
    others' standard deviations must be within a factor ``tol`` of each other and of 1.

    Examples
    --------
    >>> x = np.column_stack([np.ones(4), [1.0, 2, 3, 4], [1e4, 3e4, 2e4, 5e4]])
    >>> scale_x_message(x, 1e3)
    'Some predictor variables are on very different scales: consider rescaling'
    >>> scale_x_message(x[:, :2], 1e3) is None
    True
    """
    continuous = ~np.all((X == 0.0) | (X == 1.0), axis=0)
    return spread_message(np.std(X[:, continuous], axis=0, ddof=1), tol)


def spread_message(sd: np.ndarray, tol: float) -> str | None:
    """:func:`scale_x_message` from the standard deviations of X's columns other than 0/1 ones.

    Examples
    --------
    >>> spread_message(np.array([1.0, 2e4]), 1e3)
    'Some predictor variables are on very different scales: consider rescaling'
    """
    if not sd.size:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):
        log_sd = np.log(sd)
        ratios = np.abs(log_sd[:, None] - log_sd[None, :])
    limit = np.log(tol)
    return SCALE_X_MESSAGE if np.any(ratios > limit) or np.any(np.abs(log_sd) > limit) else None


_POSITIVE = frozenset({"tol_pwrss", "check_conv_grad_tol", "check_conv_hess_tol", "check_scale_x_tol",
                       "first_step_share", "refit_first_step", "stage1_first_step", "stage1_gtol",
                       "stage2_first_step", "stage1_start_tol"})
_ANY_SIGN = frozenset({"inward_tol"})  # negative turns the check off
_AT_LEAST_ONE = frozenset({"maxeval", "max_pirls"})


def check_control_fields(settings: object) -> None:
    """Each field of a control object of the kind and range it needs, or an error naming the field.

    Floats must be finite numbers (positive for tolerances and first steps, at
    least 0 for the others), counts whole numbers (``maxeval`` and
    ``max_pirls`` at least 1), switches True or False, and ``theta0`` finite numbers.

    Raises
    ------
    TypeError
        A field of the wrong kind.
    ValueError
        A field out of its range.

    Examples
    --------
    >>> from mixedfx.lmm.control import LmerControl
    >>> LmerControl(maxeval="many")
    Traceback (most recent call last):
    ...
    TypeError: control maxeval must be a whole number, not 'many'
    """
    for f in fields(settings):
        value, name = getattr(settings, f.name), f.name
        if f.type == "bool" and not isinstance(value, bool):
            raise TypeError(f"control {name} must be True or False, not {value!r}")
        if f.type == "int":
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"control {name} must be a whole number, not {value!r}")
            if value < (1 if name in _AT_LEAST_ONE else 0):
                raise ValueError(f"control {name} must be at least {1 if name in _AT_LEAST_ONE else 0}, "
                                 f"not {value!r}")
        if f.type == "float":
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise TypeError(f"control {name} must be a finite number, not {value!r}")
            if name in _POSITIVE and value <= 0 or name not in _ANY_SIGN and value < 0:
                raise ValueError(f"control {name} must be {'positive' if name in _POSITIVE else 'at least 0'}, "
                                 f"not {value!r}")
        if name == "theta0" and value is not None:
            try:
                finite = all(math.isfinite(float(v)) for v in value)
            except (TypeError, ValueError):
                finite = False
            if not finite:
                raise ValueError(f"control theta0 must be finite numbers in lme4's order, not {value!r}")
