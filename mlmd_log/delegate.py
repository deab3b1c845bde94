"""Typed delegation: a facade exposes a part's method (or attribute) as its own without restating it.

``get_x = delegate("reader", Reader.get_x)`` on a class makes ``obj.get_x`` the bound
``obj.reader.get_x``: the part's docstring and signature (``help``, ``inspect``), and
for the type checker the part's parameters and return type. Looked up on every
access (no copy is kept), so replacing the part's method, as tests do with
``monkeypatch``, takes effect at once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from operator import attrgetter
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, overload

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


class delegate(Generic[P, R]):  # noqa: N801  # named like the functions it stands for
    """A method forwarded to the attribute ``part`` of the instance (a dotted path: ``"reader.nodes"``).

    On the class it stands for the part's function (same name, docstring and signature) and can be called
    as ``Facade.method(obj, ...)``.
    """

    def __init__(self, part: str, method: Callable[Concatenate[Any, P], R]) -> None:
        functools.update_wrapper(self, method)
        self._find = attrgetter(f"{part}.{method.__name__}")

    @overload
    def __get__(self, obj: None, owner: type) -> delegate[P, R]: ...

    @overload
    def __get__(self, obj: object, owner: type) -> Callable[P, R]: ...

    def __get__(self, obj: object | None, owner: type) -> delegate[P, R] | Callable[P, R]:
        if obj is None:
            return self
        found: Callable[P, R] = self._find(obj)
        return found

    def __call__(self, obj: Any, *args: P.args, **kwargs: P.kwargs) -> R:
        found: Callable[P, R] = self._find(obj)
        return found(*args, **kwargs)


class forwarded(Generic[T]):  # noqa: N801  # named like the property it stands for
    """An attribute of a part (a dotted path: ``"reader.links"``), read and written through the facade.

    ``links = forwarded[LineageIndex]("ctx.links")``: ``obj.links`` is ``obj.ctx.links``, typed
    :class:`LineageIndex`, and ``obj.links = x`` sets ``obj.ctx.links``.
    """

    def __init__(self, path: str, doc: str = "") -> None:
        self.__doc__ = doc
        self._get = attrgetter(path)
        head, _, self._name = path.rpartition(".")
        self._owner: Callable[[object], object] = attrgetter(head) if head else (lambda obj: obj)

    @overload
    def __get__(self, obj: None, owner: type) -> forwarded[T]: ...

    @overload
    def __get__(self, obj: object, owner: type) -> T: ...

    def __get__(self, obj: object | None, owner: type) -> forwarded[T] | T:
        if obj is None:
            return self
        found: T = self._get(obj)
        return found

    def __set__(self, obj: object, value: T) -> None:
        setattr(self._owner(obj), self._name, value)
