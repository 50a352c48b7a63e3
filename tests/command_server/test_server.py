import subprocess
import sys

_WARM_AND_LIST = """
from mixedfx.command_server.server import _warm
_warm()
from mixedfx.glmm.scalar_laplace import _fit
from mixedfx.linalg.one_term import factor_one_term
print(len(factor_one_term.signatures), len(_fit.signatures))
"""


def test_warm_up_loads_the_first_fits_kernels_into_the_server():
    """The forks that answer calls share the server's loaded kernels; loading them in each fork took a second."""
    out = subprocess.run([sys.executable, "-c", _WARM_AND_LIST], capture_output=True, text=True, check=True,
                         timeout=600)
    lmer_kernels, glmer_kernels = map(int, out.stdout.split())
    assert lmer_kernels > 0 and glmer_kernels > 0
