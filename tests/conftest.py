"""Fits several test modules share (fitted once per session)."""

import pytest

import mixedfx as mfx


@pytest.fixture(scope="session")
def sleep():
    return mfx.datasets.load("sleepstudy")


@pytest.fixture(scope="session")
def slopes(sleep):
    return mfx.lmer("Reaction ~ Days + (Days | Subject)", data=sleep)


def crossed_ratings(seed: int, item_sd: float, n_subjects: int = 400, n_items: int = 120, per_subject: int = 20):
    """Subjects rating a random subset of items: scalar crossed terms with a sparse coupling block."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    subject = np.repeat(np.arange(n_subjects), per_subject)
    item = np.concatenate([rng.choice(n_items, per_subject, replace=False) for _ in range(n_subjects)])
    x = rng.normal(size=subject.size)
    y = (1.0 + 0.5 * x + rng.normal(0.0, 0.7, n_subjects)[subject] + rng.normal(0.0, item_sd, n_items)[item]
         + rng.normal(size=subject.size))
    return pd.DataFrame({"y": y, "x": x, "subject": pd.Categorical([f"s{i}" for i in subject]),
                         "item": pd.Categorical([f"i{i}" for i in item])})


def crossed_binomial(seed: int = 8, users: int = 200, items: int = 150):
    """Users rating items: a few heavy users rate most items, the rest a handful (a dense rest block)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    rows = []
    for user in range(users):
        count = 120 if user < 5 else 8
        for item in rng.choice(items, count, replace=False):
            rows.append((f"u{user}", f"i{item}"))
    data = pd.DataFrame(rows, columns=["user", "item"])
    data["x"] = rng.normal(size=len(data))
    eta = 0.3 * data["x"] + rng.normal(size=users)[data["user"].str[1:].astype(int)]
    data["z"] = (rng.uniform(size=len(data)) < 1 / (1 + np.exp(-eta))).astype(int)
    return data


@pytest.fixture(scope="session")
def crossed_model():
    """A crossed model whose criterion has an analytic gradient (REML)."""
    from mixedfx.design.matrices import build_model_matrices
    from mixedfx.lmm.model import LinearMixedModel

    return LinearMixedModel(build_model_matrices("y ~ x + (1 | subject) + (1 | item)", crossed_ratings(0, 0.4)))


@pytest.fixture(scope="session")
def client():
    """A Dask LocalCluster for the session (started when a test first asks): two worker processes, one thread each."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as dask_client:
        yield dask_client
