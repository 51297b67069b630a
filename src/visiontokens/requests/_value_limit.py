"""The value limit of a count that runs on an event loop, shared by both twins of the scan
and of the request walk (a module of its own, so neither twin owns it).

What a count costs grows with the JSON values in a body, not its bytes: 1 MB of four images
counts in well under a millisecond, 1 MB of ``[{}, {}, ...]`` takes hundreds of times that.
Code that counts on an event loop sets SCAN_MAX_VALUES around the count; the scan of a bytes
body then stops where value ``limit + 1`` begins, in time bounded by the limit, and raises
TooDense; the caller counts that body elsewhere (a thread, a process).
"""

from __future__ import annotations

from contextvars import ContextVar

#: The most JSON values the request walk's scan of a bytes body may meet, or -1 for no limit
#: (``Document(body, max_values=...)``). A context variable: it holds for the count it is set
#: around, never for another thread's or task's.
SCAN_MAX_VALUES: ContextVar[int] = ContextVar("visiontokens_scan_max_values", default=-1)


class TooDense(Exception):
    """``Document(data, max_values=k)`` met a value k + 1, beginning at byte ``offset``. Not a
    verdict on the body (it may be malformed further on): the caller counts it elsewhere. Both
    scan twins raise it at the same byte."""

    def __init__(self, offset: int):
        super().__init__(f"more JSON values than the scan's limit, from byte {offset}")
        self.offset = offset
