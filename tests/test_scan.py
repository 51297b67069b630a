"""The request scan (requests/_scan_c.pyx and _scan_py.py): JSON bodies validated and read in
place, both twins in one run.

The oracle is json.loads, made strict where RFC 8259 is: a body is valid when it decodes as
strict UTF-8 and json.loads takes the text without NaN or Infinity, nesting at most
MAX_DEPTH deep. Values are json.loads's. Errors are ours (MalformedRequestError with the byte
offset), the same type and message in both twins.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from implementations import KINDS, load_twin
from json_values import json_values

from visiontokens import MalformedRequestError
from visiontokens._errors import ArgumentTypeError


@pytest.fixture(scope="session", params=KINDS)
def scan(request):
    """The scan twin: compiled requests._scan_c and pure requests._scan_py."""
    return load_twin("scan", request.param)


def twins():
    return [load_twin("scan", kind) for kind in KINDS]


# --- the oracle ----------------------------------------------------------------------------------

def _reject_constant(name):
    raise ValueError(f"{name} is not JSON")


def _depth(value) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def strict_loads(data: bytes):
    """("ok", value) or ("invalid",) by RFC 8259, as json.loads reads the strict subset."""
    try:
        text = data.decode("utf-8")  # strict: no encoded surrogates, no overlong forms
        value = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return ("invalid",)
    if _depth(value) > 200:
        return ("invalid",)
    return ("ok", value)


def outcome(module, data):
    """("ok", plain value) or ("error", type, message)."""
    try:
        module.validate(data)
        document = module.Document(data)
        return ("ok", plain(module, document.root))
    except MalformedRequestError as error:
        return ("error", type(error).__name__, str(error))


def plain(module, value):
    """A lazy value made plain by the lazy API only (get, items, iteration), checking on the
    way that get(key) finds the last duplicate and len() counts."""
    if isinstance(value, module.ObjectNode):
        members = list(value.items())
        result = dict((key, plain(module, item)) for key, item in members)
        assert list(value.keys()) == [key for key, _ in members]
        for key in result:
            assert plain(module, value.get(key)) == result[key]
        assert value.get("\x00no such key", "absent") == "absent"
        return result
    if isinstance(value, module.ArrayNode):
        items = [plain(module, item) for item in value]
        assert len(value) == len(items)
        return items
    if isinstance(value, module.BodyString):
        text = value.str()
        assert len(value) == len(text) and str(value) == text
        assert value.isascii() == text.isascii()
        assert value.head(5) == text[:5] and value.head(0) == ""
        assert value.startswith(text[:3]) and not value.startswith(text + "x")
        assert bytes(value.view()) == text.encode()
        return text
    return value


# --- values: arbitrary JSON with random whitespace, escapes and numbers ---------------------------

class Raw(str):
    """A token written as is (a number in a form json.dumps never writes)."""


numbers_text = st.from_regex(r"-?(0|[1-9][0-9]{0,40})(\.[0-9]{1,12})?([eE][+-]?[0-9]{1,3})?",
                             fullmatch=True).map(Raw)
long_strings = st.builds(lambda c, k, tail: c * k + tail, st.sampled_from(["A", "é", "😀", "b/"]),
                         st.integers(600, 3000), st.text(max_size=4))
strings = st.one_of(st.text(), st.text(st.characters(codec="ascii")), long_strings)
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(10**30), 10**30),
                    st.floats(allow_nan=False, allow_infinity=False), numbers_text, strings)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        # (key, value) pairs: an object may repeat a key
        st.lists(st.tuples(st.one_of(st.text(max_size=6), st.sampled_from(["a", "b"])), children),
                 max_size=5).map(lambda pairs: ("object", pairs))),
    max_leaves=30)


@st.composite
def serialised(draw, value=values):
    """Text for a drawn value: random whitespace, ASCII-escaped or raw UTF-8 strings, and
    escapes json.dumps never writes (\\/, \\u0041, upper-case hex)."""
    ws = st.text(" \t\n\r", max_size=3)

    def string(text: str) -> str:
        ascii_only = draw(st.booleans()) or any("\ud800" <= c <= "\udfff" for c in text)
        out = json.dumps(text, ensure_ascii=ascii_only)
        if draw(st.integers(0, 7)) == 0:
            out = out.replace("/", "\\/").replace("A", "\\u0041").replace("\\u00e9", "\\u00E9")
        return out

    def dump(item) -> str:
        if isinstance(item, Raw):
            return str(item)
        if isinstance(item, str):
            return string(item)
        if isinstance(item, tuple):
            members = [draw(ws) + string(k) + draw(ws) + ":" + draw(ws) + dump(v) + draw(ws)
                       for k, v in item[1]]
            return "{" + (",".join(members) if members else draw(ws)) + "}"
        if isinstance(item, list):
            elements = [draw(ws) + dump(v) + draw(ws) for v in item]
            return "[" + (",".join(elements) if elements else draw(ws)) + "]"
        return json.dumps(item)

    return (draw(ws) + dump(draw(value)) + draw(ws)).encode("utf-8", "surrogatepass")


@given(serialised())
@example(b'{"a": 1, "a": 2, "b": [1.0, 1e2, -0, 12345678901234567890123456789]}')
@example(b'"\\ud800 \\udc00\\ud83d\\ude00 \\ud83d\\u0041"')  # lone surrogates, a pair, a broken pair
@example(b'{"k\\u0061": 1, "ka": 2, "\\u006ba": 3}')  # keys compared after unescaping
@example(b'{"a\\\\b": 1}')  # a backslash in a key: not a plain byte match for "a\\\\b"
@example(b'["' + b"A" * 5000 + b'", "' + "é".encode() * 3000 + b'"]')
def test_valid_bodies_read_as_json_loads_reads_them(scan, data):
    expected = strict_loads(data)
    assert expected[0] == "ok"
    scan.validate(data)
    document = scan.Document(data)
    root = document.root
    materialised = root.value() if hasattr(root, "value") else plain(scan, root)
    assert materialised == expected[1] or _nan_free_equal(materialised, expected[1])
    assert plain(scan, root) == expected[1]


def _nan_free_equal(a, b) -> bool:
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


@given(serialised())
def test_twins_agree_on_valid_bodies(data):
    results = []
    for module in twins():
        document = module.Document(data)
        root = document.root
        kind = type(root).__name__
        results.append((kind, plain(module, root)))
    assert results[0] == results[1]


def _membership_agrees(node, value, extra) -> None:
    if isinstance(value, dict):
        for key in [*value, *extra]:
            assert (key in node) == (key in value), key
        for key, item in value.items():
            _membership_agrees(node.get(key), item, extra)
    elif isinstance(value, list):
        for element, item in zip(node, value):
            _membership_agrees(element, item, extra)


@given(serialised(), st.lists(st.text(max_size=3), max_size=4))
@example(b'{"k\\u0061": 1, "\\ud800": 2, "a\\\\b": 3}', ["ka", "k", "\ud800", "a\\b", "a"])
@example(b'{"a": 1, "a": {"b": 2}}', ["b"])
def test_membership_is_json_loads_dicts(scan, data, extra):
    """``key in`` an object node is ``key in`` json.loads's dict, keys compared unescaped."""
    _membership_agrees(scan.Document(data).root, strict_loads(data)[1], extra)


