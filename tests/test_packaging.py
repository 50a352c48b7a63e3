"""What a new user meets first: a light ``import mixedfx``, and the first fits' kernels compiled when installing."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import mixedfx
from mixedfx.precompile import FIRST_FITS

ROOT = Path(__file__).resolve().parent.parent

# run in a fresh process: the README's commands, counting what numba compiles for them
_COUNT_COMPILES = """
import json, sys
from numba.core import event
from mixedfx.cli import main
compiled = []
class Count(event.Listener):
    def on_start(self, e):
        pass
    def on_end(self, e):
        compiled.append(e.data["dispatcher"].py_func.__qualname__)
event.register("numba:compile", Count())
for command in json.loads(sys.argv[1]):
    main(command)
print(json.dumps(compiled), file=sys.stderr)
"""

FIRST_COMMANDS = [  # the README's two, its --json example on a bundled set, and crossed terms
    ["fit", "Yield ~ 1 + (1 | Batch)", "--data", "Dyestuff"],
    ["fit", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "--data", "cbpp", "--family", "binomial"],
    ["fit", "Reaction ~ Days + (Days | Subject)", "--data", "sleepstudy", "--ml", "--json"],
    ["fit", "diameter ~ 1 + (1 | plate) + (1 | sample)", "--data", "Penicillin"],
]


def test_build_requirements_are_the_runtime_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    build = [r for r in project["build-system"]["requires"] if not r.startswith(("setuptools", "wheel"))]
    assert sorted(build) == sorted(project["project"]["dependencies"])


def test_import_loads_no_heavy_dependency():
    code = ("import json, sys, mixedfx\n"
            "print(json.dumps([m for m in ('numpy', 'pandas', 'scipy', 'numba') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == []


def test_every_public_name_resolves_to_its_definition():
    import types

    from mixedfx.glmm import families

    modules = {"datasets", "families", "plots"}
    for name in mixedfx.__all__:
        value = getattr(mixedfx, name)
        assert isinstance(value, types.ModuleType) == (name in modules), name
        if name not in modules:  # the function or class itself, not the module of the same name (anova, bootstrap)
            assert value.__name__ == name and value.__module__.startswith("mixedfx."), name
    assert mixedfx.families is families
    assert set(mixedfx.__all__) <= set(dir(mixedfx))
    with pytest.raises(AttributeError, match="no attribute 'lmerr'"):
        mixedfx.lmerr  # noqa: B018


def test_first_fits_cover_the_readme_commands():
    """After :func:`mixedfx.precompile.precompile`, the README's commands compile nothing."""
    assert {fit[2] for fit in FIRST_FITS} >= {"Dyestuff", "cbpp"}
    subprocess.run([sys.executable, "-m", "mixedfx.precompile"], check=True, capture_output=True)
    run = subprocess.run([sys.executable, "-c", _COUNT_COMPILES, json.dumps(FIRST_COMMANDS)], capture_output=True,
                         text=True, check=True)
    assert json.loads(run.stderr.strip().splitlines()[-1]) == []


def test_installed_wheel_carries_the_compiled_kernels():
    try:
        dist = importlib.metadata.distribution("mixedfx")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("mixedfx is not installed")
    installed = Path(dist.locate_file("mixedfx/__init__.py")).resolve() == Path(mixedfx.__file__).resolve()
    if dist.read_text("INSTALLER") is None or not installed:
        pytest.skip("mixedfx runs from a source tree, not from an installed wheel")
    shipped = {Path(str(f)).name.split(".")[0] for f in dist.files or [] if str(f).endswith(".nbi")}
    assert {"one_term", "level_sums", "scalar_pirls"} <= shipped
