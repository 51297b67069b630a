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
    from visiontokens.cli import main as cli_main

    monkeypatch.setattr(cli_main, "WALK", load_twin("request", request.param))
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
    listed = {m["id"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed["gpt-6-astra"]["details"]["high"] == {
        "scheme": "patch", "cap": 65535, "budget": 2500, "multiplier": "12/10", "reject_over": 30000}
    assert listed["gpt-4o"]["details"]["low"] == {"scheme": "flat", "cap": 2048, "base": 85}
    # every level says its scheme, and GPT Image 1 shows its fidelity extras (spec 3.3)
    assert listed["gpt-image-1"]["details"]["high"] == {
        "scheme": "tile", "cap": 2048, "base": 65, "short_side": 512, "per_tile": 129,
        "input_fidelity_high": {"square": 4160, "other": 6240}}


@pytest.mark.parametrize("argv, message", [
    (["12x0", "-m", "gpt-4o"], "height must be between"),
    (["12by7", "-m", "gpt-4o"], "size must look like"),
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
    assert main(["image", str(path), str(tmp_path / "missing.png"), "-m", "gpt-4.1-mini",
                 "-r", "2026-04", "--json", "--progress", "always"]) == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    assert data["total_tokens"] == 2353 and data["counted"] == 1 and data["failed"] == 1
    assert data["images"][0]["resized_width"] == 1056
    assert "No such file" in data["images"][1]["error"]
    assert "2/2" in captured.err  # the progress bar


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

    from visiontokens.cli import main as cli_main

    for name in ("a.png", "b.png"):
        (tmp_path / name).write_bytes(png_header(10, 10))
    seen: list[str] = []
    walk = cli_main.walk()  # the request twin the command counts with
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
    assert main(["images", "x.jpg", "-m", "gpt-4o"]) == 1
    err = capsys.readouterr().err
    assert "did you mean 'image'" in err and "commands: image, request, models" in err
    assert err.count("\n") == 1


def test_every_option_has_help_text():
    import argparse

    from visiontokens.cli import main as _cli

    parsers = [_cli._size_parser(), _cli._image_parser(), _cli._request_parser(), _cli._models_parser()]
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
    assert main(["request", str(tmp_path / "missing.json")]) == 1


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
    listed = {m["id"]: m for m in json.loads(capsys.readouterr().out)}
    assert listed["claude-opus-4-8"]["provider"] == "anthropic"
    assert listed["claude-opus-4-8"]["details"]["auto"] == {
        "scheme": "claude", "patch": 28, "cap": 2576, "budget": 4784, "exactness": "exact"}
    assert listed["gemini-3-pro"]["details"]["low"]["exactness"] == "documented_maximum"
    assert listed["gpt-4o"]["provider"] == "openai"
