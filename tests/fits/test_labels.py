"""A fit's tables share their names' values, never their Index objects."""

import mixedfx as mfx
from mixedfx.fits.labels import names_index


def test_each_table_gets_its_own_index_of_the_shared_names(sleep):
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    first = fit.fixef
    first.index.name = "coefficient"  # a user's change to one table
    again = fit.fixef
    assert again.index.name is None and again.index.tolist() == ["(Intercept)", "Days"]
    assert again.index.dtype == first.index.dtype
    vcov = fit.vcov
    assert vcov.index is not vcov.columns and vcov.index.equals(again.index)
    assert names_index(["(Intercept)", "Days"]).equals(again.index)
