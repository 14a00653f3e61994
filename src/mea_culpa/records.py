"""Frozen records: the project's value objects (a playbook's steps, a session, a finding).

A record (`@frozen`) is a frozen dataclass (fields, defaults, `dataclasses.replace`, immutability)
whose equality, hash and repr are written once here instead of generated for each class.
On Python 3.11 a dataclass compiles every method it generates separately, about a tenth
of a millisecond apiece; the thirty records a command imports spent some 10 ms of a
start-up budget of about 120 ms on code that is the same for all of them
(docs/performance.md). The behaviour is a frozen dataclass's: two records are equal when
they are of the same class with equal fields, the hash is that of the fields, and the
repr is `Name(field=value, ...)`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar

T = TypeVar("T")

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**kwargs: Any) -> Callable[[T], T]:
        return lambda decorator: decorator


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def frozen(cls: type[T]) -> type[T]:
    """`@dataclass(frozen=True)`, with the shared equality, hash and repr."""
    made = dataclasses.dataclass(frozen=True, eq=False, repr=False)(cls)
    fields = dataclasses.fields(made)  # type: ignore[arg-type]  # a dataclass from here on
    compared = _getter(tuple(f.name for f in fields if f.compare))
    shown = tuple(f.name for f in fields if f.repr)

    def __eq__(self: Any, other: object) -> bool:
        if other.__class__ is self.__class__:
            return compared(self) == compared(other)
        return NotImplemented

    def __hash__(self: Any) -> int:
        return hash(compared(self))

    def __repr__(self: Any) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{self.__class__.__qualname__}({values})"

    for method in (__eq__, __hash__, __repr__):
        method.__qualname__ = f"{made.__qualname__}.{method.__name__}"
        setattr(made, method.__name__, method)
    return made


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """The compared fields of a record as one tuple (attrgetter gives a bare value for one name)."""
    if len(names) == 1:
        only = names[0]
        return lambda obj: (getattr(obj, only),)
    if not names:
        return lambda obj: ()
    return attrgetter(*names)
