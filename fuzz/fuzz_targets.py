"""Fuzz targets: untrusted bytes in, and nothing but our own errors out.

Each target takes one input (bytes) and runs it through every twin of the code it reaches,
compiled and pure. It fails (raises ``AssertionError``) when

- anything but a ``VisionTokensError`` escapes (a crash, a foreign exception), or
- the twins disagree: different results, or errors of a different type or message.

The same targets serve atheris (``fuzz/atheris_main.py``, coverage-guided, for long runs)
and hypothesis (``tests/test_fuzz.py``, a short run in every test run). Inputs come from the
seed corpus in ``fuzz/corpus/<target>/`` and what the fuzzers derive from it.
"""

from __future__ import annotations

import base64
import importlib
import json
from typing import Any, Callable

from visiontokens import VisionTokensError, _extensions
from visiontokens.requests._value_limit import TooDense

#: Requests carry at most this many bytes here: enough for every structure, and each run
#: stays in the milliseconds whatever the fuzzer makes.
MAX_INPUT = 1 << 20


def _twins(name: str) -> list[Any]:
    """Every twin of ``name`` that this install has: the compiled one when built, the pure one."""
    compiled, pure = _extensions.TWINS[name]
    modules = []
    if _extensions.use_extensions():
        try:
            modules.append(importlib.import_module(f"visiontokens.{compiled[0]}"))
        except ImportError:
            if _extensions.flag("VISIONTOKENS_REQUIRE_EXTENSIONS"):
                raise
    modules.append(importlib.import_module(f"visiontokens.{pure}"))
    return modules


HEADER = _twins("header")
REQUEST = _twins("request")
SCAN = _twins("scan")


def _outcome(action: Callable[[], Any]) -> tuple[str, Any]:
    """("ok", result) or ("error", type name, message); anything not ours fails the target."""
    try:
        return ("ok", _plain(action()))
    except VisionTokensError as error:
        return ("error", (type(error).__name__, str(error)))
    except RecursionError:  # the walk bounds its depth itself: reaching Python's is a bug
        raise AssertionError("RecursionError escaped") from None
    except Exception as error:
        raise AssertionError(f"{type(error).__name__} escaped: {error}") from error


def _plain(value: Any) -> Any:
    """A result with its exceptions (collected violations) replaced by (type, message), so
    two twins' results compare by what they say."""
    if isinstance(value, BaseException):
        return (type(value).__name__, str(value))
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    return value


def _agree(name: str, outcomes: list[tuple[str, Any]], twins: list[Any]) -> None:
    first = outcomes[0]
    for twin, other in zip(twins[1:], outcomes[1:]):
        if other != first:
            raise AssertionError(f"{name}: {twins[0].__name__} gave {first!r}, "
                                 f"{twin.__name__} gave {other!r}")


# --- the targets ----------------------------------------------------------------------------------

def image_bytes(data: bytes) -> None:
    """image_info on raw bytes, as bytes, bytearray and memoryview, in every header twin."""
    outcomes = [_outcome(lambda twin=twin: twin.image_info(data)) for twin in HEADER]
    _agree("image_info(bytes)", outcomes, HEADER)
    for view in (bytearray(data), memoryview(data)):
        again = [_outcome(lambda twin=twin: twin.image_info(view)) for twin in HEADER]
        _agree("image_info(buffer)", again, HEADER)
        if again[0] != outcomes[0]:
            raise AssertionError(f"bytes gave {outcomes[0]!r}, {type(view).__name__} {again[0]!r}")


def data_url(data: bytes) -> None:
    """image_info on data URLs. The first byte picks the form: the input base64-encoded under
    a valid header (the image parser behind lazy base64), or the input itself after "data:"
    (header and base64 rules), as str and as bytes."""
    if not data:
        return
    mode, rest = data[0] % 3, data[1:]
    if mode == 0:
        urls: list[Any] = ["data:image/png;base64," + base64.b64encode(rest).decode()]
    elif mode == 1:
        text = rest.decode("latin-1")
        urls = ["data:" + text, b"data:" + rest]
    else:  # base64 with a cut or a flipped character: where it is read, it must be checked
        encoded = bytearray(base64.b64encode(rest))
        if encoded:
            encoded[rest[0] % len(encoded) if rest else 0] ^= rest[-1] if rest else 1
        urls = ["data:image/jpeg;base64," + encoded.decode("latin-1")]
    for url in urls:
        _agree("image_info(data URL)",
               [_outcome(lambda twin=twin: twin.image_info(url)) for twin in HEADER], HEADER)


_OPTIONS = [dict(), dict(on_unknown="upper_bound"), dict(on_violation="collect"),
            dict(on_unknown="upper_bound", on_violation="collect")]


