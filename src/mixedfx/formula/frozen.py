"""Frozen dataclasses that are cheap to make: the values a design hands from stage to stage.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``
(its own ``__setattr__`` refuses), a call per field that costs three times a
plain assignment; a small model's design makes a few dozen such values with
some seventy fields in all. :func:`quick_init` gives a frozen dataclass an
``__init__`` that writes the fields into the instance's ``__dict__`` instead.
Instances stay frozen: setting or deleting an attribute still raises.
:class:`computed_once` is ``functools.cached_property`` without the lock that
Python 3.11's takes on every first read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["quick_init", "computed_once"]

T = TypeVar("T")
V = TypeVar("V")


def quick_init(cls: type[T]) -> type[T]:
    """Replace a frozen dataclass's ``__init__`` by one that fills ``__dict__`` directly.

    The new ``__init__`` takes the same arguments, in the same order, with the
    same defaults. Apply it above ``@dataclass(frozen=True)``.

    Parameters
    ----------
    cls : type
        A frozen dataclass with ``__dict__`` (no slots), no ``__post_init__``,
        no ``default_factory`` and no init-only or ``init=False`` fields.

    Returns
    -------
    type
        ``cls`` itself, its ``__init__`` replaced.

    Raises
    ------
    TypeError
        For a class that does not fit that description.

    Examples
    --------
    >>> @quick_init
    ... @dataclasses.dataclass(frozen=True)
    ... class Point:
    ...     x: float
    ...     y: float = 0.0
    >>> Point(1.0), Point(1.0, y=2.0) == Point(1.0, 2.0)
    (Point(x=1.0, y=0.0), True)
    """
    params = getattr(cls, "__dataclass_params__", None)
    fields = dataclasses.fields(cls) if params is not None else ()
    if (params is None or not params.frozen or hasattr(cls, "__post_init__") or hasattr(cls, "__slots__")
            or any(not f.init or f.default_factory is not dataclasses.MISSING for f in fields)):
        raise TypeError(f"quick_init needs a frozen dataclass with plain fields, not {cls.__name__}")
    defaults = {f"_default_{f.name}": f.default for f in fields if f.default is not dataclasses.MISSING}
    arguments = ", ".join(f.name if f.default is dataclasses.MISSING else f"{f.name}=_default_{f.name}"
                          for f in fields)
    stores = "".join(f"\n    fields[{f.name!r}] = {f.name}" for f in fields)
    namespace = dict(defaults)
    exec(f"def __init__(self, {arguments}):\n    fields = self.__dict__{stores}", namespace)  # noqa: S102
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__doc__ = cls.__init__.__doc__
    cls.__init__ = init
    return cls


class computed_once(Generic[V]):  # noqa: N801 - used as a decorator, like cached_property
    """A property computed on first read and kept in the instance's ``__dict__`` (frozen dataclasses too).

    ``functools.cached_property`` does the same, but Python 3.11's takes a lock
    each time it computes, which costs more than the small values a design
    derives (lme4's term order). Two threads reading at once may both compute
    it: the value must be a pure function of the instance.

    Examples
    --------
    >>> class Cube:
    ...     def __init__(self, side: float) -> None:
    ...         self.side = side
    ...     volume = computed_once(lambda cube: cube.side**3)
    >>> cube = Cube(2.0)
    >>> cube.volume, cube.__dict__["volume"]
    (8.0, 8.0)
    """

    def __init__(self, compute: Callable[[Any], V]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> V:
        if instance is None:
            return self  # type: ignore[return-value]
        value = instance.__dict__[self.name] = self.compute(instance)
        return value
