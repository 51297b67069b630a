"""The visiontokens command line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from visiontokens._cli import main


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
    assert listed["gpt-6-astra"]["details"]["high"] == {"cap": 65535, "budget": 2500, "short_side": None}


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
