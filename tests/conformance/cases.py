"""lme4's reference cases (copied from the shared conformance set) and how to fit them."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

CASES_DIR = Path(__file__).parent / "cases"

# README of the conformance set: (loglik abs, beta in SEs, se rel, sd rel, sd abs (x sigma), corr abs)
TOLERANCE = {
    "lmer": dict(ll=2e-3, beta=0.002, se=0.005, sd=0.005, sd_abs=1e-4, corr=0.005),
    "glmer": dict(ll=2e-3, beta=0.02, se=0.02, sd=0.02, sd_abs=1e-3, corr=0.02),
}


def case_names(kind: str) -> list[str]:
    """Names of the reference cases whose call is lme4's ``kind`` (lmer, glmer, glmer.nb)."""
    names = []
    for path in sorted(CASES_DIR.glob("*.json")):
        if parse_call(json.loads(path.read_text())["call"])["fn"] == kind:
            names.append(path.stem)
    return names


@lru_cache(maxsize=None)
def load_case(name: str) -> dict:
    """One reference case as stored."""
    return json.loads((CASES_DIR / f"{name}.json").read_text())


def _split_top(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
        else:
            current += ch
    return parts + [current.strip()]


def parse_call(call: str) -> dict:
    """The function, formula and arguments of an R call like ``lmer(y ~ x + (1 | g), data = d, REML = FALSE)``."""
    match = re.match(r"^([\w.]+)\((.*)\)$", call.strip(), re.S)
    args = _split_top(match.group(2))
    spec = {"fn": match.group(1), "formula": args[0], "REML": True, "weights": None}
    for arg in args[1:]:
        key, value = (t.strip() for t in arg.split("=", 1))
        if key == "REML":
            spec["REML"] = value == "TRUE"
        elif key == "weights":
            spec["weights"] = value
        elif key not in ("data",):
            spec[key] = value
    return spec
