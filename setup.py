"""Build hook: compile the first fits' numba kernels into the wheel.

Everything else about the package is in pyproject.toml. After ``build_py`` has
copied the modules to the build folder, ``python -m mixedfx.precompile`` runs on
that copy, so numba writes its cache files beside the copied modules and the
wheel carries them (see ``mixedfx/precompile.py`` for why they stay valid after
installation). pyproject.toml's ``build-system.requires`` holds the runtime
dependencies for this step. A failure here only costs the compiled cache: the
wheel is built without it and numba compiles on first use.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

NUMBA_CACHE_SUFFIXES = (".nbi", ".nbc")


class BuildPyWithKernels(build_py):
    """``build_py``, then numba's cache of the first fits' kernels beside the built modules."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False) or os.environ.get("MIXEDFX_NO_PRECOMPILE"):
            return
        package = Path(self.build_lib, "mixedfx").resolve()
        for stale in package.rglob("__pycache__/*"):
            if stale.suffix in NUMBA_CACHE_SUFFIXES:
                stale.unlink()
        env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}  # the cache goes beside the modules
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(package.parent), env.get("PYTHONPATH")]))
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # pip compiles the installed modules itself
        done = subprocess.run([sys.executable, "-m", "mixedfx.precompile"], env=env, cwd=package.parent)
        if done.returncode != 0:
            print("mixedfx: compiling the kernels failed; numba will compile them on first use", file=sys.stderr)


setup(cmdclass={"build_py": BuildPyWithKernels})
