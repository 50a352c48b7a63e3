"""Lazily formed attributes that pickle with their value formed."""

import pickle
from dataclasses import dataclass, field
from functools import cached_property

from mixedfx.linalg.lazy import as_is, state_with_formed


def test_as_is_returns_its_argument():
    marker = object()
    assert as_is(marker) is marker


@dataclass(frozen=True)
class _Holder:
    maker: object = field(compare=False)

    @cached_property
    def value(self):
        return self.maker()

    def __getstate__(self):
        return state_with_formed(self, "value", "maker")


def test_a_closure_maker_pickles_as_its_formed_value():
    calls = []

    def maker():
        calls.append(1)
        return [1, 2, 3]

    copy = pickle.loads(pickle.dumps(_Holder(maker)))
    assert copy.value == [1, 2, 3]
    assert copy.maker() == [1, 2, 3] and len(calls) == 1
