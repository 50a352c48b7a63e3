"""A fit's export (to_dict, to_json), its notebook display, and the broom.mixed methods on the fit object."""

from __future__ import annotations

import html
import json

import numpy as np
import pandas as pd

import mixedfx as mfx
from mixedfx import tidy


def test_to_dict_is_plain_json_data_with_the_fits_numbers(slopes):
    record = slopes.to_dict()
    assert json.loads(json.dumps(record)) == record
    assert record["fixef"] == {k: float(v) for k, v in slopes.fixef.items()}
    np.testing.assert_allclose(list(record["se"].values()), np.sqrt(np.diag(slopes.vcov)))
    assert record["reml_criterion"] == slopes.reml_criterion and record["ngrps"] == {"Subject": 18}
    assert [row["var2"] for row in record["varcorr"]] == [None, None, "Days", None]


def test_to_dict_of_a_glmer_names_its_family_and_has_no_reml_criterion():
    cbpp = mfx.datasets.load("cbpp")
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    record = json.loads(fit.to_json())
    assert (record["family"], record["link"], record["nagq"]) == ("binomial", "logit", 1)
    assert record["reml_criterion"] is None and record["method"] == fit.method


def test_notebook_display_is_the_print_escaped(slopes):
    shown = slopes.summary()._repr_html_()
    assert shown.startswith('<pre class="mixedfx">') and "Random effects:" in shown
    assert slopes._repr_html_() == f'<pre class="mixedfx">{html.escape(str(slopes), quote=False)}</pre>'
    table = mfx.anova(m0=mfx.lmer("Reaction ~ Days + (1 | Subject)", mfx.datasets.load("sleepstudy"), REML=False),
                      m1=slopes)
    assert "Pr(&gt;Chisq)" in table._repr_html_() and "<table" not in table._repr_html_()


def test_broom_methods_are_the_tidy_functions(slopes):
    pd.testing.assert_frame_equal(slopes.tidy(effects="fixed", conf_int=True),
                                  tidy.tidy(slopes, "fixed", conf_int=True))
    pd.testing.assert_frame_equal(slopes.glance(), tidy.glance(slopes))
    pd.testing.assert_frame_equal(slopes.augment(), tidy.augment(slopes))


def test_r2_and_icc_methods_are_performances_functions(slopes):
    from mixedfx import performance

    pd.testing.assert_series_equal(slopes.r2(), performance.r2(slopes))
    pd.testing.assert_series_equal(slopes.icc(), performance.icc(slopes))
    assert list(slopes.r2().index) == ["marginal", "conditional"]
