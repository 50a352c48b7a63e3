"""emmeans of lmer fits against emmeans 1.8.4-1: means, by groups, contrasts, adjustments, df methods.

Tolerances: for REML fits every number agrees with emmeans' to 1e-6 relative,
Kenward-Roger and Satterthwaite df included (both are computed as pbkrtest and
lmerTest compute them, numDeriv's Richardson steps for Satterthwaite; they
agree to about 1e-8). The ML fit of sleepstudy, and the REML fit of an
unbalanced part of it, stop about 1e-5 (relative) away from lme4's optimum (at a
criterion lower by 1e-8 in the second), which moves SE and df by up to 1e-4. The "mvt"
adjustment integrates the multivariate t by randomised quasi-Monte Carlo, as
mvtnorm does (whose own answers vary by about 1e-3 between runs).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.estimated_means import emmeans
from tests.estimated_means import REFERENCE, assert_table

RTOL = 1e-6
OPTIMUM_RTOL = 1e-4
MVT_ATOL = {"p.value": 3e-3, "lower.CL": 0.02, "upper.CL": 0.02}


@pytest.fixture(scope="module")
def cake() -> pd.DataFrame:
    data = mfx.datasets.load("cake")
    data["temp"] = pd.Categorical(data["temp"].astype(int).astype(str))
    return data


@pytest.fixture(scope="module")
def cake_fit(cake):
    return mfx.lmer("angle ~ recipe * temp + (1 | recipe:replicate)", cake)


@pytest.fixture(scope="module")
def recipe_by_temp(cake_fit):
    return emmeans(cake_fit, "recipe", by="temp")


@pytest.fixture(scope="module")
def recipe(cake_fit):
    return emmeans(cake_fit, "recipe")


@pytest.fixture(scope="module")
def temp(cake_fit):
    return emmeans(cake_fit, "temp")


CAKE_CASES = {
    "emm_by": lambda g: g["by"].summary(),
    "pairs_by": lambda g: g["by"].pairs().summary(),
    "pairs_by_holm": lambda g: g["by"].pairs(adjust="holm").summary(),
    "eff_by": lambda g: g["by"].contrast("eff").summary(),
    "emm": lambda g: g["recipe"].summary(),
    "emm_tests": lambda g: g["recipe"].summary(infer=True, level=0.9),
    "pairs": lambda g: g["recipe"].pairs().summary(),
    "pairs_reverse": lambda g: g["recipe"].pairs(reverse=True).summary(),
    "pairs_ci": lambda g: g["recipe"].pairs().summary(infer=True),
    "pairs_scheffe": lambda g: g["recipe"].pairs(adjust="scheffe").summary(infer=True),
    "pairs_sidak_ci": lambda g: g["recipe"].pairs(adjust="sidak").summary(infer=True),
    "pairs_bonferroni_ci": lambda g: g["recipe"].pairs(adjust="bonferroni").summary(infer=True),
    "revpairwise": lambda g: g["recipe"].contrast("revpairwise").summary(),
    "trt_vs_ctrl": lambda g: g["recipe"].contrast("trt.vs.ctrl").summary(infer=True),
    "trt_vs_ctrlk_holm": lambda g: g["recipe"].contrast("trt.vs.ctrlk", adjust="holm").summary(),
    "eff": lambda g: g["recipe"].contrast("eff").summary(),
    "consec_none": lambda g: g["recipe"].contrast("consec", adjust="none").summary(),
    "consec_bonferroni": lambda g: g["recipe"].contrast("consec", adjust="bonferroni").summary(),
    "consec_sidak": lambda g: g["recipe"].contrast("consec", adjust="sidak").summary(),
    "emm_temp": lambda g: g["temp"].summary(),
    "temp_poly": lambda g: g["temp"].contrast("poly").summary(),
    "temp_eff_hochberg": lambda g: g["temp"].contrast("eff", adjust="hochberg").summary(),
    "temp_pairs_tukey_ci": lambda g: g["temp"].pairs().summary(infer=True),
    "temp_mean_chg_bonferroni": lambda g: g["temp"].contrast("mean_chg", adjust="bonferroni").summary(),
    "temp_del_eff_hommel": lambda g: g["temp"].contrast("del.eff", adjust="hommel").summary(),
    "temp_trt_vs_ctrl_ref3_BY": lambda g: g["temp"].contrast("trt.vs.ctrl", ref="195", adjust="BY").summary(),
}


@pytest.mark.parametrize("name", list(CAKE_CASES))
def test_cake_kenward_roger(name, recipe_by_temp, recipe, temp):
    grids = {"by": recipe_by_temp, "recipe": recipe, "temp": temp}
    assert_table(CAKE_CASES[name](grids), "cake_kr", name, RTOL)


def test_cake_cells_in_the_order_of_specs(cake_fit):
    cells = emmeans(cake_fit, "~ temp * recipe")
    assert_table(cells.summary(), "cake_kr", "cells", RTOL)
    # 18 estimates, with two different df: Tukey's family of 18, each row at its own df
    assert_table(cells.pairs().summary(), "cake_kr", "cells_pairs", RTOL)


def test_cake_consecutive_changes_by_multivariate_t(temp):
    assert_table(temp.contrast("consec").summary(infer=True), "cake_kr", "temp_consec_mvt", RTOL, atol=MVT_ATOL)


def test_cake_satterthwaite(cake_fit):
    by = emmeans(cake_fit, "recipe", by="temp", ddf="Satterthwaite")
    means = emmeans(cake_fit, "recipe", ddf="satterthwaite")
    for name, table in {"emm_by": by.summary(), "pairs_by": by.pairs().summary(), "emm": means.summary(),
                        "pairs": means.pairs().summary()}.items():
        assert_table(table, "cake_satterthwaite", name, RTOL)


def test_cake_asymptotic(cake_fit):
    assert_table(emmeans(cake_fit, "recipe", ddf="asymptotic").summary(), "cake_asymptotic", "emm", RTOL)


def test_ordered_factor_coded_by_polynomials_gives_the_same_means():
    fit = mfx.lmer("angle ~ recipe * temperature + (1 | recipe:replicate)", mfx.datasets.load("cake"))
    means = emmeans(fit, "temperature")
    assert_table(means.summary(), "cake_ordered", "emm", RTOL)
    assert_table(means.contrast("poly").summary(), "cake_ordered", "poly", RTOL)


def test_rank_deficient_fit_marks_means_not_estimable(cake):
    partial = cake[~((cake["recipe"] == "C") & (cake["temp"] == "175"))]
    fit = mfx.lmer("angle ~ recipe * temp + (1 | recipe:replicate)", partial)
    assert fit.matrices.dropped == REFERENCE["cake_rank_deficient"]["dropped"]
    by = emmeans(fit, "recipe", by="temp")
    assert_table(by.summary(), "cake_rank_deficient", "emm_by", RTOL)
    assert_table(by.pairs().summary(), "cake_rank_deficient", "pairs_by", RTOL)
    assert_table(emmeans(fit, "recipe").summary(), "cake_rank_deficient", "emm", RTOL)
    satterthwaite = emmeans(fit, "recipe", by="temp", ddf="Satterthwaite")
    assert_table(satterthwaite.summary(), "cake_rank_deficient_satterthwaite", "emm_by", RTOL)


def test_unbalanced_kenward_roger_and_satterthwaite_differ(sleep):
    subjects = sleep["Subject"].cat.categories[::2]
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", sleep[(sleep["Days"] < 8) | sleep["Subject"].isin(subjects)])
    for ddf in ("Kenward-Roger", "Satterthwaite"):
        means = emmeans(fit, "Days", at={"Days": [0, 5, 9]}, ddf=ddf)
        name = ddf.lower().replace("-", "_")
        assert_table(means.summary(), "sleepstudy_unbalanced", name, OPTIMUM_RTOL)
        assert_table(means.pairs().summary(), "sleepstudy_unbalanced", name + "_pairs", OPTIMUM_RTOL)


def test_kept_covariate_logical_and_text_factors_and_offset(sleep):
    data = sleep.copy()
    data["late"] = (data["Days"] >= 5).astype(float)
    subject = data["Subject"].cat.codes + 1
    data["odd"] = subject % 2 == 1
    data["shift"] = np.where(subject % 3 == 0, "night", "day")
    fit = mfx.lmer("Reaction ~ late + Days + odd * shift + offset(log(Days + 1)) + (1 | Subject)", data)
    assert_table(emmeans(fit, "late").summary(), "covariates", "late", RTOL)
    assert_table(emmeans(fit, "~ Days", at={"Days": [1, 8]}).summary(), "covariates", "days", RTOL)
    assert_table(emmeans(fit, "odd", by="shift").summary(), "covariates", "odd_by_shift", RTOL)
    assert_table(emmeans(fit, "odd").pairs().summary(), "covariates", "odd_pairs", RTOL)


@pytest.fixture(scope="module")
def days(slopes):
    return emmeans(slopes, "~ Days", at={"Days": [0, 5, 9]})


def test_sleepstudy_covariate_at_values(slopes, days):
    assert_table(days.summary(), "sleepstudy", "emm", RTOL)
    assert_table(days.pairs().summary(), "sleepstudy", "pairs", RTOL)
    assert_table(days.contrast("consec", adjust="none").summary(), "sleepstudy", "consec_none", RTOL)
    assert_table(emmeans(slopes, "~ 1").summary(), "sleepstudy", "overall", RTOL)
    satterthwaite = emmeans(slopes, "Days", at={"Days": [0, 5, 9]}, ddf="Satterthwaite")
    assert_table(satterthwaite.summary(), "sleepstudy", "satterthwaite", RTOL)


def test_ml_fit_takes_kenward_roger_from_its_reml_refit(sleep):
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", sleep, REML=False)
    at = {"Days": [0, 5, 9]}
    means = emmeans(fit, "Days", at=at)
    assert_table(means.summary(), "sleepstudy_ml", "kenward_roger", OPTIMUM_RTOL)
    assert_table(means.pairs().summary(), "sleepstudy_ml", "kenward_roger_pairs", OPTIMUM_RTOL)
    # Lb_ddf reads the ML fit's vcov with the REML fit's adjustment: not the REML fit's own df (17)
    assert not np.allclose(means.summary()["df"], 17.0, rtol=1e-3)
    assert_table(emmeans(fit, "Days", at=at, ddf="Satterthwaite").summary(), "sleepstudy_ml", "satterthwaite",
                 OPTIMUM_RTOL)
    assert_table(emmeans(fit, "Days", at=at, ddf="asymptotic").summary(), "sleepstudy_ml", "asymptotic", OPTIMUM_RTOL)


def test_poly_covariate_goes_through_the_fitted_transform(sleep):
    fit = mfx.lmer("Reaction ~ poly(Days, 2) + (1 | Subject)", sleep)
    assert_table(emmeans(fit, "Days", at={"Days": [0, 4.5, 9]}).summary(), "sleepstudy_poly", "emm", RTOL)
    assert_table(emmeans(fit, "Days").summary(), "sleepstudy_poly", "mean", RTOL)


def test_pastes_two_random_terms():
    fit = mfx.lmer("strength ~ cask + (1 | batch) + (1 | sample)", mfx.datasets.load("Pastes"))
    means = emmeans(fit, "cask")
    assert_table(means.summary(), "pastes", "emm", RTOL)
    assert_table(means.pairs().summary(), "pastes", "pairs", RTOL)