def test_membership_takes_str_keys_only(scan):
    with pytest.raises(ArgumentTypeError):
        1 in scan.Document(b'{"1": 1}').root  # noqa: B015


def test_duplicate_keys_last_wins_and_items_keep_them(scan):
    root = scan.Document(b'{"a": 1, "b": 2, "a": 3}').root
    assert root.get("a") == 3 and root.value() == {"a": 3, "b": 2} == json.loads('{"a":1,"b":2,"a":3}')
    assert [k for k, _ in root.items()] == ["a", "b", "a"]
    assert list(root.value()) == ["a", "b"]  # json.loads's order: the first occurrence's place


def test_numbers_have_json_loads_types(scan):
    body = b"[1, -0, 1.0, 1e2, 1E+2, -0.0, 0e0, 123456789012345678901234567890, 1e400, 2.5e-400]"
    values = list(scan.Document(body).root)
    assert values == json.loads(body)
    assert [type(v) for v in values] == [type(v) for v in json.loads(body)]
    assert values[-2] == math.inf


def test_an_integer_past_pythons_digit_limit_is_our_error(scan):
    body = b"[" + b"7" * 5000 + b"]"
    scan.validate(body)  # the grammar allows it; only the conversion refuses
    with pytest.raises(MalformedRequestError, match="more than 4300 digits at byte 1"):
        list(scan.Document(body).root)


