"""lme4's ``verbose``: each evaluation of the criterion printed as the optimiser asks for it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["traced"]


def traced(objective: Callable[..., Any], verbose: int, stream: TextIO | None = None,
           value_of: Callable[[Any], float] | None = None) -> Callable[..., Any]:
    """``objective`` printing each value it returns, as lme4's nloptwrap does with ``verbose``.

    Parameters
    ----------
    objective : callable
        The criterion; it may return the value or (value, gradient).
    verbose : int
        0 returns ``objective`` itself; 1 prints ``iteration: n`` and ``f(x) = value``
        per evaluation; 2 also the parameters.
    stream : file, optional
        Where to print (standard error by default, as R's messages).
    value_of : callable, optional
        The criterion's value from what ``objective`` returns (by default the
        value itself, or the first of a tuple).

    Returns
    -------
    callable

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> f = traced(lambda x: float(x[0] ** 2), 1, out)
    >>> f([3.0]), out.getvalue()
    (9.0, 'iteration: 1\\n\\tf(x) = 9.000000\\n')
    """
    if not verbose:
        return objective
    return _Traced(objective, verbose, stream, value_of)


class _Traced:
    """A criterion that prints each of its values; its other attributes are the criterion's."""

    def __init__(self, objective: Callable[..., Any], verbose: int, stream: TextIO | None,
                 value_of: Callable[[Any], float] | None) -> None:
        self._objective, self._verbose, self._stream, self._value_of = objective, verbose, stream, value_of
        self._count = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._objective, name)

    def __call__(self, x, *args, **kwargs):
        result = self._objective(x, *args, **kwargs)
        self._count += 1
        value = (self._value_of(result) if self._value_of
                 else result[0] if isinstance(result, tuple) else result)
        where = self._stream or sys.stderr
        print(f"iteration: {self._count}", file=where)
        if self._verbose > 1:
            print("\tx = (" + ", ".join(f"{v:.6f}" for v in x) + ")", file=where)
        print(f"\tf(x) = {float(value):.6f}", file=where)
        return result
