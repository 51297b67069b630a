"""JSON request bodies read in place: the pure twin of ``_scan_c.pyx`` (the reference).

``validate(data)`` checks in one pass that ``data`` (bytes, bytearray or memoryview) is
exactly one JSON value by RFC 8259, with O(1) memory beyond a stack of at most ``MAX_DEPTH``
brackets. ``Document(data)`` validates, then hands out a lazy view: objects and arrays are
(document, offset) pairs read on demand, scalars come out as Python values, long unescaped
strings as :class:`BodyString` (a window on the body's bytes, never copied).

The grammar, as strictly as RFC 8259 and jiter read strings:

- strings: the escapes of RFC 8259 section 7, no raw byte below 0x20, strict UTF-8 (no
  overlong forms, no encoded surrogates, nothing above U+10FFFF);
- a ``\\uXXXX`` escape of a lone surrogate is accepted and kept as a lone surrogate, as
  json.loads keeps it (jiter refuses it; today's request path falls back to json.loads, so a
  client's truncated emoji still counts); a high surrogate escape followed by a low one is
  one character, as in json.loads;
- numbers by the grammar of section 6 (no leading zeros, no "+", digits after "." and "e");
  ``NaN``, ``Infinity`` and ``-Infinity`` are refused (RFC 8259 has no such literals; json.loads
  and jiter 0.19 accept them);
- no byte-order mark, only UTF-8 (json.loads also reads UTF-16 and UTF-32 bytes);
- whitespace is space, tab, line feed and carriage return;
- nesting deeper than ``MAX_DEPTH`` arrays and objects is refused (the request walk's rule).

A failure raises :class:`MalformedRequestError` naming the byte offset (and its line and
column), built by :func:`_error`, which the compiled twin calls too: both raise the same
messages. Values follow json.loads: the last of duplicate keys wins, an integer literal is an
int of any size (up to Python's 4,300-digit conversion limit), anything with "." or an
exponent a float.

Long strings: during :class:`Document`'s pass every string of at least ``SKIP_TABLE`` bytes is
recorded (start, end, flags) in offset order, at most one entry per ``SKIP_TABLE`` bytes of
body, so later walks jump over a 6 MB data URL with one lookup instead of rereading it.
"""

from __future__ import annotations

import builtins
import re
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

from ..images import sources as fmt
from .._errors import ArgumentTypeError, MalformedRequestError
from ._value_limit import TooDense

IMPLEMENTATION = "python"

#: The deepest a body may nest (arrays and objects): the request walk's rule
#: (``_request_py.MAX_DEPTH``, a test holds them equal).
MAX_DEPTH = 200
#: Unescaped strings of at least this many bytes come out as BodyString, not str.
LONG_STRING = 1024
#: Strings of at least this many bytes (quotes included) are recorded by Document's pass.
SKIP_TABLE = 4096
#: the first bytes of a long string a BodyString's header_view always has copied in: as many
#: as a data URL's header may take (the compiled twin reads it from here)
MAX_DATA_URL_HEADER = fmt.MAX_DATA_URL_HEADER

#: String flags.
ESCAPED = 1
NON_ASCII = 2

# What went wrong (the message's middle part); shared with the compiled twin by index.
WHAT = (
    "expected a value",                                      # 0
    "expected ',' or ']' after an array element",            # 1
    "expected ',' or '}' after an object member",            # 2
    "expected a string key",                                 # 3
    "expected ':' after an object key",                      # 4
    "unterminated string",                                   # 5
    "invalid escape",                                        # 6
    "invalid \\u escape",                                    # 7
    "raw control character in a string",                     # 8
    "invalid UTF-8",                                         # 9
    "invalid number",                                        # 10
    "invalid literal",                                       # 11
    "unexpected data after the value",                       # 12
    "",                                                      # 13: too deep (own message)
    "an integer of more than 4300 digits",                   # 14
)
(E_VALUE, E_ARRAY, E_OBJECT, E_KEY, E_COLON, E_UNTERMINATED, E_ESCAPE, E_UESCAPE, E_CONTROL,
 E_UTF8, E_NUMBER, E_LITERAL, E_TRAILING, E_DEEP, E_BIG_INT) = range(len(WHAT))