def test_long_strings_stay_in_the_body(scan):
    url = "data:image/png;base64," + "A" * 50_000
    body = json.dumps({"image_url": {"url": url, "detail": "high"}, "short": "x" * 10}).encode()
    root = scan.Document(body).root
    text = root.get("image_url").get("url")
    assert isinstance(text, scan.BodyString)
    assert len(text) == len(url) and text.startswith("data:") and text.startswith(("x", "data:image/"))
    assert text.head(22) == url[:22] and text.isascii()
    view = text.view()
    assert isinstance(view, memoryview) and view.obj is not None and bytes(view[:5]) == b"data:"
    assert body[text.start:text.end] == url.encode()
    assert root.get("short") == "x" * 10 and type(root.get("short")) is str
    # escaped: materialised as str (rare in an image URL)
    escaped = json.dumps({"u": "A" * 3000 + "\n"}).encode()
    assert scan.Document(escaped).root.get("u") == "A" * 3000 + "\n"


def test_all_input_types(scan):
    body = b'{"a": [1, 2, {"b": "c"}]}'
    for data in (body, bytearray(body), memoryview(body), memoryview(b"xx" + body)[2:],
                 memoryview(bytearray(body))):
        scan.validate(data)
        assert scan.Document(data).root.value() == json.loads(body)
    strided = memoryview(bytes(x for c in body for x in (c, 0)))[::2]  # copied, as image_info does
    assert scan.Document(strided).root.value() == json.loads(body)
    with pytest.raises(ArgumentTypeError):
        scan.validate(body.decode())
    with pytest.raises(ArgumentTypeError):
        scan.Document(12)
    with pytest.raises(ArgumentTypeError):
        scan.Document(body).root.get(1)
    document = scan.Document(body)
    with pytest.raises(ArgumentTypeError):
        document.__init__(b"[]")
    assert document.root.value() == json.loads(body)


def test_a_document_holds_its_bytearray_in_place(scan):
    data = bytearray(b'{"a": "' + b"A" * 5000 + b'"}')
    document = scan.Document(data)
    with pytest.raises(BufferError):
        data.extend(b"more")  # the scan's export pins it: no read of freed memory
    assert len(document.root.get("a")) == 5000


def test_the_depth_rule_is_the_request_walks():
    from visiontokens.requests import _request_py

    assert load_twin("scan", "python").MAX_DEPTH == _request_py.MAX_DEPTH == 200


# --- invalid bodies ---------------------------------------------------------------------------------

#: body -> the message both twins give (offsets in bytes; line and column 1-based)
MESSAGES = {
    b"": "not JSON: expected a value at byte 0 (line 1, column 1)",
    b"  \n ": "not JSON: expected a value at byte 4 (line 2, column 2)",
    b"[1,]": "not JSON: expected a value at byte 3 (line 1, column 4)",
    b"[1 2]": "not JSON: expected ',' or ']' after an array element at byte 3 (line 1, column 4)",
    b'{"a":1 "b":2}': "not JSON: expected ',' or '}' after an object member at byte 7",
    b'{"a":1,}': "not JSON: expected a string key at byte 7",
    b"{1:2}": "not JSON: expected a string key at byte 1",
    b'{"a" 1}': "not JSON: expected ':' after an object key at byte 5",
    b'["abc': "not JSON: unterminated string at byte 1",
    b'["ab\\': "not JSON: unterminated string at byte 1",
    b'"\\u12': "not JSON: unterminated string at byte 0",
    b'"\\x"': "not JSON: invalid escape at byte 1",
    b'"\\u12g4"': "not JSON: invalid \\u escape at byte 1",
    b'"a\tb"': "not JSON: raw control character in a string at byte 2",
    b'"\xff"': "not JSON: invalid UTF-8 at byte 1",
    b'"\xed\xa0\x80"': "not JSON: invalid UTF-8 at byte 1",  # an encoded surrogate
    b'"\xc0\x80"': "not JSON: invalid UTF-8 at byte 1",  # overlong
    b'"\xf4\x90\x80\x80"': "not JSON: invalid UTF-8 at byte 1",  # past U+10FFFF
    b'"\xe2\x82"': "not JSON: invalid UTF-8 at byte 1",  # cut short
    b"[01]": "not JSON: expected ',' or ']' after an array element at byte 2",
    b"-": "not JSON: invalid number at byte 0",
    b"[1.]": "not JSON: invalid number at byte 1",
    b"1e+": "not JSON: invalid number at byte 0",
    b"+1": "not JSON: expected a value at byte 0",
    b"[tru]": "not JSON: invalid literal at byte 1",
    b"nul": "not JSON: invalid literal at byte 0",
    b"NaN": "not JSON: expected a value at byte 0",
    b"[Infinity]": "not JSON: expected a value at byte 1",
    b"-Infinity": "not JSON: invalid number at byte 0",
    b"\xef\xbb\xbf{}": "not JSON: expected a value at byte 0",  # a byte-order mark
    b"{} {}": "not JSON: unexpected data after the value at byte 3",
    b'{"a":\n\n  [1,\n x]}': "not JSON: expected a value at byte 14 (line 4, column 2)",
    b"[" * 201 + b"]" * 201: "the request body nests deeper than 200 levels: at byte 200 (line 1, column 201)",
}


