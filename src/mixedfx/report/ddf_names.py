"""The denominator-df methods of lmerTest by name: how users spell them, and how lmerTest's texts name them."""

from __future__ import annotations

__all__ = ["DDF_METHODS", "resolve_ddf", "method_title"]

DDF_METHODS = ("Satterthwaite", "Kenward-Roger")
_LME4 = "lme4"
_TITLES = {"Satterthwaite": "Satterthwaite's", "Kenward-Roger": "Kenward-Roger's"}


def resolve_ddf(ddf: str | None) -> str | None:
    """The canonical name of a ddf method, matched case-insensitively.

    Parameters
    ----------
    ddf : str or None
        ``"Satterthwaite"``, ``"Kenward-Roger"``, or None / ``"lme4"`` for lme4's
        own table without degrees of freedom.

    Returns
    -------
    str or None
        The method as spelled in :data:`DDF_METHODS`, or None for lme4's.

    Raises
    ------
    ValueError
        For any other name.

    Examples
    --------
    >>> resolve_ddf("kenward-roger")
    'Kenward-Roger'
    """
    if ddf is None or (isinstance(ddf, str) and ddf.lower() == _LME4):
        return None
    known = {name.lower(): name for name in DDF_METHODS}
    if not isinstance(ddf, str) or ddf.lower() not in known:
        raise ValueError(f"ddf must be one of {', '.join(repr(m) for m in DDF_METHODS)} or "
                         f"{_LME4!r} (case-insensitive), not {ddf!r}")
    return known[ddf.lower()]


def method_title(ddf: str) -> str:
    """How lmerTest names a ddf method in its titles (``"Satterthwaite's"``), for any spelling of it.

    Raises
    ------
    ValueError
        For lme4's table (no method) or an unknown name.
    """
    method = resolve_ddf(ddf)
    if method is None:
        raise ValueError("the lmerTest layout needs ddf 'Satterthwaite' or 'Kenward-Roger'")
    return _TITLES[method]
