"""The README's examples run, and the values their comments show are the values they give.

Every ```python block of README.md runs in a fresh namespace holding only ``vt`` (the package),
from a temporary folder that holds the bundled ``examples/`` and the few files the examples
open by name (``photo.jpg``, ``scans/page1.png``, ``clip.gif``, ``a.png``, ``b.png``,
``mask.png``, ``logs.parquet``, ``logs/*.parquet``), made here with Pillow and pyarrow.

A statement whose line ends in a comment is checked against it:
- ``expr  # <Python literal>``: the value equals the literal (numpy arrays and tuples of them
  compared as lists; ``...`` matches anything);
- ``expr  # SomeError...``: the statement raises ``vt.SomeError``;
- ``expr  # Name(...)``: ``repr(value)`` equals the comment (a result's repr).
Any other comment is prose.

A block the tests cannot run says so in an HTML comment just before it
(``<!-- readme-test: skip, needs the network -->``): one that needs a network, a cluster or an
ASGI app of the reader's own. The blocks of "## In a gateway" are skipped here too: that section
is owned by the gateway work, and its figures are held by tests/test_undocumented.py,
tests/test_asgi.py and tests/test_litellm.py.

The command-line block's options must each be an option of their subcommand's ``--help``.
"""

from __future__ import annotations

import ast
import asyncio
import io
import re
import shutil
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

import visiontokens as vt

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
SKIP_MARK = re.compile(r"<!--\s*readme-test:\s*skip,?\s*(.*?)\s*-->")
SKIPPED_SECTIONS = {"In a gateway": "owned by the gateway work; see this module's docstring"}


def _blocks(language: str) -> list[tuple[int, str, str | None]]:
    """(line number, code, reason to skip or None) for each fenced block in that language."""
    found = []
    lines = README.splitlines()
    section = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        if line.startswith("```"):  # an opening fence; its block ends at the next bare one
            start = i + 1
            end = lines.index("```", start)
            if line.strip() == f"```{language}":
                before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
                mark = SKIP_MARK.search(before)
                reason = mark.group(1) if mark else SKIPPED_SECTIONS.get(section)
                found.append((start, "\n".join(lines[start:end]) + "\n", reason))
            i = end
        i += 1
    return found


PYTHON_BLOCKS = _blocks("python")


def test_the_readme_has_python_examples_and_runs_most_of_them():
    assert len(PYTHON_BLOCKS) >= 8
    assert sum(reason is None for _, _, reason in PYTHON_BLOCKS) >= 6


def _comments(code: str) -> dict[int, str]:
    """Line number -> the text of the comment ending that line."""
    out = {}
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.COMMENT:
            out[token.start[0]] = token.string[1:].strip()
    return out


def _plain(value):
    """numpy arrays and tuples as lists, so a comment's literal can be compared with them."""
    if hasattr(value, "tolist") and not isinstance(value, (int, str)):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def _matches(value, expected) -> bool:
    if expected is Ellipsis:
        return True
    if isinstance(expected, (tuple, list)):
        value = _plain(value)
        return (isinstance(value, list) and len(value) == len(expected)
                and all(_matches(v, e) for v, e in zip(value, expected)))
    return _plain(value) == expected


def _check(comment: str):
    """What a trailing comment promises: ("raises", cls), ("equals", value), ("repr", text)."""
    error = re.match(r"([A-Z]\w*Error)\b", comment)
    if error and isinstance(getattr(vt, error.group(1), None), type):
        return "raises", getattr(vt, error.group(1))
    if re.match(r"[A-Z]\w*\(", comment):
        return "repr", comment
    try:
        return "equals", ast.literal_eval(comment.replace("…", "..."))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _run(code: str, namespace: dict) -> None:
    tree = ast.parse(code)
    comments = _comments(code)
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    for statement in tree.body:
        check = _check(comments.get(statement.end_lineno, "")) if statement.end_lineno in comments else None
        source = ast.get_source_segment(code, statement)
        where = f"line {statement.lineno}: {source}"
        if check and check[0] == "raises":
            with pytest.raises(check[1]):
                exec(compile(ast.Module([statement], []), "<README>", "exec"), namespace)
            continue
        if check and isinstance(statement, ast.Expr):
            compiled = compile(ast.Expression(statement.value), "<README>", "eval", flags=flags)
            value = eval(compiled, namespace)
            if asyncio.iscoroutine(value):
                value = asyncio.run(value)
            if check[0] == "repr":
                assert repr(value) == check[1], where
            else:
                assert _matches(value, check[1]), f"{where}\n  gives {value!r}\n  README says {check[1]!r}"
            continue
        compiled = compile(ast.Module([statement], []), "<README>", "exec", flags=flags)
        result = eval(compiled, namespace)
        if asyncio.iscoroutine(result):
            asyncio.run(result)