@pytest.mark.parametrize("body", list(MESSAGES), ids=[repr(b)[:40] for b in MESSAGES])
def test_each_failure_names_its_place(body):
    for module in twins():
        with pytest.raises(MalformedRequestError) as raised:
            module.validate(body)
        assert MESSAGES[body] in str(raised.value)
        assert raised.value.offset == int(str(raised.value).split("at byte ")[1].split()[0])
        with pytest.raises(MalformedRequestError, match="^" + re.escape(str(raised.value)) + "$"):
            module.Document(body)
    assert strict_loads(body) == ("invalid",)


def test_depth_200_is_fine_and_201_is_not(scan):
    scan.validate(b"[" * 200 + b"]" * 200)
    scan.validate(b'{"a":' * 200 + b"1" + b"}" * 200)
    assert scan.Document(b"[" * 200 + b"]" * 200).root.value() == json.loads(b"[" * 200 + b"]" * 200)
    with pytest.raises(MalformedRequestError, match="nests deeper than 200 levels"):
        scan.validate(b'{"a":' * 200 + b"[]" + b"}" * 200)


def test_where_json_loads_is_lenient_we_follow_rfc_8259(scan):
    # json.loads takes these; RFC 8259 does not, and neither do we (documented in the module)
    for body in (b"NaN", b"[Infinity]", b"-Infinity", b"\xef\xbb\xbf{}", b'"\xed\xa0\x80"',
                 '{"a": 1}'.encode("utf-16")):
        json.loads(body)
        with pytest.raises(MalformedRequestError):
            scan.validate(body)
    # ... and where json.loads keeps a lone surrogate escape, so do we (jiter refuses it)
    body = b'["\\ud800", "\\udc00\\ud800", "\\ud83d\\ude00"]'
    assert scan.Document(body).root.value() == json.loads(body) == ["\ud800", "\udc00\ud800", "😀"]


def mutate(draw, data: bytes) -> bytes:
    data = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["set", "insert", "delete", "cut"]))
        if action == "insert":
            data[at:at] = draw(st.sampled_from([b"[", b"]", b"{", b"}", b",", b":", b'"', b"\\",
                                                b"\x00", b"\xff", b"\xc3", b"-", b"e", b"0", b" "]))
        elif not data:
            continue
        elif action == "set":
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
        elif action == "delete":
            del data[at:at + draw(st.integers(1, 4))]
        else:
            del data[at:]
    return bytes(data)


@st.composite
def mutated_bodies(draw):
    return mutate(draw, draw(serialised()))


@given(st.one_of(mutated_bodies(), st.binary(max_size=64)))
@example(b'"\\ud800"')
@example(b"[" * 300)
@example(b'{"a":' * 201)
def test_any_bytes_twins_agree_and_validity_is_rfc_8259(data):
    results = [outcome(module, data) for module in twins()]
    assert results[0] == results[1]
    expected = strict_loads(data)
    assert results[0][0] == ("ok" if expected[0] == "ok" else "error"), (data, results[0])
    if expected[0] == "ok":
        assert results[0][1] == expected[1] or _nan_free_equal(results[0][1], expected[1])


# --- the string loop: SSE2 alone, and AVX2 where the processor has it ---------------------------

