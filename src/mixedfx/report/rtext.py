"""R's string functions used in printed output: ``abbreviate`` and ``strwrap``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["abbreviate", "strwrap", "make_unique"]


def _strip_chars(name: str, minlength: int) -> str:
    """R's C ``stripchars``: abbreviate one string (dropping characters from the right)."""
    buf = list(name.lstrip())
    if len(buf) < minlength:
        return "".join(buf)

    def at(i: int) -> str:
        return buf[i] if i < len(buf) else "\0"

    def first(i: int) -> bool:
        return at(i - 1).isspace()

    def last(i: int) -> bool:
        return not at(i - 1).isspace() and (at(i + 1) == "\0" or at(i + 1).isspace())

    def lower(i: int) -> bool:
        return "a" <= at(i) <= "z"

    rules = (
        lambda i: at(i) in "aeiou" and last(i),
        lambda i: at(i) in "aeiou" and not first(i),
        lambda i: lower(i) and last(i),
        lambda i: lower(i) and not first(i),
    )
    upper = len(buf) - 1
    nspace, trailing = 0, True
    for i in range(upper, 0, -1):
        if buf[i].isspace() and trailing:
            del buf[i:]
        elif buf[i].isspace():
            nspace += 1
        else:
            trailing = False
        if len(buf) - nspace <= minlength:
            return _drop_inner_spaces(buf, minlength)
    for rule in rules:
        for i in range(upper, 0, -1):
            if rule(i):
                del buf[i]
            if len(buf) - nspace <= minlength:
                return _drop_inner_spaces(buf, minlength)
    for i in range(len(buf) - 1, 0, -1):
        if not first(i) and not at(i).isspace():
            del buf[i]
        if len(buf) - nspace <= minlength:
            break
    return _drop_inner_spaces(buf, minlength)


def _drop_inner_spaces(buf: list[str], minlength: int) -> str:
    """The end of ``stripchars``: remove the word-separating spaces if still too long."""
    if len(buf) > minlength:
        buf = buf[:1] + [c for c in buf[1:] if not c.isspace()]
    return "".join(buf)


def abbreviate(names: Sequence[str], minlength: int = 4) -> list[str]:
    """R's ``abbreviate(names, minlength)`` (method ``"left.kept"``, ASCII names).

    Parameters
    ----------
    names : sequence of str
        Names to shorten.
    minlength : int
        Target length; lower-case vowels, then lower-case letters, are dropped
        from the right until a name is that short, and ``minlength`` grows for
        names whose abbreviations collide.

    Returns
    -------
    list of str
        The abbreviations, in the order of ``names``.
    """
    cleaned = [n.strip(" ") for n in names]
    unique = list(dict.fromkeys(cleaned))
    result = list(unique)
    todo = [True] * len(unique)
    length = minlength
    while True:
        for i, flag in enumerate(todo):
            if flag:
                result[i] = _strip_chars(unique[i], length)
        seen: dict[str, int] = {}
        dup = [False] * len(result)
        for i, r in enumerate(result):
            dup[i] = r in seen
            seen.setdefault(r, i)
        if not any(dup):
            break
        length += 1
        clash = {result[i] for i, d in enumerate(dup) if d}
        todo = [d or r in clash for d, r in zip(dup, result)]
    lookup = dict(zip(unique, result))
    return [lookup[n] for n in cleaned]


def strwrap(text: str, width: int, exdent: int = 0) -> list[str]:
    """R's ``strwrap(text, width, exdent = exdent)`` for a single paragraph.

    Parameters
    ----------
    text : str
        Words separated by white space.
    width : int
        Each line, indentation included, stays below ``width - 1`` characters.
    exdent : int
        Indentation of every line after the first.

    Returns
    -------
    list of str
        The wrapped lines.
    """
    words = text.split()
    lines: list[str] = []
    max_len = width - 1
    while words:
        ends = np.cumsum([len(w) + 1 for w in words])
        k = max(int(np.sum(ends <= max_len)), 1)
        lines.append((" " * exdent if lines else "") + " ".join(words[:k]))
        words = words[k:]
        max_len = width - exdent - 1
    return lines


def make_unique(names: list[str]) -> list[str]:
    """R's ``make.unique``: the second ``g`` becomes ``g.1``, the third ``g.2``.

    Examples
    --------
    >>> make_unique(["Subject", "Subject", "item", "Subject"])
    ['Subject', 'Subject.1', 'item', 'Subject.2']
    """
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}.{count}")
    return out