@pytest.fixture(scope="module")
def readme_files(tmp_path_factory):
    """The files the README's examples open by name."""
    PIL = pytest.importorskip("PIL.Image")
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    folder = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", folder / "examples")
    PIL.new("RGB", (1800, 2400), (200, 120, 40)).save(folder / "photo.jpg", "JPEG")
    (folder / "scans").mkdir()
    PIL.new("L", (1700, 2200), 255).save(folder / "scans" / "page1.png", "PNG")
    PIL.new("RGB", (300, 200), (10, 20, 30)).save(folder / "a.png", "PNG")
    PIL.new("RGB", (256, 256), (10, 20, 30)).save(folder / "b.png", "PNG")
    PIL.new("RGBA", (300, 200), (0, 0, 0, 0)).save(folder / "mask.png", "PNG")
    # an animated GIF of noise, so its first frame alone is longer than the README's cut
    import random

    rng = random.Random(13)
    frames = [PIL.frombytes("L", (200, 150), bytes(rng.randrange(256) for _ in range(200 * 150)))
              for _ in range(3)]
    frames[0].save(folder / "clip.gif", save_all=True, append_images=frames[1:], duration=100)
    rows = {
        "width": pa.array([1024, 1920, 4096, 800], pa.int32()),
        "height": pa.array([768, 1080, 512, 600], pa.int32()),
        "model": pa.array(["gpt-4o", "gpt-4.1-mini", "gpt-4o", "gpt-5.4"]).dictionary_encode(),
        "detail": pa.array(["high", "auto", None, "low"]),
    }
    table = pa.table(rows)
    pq.write_table(table, folder / "logs.parquet")
    (folder / "logs").mkdir()
    pq.write_table(table.slice(0, 2), folder / "logs" / "part-0.parquet")
    pq.write_table(table.slice(2), folder / "logs" / "part-1.parquet")
    return folder


@pytest.mark.parametrize(
    "line, code, reason", PYTHON_BLOCKS, ids=[f"README-line-{line}" for line, _, _ in PYTHON_BLOCKS])
def test_python_example(line, code, reason, readme_files, monkeypatch):
    if reason:
        pytest.skip(f"README line {line}: {reason}")
    monkeypatch.chdir(readme_files)
    before = {ruleset: {m.id for m in vt.models(ruleset)} for ruleset in vt.rulesets()}
    try:
        _run(code, {"vt": vt, "__name__": "readme_example"})
    finally:  # the register_model examples leave the registry as they found it
        for ruleset, known in before.items():
            for name in {m.id for m in vt.models(ruleset)} - known:
                vt.unregister_model(name, ruleset=ruleset)


def _cli_help(command: str) -> str:
    return subprocess.run([sys.executable, "-m", "visiontokens", command, "--help"],
                          capture_output=True, text=True, check=True).stdout


def test_command_line_examples_use_real_options():
    lines = [line for _, code, _ in _blocks("") for line in code.splitlines()
             if line.startswith("visiontokens ")]
    assert len(lines) >= 7
    helps: dict[str, str] = {}
    for line in lines:
        command = line.split()[1]
        if re.fullmatch(r"\d+x\d+", command):
            command = "1x1"
        helps.setdefault(command, _cli_help(command))
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line.split("#")[0]):
            assert option in helps[command], f"{line}: {option} is not an option of {command}"


def test_the_first_block_is_the_two_commands():
    """.ci/run reads the test command from the first block: it must stay two commands."""
    first = re.search(r"```\n(.*?)```", README, re.S).group(1).splitlines()
    assert first == ['pip install . && visiontokens request examples/chat_request.json',
                     'pip install ".[test]" && python -m pytest']