@pytest.fixture(scope="session")
def compiled_scan():
    return load_twin("scan", "cython")


@contextlib.contextmanager
def narrow_only(module):
    """The compiled scan with its AVX2 loop off (the SSE2 loop alone), then back on."""
    module._set_wide(False)
    try:
        yield
    finally:
        module._set_wide(True)


# the stop bytes, valid and not: escapes (an invalid one is only seen if the loop stops at
# its backslash), controls, UTF-8 (well formed, cut short, impossible), a quote
STOPS = [b"", b'\\"', b"\\n", b"\\u00e9", b"\\q", b"\\u12G4", b"\n", b"\x01", b"\x7f",
         "é".encode(), "😀".encode(), b"\xff", b"\xc3", b'"']


@given(st.integers(0, 8), st.integers(0, 200), st.sampled_from(STOPS), st.integers(0, 200),
       st.sampled_from(STOPS))
@example(0, 31, b"\n", 0, b"")
@example(0, 32, b"\n", 0, b"")
@example(0, 95, b"\xff", 0, b"")
@example(0, 96, b'\\"', 64, b"\x01")
@example(0, 40, b"\\q", 0, b"")
@example(3, 70, b"\\u12G4", 0, b"")
def test_the_string_loops_agree_wherever_the_stop_falls(compiled_scan, pad, before, stop, after,
                                                         second):
    """A string whose first stop byte (a quote, an escape, a control, a byte >= 0x80) falls at
    every offset around the 32- and 64-byte steps: the compiled scan with the SSE2 loop alone,
    with AVX2 where the processor has it, and the pure twin, all alike."""
    compiled = compiled_scan
    data = b" " * pad + b'["' + b"A" * before + stop + b"B" * after + second + b'", 1]'
    wide = outcome(compiled, data)
    with narrow_only(compiled):
        narrow = outcome(compiled, data)
    assert wide == narrow == outcome(load_twin("scan", "python"), data)


def test_the_wide_loop_is_on_where_the_processor_has_it(compiled_scan):
    """Where the processor has AVX2 (GCC or Clang on x86), the scan uses it; turned off for a
    test, it comes back."""
    compiled = compiled_scan
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text() if cpuinfo.exists() else ""
    has = " avx2" in flags
    assert compiled._set_wide(True) == has or not flags
    with narrow_only(compiled):
        assert compiled._set_wide(False) is False


# --- the value limit: Document(data, max_values=k) -----------------------------------------------

def limited(module, data: bytes, max_values: int):
    try:
        module.Document(data, max_values=max_values)
    except module_dense(module) as dense:
        return ("dense", dense.offset)
    except MalformedRequestError as error:
        return ("error", str(error))
    return ("ok",)


def module_dense(module):
    from visiontokens.requests._value_limit import TooDense

    return TooDense


@given(serialised(), st.integers(0, 30))
@example(b"[]", 0)
@example(b"[]", 1)
@example(b'{"a": [1, {"b": null}], "c": "x"}', 5)
@example(b'{"a": [1, {"b": null}], "c": "x"}', 6)
def test_a_valid_body_is_too_dense_exactly_when_it_holds_more_values(scan, data, max_values):
    """TooDense where value max_values + 1 begins, never before: a body of at most
    max_values values (json.loads's count) is read in full, the same as with no limit."""
    values = json_values(data)
    outcome = limited(scan, data, max_values)
    if values <= max_values:
        assert outcome == ("ok",)
    else:
        assert outcome[0] == "dense"
        # the offset is where a value begins: the scan read every value before it
        assert data[outcome[1]:outcome[1] + 1] in (b'"', b"{", b"[", b"-", b"t", b"f", b"n",
                                                   *(b"%d" % d for d in range(10)))


@given(st.one_of(mutated_bodies(), st.binary(max_size=64)), st.integers(-1, 12))
@example(b"[1,2,3,", 2)
@example(b"[1,2,3,", 3)
@example(b"[" * 300, 5)
def test_the_value_limit_twins_agree_on_any_bytes(data, max_values):
    """Results and errors alike: the same TooDense offset, or the same message, or both read
    the body. A limit of -1 is no limit: the outcome of Document(data)."""
    results = [limited(module, data, max_values) for module in twins()]
    assert results[0] == results[1]
    if max_values < 0:
        assert results[0][0] != "dense"


