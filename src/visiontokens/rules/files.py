"""The shipped rulesets and their data files, ``data/<provider>/<ruleset>.json``: each read
once, lazily, on first use (not at import, to keep ``import visiontokens`` light)."""

from __future__ import annotations

import os

from .memo import LOCK

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (see __init__.py)
if TYPE_CHECKING:
    from typing import Any, Mapping

DATA = os.path.join(os.path.dirname(__file__), "data")

DEFAULT_RULESET = "2026-09"  # spec 1: the default is the newest
SHIPPED = ("2026-09", "2026-04")  # newest first

_files: dict[tuple[str, str], Mapping[str, Any]] = {}


def ruleset_file(provider: str, name: str) -> Mapping[str, Any]:
    """The parsed JSON of ``data/<provider>/<name>.json``, read once."""
    data = _files.get((provider, name))
    if data is None:
        import json  # lazily: the tables are read on first use, not at import

        with LOCK:
            data = _files.get((provider, name))
            if data is None:
                with open(os.path.join(DATA, provider, f"{name}.json"), encoding="utf-8") as file:
                    data = _files[provider, name] = json.load(file)
    return data