_HEADLINE = "the request body is not JSON"
_TOO_DEEP = f"the request body nests deeper than {MAX_DEPTH} levels"


def _error(data: Any, offset: int, what: int) -> MalformedRequestError:
    """The error for failure ``what`` (an index into WHAT) at byte ``offset`` of ``data``;
    line and column (1-based, the column in bytes) are counted here, on failure only."""
    line, last = 1, -1
    chunk = 1 << 20
    for at in range(0, offset, chunk):  # (in pieces: no second copy of a large body)
        piece = bytes(data[at:min(at + chunk, offset)])
        count = piece.count(b"\n")
        if count:
            line += count
            last = at + piece.rindex(b"\n")
    where = f"byte {offset} (line {line}, column {offset - last})"
    if what == E_DEEP:
        message = f"{_TOO_DEEP}: at {where}"
    else:
        message = f"{_HEADLINE}: {WHAT[what]} at {where}"
    error = MalformedRequestError(message)
    error.offset = offset  # type: ignore[attr-defined]
    return error


class _Fail(Exception):
    def __init__(self, offset: int, what: int):
        self.offset = offset
        self.what = what


def _as_buffer(data: Any) -> memoryview:
    """``data`` as a flat memoryview of bytes, holding an export (a bytearray cannot be resized
    under a scan); anything else is a typed error."""
    if isinstance(data, BodyBuffer):
        return data.view()
    if isinstance(data, str):
        raise ArgumentTypeError("expected bytes, bytearray or memoryview, got str")
    view = fmt.byte_view(data)
    return memoryview(view).cast("B") if not isinstance(view, memoryview) else view


# --- the grammar ---------------------------------------------------------------------------------

_WS = re.compile(rb"[ \t\n\r]*")
_PLAIN = re.compile(rb'[^"\\\x00-\x1f\x80-\xff]*')  # a run of plain ASCII inside a string
_UTF8 = re.compile(  # one well-formed UTF-8 sequence of two to four bytes (RFC 3629)
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}")
_HEX = re.compile(rb"[0-9a-fA-F]{0,4}")
_INT = re.compile(rb"-?(?:0|[1-9][0-9]*)")
_FRACTION = re.compile(rb"\.[0-9]+")
_EXPONENT = re.compile(rb"[eE][+-]?[0-9]+")
_SIMPLE_ESCAPES = frozenset(b'"\\/bfnrt')
_LITERALS = {0x74: b"true", 0x66: b"false", 0x6E: b"null"}


def _string(data: memoryview, pos: int, n: int) -> tuple[int, int]:
    """The string opening at ``pos``: (the offset after its closing quote, its flags)."""
    p, flags = pos + 1, 0
    while True:
        p = _PLAIN.match(data, p).end()  # type: ignore[union-attr]
        if p >= n:
            raise _Fail(pos, E_UNTERMINATED)
        c = data[p]
        if c == 0x22:
            return p + 1, flags
        if c == 0x5C:
            flags |= ESCAPED
            if p + 1 >= n:
                raise _Fail(pos, E_UNTERMINATED)
            e = data[p + 1]
            if e == 0x75:  # \uXXXX
                digits = _HEX.match(data, p + 2).end() - (p + 2)  # type: ignore[union-attr]
                if digits == 4:
                    p += 6
                elif p + 2 + digits < n:
                    raise _Fail(p, E_UESCAPE)
                else:
                    raise _Fail(pos, E_UNTERMINATED)
            elif e in _SIMPLE_ESCAPES:
                p += 2
            else:
                raise _Fail(p, E_ESCAPE)
        elif c < 0x20:
            raise _Fail(p, E_CONTROL)
        else:
            sequence = _UTF8.match(data, p)
            if sequence is None:
                raise _Fail(p, E_UTF8)
            flags |= NON_ASCII
            p = sequence.end()