def request_body(data: bytes) -> None:
    """count_request on a body, in every request twin, with each on_unknown/on_violation
    setting. The first byte picks the form: the input as the JSON body (bytes, bytearray,
    memoryview, and parsed to a dict when it is JSON), or a Chat, a Responses, an Anthropic
    Messages and a Gemini body carrying the input as an image (a data URL, or raw base64 as
    it is and padded past 1 KB, so the scan leaves it in the body; as dicts and as JSON
    bytes). The bytes, read in place by the scan, must count as their dict does whenever the
    scan accepts them (RFC 8259)."""
    if not data or len(data) > MAX_INPUT:
        return
    mode, rest = data[0] % 4, data[1:]
    options = _OPTIONS[data[0] // 4 % len(_OPTIONS)]
    if mode == 3:
        url = "data:image/png;base64," + base64.b64encode(rest).decode()
        bodies: list[Any] = [
            {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": url, "detail": "high"}}]}]},
            {"model": "gpt-6-astra", "input": [{"type": "computer_call_output", "output": {
                "type": "computer_screenshot", "image_url": url}}]},
        ]
        for raw in (base64.b64encode(rest).decode(), base64.b64encode(rest + bytes(768)).decode(),
                    base64.b64encode(rest + bytes(12288)).decode()):  # (blocks left in chunks)
            bodies += [
                {"model": "gpt-4o", "messages": [{"role": "user", "content": [
                    {"type": "image_url", "image_url": {"url": raw}}]}]},
                {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                 "data": raw}}]}]},
                {"model": "gemini-2.5-flash", "contents": [{"parts": [
                    {"inlineData": {"mimeType": "image/png", "data": raw}}]}]},
            ]
    else:
        bodies = [rest]
        try:
            parsed = json.loads(rest)
        except (ValueError, RecursionError):
            parsed = None
        if parsed is not None:
            bodies.append(parsed)
    if mode == 3:  # the same bodies as JSON bytes: read in place by the scan
        bodies += [json.dumps(body).encode() for body in bodies]
    results = []
    for body in bodies:
        outcomes = [_outcome(lambda twin=twin: twin.count_request(body, **options))
                    for twin in REQUEST]
        _agree("count_request", outcomes, REQUEST)
        results.append(outcomes[0])
    # The scan's differential: bytes the scan accepts (RFC 8259) count as their dict does, and
    # a bytearray or memoryview of them as the bytes do.
    if mode == 3:
        half = len(results) // 2
        for as_dict, as_bytes in zip(results[:half], results[half:]):
            if as_dict != as_bytes:
                raise AssertionError(f"count_request: a dict gave {as_dict!r}, its bytes {as_bytes!r}")
        for body, as_bytes in zip(bodies[half:], results[half:]):
            _same_from_a_buffer(body, options, as_bytes)
    elif len(bodies) == 2 and _rfc_8259(rest):
        if results[0] != results[1]:
            raise AssertionError(f"count_request: bytes gave {results[0]!r}, "
                                 f"their dict {results[1]!r}")
    if mode != 3:
        _same_from_a_buffer(rest, options, results[0])
        for form in (bytearray(rest), memoryview(rest)):
            other = _outcome(lambda: REQUEST[0].count_request(form, **options))
            if other != results[0]:
                raise AssertionError(f"count_request: {type(form).__name__} gave {other!r}, "
                                     f"bytes {results[0]!r}")


