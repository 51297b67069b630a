"""The one cache of what model names resolve to, in namespaces.

Everything derived from a model name (a calculator twin's resolved Model, an output model, an
upper bound, the request walk's per-model record) is memoised here and nowhere else, so a
registration change clears every namespace at once. Each user has a namespace of its own: a
compiled twin casts what it reads from its namespace to its own class, so no other user's
value may ever sit there (a shared dict once let an OutputModel be read as a Model).

Threads (free-threaded builds included): a hit is one dict read, with no lock. Every fill and
every registration change holds LOCK, so a value computed from the tables before a change can
never be stored after the change cleared the cache (it would be stale for good).
"""

from __future__ import annotations

import functools
import threading

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see __init__.py)
if TYPE_CHECKING:
    from typing import Callable, ParamSpec, TypeVar

    _P = ParamSpec("_P")
    _T = TypeVar("_T")

LIMIT = 4096  # per namespace: names come from requests, and dated snapshots are many
LOCK = threading.RLock()  # re-entrant: filling one entry may fill another (a bound's Model)

_NAMESPACES: dict[str, dict[object, object]] = {}


def namespace(name: str) -> dict[object, object]:
    """The cache dict of one user ("tokens.cython", "output.python", "bound" ...), made once.
    Callers read it directly (``cache.get(key)``); they fill it only through :func:`memoised`."""
    with LOCK:
        cache = _NAMESPACES.get(name)
        if cache is None:
            cache = _NAMESPACES[name] = {}
        return cache


def memoised(cache: dict[object, object], key: object, make: Callable[..., object],
             *args: object) -> object:
    """``cache[key]``, filled with ``make(*args)`` on a miss; kept until the next registration
    change. Callers try ``cache.get(key)`` first: this is the miss path."""
    try:
        hash(key)
    except TypeError:  # an argument of a wrong type (a list ...): make() raises our error
        return make(*args)
    with LOCK:
        value = cache.get(key)
        if value is None:
            value = make(*args)
            if len(cache) >= LIMIT:
                cache.clear()
            cache[key] = value
    return value


def clear() -> None:
    """Forget every resolved name, in every namespace (a registration changed the tables)."""
    with LOCK:
        for cache in _NAMESPACES.values():
            cache.clear()


def locked(function: Callable[_P, _T]) -> Callable[_P, _T]:
    """Run ``function`` holding LOCK: a registration change is atomic to every other thread."""
    @functools.wraps(function)
    def run_locked(*args: _P.args, **kwargs: _P.kwargs) -> _T:
        with LOCK:
            return function(*args, **kwargs)
    return run_locked