def _number(data: memoryview, pos: int, n: int) -> int:
    """The offset after the number starting at ``pos``."""
    whole = _INT.match(data, pos)
    if whole is None:
        raise _Fail(pos, E_NUMBER)
    p = whole.end()
    if p < n and data[p] == 0x2E:
        part = _FRACTION.match(data, p)
        if part is None:
            raise _Fail(pos, E_NUMBER)
        p = part.end()
    if p < n and (data[p] == 0x65 or data[p] == 0x45):
        part = _EXPONENT.match(data, p)
        if part is None:
            raise _Fail(pos, E_NUMBER)
        p = part.end()
    return p


def _scan(data: memoryview, table: list[tuple[int, int, int]] | None,
          max_values: int = -1) -> int:
    """Validate all of ``data``; record long strings in ``table`` when given. Returns the
    offset of the value (after leading whitespace). With ``max_values`` >= 0, raises TooDense
    where value max_values + 1 begins."""
    n = len(data)
    values = 0
    ws = _WS.match
    stack: list[bool] = []  # True: an object
    p = ws(data, 0).end()  # type: ignore[union-attr]
    first = p
    # states: 0 a value is expected at p, 1 a key is expected at p, 2 a value just ended
    state = 0
    while True:
        if state == 0:
            values += 1
            if 0 <= max_values < values:
                raise TooDense(p)
            if p >= n:
                raise _Fail(p, E_VALUE)
            c = data[p]
            if c == 0x7B or c == 0x5B:  # { [
                if len(stack) == MAX_DEPTH:
                    raise _Fail(p, E_DEEP)
                is_object = c == 0x7B
                stack.append(is_object)
                p = ws(data, p + 1).end()  # type: ignore[union-attr]
                if p < n and data[p] == (0x7D if is_object else 0x5D):
                    stack.pop()
                    p += 1
                    state = 2
                else:
                    state = 1 if is_object else 0
                continue
            if c == 0x22:
                end, flags = _string(data, p, n)
                if table is not None and end - p >= SKIP_TABLE:
                    table.append((p, end, flags))
                p = end
            elif c == 0x2D or 0x30 <= c <= 0x39:
                p = _number(data, p, n)
            elif c in _LITERALS:
                word = _LITERALS[c]
                if data[p:p + len(word)] != word:
                    raise _Fail(p, E_LITERAL)
                p += len(word)
            else:
                raise _Fail(p, E_VALUE)
            state = 2
        elif state == 1:
            if p >= n or data[p] != 0x22:
                raise _Fail(p, E_KEY)
            end, flags = _string(data, p, n)
            if table is not None and end - p >= SKIP_TABLE:
                table.append((p, end, flags))
            p = ws(data, end).end()  # type: ignore[union-attr]
            if p >= n or data[p] != 0x3A:
                raise _Fail(p, E_COLON)
            p = ws(data, p + 1).end()  # type: ignore[union-attr]
            state = 0
        else:
            p = ws(data, p).end()  # type: ignore[union-attr]
            if not stack:
                if p != n:
                    raise _Fail(p, E_TRAILING)
                return first
            is_object = stack[-1]
            c = data[p] if p < n else -1
            if c == 0x2C:
                p = ws(data, p + 1).end()  # type: ignore[union-attr]
                state = 1 if is_object else 0
            elif c == (0x7D if is_object else 0x5D):
                stack.pop()
                p += 1
            else:
                raise _Fail(p, E_OBJECT if is_object else E_ARRAY)


def validate(data: Any) -> None:
    """Check that ``data`` (bytes, bytearray, memoryview) is exactly one JSON value (see the
    module's docstring); raise MalformedRequestError naming the offset where it is not."""
    view = _as_buffer(data)
    try:
        _scan(view, None)
    except _Fail as fail:
        raise _error(view, fail.offset, fail.what) from None


# --- the lazy view -------------------------------------------------------------------------------

