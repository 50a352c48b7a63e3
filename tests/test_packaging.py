"""What a new user meets first: a light ``import mixedfx``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import mixedfx


def test_import_loads_no_heavy_dependency():
    code = ("import json, sys, mixedfx\n"
            "print(json.dumps([m for m in ('numpy', 'pandas', 'scipy', 'numba') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_every_public_name_resolves_to_its_module():
    for name in mixedfx.__all__:
        value = getattr(mixedfx, name)
        assert getattr(value, "__module__", getattr(value, "__name__", "")).startswith("mixedfx"), name
    from mixedfx.api import lmer
    from mixedfx.glmm import families

    assert mixedfx.lmer is lmer and mixedfx.families is families
    assert set(mixedfx.__all__) <= set(dir(mixedfx))
    with pytest.raises(AttributeError, match="no attribute 'lmerr'"):
        mixedfx.lmerr  # noqa: B018