def test_the_value_limit_stops_a_dense_body_early(scan):
    """On 3 MB of {"messages": [{}, {}, ...]}, a limit of 10 stops at the eleventh value: at
    most a few dozen bytes in, whatever follows (here, a body malformed at its end)."""
    data = b'{"messages": [' + b"{}, " * 750_000 + b"{}"  # never closed
    assert limited(scan, data, 10) == ("dense", 14 + 4 * 8)
    assert limited(scan, data, -1)[0] == "error"


# --- memory: a dense body, iterated lazily, in a fresh process ---------------------------------------

DENSE_SCRIPT = textwrap.dedent("""
    import resource, sys
    from visiontokens.requests import _scan_c as scan
    data = open(sys.argv[1], "rb").read()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    document = scan.Document(data)
    count = 0
    for element in document.root.get("messages"):
        count += 1
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(len(data), count, (after - before) * 1024)
""")


def test_a_dense_body_scans_in_bounded_memory(tmp_path):
    """30 MB of {"messages": [{}, {}, ...]}: validated and every element visited, with the
    process's peak growing by at most twice the body (the old path: about 50 times)."""
    load_twin("scan", "cython")  # the production twin (the pure one takes minutes here)
    count = 10_000_000
    path = tmp_path / "dense.json"
    with open(path, "wb") as file:
        file.write(b'{"messages": [')
        chunk = b"{}," * 100_000
        for _ in range(count // 100_000 - 1):
            file.write(chunk)
        file.write(b"{}," * 99_999 + b"{}]}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", DENSE_SCRIPT, str(path)], capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    size, seen, growth = map(int, done.stdout.split())
    assert seen == count
    assert growth <= 2 * size, f"body {size} B, peak grew by {growth} B"


# --- a body written chunk by chunk: BodyBuffer ----------------------------------------------------

BLOCK = 4096
STOP_BYTES = re.compile(rb'["\\\x00-\x1f\x80-\xff]')
STRING_ONLY = re.compile(rb"[A-DF-Z]")


def plain_oracle(data: bytes) -> bytes:
    """1 per plain block: no byte that ends a string's plain run, and a capital letter but E."""
    blocks = [data[at:at + BLOCK] for at in range(0, len(data), BLOCK)]
    return bytes(not STOP_BYTES.search(block) and STRING_ONLY.search(block) is not None
                 for block in blocks)


def cut(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` in pieces, cut at ``cuts`` (offsets, any order, in range or not)."""
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:])]


# runs of one byte, some hundreds long, so that blocks are plain, or not, in every way
RUN_BYTES = [b"Q", b"E", b"a", b"1", b" ", b"+", b"/", b"=", b'"', b"\\", b"\n", b"\xc3\xa9"]


@st.composite
def runs(draw, max_runs=8):
    pieces = draw(st.lists(st.tuples(st.sampled_from(RUN_BYTES), st.integers(0, 3000)),
                           max_size=max_runs))
    return b"".join(byte * n for byte, n in pieces)


@given(runs(), st.lists(st.integers(0, 1 << 16), max_size=6))
@example(b"Q" * 4096 + b"a" * 4096 + b"Q" * 10, [4095, 4097, 8192])
@example(b"1" * 4095 + b"Q", [4095])
@example(b"Q" * 8191 + b'"' + b"Q" * 100, [100])
def test_a_body_buffer_holds_its_chunks_and_maps_its_plain_blocks(scan, data, cuts):
    """After each chunk put, the buffer reads as the chunks so far, and its map is the
    oracle's, however the chunks fall across the 4 KB blocks (the compiled twin with its
    AVX2 loop, and with SSE2 alone)."""
    def fill():
        buffer = scan.BodyBuffer()
        so_far = b""
        for piece in cut(data, cuts):
            buffer.put(piece)
            so_far += piece
            with buffer.view() as view:
                assert view.tobytes() == so_far
            assert len(buffer) == len(so_far)
            assert buffer.plain_blocks() == plain_oracle(so_far)

    fill()
    if scan.IMPLEMENTATION == "cython":
        with narrow_only(scan):
            fill()


def test_a_body_buffer_does_not_change_while_it_is_read(scan):
    """A view of the buffer (a scan's, a count's) holds it: put and clear are refused, the
    bytes stay; released, the buffer empties and takes a new body. Put into itself, it is
    read as it would grow: refused too."""
    buffer = scan.BodyBuffer()
    buffer.put(b'{"a": 1}')
    view = buffer.view()
    for change in (lambda: buffer.put(b"x"), buffer.clear):
        with pytest.raises(BufferError):
            change()
    assert view.tobytes() == b'{"a": 1}'
    view.release()
    with pytest.raises(BufferError):
        buffer.put(buffer)
    buffer.clear()
    assert len(buffer) == 0 and bytes(buffer.view()) == b""
    buffer.put(memoryview(b"[1]"))
    buffer.put(bytearray(b" "))
    assert scan.Document(buffer.view()).root.value() == [1]


def test_the_compiled_body_buffer_is_read_only(compiled_scan):
    """A write through a view would leave the map wrong: the compiled buffer gives none."""
    buffer = compiled_scan.BodyBuffer()
    buffer.put(b"[1]")
    view = buffer.view()
    assert view.readonly
    with pytest.raises(TypeError):
        view[0:1] = b"{"
    with pytest.raises(TypeError):  # asked for a writable buffer
        io.BytesIO(b"{").readinto(buffer)
    view.release()
    assert bytes(buffer.view()) == b"[1]"


@st.composite
def long_string_bodies(draw):
    """JSON-ish bodies whose long strings hold stop bytes (valid or not) anywhere around the 4
    KB blocks, some with a plain run entered outside any string; then perhaps mutated."""
    head = draw(st.sampled_from([b'["', b'{"k": "', b'[1, ', b'{"a": 1', b'["x", ']))
    parts = [head]
    for _ in range(draw(st.integers(1, 3))):
        parts.append(draw(st.sampled_from([b"Q", b"A/+=", b"e1 "])) * draw(st.integers(0, 2500)))
        parts.append(draw(st.sampled_from(STOPS)))
    parts.append(draw(st.sampled_from([b'"]', b'"}', b"]", b'", 1]', b""])))
    data = b"".join(parts)
    return mutate(draw, data) if draw(st.booleans()) else data


@given(st.one_of(long_string_bodies(), serialised()), st.lists(st.integers(0, 1 << 16), max_size=5))
@example(b'["' + b"Q" * 9000 + b'"]', [4000])
@example(b'["' + b"Q" * 9000 + b'\\q"]', [])
@example(b"[1, " + b"Q" * 9000 + b"]", [])
@example(b'["' + b"Q" * 4094 + b'\x01' + b"Q" * 5000 + b'"]', [4096])
def test_a_body_buffer_reads_as_its_bytes(scan, data, cuts):
    """A body read in a BodyBuffer, put in any chunks, scans and reads as the same bytes do
    (values, or the error and its offset), though the compiled scan steps over its plain
    blocks; of a valid body, it reads no more than read_bound says."""
    buffer = scan.BodyBuffer()
    for piece in cut(data, cuts):
        buffer.put(piece)
    with buffer.view() as view:
        assert outcome(scan, view) == outcome(scan, data)
        try:
            document = scan.Document(view)
        except MalformedRequestError:
            return
        assert document.size - document.stepped <= scan.read_bound(view) <= len(data)
        del document


def test_the_compiled_scan_steps_over_a_data_urls_plain_blocks(compiled_scan):
    """Where the map is used: a 1 MB base64 string in a BodyBuffer is stepped over but for
    its two ends, and the scan of the body may read a few blocks of it, so a count of it may
    stay on an event loop; the same bytes, or a view that does not start at the buffer's
    first byte, are read whole."""
    import base64
    import random

    scan = compiled_scan
    payload = base64.b64encode(random.Random(1).randbytes(750_000))
    data = b'{"url": "data:image/png;base64,' + payload + b'"}'
    buffer = scan.BodyBuffer()
    for piece in cut(data, [65536 * k for k in range(1, 17)]):
        buffer.put(piece)
    with buffer.view() as view:
        document = scan.Document(view)
        assert len(data) - 2 * BLOCK <= document.stepped < len(data)
        assert scan.read_bound(view) <= 5 * BLOCK
        del document
        with view[1:] as shifted:
            assert scan.read_bound(shifted) == len(data) - 1
    assert scan.Document(data).stepped == 0 and scan.read_bound(data) == len(data)
