"""How many JSON values a body holds: the unit of the value limit that a count on an event
loop sets (requests/_value_limit.py)."""

from __future__ import annotations

import json


class _Members(list):
    """An object's members as json.loads reads them, repeated keys and all."""


def json_values(data: bytes | str) -> int:
    """How many values the JSON text holds, by json.loads: every one, a repeated key's too,
    the outermost included (object keys are not values)."""
    def count(value) -> int:
        if isinstance(value, _Members):
            return 1 + sum(count(item) for _, item in value)
        if isinstance(value, list):
            return 1 + sum(count(item) for item in value)
        return 1

    text = data.decode("utf-8") if isinstance(data, bytes) else data
    return count(json.loads(text, object_pairs_hook=_Members))
