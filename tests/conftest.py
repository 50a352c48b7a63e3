"""Fits several test modules share (fitted once per session)."""

import pytest

import mixedfx as mfx


@pytest.fixture(scope="session")
def sleep():
    return mfx.datasets.load("sleepstudy")


@pytest.fixture(scope="session")
def slopes(sleep):
    return mfx.lmer("Reaction ~ Days + (Days | Subject)", data=sleep)
