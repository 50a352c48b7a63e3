"""The benchmark cases: data, model, and lme4's time on this kind of machine (issue 6's table)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Case:
    """One benchmark model.

    Attributes
    ----------
    name : str
        Case name.
    data : str
        A bundled data set's name, or a name ``make_data.py`` builds.
    formula : str
        lme4 formula.
    family : str or None
        None for lmer, else the glmer family.
    factors : tuple of str
        Columns R must read as factors (generated data only).
    lme4_seconds : float
        lme4 1.1-31's time on this kind of machine, from the issue: used when R
        is not run for a case.
    target : float
        The ratio lme4 time / mixedfx time to reach.
    """

    name: str
    data: str
    formula: str
    family: str | None = None
    factors: tuple[str, ...] = ()
    lme4_seconds: float = float("nan")
    target: float = float("nan")

    @property
    def generated(self) -> bool:
        """Whether the data come from ``../shared/bench/make_data.py``."""
        return self.data in ("ratings_200k", "ratings_1m", "longitudinal_100k")


CASES = [
    Case("sleepstudy", "sleepstudy", "Reaction ~ Days + (Days | Subject)", lme4_seconds=0.02, target=10),
    Case("Penicillin", "Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", lme4_seconds=0.015, target=10),
    Case("InstEval", "InstEval", "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept:service)",
         lme4_seconds=18.5, target=25),
    Case("longitudinal_100k", "longitudinal_100k", "y ~ time * arm + (time | subject)",
         factors=("subject", "arm"), lme4_seconds=2.8, target=40),
    Case("ratings_200k", "ratings_200k", "y ~ x + (1 | user) + (1 | item)", factors=("user", "item"),
         lme4_seconds=29, target=25),
    Case("ratings_1m", "ratings_1m", "y ~ x + (1 | user) + (1 | item)", factors=("user", "item"),
         lme4_seconds=1923, target=1923 / 30),
    Case("cbpp", "cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", family="binomial",
         lme4_seconds=0.06, target=10),
    Case("grouseticks", "grouseticks", "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)",
         family="poisson", lme4_seconds=0.64, target=15),
    Case("VerbAgg", "VerbAgg", "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)", family="binomial",
         lme4_seconds=2.4, target=35),
    Case("ratings_200k_binomial", "ratings_200k", "z ~ x + (1 | user) + (1 | item)", family="binomial",
         factors=("user", "item"), lme4_seconds=228, target=20),
]