def _same_from_a_buffer(raw: bytes, options: dict[str, Any], expected: Any) -> None:
    """``raw`` put 4 KB at a time into a BodyBuffer that held a hostile body before (every
    twin's), counted as it is: the bytes' outcome."""
    for twin in REQUEST:
        buffer = twin.BodyBuffer()
        buffer.put((b'"\\\x00\xff' * (len(raw) // 4 + 1))[:len(raw)])
        buffer.clear()
        for at in range(0, len(raw), 4096):
            buffer.put(raw[at:at + 4096])
        got = _outcome(lambda: twin.count_request(buffer, **options))
        if got != expected:
            raise AssertionError(f"count_request: a BodyBuffer gave {got!r}, bytes {expected!r}")


def _lazy(twin: Any, value: Any, urls: list[Any]) -> Any:
    """A scanned value made plain through the lazy API only; data-URL strings are kept."""
    if isinstance(value, twin.ObjectNode):
        members = [(key, _lazy(twin, item, urls)) for key, item in value.items()]
        plain = dict(members)
        for key in plain:  # the last duplicate, found again by get
            if _lazy(twin, value.get(key), []) != plain[key]:
                raise AssertionError(f"get({key!r}) differs from items()")
            if key not in value or key + "x" in value and key + "x" not in plain:
                raise AssertionError(f"'in' differs from items() for {key!r}")
        return plain
    if isinstance(value, twin.ArrayNode):
        return [_lazy(twin, item, urls) for item in value]
    if isinstance(value, twin.BodyString):
        if value.head(5).lower() == "data:":
            urls.append(value)
        return value.str()
    if isinstance(value, str) and value[:5].lower() == "data:":
        urls.append(value)
    return value


def _scan_once(twin: Any, data: bytes, urls: list[Any]) -> Any:
    twin.validate(data)
    root = twin.Document(data).root
    plain = _lazy(twin, root, urls)
    if hasattr(root, "value") and root.value() != plain:
        raise AssertionError("value() differs from the lazy walk")
    return plain


def _whole(twin: Any, data: Any) -> Any:
    """The body's value, read whole (an object's or an array's value(), a long string's str())."""
    root = twin.Document(data).root
    if hasattr(root, "value"):  # an object or an array
        return root.value()
    return root.str() if isinstance(root, twin.BodyString) else root


def _limited(twin: Any, data: bytes, max_values: int) -> tuple[str, Any]:
    """("dense", the byte where the scan stopped), ("error", ...) or ("ok", None)."""
    try:
        twin.Document(data, max_values=max_values)
    except TooDense as dense:
        return ("dense", dense.offset)
    except VisionTokensError as error:
        return ("error", (type(error).__name__, str(error)))
    return ("ok", None)


def _rfc_8259(data: bytes) -> bool:
    """Valid by RFC 8259 and the depth rule, as json.loads reads the strict subset."""
    def refuse(name: str) -> Any:
        raise ValueError(name)

    try:
        value = json.loads(data.decode("utf-8"), parse_constant=refuse)
    except (ValueError, RecursionError):
        return False
    pending = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, (dict, list)):
            if depth == 200:
                return False
            pending.extend((child, depth + 1)
                           for child in (node.values() if isinstance(node, dict) else node))
    return True


def scan(data: bytes) -> None:
    """The request scan on a body, in every scan twin: validate, then every value reached
    lazily (items, get, iteration, value()); valid exactly when RFC 8259 says so; and each
    data URL found read by data_url_info from the body's bytes, as image_info reads the str."""
    if len(data) > MAX_INPUT:
        return
    found: list[list[Any]] = [[] for _ in SCAN]
    outcomes = [_outcome(lambda twin=twin, urls=urls: _scan_once(twin, data, urls))
                for twin, urls in zip(SCAN, found)]
    _agree("scan", outcomes, SCAN)
    if (outcomes[0][0] == "ok") != _rfc_8259(data):
        raise AssertionError(f"scan gave {outcomes[0]!r}, RFC 8259 says the opposite")
    # the value limit (serve's and count_request_async's, on the event loop): the twins stop
    # at the same byte or tell the same error, and a body read in full under a limit is valid
    limit = len(data) % 17
    limited = [_limited(twin, data, limit) for twin in SCAN]
    _agree("scan with max_values", limited, SCAN)
    if limited[0] == ("ok", None) and outcomes[0][0] != "ok":
        raise AssertionError(f"scan with max_values={limit} read a body it refuses without")
    # a gateway's BodyBuffer, the body put in three chunks: read as the bytes are (the
    # compiled scan steps over its plain blocks), and a valid body's scan reads no more than
    # read_bound says
    cuts = sorted((len(data) * k // 3 + (data[k] if k < len(data) else 0)) % (len(data) + 1)
                  for k in (1, 2))
    for twin in SCAN:
        buffer = twin.BodyBuffer()
        for piece in (data[:cuts[0]], data[cuts[0]:cuts[1]], data[cuts[1]:]):
            buffer.put(piece)
        with buffer.view() as view:
            buffered = _outcome(lambda: _whole(twin, view))
            direct = _outcome(lambda: _whole(twin, data))
            if buffered != direct:
                raise AssertionError(f"{twin.__name__}: a BodyBuffer reads as {buffered!r}, "
                                     f"the bytes as {direct!r}")
            if buffered[0] == "ok":
                document = twin.Document(view)
                if document.size - document.stepped > twin.read_bound(view):
                    raise AssertionError(f"{twin.__name__}: the scan read past read_bound")
                del document
    for url in found[-1][:4]:
        text = url if isinstance(url, str) else url.str()
        if isinstance(url, str):
            try:
                raw: Any = text.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate from an escape: not an image
                continue
        else:
            raw = url.view()
        for twin in HEADER:
            expected = _outcome(lambda twin=twin: twin.image_info(text))
            if _outcome(lambda twin=twin: twin.data_url_info(raw)) != expected:
                raise AssertionError(f"{twin.__name__}: data_url_info differs from image_info")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "image_bytes": image_bytes,
    "data_url": data_url,
    "request": request_body,
    "scan": scan,
}
