"""quick_init: a frozen dataclass made by filling its __dict__ behaves as the dataclass's own __init__ makes it."""

import dataclasses
import pickle

import numpy as np
import pytest

from mixedfx.formula.evaluate import Factor
from mixedfx.formula.frozen import computed_once, quick_init


@quick_init
@dataclasses.dataclass(frozen=True)
class Pair:
    first: int
    second: tuple = ()
    flag: bool = False


def test_arguments_defaults_and_keywords_as_the_dataclass_takes_them():
    assert Pair(1) == Pair(first=1, second=(), flag=False)
    assert Pair(1, (2,), flag=True).flag is True
    with pytest.raises(TypeError):
        Pair()
    with pytest.raises(TypeError):
        Pair(1, unknown=2)


def test_instances_stay_frozen_and_copy_replace_and_pickle():
    pair = Pair(1, (2,))
    with pytest.raises(dataclasses.FrozenInstanceError):
        pair.first = 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        del pair.second
    assert dataclasses.replace(pair, flag=True) == Pair(1, (2,), True)
    assert pickle.loads(pickle.dumps(pair)) == pair
    assert hash(pair) == hash(Pair(1, (2,)))


def test_refuses_classes_it_would_change_the_meaning_of():
    @dataclasses.dataclass
    class Mutable:
        x: int

    @dataclasses.dataclass(frozen=True)
    class Factory:
        x: list = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(frozen=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            pass

    for cls in (Mutable, Factory, Checked, int):
        with pytest.raises(TypeError, match="quick_init"):
            quick_init(cls)


def test_a_factor_made_so_is_frozen_with_its_defaults():
    factor = Factor(np.array([0, 1]), ("a", "b"))
    assert factor.ordered is False and factor.logical is False
    with pytest.raises(dataclasses.FrozenInstanceError):
        factor.levels = ("b", "a")


def test_computed_once_computes_on_first_read_only_and_on_frozen_instances():
    calls = []

    @quick_init
    @dataclasses.dataclass(frozen=True)
    class Squared:
        x: float

        @computed_once
        def square(self) -> float:
            calls.append(self.x)
            return self.x**2

    value = Squared(3.0)
    assert value.square == 9.0 and value.square == 9.0 and calls == [3.0]
    assert Squared(2.0).square == 4.0 and calls == [3.0, 2.0]
    assert isinstance(Squared.square, computed_once)
