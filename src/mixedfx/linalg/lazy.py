"""Attributes formed on first use (``cached_property`` over a maker) that still pickle.

A factor's coupling block or a PIRLS state's factor is formed only when asked
for, by a maker that is often a closure, which pickle cannot carry. Objects
holding one pickle with the attribute formed and a picklable maker in its place.
"""

from __future__ import annotations

from functools import partial

__all__ = ["as_is", "state_with_formed"]


def as_is(value: object) -> object:
    """The argument itself: with :func:`functools.partial`, a picklable maker of something already formed."""
    return value


def state_with_formed(obj: object, name: str, maker: str) -> dict:
    """``obj.__dict__`` for pickling, with the attribute ``name`` formed and its ``maker`` made picklable.

    Parameters
    ----------
    obj : object
        The object being pickled.
    name : str
        The lazily formed attribute.
    maker : str
        The attribute holding its maker (a zero-argument callable).

    Returns
    -------
    dict
    """
    state = obj.__dict__.copy()
    state[name] = getattr(obj, name)
    state[maker] = partial(as_is, state[name])
    return state
