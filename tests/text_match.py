"""Comparing printed text with R's: same words, numbers equal up to the last printed digit."""

from __future__ import annotations

import re

NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def tokens_match(mine: str, want: str, rel: float = 0.0) -> bool:
    """Same words; numbers within one unit of lme4's last printed digit (or ``rel`` relative)."""
    a, b = mine.split(), want.split()
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x == y:
            continue
        if not (NUMBER.fullmatch(x) and NUMBER.fullmatch(y)):
            return False
        fx, fy = float(x), float(y)
        if "e" in y.lower():
            unit = 0.02 * abs(fy)
        else:
            unit = 1.0001 * 10.0 ** -(len(y.split(".")[1]) if "." in y else 0)
        if abs(fx - fy) > max(unit, rel * abs(fy)):
            return False
    return True
