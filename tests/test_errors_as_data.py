"""Errors as data: every error carries code, pointer, row, argument and message, str()
composes them, and nothing parses an error's text (issue 17, Build 3)."""

from __future__ import annotations

import pickle

import pytest

import visiontokens
from visiontokens import _errors
from visiontokens._errors import (
    ArgumentTypeError,
    ImageRejectedError,
    InvalidArgumentError,
    MalformedRequestError,
    PayloadTooLargeError,
    UnknownModelError,
    VisionTokensError,
    quoted,
)
from visiontokens.calc import engines


def test_every_class_has_its_own_stable_snake_case_code():
    classes = _errors.error_classes()
    assert len(classes) == len(_errors.__all__)
    codes = [cls.code for cls in classes]
    assert len(set(codes)) == len(codes)
    assert all(code.replace("_", "").isalpha() and code == code.lower() for code in codes)
    assert _errors.CODES["malformed_request"] is MalformedRequestError
    table = _errors.error_codes()
    assert [row["code"] for row in table] == codes
    row = next(row for row in table if row["error"] == "ArgumentTypeError")
    assert row["bases"] == "ValueError, TypeError" and row["meaning"]
    assert not any("spec " in row["meaning"] or "issue " in row["meaning"] for row in table)


def test_str_composes_location_and_message():
    error = MalformedRequestError("'url' must be a string, got int", "/messages/0/content/1")
    assert (error.code, error.pointer, error.row, error.argument) == (
        "malformed_request", "/messages/0/content/1", None, None)
    assert error.message == "'url' must be a string, got int"
    assert str(error) == "/messages/0/content/1: 'url' must be a string, got int"
    at_row = error.at_row(3)
    assert str(at_row) == "row 3: /messages/0/content/1: 'url' must be a string, got int"
    assert at_row.message == error.message and error.row is None  # a copy
    assert at_row.unlocated().row is None and str(at_row.unlocated()) == str(error)
    moved = PayloadTooLargeError("too big").located("/images/2")
    assert (moved.pointer, str(moved), moved.code) == ("/images/2", "/images/2: too big",
                                                       "payload_too_large")
    assert moved.args == ("too big",)  # never text surgery on args
    custom = VisionTokensError("x", code="my_code", argument="quality")
    assert (custom.code, custom.argument, VisionTokensError.code) == ("my_code", "quality", "error")
    clone = pickle.loads(pickle.dumps(UnknownModelError("unknown model 'x'", "x", ("y",)).at_row(2)))
    assert (str(clone), clone.row, clone.suggestions) == ("row 2: unknown model 'x'", 2, ("y",))


def test_builtin_bases_and_extra_attributes_kept():
    error = ImageRejectedError("rejected", 40_000, 30_000).located("/messages/0")
    assert isinstance(error, ValueError) and (error.patches, error.limit) == (40_000, 30_000)
    assert isinstance(ArgumentTypeError("x"), TypeError)


def test_batch_rows_are_attributes_and_engines_drop_them():
    with pytest.raises(VisionTokensError) as caught:
        visiontokens.count_image_tokens_batch([512, 0], [512, 512], "gpt-4o")
    error = caught.value
    assert error.row == 1 and str(error) == f"row 1: {error.message}"
    plain = engines.unlocated(error)
    assert plain.row is None and str(plain) == error.message and plain.code == error.code


@pytest.mark.parametrize("option,bad", [("on_unknown", []), ("on_violation", {"a": 1}),
                                        ("on_unknown", 3), ("on_violation", None)])
def test_a_wrong_type_for_an_option_is_an_argument_type_error(walk, option, bad):
    with pytest.raises(ArgumentTypeError) as caught:
        walk.count_request({"model": "gpt-4o", "input": "x"}, **{option: bad})
    assert caught.value.argument == option and caught.value.code == "argument_type"


@pytest.mark.parametrize("option", ["on_unknown", "on_violation"])
def test_option_messages_quote_bounded(walk, option):
    huge = "x" * 100_000
    with pytest.raises(InvalidArgumentError) as caught:
        walk.count_request({"model": "gpt-4o", "input": "x"}, **{option: huge})
    assert not isinstance(caught.value, TypeError)
    assert quoted(huge) in str(caught.value) and len(str(caught.value)) < 300


def test_output_argument_errors_point_at_their_field(walk):
    """The Images API locates an output-argument error by its argument, not its text."""
    for field, value in (("quality", "ultra"), ("size", "7x7"), ("n", 99), ("partial_images", 9)):
        body = {"model": "gpt-image-1", "prompt": "a cat", field: value}
        with pytest.raises(VisionTokensError) as caught:
            walk.count_request(body, api="images.generations")
        assert caught.value.pointer == f"/{field}" and caught.value.argument == field
        collected = walk.count_request(body, api="images.generations", on_violation="collect")
        assert [v.pointer for v in collected.violations] == [f"/{field}"]


def test_no_user_facing_text_cites_the_spec():
    import re
    import subprocess
    import sys

    messages = [row["meaning"] for row in _errors.error_codes()]
    for command in ("request", "image", "generate", "models", "logs"):
        run = subprocess.run([sys.executable, "-m", "visiontokens", command, "--help"],
                             capture_output=True, text=True)
        messages.append(run.stdout)
    assert not [m for m in messages if re.search(r"(spec|issue) [0-9]", m)]


def test_cli_json_violations_are_objects(tmp_path, capsys):
    import json

    from visiontokens.cli.main import main

    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}]}]}
    path = tmp_path / "body.json"
    path.write_text(json.dumps(body))
    assert main(["request", str(path), "--collect", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["violations"] == [{"pointer": "/messages/0/content/0", "code": "malformed_request",
                                  "message": "image URLs are http(s) or data:image/... URLs, not 'ftp'"}]
    assert out["images"][0]["error"] == out["violations"][0]


def test_gateway_codes_come_from_error_codes():
    from visiontokens._errors import AnimatedImageError, TooManyImagesError
    from visiontokens.gateway import shared

    assert shared.api_code(ImageRejectedError("x", 1, 1)) == "image_too_large"
    assert shared.api_code(AnimatedImageError("x")) == "invalid_image_format"
    assert shared.api_code(TooManyImagesError("x")) == "too_many_images"
    assert shared.api_code(VisionTokensError("x", code="truncated_image")) == "invalid_image"
    assert set(shared.API_CODES) <= set(_errors.CODES)
    refused = shared.refusal(AnimatedImageError("animated").located("/input/0/content/2"))
    assert refused == ("/input/0/content/2: animated", "invalid_request_error",
                       "input[0].content[2]", "invalid_image_format")


def test_litellm_does_not_import_asgi_privates():
    import ast
    from pathlib import Path

    source = Path(visiontokens.__file__).parent / "litellm.py"
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith("asgi"):
            assert not [alias.name for alias in node.names if alias.name.startswith("_")]
