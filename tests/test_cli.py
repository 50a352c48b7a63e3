"""The command line, through a subprocess as a user runs it."""

import json
import subprocess
import sys

import pytest


def run(*args):
    return subprocess.run([sys.executable, "-m", "mixedfx.cli", *args], capture_output=True, text=True, timeout=300)


def test_fit_prints_lme4_summary_for_dyestuff():
    out = run("fit", "Yield ~ 1 + (1 | Batch)", "--data", "Dyestuff")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Linear mixed model fit by REML ['lmerMod']" in text
    assert "REML criterion at convergence: 319.7" in text
    batch = next(line for line in text.splitlines() if line.strip().startswith("Batch"))
    resid = next(line for line in text.splitlines() if line.strip().startswith("Residual"))
    assert batch.split()[2] == "1764" and resid.split()[1] == "2451"
    intercept = next(line for line in text.splitlines() if line.startswith("(Intercept)"))
    assert intercept.split()[1:3] == ["1527.50", "19.38"]


# run in a fresh process: each command in turn, then which of the modules it need not load it did load
_LOADED_AFTER_COMMANDS = """
import contextlib, gc, io, json, sys
from mixedfx.cli import main
UNNEEDED = ("mixedfx.glmm", "mixedfx.partitioned", "mixedfx.inference", "mixedfx.tidy", "mixedfx.performance",
            "dask", "scipy.special", "scipy.sparse", "scipy.stats", "scipy.optimize", "tqdm")
loaded = []
for command in json.loads(sys.argv[1]):
    with contextlib.redirect_stdout(io.StringIO()):
        status = main(command)
    unneeded = {m for m in sys.modules for u in UNNEEDED if m == u or m.startswith(u + ".")}
    # scipy.linalg's package, not its Cython LAPACK and BLAS modules, which compiled code calls
    loaded.append(sorted(unneeded | ({"scipy.linalg"} & set(sys.modules))))
print(json.dumps({"status": status, "loaded": loaded, "collecting": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


def test_commands_import_only_what_their_fit_needs():
    lmer = ["fit", "Yield ~ 1 + (1 | Batch)", "--data", "Dyestuff"]
    glmer = ["fit", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "--data", "cbpp", "--family", "binomial"]
    out = subprocess.run([sys.executable, "-c", _LOADED_AFTER_COMMANDS, json.dumps([lmer, glmer])],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    after_lmer, after_glmer = result["loaded"]
    # no generalized models, Dask passes, lmerTest tables or scipy's modules for lmer (its LAPACK is found without
    # importing scipy.linalg)
    assert after_lmer == []
    assert not [m for m in after_glmer if m.startswith(("mixedfx.partitioned", "mixedfx.inference", "dask"))]
    assert "mixedfx.glmm.scalar_laplace" in after_glmer  # the check sees what a command loads
    # main leaves the collector as it found it: on, nothing frozen
    assert result["status"] == 0 and result["collecting"] and result["frozen"] == 0


def test_fit_json_from_a_csv_file(tmp_path):
    import mixedfx as mfx

    path = tmp_path / "sleep.csv"
    mfx.datasets.load("sleepstudy").to_csv(path, index=False)
    out = run("fit", "Reaction ~ Days + (Days | Subject)", "--data", str(path), "--ml", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["method"] == "ML" and result["nobs"] == 180 and result["ngrps"] == {"Subject": 18}
    assert result["loglik"] == pytest.approx(-875.9697, abs=2e-3)
    assert result["reml_criterion"] is None
    assert set(result["fixef"]) == {"(Intercept)", "Days"} == set(result["se"])
    assert [row["grp"] for row in result["varcorr"]] == ["Subject", "Subject", "Subject", "Residual"]
    assert result["varcorr"][2]["var2"] == "Days"
    assert len(result["theta"]) == 3 and result["messages"] == []
    assert {"sigma", "aic", "bic", "deviance", "df_resid", "formula"} <= set(result)


def test_datasets_lists_bundled_sets():
    out = run("datasets")
    assert out.returncode == 0
    names = [line.split()[0] for line in out.stdout.splitlines()]
    assert "sleepstudy" in names and "InstEval" in names


def test_bad_input_gives_one_line_error_without_traceback():
    out = run("fit", "Yield ~ 1 + (1 | Batch)", "--data", "NoSuchData")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("mixedfx: error:") and len(out.stderr.strip().splitlines()) <= 2


def test_fit_generalized_model_with_link_and_quadrature():
    out = run("fit", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "--data", "cbpp",
              "--family", "binomial", "--link", "probit", "--nagq", "9")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("Generalized linear mixed model fit by maximum likelihood (Adaptive")
    assert " Family: binomial  ( probit )" in lines


def test_fit_negative_binomial_json():
    out = run("fit", "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", "--data", "grouseticks", "--family", "negbin",
              "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["family"].startswith("Negative Binomial(") and result["link"] == "log" and result["nagq"] == 1
    assert result["loglik"] == pytest.approx(-905.861, abs=2e-3)


def test_link_without_family_is_refused():
    out = run("fit", "Yield ~ 1 + (1 | Batch)", "--data", "Dyestuff", "--link", "log")
    assert out.returncode != 0 and "give --family too" in out.stderr and "Traceback" not in out.stderr


def test_plot_writes_a_png_of_the_caterpillar(tmp_path):
    path = tmp_path / "fig.png"
    out = run("fit", "Reaction ~ Days + (Days | Subject)", "--data", "sleepstudy", "--plot", "caterpillar",
              "--out", str(path))
    assert out.returncode == 0, out.stderr
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    assert str(path) in out.stdout


@pytest.mark.parametrize("args,message", [
    (["--plot", "qq"], "--plot and --out go together"),
    (["--out", "fig.png"], "--plot and --out go together"),
    (["--plot", "qq", "--out", "fig.png", "--json"], "give one of them"),
    (["--plot", "qq", "--out", "fig.unknown"], "Format 'unknown' is not supported"),
])
def test_plot_arguments_are_checked_without_a_traceback(args, message, tmp_path):
    out = run("fit", "Reaction ~ Days + (1 | Subject)", "--data", "sleepstudy", *args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr
