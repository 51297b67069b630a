"""Memory measured with tracemalloc, for the tests that bound what a call allocates."""

from __future__ import annotations

import tracemalloc
from typing import Any, Callable


def traced_peak(call: Callable[[], Any]) -> tuple[Any, int]:
    """What ``call()`` returns, and the most memory it allocated on the way (bytes)."""
    tracemalloc.start()
    try:
        value = call()
        return value, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