_QUOTE_OR_BACKSLASH = re.compile(rb'(?:[^"\\]++|\\.)*+"', re.DOTALL)
_STRUCTURE = re.compile(rb'["\[\]{}]')
_SCALAR = re.compile(rb"[-+.0-9a-zA-Z]+")


class Document:
    """A validated body and its long-string table; ``root`` is its value (a node or a scalar).
    With ``max_values`` (>= 0), the scan raises TooDense where value max_values + 1 begins."""

    __slots__ = ("data", "size", "_starts", "_table", "_first")

    #: how many bytes the scan stepped over unread: none here (the compiled twin steps over
    #: the plain blocks of a BodyBuffer)
    stepped = 0

    def __init__(self, data: Any, max_values: int = -1):
        if hasattr(self, "_first"):  # (as in the compiled twin, which would leak an export)
            raise ArgumentTypeError("a Document reads one body; make a new one")
        view = _as_buffer(data)
        table: list[tuple[int, int, int]] = []
        try:
            first = _scan(view, table, max_values)
        except _Fail as fail:
            raise _error(view, fail.offset, fail.what) from None
        self.data = view
        self.size = len(view)
        self._table = table
        self._starts = [entry[0] for entry in table]
        self._first = first

    @property
    def root(self) -> Any:
        """The body's value: a node, a string or a scalar."""
        return _value_at(self, self._first)

    def _long(self, pos: int) -> tuple[int, int, int] | None:
        i = bisect_left(self._starts, pos)
        if i < len(self._starts) and self._starts[i] == pos:
            return self._table[i]
        return None


# --- a body written chunk by chunk ---------------------------------------------------------------

#: the block a BodyBuffer's map is kept for: one entry per BLOCK bytes of body
BLOCK = 4096


class BodyBuffer:
    """A body written chunk by chunk (``put``), as a server hands it over, read in place
    (``view``), then emptied (``clear``) for the next body: a gateway keeps one from request
    to request. While a view of it is held, ``put`` and ``clear`` raise BufferError.

    The compiled twin tests each ``BLOCK``-byte block of the body as it copies it in, while
    the chunk is still in the processor's cache, and keeps a map of the plain blocks: those
    with no byte that ends a string's plain run (a quote, a backslash, a control, a byte at or
    above 0x80) and a byte that stands only inside a string (a capital letter but E). A
    Document over the whole buffer steps over the plain blocks of a long string unread, and
    ``read_bound`` bounds what a scan reads by the blocks that are not plain. The pure twin
    keeps no map: the answers are the same, which ``plain_blocks`` lets the tests check."""

    __slots__ = ("_bytes",)

    def __init__(self) -> None:
        self._bytes = bytearray()

    def __len__(self) -> int:
        return len(self._bytes)

    def put(self, chunk: Any) -> None:
        """Append ``chunk`` (bytes-like); BufferError while the buffer is read."""
        if chunk is self:  # (the compiled twin reads it as it would grow)
            raise BufferError("a BodyBuffer cannot change while it is read")
        self._bytes += chunk

    def clear(self) -> None:
        """Empty the buffer, keeping its memory; BufferError while the buffer is read."""
        self._bytes.clear()

    def view(self) -> memoryview:
        """A read-only view of the body held: release it (or use ``with``) when done."""
        return memoryview(self._bytes).toreadonly()

    def _blocks_not_copied(self) -> int:
        """How many blocks are not copied in yet (for the tests: the pure twin copies all)."""
        return 0

    def plain_blocks(self) -> bytes:
        """One byte per ``BLOCK`` bytes held: 1 where the block is plain, else 0."""
        data = self._bytes
        return bytes(_PLAIN.fullmatch(data, at, min(at + BLOCK, len(data))) is not None
                     and _STRING_ONLY.search(data, at, min(at + BLOCK, len(data))) is not None
                     for at in range(0, len(data), BLOCK))


_STRING_ONLY = re.compile(rb"[A-DF-Z]")  # in valid JSON, only inside a string


