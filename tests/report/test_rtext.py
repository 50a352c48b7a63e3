"""R's abbreviate() and strwrap(), checked against what R returns."""

from __future__ import annotations

from mixedfx.report.rtext import abbreviate, strwrap


def test_abbreviate():
    states = ["Alabama", "Alaska", "Arizona", "Arkansas", "California", "North Carolina"]
    assert abbreviate(states, 4) == ["Albm", "Alsk", "Arzn", "Arkn", "Clfr", "NrtC"]
    names = ["(Intercept)", "period2", "GenderM", "btypescold", "btypeshout", "I(x^2)"]
    assert abbreviate(names, 6) == ["(Intr)", "perid2", "GendrM", "btypsc", "btypsh", "I(x^2)"]
    assert abbreviate(["abcdef", "abcdeg"], 3) == ["abcdf", "abcdg"]


def test_strwrap():
    title = "Generalized linear mixed model fit by maximum likelihood (Laplace Approximation)"
    assert strwrap(title, 78, exdent=2) == [title[:65], "  Approximation)"]
