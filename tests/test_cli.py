"""The visiontokens command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from implementations import KINDS, load_twin

from visiontokens.cli.main import main



@pytest.fixture(autouse=True, params=KINDS)
def request_twin(request, monkeypatch):
    """Every command here runs on both request twins (each on its own lower twins)."""
    from visiontokens.cli import common

    monkeypatch.setattr(common, "WALK", load_twin("request", request.param))
    return request.param

def test_size_explains(capsys):
    assert main(["1800x2400", "--model", "gpt-4.1-mini", "--ruleset", "2026-04"]) == 0
    out = capsys.readouterr().out
    assert "1056 x 1408" in out and "1452" in out and "1.62" in out and "2353" in out


def test_json(capsys):
    assert main(["1024x1024", "-m", "gpt-4o", "--detail", "high", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["tokens"] == 765 and data["tiles"] == 4 and data["model"] == "gpt-4o"


def test_input_fidelity(capsys):
    assert main(["1024x1024", "-m", "gpt-image-1", "--input-fidelity", "high", "--json"]) == 0
    # S = 512 for GPT Image 1: 1024 x 1024 -> 512 x 512, one tile (spec 3.3)
    assert json.loads(capsys.readouterr().out)["tokens"] == 65 + 129 + 4160


def test_models_listing(capsys):
    assert main(["models", "--ruleset", "2026-04"]) == 0
    out = capsys.readouterr().out
    assert "gpt-5.3-codex" in out and "gpt-6-astra" not in out
    assert main(["models", "--json"]) == 0
    listed = {m["id"]: m for m in json.loads(capsys.readouterr().out)["input_models"]}
    assert listed["gpt-6-astra"]["details"]["high"] == {
        "scheme": "patch", "cap": 65535, "budget": 2500, "multiplier": "12/10", "reject_over": 30000}
    assert listed["gpt-4o"]["details"]["low"] == {"scheme": "flat", "cap": 2048, "base": 85}
    # every level says its scheme, and GPT Image 1 shows its fidelity extras (spec 3.3)
    assert listed["gpt-image-1"]["details"]["high"] == {
        "scheme": "tile", "cap": 2048, "base": 65, "short_side": 512, "per_tile": 129,
        "input_fidelity_high": {"square": 4160, "other": 6240}}


@pytest.mark.parametrize("argv, message", [
    (["12x0", "-m", "gpt-4o"], "height must be between"),
    (["12x7", "-m", "gpt-4o-mni"], "did you mean"),
    (["12x7", "-m", "gpt-4o", "-d", "original"], "does not support"),
    (["models", "--ruleset", "1999"], "unknown ruleset"),
])
def test_bad_input_is_one_line_and_nonzero(capsys, argv, message):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_module_entry_point():
    done = subprocess.run([sys.executable, "-m", "visiontokens", "1024x1024", "-m", "gpt-4o"],
                          capture_output=True, text=True, check=True)
    assert "765" in done.stdout


def test_image_rows_and_total(capsys, tmp_path):
    from headers import gif_header, pillow_image, png_header

    extra = tmp_path / "tiny.png"
    extra.write_bytes(png_header(10, 10))
    tmp_path = tmp_path / "photos"
    tmp_path.mkdir()
    (tmp_path / "a.png").write_bytes(pillow_image("PNG", (1024, 1024)))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.jpg").write_bytes(pillow_image("JPEG", (2048, 4096)))
    (tmp_path / "sub" / "moving.gif").write_bytes(gif_header(8, 8, frames=2))
    (tmp_path / "notes.txt").write_text("not an image: not walked")
    (tmp_path / "broken.webp").write_bytes(b"RIFF")
    code = main(["image", str(tmp_path), str(extra), "--model", "gpt-4o", "--detail", "high"])
    out = capsys.readouterr().out
    assert code == 1  # two rows failed, and they say why
    lines = out.splitlines()
    assert len(lines) == 7  # 5 images found, the total, and what the walk skipped
    assert lines[-1] == "(1 file in the folders skipped: not image files)"  # notes.txt
    assert "a.png" in lines[0]  # files, then subfolders, each sorted
    assert "1024x1024" in out and "765" in out and "1105" in out
    assert "truncated WebP" in out and "animated GIF" in out
    assert lines[-2].split()[-1] == str(765 + 1105 + 255)  # tiny.png: 85 + 170
    assert "3 images, 2 failed" in lines[-2]


def test_image_json(capsys, tmp_path):
    from headers import pillow_image

    path = tmp_path / "a.webp"
    path.write_bytes(pillow_image("WEBP", (1800, 2400)))
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n")
    assert main(["image", str(path), str(tmp_path / "broken.png"), "-m", "gpt-4.1-mini",
                 "-r", "2026-04", "--json", "--progress", "always"]) == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["total_tokens"] == 2353 and data["counted"] == 1 and data["failed"] == 1
    assert data["images"][0]["resized_width"] == 1056
    assert "PNG" in data["images"][1]["error"] and data["images"][1]["tokens"] is None
    assert "2/2" in captured.err  # the progress bar
    # a name on the command line that is not there: a usage error, nothing counted
    assert main(["image", str(path), str(tmp_path / "missing.png"), "-m", "gpt-4o"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "no such file or folder" in captured.err


@pytest.mark.parametrize("options, message", [
    (["-m", "gpt-4o", "-r", "1999-01"], "unknown ruleset"),
    (["-m", "gpt-4o-mni"], "did you mean"),
    (["-m", "gpt-4o", "-d", "original"], "does not support"),
    (["-m", "gpt-4o", "--input-fidelity", "high"], "input_fidelity applies to GPT Image models"),
])
def test_image_checks_its_options_once_up_front(capsys, tmp_path, options, message):
    for name in ("a.png", "b.png", "c.png"):
        (tmp_path / name).write_bytes(b"not read: the options fail first")
    assert main(["image", str(tmp_path), *options]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err


def test_image_reads_stdin_and_takes_input_fidelity(capsys, monkeypatch):
    import io

    from headers import pillow_image

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(pillow_image("PNG", (1024, 1024)))))
    assert main(["image", "-", "-m", "gpt-image-1", "--input-fidelity", "high"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["-", "1024x1024", str(65 + 129 + 4160)]  # spec 3.3, square
    assert lines[1].split()[1:4] == ["1", "image", str(65 + 129 + 4160)]  # not "1 images"


def test_image_prints_each_row_as_it_is_counted(capsys, tmp_path, monkeypatch):
    # A long walk shows its rows as it goes: the first row is out before the second is read.
    from headers import png_header

    from visiontokens.cli import common

    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(png_header(10, 10))
    seen: list[str] = []
    walk = common.walk()  # the request twin the command counts with
    count_image = walk.count_image

    def spy(source, *args, **kwargs):
        seen.append(capsys.readouterr().out)
        return count_image(source, *args, **kwargs)

    monkeypatch.setattr(walk, "count_image", spy)
    assert main(["image", str(tmp_path), "-m", "gpt-4o"]) == 0
    assert seen[0] == "" and "a.png" in seen[1]


def test_version_and_help_list_every_command(capsys):
    import visiontokens
    from visiontokens.cli.main import COMMANDS

    assert main(["--version"]) == 0
    first, *rest = capsys.readouterr().out.strip().splitlines()
    assert first == f"visiontokens {visiontokens.__version__} ({visiontokens.IMPLEMENTATION})"
    assert bool(rest) == (visiontokens.IMPLEMENTATION != "cython")  # a pure install says why
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(f"  {name} " in out for name in COMMANDS) and "WIDTHxHEIGHT" in out
    assert main([]) == 2 and "commands:" in capsys.readouterr().out


def test_version_of_a_pure_install_says_why_and_what_it_costs(capsys, monkeypatch):
    from visiontokens import _extensions

    monkeypatch.setattr("visiontokens.IMPLEMENTATION", "python")
    monkeypatch.setattr(_extensions, "use_extensions", lambda: True)
    monkeypatch.setattr(_extensions, "build_note", lambda: "CompileError: the compiler 'cc' failed")
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert "could not be built" in out and "CompileError: the compiler 'cc' failed" in out
    assert "30-100x slower" in out and _extensions.DOCS in out
    monkeypatch.setattr(_extensions, "build_note", lambda: None)
    assert main(["--version"]) == 0
    assert "is not installed" in capsys.readouterr().out
    monkeypatch.setattr(_extensions, "use_extensions", lambda: False)
    assert main(["--version"]) == 0
    assert "switched off" in capsys.readouterr().out


def test_a_mistyped_command_names_the_commands(capsys):
    assert main(["images", "x.jpg", "-m", "gpt-4o"]) == 2  # a usage error
    err = capsys.readouterr().err
    assert "did you mean 'image'" in err and "commands: image, request, models" in err
    assert err.count("\n") == 1


def test_every_option_has_help_text():
    import argparse

    from visiontokens.cli import main as _cli

    from visiontokens.cli import logs

    parsers = [_cli._size_parser(), _cli._image_parser(), _cli._request_parser(),
               _cli._models_parser(), _cli._generate_parser(), logs.parser()]
    for parser in parsers:
        for action in parser._actions:
            if not isinstance(action, argparse._HelpAction):
                assert action.help, (parser.prog, action.dest)


def test_request_example(capsys):
    from pathlib import Path

    example = Path(__file__).parent.parent / "examples" / "chat_request.json"
    assert main(["request", str(example)]) == 0
    out = capsys.readouterr().out
    assert "3 images" in out and "1920x1080" in out and "1800x2400" in out
    assert main(["request", str(example), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    import visiontokens

    assert data["image_tokens"] == sum(
        visiontokens.count_image_tokens(w, h, "gpt-4.1-mini", d)
        for w, h, d in ((1920, 1080, "high"), (1800, 2400, "auto"), (1024, 768, "low")))


def test_request_unknown_sizes_and_bad_bodies(capsys, tmp_path, monkeypatch):
    import io

    body = tmp_path / "body.json"
    body.write_text(json.dumps({"model": "gpt-4o", "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": "https://example.com/x.png", "detail": "high"}]}]}))
    assert main(["request", str(body)]) == 1
    assert "size is unknown" in capsys.readouterr().err
    assert main(["request", str(body), "--upper-bound"]) == 0
    assert "1445 (an upper bound)" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"messages": 3}')))
    assert main(["request", "-"]) == 1
    assert "'messages' must be a list" in capsys.readouterr().err
    assert main(["request", str(tmp_path / "missing.json")]) == 2


# --- the CLI speaks its own options ---------------------------------------------------------

EXAMPLES = __import__("pathlib").Path(__file__).parent.parent / "examples"


def test_policy_flags_pass_the_api_keywords(capsys):
    import visiontokens as vt

    # --undocumented assume, on the size command, image, request and generate
    assert main(["1000x1000", "-m", "gpt-6-sol", "--json"]) == 1
    err = capsys.readouterr().err
    assert "pass --undocumented assume to count it like 'gpt-6-astra'" in err
    assert "undocumented='assume'" not in err  # the Python phrase is not shown here
    assert main(["1000x1000", "-m", "gpt-6-sol", "--undocumented", "assume", "--json"]) == 0
    cost = json.loads(capsys.readouterr().out)
    assert cost["tokens"] == vt.count_image_tokens(1000, 1000, "gpt-6-sol", undocumented="assume")
    assert cost["assumed_from"] == "gpt-6-astra"
    # --no-enforce-patch-limit: counted instead of refused at 30,000 patches
    argv = ["9000x9000", "-m", "gpt-6-astra", "-d", "original"]
    assert main(argv) == 1 and "rejects this image" in capsys.readouterr().err
    assert main(argv + ["--no-enforce-patch-limit", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == vt.count_image_tokens(
        9000, 9000, "gpt-6-astra", "original", enforce_patch_limit=False)
    assert main(["generate", "-m", "gpt-image-1-mini"]) == 1
    assert "pass --undocumented assume" in capsys.readouterr().err
    assert main(["generate", "-m", "gpt-image-1-mini", "--undocumented", "assume", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["assumed_from"] == "gpt-image-1"


def test_the_python_api_keeps_its_keyword_hint():
    import visiontokens as vt

    with pytest.raises(vt.UndocumentedModelError) as caught:
        vt.count_image_tokens(10, 10, "gpt-6-sol")
    assert "pass undocumented='assume'" in str(caught.value)
    assert caught.value.hint == ("undocumented", "assume")


def test_image_takes_the_policy_flags(capsys, tmp_path):
    from headers import gif_header, pillow_image

    import visiontokens as vt

    path = tmp_path / "big.png"
    path.write_bytes(pillow_image("PNG", (9000, 9000)))
    assert main(["image", str(path), "-m", "gpt-6-astra", "-d", "original"]) == 1
    assert main(["image", str(path), "-m", "gpt-6-astra", "-d", "original",
                 "--no-enforce-patch-limit", "--json"]) == 0
    out = capsys.readouterr().out.splitlines()[-1]
    assert json.loads(out)["total_tokens"] == vt.count_image_tokens(
        9000, 9000, "gpt-6-astra", "original", enforce_patch_limit=False)
    moving = tmp_path / "moving.gif"
    moving.write_bytes(gif_header(8, 8, frames=2))  # still refused on the policy path
    assert main(["image", str(moving), "-m", "gpt-6-sol", "--undocumented", "assume"]) == 1
    assert "animated" in capsys.readouterr().out


def test_request_fetch_flags_and_their_hint(capsys, tmp_path):
    body = tmp_path / "local.json"
    body.write_text(json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "http://127.0.0.1:9/x.png"}}]}]}))
    assert main(["request", str(body), "--fetch"]) == 1
    err = capsys.readouterr().err
    assert "refusing to connect to '127.0.0.1'" in err and "(--fetch --allow-private allows it)" in err
    assert "Fetcher(" not in err
    # --allow-private reaches the fetcher: it now connects (and port 9 refuses)
    assert main(["request", str(body), "--fetch", "--allow-private"]) == 1
    err = capsys.readouterr().err
    assert "fetch failed" in err and "refusing to connect" not in err
    assert main(["request", str(body), "--allow-private"]) == 2
    assert "--allow-private needs --fetch" in capsys.readouterr().err


def test_multipart_bodies_are_detected(capsys):
    import visiontokens as vt

    body = (EXAMPLES / "images_edit.multipart").read_bytes()
    assert main(["request", str(EXAMPLES / "images_edit.multipart"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = vt.count_request(
        body, content_type="multipart/form-data; boundary=visiontokens-example-boundary")
    assert data["api"] == "images.edits" and data["image_tokens"] == expected.image_tokens
    assert data["output_image_tokens"] == expected.output_image_tokens
    from visiontokens.cli.main import multipart_type

    assert multipart_type(b'{"model": "x"}') is None
    assert multipart_type(b"--" + b"x" * 71 + b"\r\n") is None  # RFC 2046: at most 70
    assert multipart_type(b"--a b \r\n") is None  # nor ending in a space
    # the multipart example holds PNG bytes, not UTF-8: read as a form, never a UTF-8 problem
    assert main(["request", str(EXAMPLES / "images_edit.multipart")]) == 0
    out, err = capsys.readouterr()
    assert "UTF-8" not in out + err and "images.edits request" in out


def test_models_lists_everything_with_a_legend(capsys):
    import visiontokens as vt

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "gpt-5.6                -> gpt-5.6-sol" in out
    assert "gpt-6-sol              like gpt-6-astra" in out and "measured-auto-only" in out
    assert "gpt-image-2            flexible" in out and "legend:" in out
    legend = out[out.index("legend:"):]
    for term in ("cap", "B", "S", "xM", "A + T/tile", "base", "tiles", "auto", "[legacy]",
                 "[deprecated]", "table", "flexible", "claude", "gemini_tiles", "fixed",
                 "mistral", "qwen", "exact", "documented_maximum", "assumed", "empirical"):
        assert f"\n  {term} " in legend, term
    assert main(["models", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["aliases"] == {"gpt-5.6": "gpt-5.6-sol"}
    assert {m["id"] for m in data["output_models"]} == {m.id for m in vt.rules.output_models()}
    undocumented = {m["id"]: m for m in data["undocumented_models"]}
    assert undocumented["gpt-6-sol"]["like"] == "gpt-6-astra"
    assert undocumented["gpt-6-sol"]["evidence"] == "measured-auto-only"
    assert {"gpt-image-1-mini", "gpt-image-2.5-*"} <= {m["id"] for m in data["undocumented_output_models"]}
    assert set(data["legend"]) >= {"cap", "B", "S"}


@pytest.mark.parametrize("argv, code", [
    (["1024x1024", "-m", "gpt-4o"], 0),
    (["1x1", "-m", "gpt-4o-mni"], 1),             # an unknown model: not counted
    (["1x0", "-m", "gpt-4o"], 1),                 # a size out of range
    (["image", "examples/images/clip.gif", "-m", "gpt-4o"], 1),  # a bad image
    (["request", "examples/images/mask.png"], 1),  # a body that is not a request
    (["1x1"], 2),                                 # argparse: --model missing
    (["1x1", "-m", "gpt-4o", "--bogus"], 2),      # argparse: an unknown flag
    (["1x1", "-m", "gpt-4o", "--undocumented", "maybe"], 2),  # argparse: a bad choice
    (["12by7", "-m", "gpt-4o"], 2),               # not a size
    (["imagez", "x.png"], 2),                     # not a command
    (["image", "no/such.png", "-m", "gpt-4o"], 2),  # a file that is not there
    (["request", "no/such.json"], 2),
    (["logs", "examples/images.csv", "--out", "rows.xlsx"], 2),
])
def test_exit_statuses_are_the_same_everywhere(capsys, monkeypatch, argv, code):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).parent.parent)
    assert main(argv) == code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    if code == 0:
        assert err == ""
    elif code == 2:
        assert "visiontokens" in err and "error: " in err  # the command line is wrong
    else:
        assert "error" in out + err  # said on the row (image) or on stderr


def test_exit_status_of_the_process():
    done = subprocess.run([sys.executable, "-m", "visiontokens", "1x1", "-m", "gpt-4o", "--nope"],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "unrecognized arguments" in done.stderr
    done = subprocess.run([sys.executable, "-m", "visiontokens", "1x1", "-m", "nope-model"],
                          capture_output=True, text=True)
    assert done.returncode == 1


def test_help_cites_no_spec_or_issue(capsys):
    import re

    from visiontokens.cli import logs
    from visiontokens.cli import main as _cli

    for parser in (_cli._size_parser(), _cli._image_parser(), _cli._request_parser(),
                   _cli._models_parser(), _cli._generate_parser(), logs.parser()):
        text = parser.format_help()
        assert not re.search(r"\b(spec|issue) \d", text), parser.prog
    main(["--help"])
    assert not re.search(r"\b(spec|issue) \d", capsys.readouterr().out)


def test_a_file_id_says_the_command_line_has_no_resolver(capsys):
    import visiontokens as vt

    body = EXAMPLES / "responses_request.json"
    assert main(["request", str(body)]) == 1
    err = capsys.readouterr().err
    assert "no file resolver (not available on the command line" in err
    assert "no resolve_file" not in err
    with pytest.raises(vt.ImageSizeUnknownError) as caught:
        vt.count_request(body.read_bytes())
    assert "no resolve_file" in str(caught.value)
    assert caught.value.hint == ("resolve_file", None)
    assert main(["request", str(body), "--upper-bound"]) == 0  # counted at its most


# --- models beyond OpenAI (shared/providers.md) -------------------------------------------------

def _tokens_line(out):
    return next(line.split()[-1] for line in out.splitlines() if line.strip().startswith("tokens"))


@pytest.mark.parametrize("argv, tokens", [
    (["1920x1080", "-m", "claude-sonnet-4-5"], "1560"),
    (["3840x2160", "-m", "claude-opus-4-8"], "4784"),
    (["1920x1080", "-m", "pixtral-12b-2409"], "2340"),
])
def test_provider_sizes(capsys, argv, tokens):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert _tokens_line(out) == tokens and "figure      exact" in out


def test_qwen_states_its_marker_tokens(capsys):
    assert main(["1920x1080", "-m", "Qwen/Qwen2.5-VL-7B-Instruct"]) == 0
    out = capsys.readouterr().out
    assert _tokens_line(out) == "2693"  # 2691 image pads + 2 markers (providers 4.4)
    assert "69 x 39 = 2691" in out and "markers     2 (vision start and end tokens, included)" in out


def test_gemini_3_is_marked_as_the_documented_maximum(capsys):
    assert main(["1024x1024", "-m", "gemini-3-pro", "--detail", "low"]) == 0
    out = capsys.readouterr().out
    assert _tokens_line(out) == "280" and "figure      the documented maximum" in out
    assert main(["1024x1024", "-m", "gemini-3-pro", "--detail", "low", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["tokens"], data["exactness"], data["provider"]) == (280, "documented_maximum", "google")


def test_claude_detail_is_refused_in_one_line(capsys):
    assert main(["100x100", "-m", "claude-opus-4-8", "--detail", "high"]) != 0
    err = capsys.readouterr().err
    assert "detail does not apply" in err and len(err.splitlines()) == 1


def test_openai_layout_is_unchanged(capsys):
    assert main(["1024x1024", "-m", "gpt-4o", "--detail", "high"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "gpt-4o (ruleset 2026-09), detail high, tile scheme", "  image       1024 x 1024",
        "  resized     768 x 768", "  tiles       4", "  tokens      765"]


def test_models_lists_the_providers(capsys):
    assert main(["models", "--json"]) == 0
    listed = {m["id"]: m for m in json.loads(capsys.readouterr().out)["input_models"]}
    assert listed["claude-opus-4-8"]["provider"] == "anthropic"
    assert listed["claude-opus-4-8"]["details"]["auto"] == {
        "scheme": "claude", "patch": 28, "cap": 2576, "budget": 4784, "exactness": "exact"}
    assert listed["gemini-3-pro"]["details"]["low"]["exactness"] == "documented_maximum"
    assert listed["gpt-4o"]["provider"] == "openai"
