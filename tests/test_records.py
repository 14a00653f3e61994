"""`@frozen` records behave as `@dataclass(frozen=True)` does, method by method."""

from __future__ import annotations

import dataclasses
import pickle
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mea_culpa.records import frozen


@frozen
class Point:
    """A record under test."""

    x: Any
    y: Any = 0
    tags: tuple[str, ...] = ()
    note: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class Reference:
    """The same fields as a plain frozen dataclass: what Point must match."""

    x: Any
    y: Any = 0
    tags: tuple[str, ...] = ()
    note: str = field(default="", compare=False, repr=False)


@frozen
class Other(Point):
    """Another record with the same fields (a subclass, even): never equal to a Point."""


@frozen
class Single:
    """A record of one field (attrgetter returns a bare value for one name)."""

    value: Any


values = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.tuples(st.integers()))
tags = st.lists(st.text(max_size=3), max_size=3).map(tuple)


@given(values, values, tags, st.text(max_size=3), values, values, tags, st.text(max_size=3))
def test_equality_and_hash_are_a_frozen_dataclasses(x1, y1, t1, n1, x2, y2, t2, n2) -> None:
    a, b = Point(x1, y1, t1, n1), Point(x2, y2, t2, n2)
    ra, rb = Reference(x1, y1, t1, n1), Reference(x2, y2, t2, n2)
    assert (a == b) == (ra == rb)
    assert (a != b) == (ra != rb)
    assert hash(a) == hash(Point(x1, y1, t1, "another note"))  # fields not compared do not count
    if ra == rb:
        assert hash(a) == hash(b)
    assert repr(a) == repr(ra).replace("Reference(", "Point(")


def test_a_record_of_another_class_is_never_equal() -> None:
    assert Point(1, 2) != Other(1, 2)
    assert Point(1, 2).__eq__((1, 2, ())) is NotImplemented
    assert Point(1, 2) != (1, 2, ())


def test_one_field_records_compare_and_hash() -> None:
    assert Single(3) == Single(3) and Single(3) != Single(4)
    assert hash(Single("a")) == hash(Single("a"))
    assert repr(Single("a")) == "Single(value='a')"


def test_records_stay_frozen_dataclasses() -> None:
    p = Point(1, 2, ("a",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 5  # type: ignore[misc]
    assert dataclasses.is_dataclass(p)
    assert dataclasses.replace(p, y=9) == Point(1, 9, ("a",))
    assert [f.name for f in dataclasses.fields(p)] == ["x", "y", "tags", "note"]
    assert pickle.loads(pickle.dumps(p)) == p


def test_a_record_with_an_unhashable_field_refuses_a_hash_as_a_dataclass_does() -> None:
    with pytest.raises(TypeError):
        hash(Reference([1]))
    with pytest.raises(TypeError):
        hash(Point([1]))


def test_the_projects_models_are_records() -> None:
    from mea_culpa.playbook import model as playbook
    from mea_culpa.run import session

    step = playbook.Step(id="a", type="text", prompt="A?", stage="facts")
    assert step == playbook.Step(id="a", type="text", prompt="A?", stage="facts")
    assert repr(step).startswith("Step(id='a', type='text', prompt='A?', stage='facts', help=''")
    record = session.StepRecord("answered", "x")
    assert {record: 1}[session.StepRecord("answered", "x")] == 1