def read_bound(data: Any) -> int:
    """At most how many bytes of ``data`` (bytes, bytearray, memoryview, a BodyBuffer) a scan
    reads: all of them, but for a BodyBuffer (or its view) in the compiled twin, which steps
    over plain blocks: there, twice the bytes of the blocks that are not plain, and one block.
    (Outside a string a scan fails at a plain block's string-only byte, so of a run of plain
    blocks it reads at most the first, entered from a block that is not plain or from the
    start.)"""
    return len(_as_buffer(data))


def _ws(doc: Document, pos: int) -> int:
    return _WS.match(doc.data, pos).end()  # type: ignore[union-attr]


def _string_end(doc: Document, pos: int) -> int:
    entry = doc._long(pos)
    if entry is not None:
        return entry[1]
    return _QUOTE_OR_BACKSLASH.match(doc.data, pos + 1).end()  # type: ignore[union-attr]


def _skip(doc: Document, pos: int) -> int:
    """The offset after the (valid) value at ``pos``."""
    data = doc.data
    c = data[pos]
    if c == 0x22:
        return _string_end(doc, pos)
    if c != 0x7B and c != 0x5B:
        return _SCALAR.match(data, pos).end()  # type: ignore[union-attr]
    depth, p = 0, pos
    while True:
        found = _STRUCTURE.search(data, p)
        assert found is not None  # a validated body closes every bracket
        p = found.start()
        c = data[p]
        if c == 0x22:
            p = _string_end(doc, p)
            continue
        depth += 1 if c == 0x7B or c == 0x5B else -1
        p += 1
        if depth == 0:
            return p


def _string_flags(doc: Document, pos: int, end: int) -> int:
    entry = doc._long(pos)
    if entry is not None:
        return entry[2]
    raw = bytes(doc.data[pos + 1:end - 1])  # (shorter than SKIP_TABLE)
    return (ESCAPED if b"\\" in raw else 0) | (0 if raw.isascii() else NON_ASCII)


def _string_value(doc: Document, pos: int) -> Any:
    end = _string_end(doc, pos)
    flags = _string_flags(doc, pos, end)
    if not flags & ESCAPED:
        if end - pos - 2 >= LONG_STRING:
            return BodyString(doc, pos + 1, end - 1, flags)
        return bytes(doc.data[pos + 1:end - 1]).decode("utf-8")
    return _unescape(doc, pos, end)


def _unescape(doc: Document, pos: int, end: int) -> str:
    # json's own string decoder on a string already checked: the same escapes, the same
    # surrogate pairing (a high escape then a low one is one character, a lone one stays)
    import json  # (only for escaped strings: kept off the import path)

    text = bytes(doc.data[pos:end]).decode("utf-8")
    return json.decoder.scanstring(text, 1)[0]  # type: ignore[attr-defined,no-any-return]


def _number_value(doc: Document, pos: int) -> Any:
    end = _SCALAR.match(doc.data, pos).end()  # type: ignore[union-attr]
    text = bytes(doc.data[pos:end])
    if b"." in text or b"e" in text or b"E" in text:
        return float(text)
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
        raise _error(doc.data, pos, E_BIG_INT) from None


def _value_at(doc: Document, pos: int) -> Any:
    c = doc.data[pos]
    if c == 0x7B:
        return ObjectNode(doc, pos)
    if c == 0x5B:
        return ArrayNode(doc, pos)
    if c == 0x22:
        return _string_value(doc, pos)
    if c == 0x74:
        return True
    if c == 0x66:
        return False
    if c == 0x6E:
        return None
    return _number_value(doc, pos)


def _members(doc: Document, pos: int) -> Iterator[tuple[int, int]]:
    """(key offset, value offset) of each member of the object at ``pos``, in order."""
    data = doc.data
    p = _ws(doc, pos + 1)
    if data[p] == 0x7D:
        return
    while True:
        key = p
        p = _ws(doc, _string_end(doc, key))
        p = _ws(doc, p + 1)  # after ':'
        yield key, p
        p = _ws(doc, _skip(doc, p))
        if data[p] != 0x2C:
            return
        p = _ws(doc, p + 1)


