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
    reml : bool
        lmer's REML argument.
    binary : tuple of (str, str, float), optional
        A 0/1 column made before fitting: (name, column, threshold), ``name = column > threshold``.
    refit : bool
        Also time ``fit.refit`` with simulated responses and a 1,000-replicate
        bootstrap (lmer cases; issue [small-fast]).
    """

    name: str
    data: str
    formula: str
    family: str | None = None
    factors: tuple[str, ...] = ()
    lme4_seconds: float = float("nan")
    target: float = float("nan")
    reml: bool = True
    binary: tuple[str, str, float] | None = None
    refit: bool = False

    @property
    def generated(self) -> bool:
        """Whether the data come from ``../shared/bench/make_data.py``."""
        return self.data in ("ratings_200k", "ratings_1m", "longitudinal_100k", "maximal_2k", "maximal_50k")


_MAXIMAL = "rt ~ 1 + spkr*prec*load + (1 + spkr + prec + load | subj) + (1 + spkr + prec + load | item)"

CASES = [
    Case("sleepstudy", "sleepstudy", "Reaction ~ Days + (Days | Subject)", lme4_seconds=0.02, target=10,
         refit=True),
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
    # maximal models (issue [maximal]): lme4's times from the issue's table
    Case("maximal_2k", "maximal_2k", _MAXIMAL, factors=("subj", "item"), lme4_seconds=9.4, target=20),
    Case("maximal_2k_ml", "maximal_2k", _MAXIMAL, factors=("subj", "item"), lme4_seconds=7.4, target=20, reml=False),
    Case("maximal_2k_uncorrelated", "maximal_2k", _MAXIMAL.replace("|", "||"), factors=("subj", "item"),
         lme4_seconds=1.3, target=10),
    Case("maximal_2k_binomial", "maximal_2k",
         "z ~ spkr*prec*load + (1 + spkr + prec | subj) + (1 + spkr + prec | item)", family="binomial",
         factors=("subj", "item"), lme4_seconds=99, target=20, binary=("z", "rt", 2180.0)),
    Case("maximal_50k", "maximal_50k", _MAXIMAL, factors=("subj", "item"), lme4_seconds=575, target=30),
    Case("InstEval_service_slopes", "InstEval", "y ~ service + (service | d) + (1 | s)", lme4_seconds=122,
         target=20),
    Case("sleepstudy_quadratic", "sleepstudy", "Reaction ~ Days + I(Days^2) + (Days + I(Days^2) | Subject)",
         lme4_seconds=0.05, target=5),
]