def _elements(doc: Document, pos: int) -> Iterator[int]:
    data = doc.data
    p = _ws(doc, pos + 1)
    if data[p] == 0x5D:
        return
    while True:
        yield p
        p = _ws(doc, _skip(doc, p))
        if data[p] != 0x2C:
            return
        p = _ws(doc, p + 1)


def _key_matches(doc: Document, pos: int, wanted: bytes, key: str) -> bool:
    end = _string_end(doc, pos)
    if (b"\\" not in wanted and end - pos - 2 == len(wanted)
            and bytes(doc.data[pos + 1:end - 1]) == wanted):
        return True  # (equal bytes, no backslash: equal keys)
    if not _string_flags(doc, pos, end) & ESCAPED:
        return False
    return _unescape(doc, pos, end) == key


def _key_text(doc: Document, pos: int) -> str:
    value = _string_value(doc, pos)
    return value if type(value) is str else value.str()


class ObjectNode:
    """A JSON object in the body: read member by member on demand."""

    __slots__ = ("document", "offset")

    def __init__(self, document: Document, offset: int):
        self.document = document
        self.offset = offset

    def get(self, key: str, default: Any = None) -> Any:
        """The value of ``key`` (the last one, if the key repeats, as json.loads has it)."""
        if type(key) is not str:
            raise ArgumentTypeError(f"a key must be a str, got {type(key).__name__}")
        wanted = key.encode("utf-8", "surrogatepass")
        found = -1
        for at, value in _members(self.document, self.offset):
            if _key_matches(self.document, at, wanted, key):
                found = value
        return default if found < 0 else _value_at(self.document, found)

    def __contains__(self, key: str) -> bool:
        """Whether the object has the member ``key`` (as ``key in`` json.loads's dict)."""
        if type(key) is not str:
            raise ArgumentTypeError(f"a key must be a str, got {type(key).__name__}")
        wanted = key.encode("utf-8", "surrogatepass")
        return any(_key_matches(self.document, at, wanted, key)
                   for at, _value in _members(self.document, self.offset))

    def items(self) -> Iterator[tuple[str, Any]]:
        """(key, value) of every member in order, repeated keys included (``dict(...)`` of it
        is json.loads's object)."""
        for at, value in _members(self.document, self.offset):
            yield _key_text(self.document, at), _value_at(self.document, value)

    def keys(self) -> Iterator[str]:
        """Every key in order, repeated keys included."""
        for at, _value in _members(self.document, self.offset):
            yield _key_text(self.document, at)

    def value(self) -> dict[str, Any]:
        """The object as plain Python, equal to json.loads of its text."""
        return _materialise(self.document, self.offset)  # type: ignore[no-any-return]

    def end(self) -> int:
        """The offset after the object's closing brace."""
        return _skip(self.document, self.offset)

    def __repr__(self) -> str:
        return f"ObjectNode(at byte {self.offset})"


class ArrayNode:
    """A JSON array in the body: iterated element by element, never built as a list."""

    __slots__ = ("document", "offset")

    def __init__(self, document: Document, offset: int):
        self.document = document
        self.offset = offset

    def __iter__(self) -> Iterator[Any]:
        for at in _elements(self.document, self.offset):
            yield _value_at(self.document, at)

    def __len__(self) -> int:
        count = 0
        for _at in _elements(self.document, self.offset):
            count += 1
        return count

    def value(self) -> list[Any]:
        """The array as plain Python, equal to json.loads of its text."""
        return _materialise(self.document, self.offset)  # type: ignore[no-any-return]

    def end(self) -> int:
        """The offset after the array's closing bracket."""
        return _skip(self.document, self.offset)

    def __repr__(self) -> str:
        return f"ArrayNode(at byte {self.offset})"


def _materialise(doc: Document, pos: int) -> Any:
    """The value at ``pos`` as plain Python; iterative (a body nests at most MAX_DEPTH deep,
    and no caller's stack depth matters)."""
    def plain(value: Any) -> Any:
        return value.str() if type(value) is BodyString else value

    c = doc.data[pos]
    if c != 0x7B and c != 0x5B:
        return plain(_value_at(doc, pos))
    root: Any = {} if c == 0x7B else []
    # each frame: (container, its member or element iterator, is it an object)
    stack: list[tuple[Any, Iterator[Any], bool]] = [
        (root, _members(doc, pos) if c == 0x7B else _elements(doc, pos), c == 0x7B)]
    key = ""
    while stack:
        container, walk, is_object = stack[-1]
        step: Any = next(walk, None)
        if step is None:
            stack.pop()
            continue
        at: int
        if is_object:
            key_at, at = step
            key = _key_text(doc, key_at)
        else:
            at = step
        c = doc.data[at]
        if c == 0x7B or c == 0x5B:
            child: Any = {} if c == 0x7B else []
            stack.append((child, _members(doc, at) if c == 0x7B else _elements(doc, at), c == 0x7B))
        else:
            child = plain(_value_at(doc, at))
        if is_object:
            container[key] = child
        else:
            container.append(child)
    return root


class BodyString:
    """A long unescaped JSON string, left where it lies in the body: what an image walker
    needs (length, prefix tests, a short head, the raw bytes) without a copy."""

    __slots__ = ("document", "start", "end", "_flags", "_length")

    def __init__(self, document: Document, start: int, end: int, flags: int):
        self.document = document
        self.start = start  # the first byte after the opening quote
        self.end = end      # the closing quote
        self._flags = flags
        self._length = -1

    def __len__(self) -> int:
        """Characters, as len(str) counts them."""
        if self._length < 0:
            if self._flags & NON_ASCII:
                raw = bytes(self.view())
                self._length = len(raw) - sum(1 for b in raw if 0x80 <= b <= 0xBF)
            else:
                self._length = self.end - self.start
        return self._length

    def isascii(self) -> bool:
        """Whether every character is ASCII (known from the scan: no pass over the bytes)."""
        return not self._flags & NON_ASCII

    def startswith(self, prefix: str | tuple[str, ...]) -> bool:
        """As str.startswith, for a str or a tuple of str."""
        if isinstance(prefix, tuple):
            return any(self.startswith(each) for each in prefix)
        if type(prefix) is not str:
            raise ArgumentTypeError(f"a prefix must be a str, got {type(prefix).__name__}")
        wanted = prefix.encode("utf-8", "surrogatepass")
        if len(wanted) > self.end - self.start:
            return False
        return bytes(self.document.data[self.start:self.start + len(wanted)]) == wanted

    def head(self, n: int) -> str:
        """The first ``n`` characters (fewer if the string is shorter)."""
        if n <= 0:
            return ""
        # the first n characters lie within 4n bytes; a sequence the cut splits is dropped
        raw = bytes(self.document.data[self.start:min(self.end, self.start + 4 * n)])
        return raw.decode("utf-8", "ignore")[:n]

    def view(self) -> memoryview:
        """The string's raw bytes in the body (valid UTF-8, no escapes)."""
        return self.document.data[self.start:self.end]

    def header_view(self) -> tuple[memoryview, Any]:
        """(view, fill): the string's raw bytes for the image-header parser, which reads only
        what it needs. In a BodyBuffer some blocks of them may not be copied in yet: ``fill``
        is then the hook the compiled parser calls before it reads (else None). The first
        MAX_DATA_URL_HEADER bytes and the last two are always there, and all of a string that
        is not ASCII."""
        return self.view(), None  # (a pure body is always whole)

    def str(self) -> builtins.str:
        """The whole string as a str: a copy, for when it is really needed."""
        return bytes(self.view()).decode("utf-8")

    __str__ = str

    def __repr__(self) -> builtins.str:
        return f"BodyString({self.head(24)!r}..., {self.end - self.start} bytes)"
