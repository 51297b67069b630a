"""Every example of README.md and docs/ runs, and every value it shows is the value it gives.

What runs, page by page (README.md, then docs/**/*.md), from the repository root so the
bundled ``examples/`` resolve:

- ```` ```python ```` blocks: the blocks of one page run in order in one namespace. A statement
  whose last line ends in a comment is checked against that comment when it is a value comment:
  - ``expr  # 765`` or ``expr  # 765: prose``: the value equals the literal, which is the whole
    comment or its longest part before a colon that parses as a Python literal (numpy arrays,
    pandas and Arrow columns compared as lists, tuples as lists, ``...`` matches anything);
  - ``expr  # SomeError`` or ``# SomeError: prose``: the statement raises ``visiontokens.SomeError``;
  - ``expr  # Name(...)``: ``repr(value)`` equals the comment up to its closing parenthesis.
  ``name = expr  # 765`` checks the value bound to ``name``. A value comment anywhere else (inside
  a statement, or after a statement that is neither an expression nor a simple assignment) fails
  the test: nothing a page shows goes unchecked. Any other comment is prose.
  A page whose code imports an optional package that is not installed (pyarrow, pandas,
  polars, duckdb, dask, litellm, openai) is skipped with that reason; CI installs them all, so
  nothing is skipped there.
- ```` ```console ```` blocks: each ``$ visiontokens ...`` line runs as a subprocess (the package
  of this checkout, ``python -m visiontokens``), must exit 0 (or the status its trailing
  ``# exit status N`` names), and its output, where shown, must be what it prints: line by line,
  trailing spaces ignored, a ``...`` line standing for any lines.
- ```` ```bash ```` blocks: ``visiontokens ...`` lines run and must exit 0; other lines (``pip
  install``, ``mkdocs serve``) set up a machine and are not run here.
- ```` ```text ```` blocks: a ``visiontokens ...`` synopsis line uses only options its
  subcommand's ``--help`` lists. ```` ```yaml ```` blocks must parse.
- The README's first block holds the two commands CI runs (``.ci/run`` reads its second line).
"""

from __future__ import annotations

import ast
import asyncio
import io
import os
import re
import shlex
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
OPTIONAL = {"pyarrow", "pandas", "polars", "duckdb", "dask", "distributed", "litellm", "openai"}
FENCE = re.compile(r"^```([\w-]*)\s*$")


def _page_id(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def fenced_blocks(text: str) -> list[tuple[str, int, str]]:
    """(language, first line number, code) of every fenced block at the start of a line."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match:
            end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```"), None)
            assert end is not None, f"line {i + 1}: a fenced block that is never closed"
            blocks.append((match.group(1), i + 2, "\n".join(lines[i + 1:end]) + "\n"))
            i = end
        i += 1
    return blocks


def _blocks_of(page: Path, *languages: str) -> list[tuple[str, int, str]]:
    return [b for b in fenced_blocks(page.read_text(encoding="utf-8")) if b[0] in languages]


# --- value comments ---------------------------------------------------------------------------

def _literal(text: str) -> tuple[bool, object]:
    try:
        return True, ast.literal_eval(text.strip().replace("…", "..."))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False, None


def value_comment(comment: str) -> tuple[str, object] | None:
    """What a comment promises: ("raises", error name), ("repr", text), ("equals", value), or
    None for prose. The value is the whole comment, or its longest part before a colon that
    parses as a literal, so ``# 765: the header's size`` is checked like ``# 765``."""
    comment = comment.strip()
    error = re.match(r"([A-Z]\w*(?:Error|Exception))\b(?::|$)", comment)
    if error:
        return "raises", error.group(1)
    if re.match(r"[A-Z]\w*\(", comment):
        depth = 0
        for index, char in enumerate(comment):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if char == ")" and depth == 0:
                return "repr", comment[:index + 1]
        return "repr", comment
    ok, value = _literal(comment)
    if ok:
        return "equals", value
    colons = [m.start() for m in re.finditer(":", comment)]
    for cut in reversed(colons):
        ok, value = _literal(comment[:cut])
        if ok:
            return "equals", value
    return None


def _plain(value: object) -> object:
    """Columns, arrays and tuples as lists, missing values as None, for comparison."""
    if type(value).__name__ in ("NAType", "NaTType"):
        return None
    if hasattr(value, "to_pylist"):
        return value.to_pylist()
    if hasattr(value, "tolist") and not isinstance(value, (int, float, str, bytes)):
        return [_plain(v) for v in value.tolist()] if hasattr(value, "__len__") else value.tolist()
    if hasattr(value, "to_list") and not isinstance(value, (str, bytes)):
        return [_plain(v) for v in value.to_list()]
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    return value


def matches(value: object, expected: object) -> bool:
    if expected is Ellipsis:
        return True
    if isinstance(expected, (tuple, list)):
        value = _plain(value)
        return (isinstance(value, list) and len(value) == len(expected)
                and all(matches(v, e) for v, e in zip(value, expected)))
    value = _plain(value)
    if type(expected) is bool or type(value) is bool:
        return value is expected
    return value == expected


def _comments(code: str) -> dict[int, tuple[int, str]]:
    """Line number -> (column, text) of the comment ending that line."""
    out = {}
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.COMMENT:
            out[token.start[0]] = (token.start[1], token.string[1:].strip())
    return out


class Mismatch(AssertionError):
    pass


def run_python(code: str, namespace: dict, where: str) -> int:
    """Run one block in ``namespace``, checking every value comment; returns how many it checked."""
    tree = ast.parse(code)
    comments = _comments(code)
    lines = code.splitlines()
    ends = {statement.end_lineno for statement in tree.body}
    for number, (column, text) in comments.items():
        if number not in ends and lines[number - 1][:column].strip() and value_comment(text):
            raise Mismatch(f"{where} line {number}: a value comment inside a statement, which "
                           f"cannot be checked: {text!r}")
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    checked = 0
    for statement in tree.body:
        found = comments.get(statement.end_lineno)
        check = value_comment(found[1]) if found else None
        source = ast.get_source_segment(code, statement)
        at = f"{where} line {statement.lineno}: {source}"
        if check and check[0] == "raises":
            try:
                _exec(statement, namespace, flags)
            except Exception as error:  # any error: it is compared by its name
                names = {cls.__name__ for cls in type(error).__mro__}
                if check[1] not in names:
                    raise Mismatch(f"{at}\n  raises {type(error).__name__}: {error}\n"
                                   f"  the page says {check[1]}") from error
            else:
                raise Mismatch(f"{at}\n  raises nothing; the page says {check[1]}")
            checked += 1
            continue
        if check is None:
            _exec(statement, namespace, flags)
            continue
        if isinstance(statement, ast.Expr):
            value = _eval(statement.value, namespace, flags)
        elif isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(
                statement.targets[0], ast.Name):
            _exec(statement, namespace, flags)
            value = namespace[statement.targets[0].id]
        else:
            raise Mismatch(f"{at}\n  a value comment on a statement whose value cannot be checked")
        if check[0] == "repr":
            if repr(value) != check[1]:
                raise Mismatch(f"{at}\n  gives {value!r}\n  the page says {check[1]}")
        elif not matches(value, check[1]):
            raise Mismatch(f"{at}\n  gives {value!r}\n  the page says {check[1]!r}")
        checked += 1
    return checked


def _exec(statement: ast.stmt, namespace: dict, flags: int) -> None:
    result = eval(compile(ast.Module([statement], []), "<docs>", "exec", flags=flags), namespace)
    if asyncio.iscoroutine(result):
        asyncio.run(result)


def _eval(expression: ast.expr, namespace: dict, flags: int) -> object:
    value = eval(compile(ast.Expression(expression), "<docs>", "eval", flags=flags), namespace)
    if asyncio.iscoroutine(value):
        value = asyncio.run(value)
    return value


def _imports(code: str) -> set[str]:
    """Top-level modules imported, and the engine behind a face (visiontokens.litellm: litellm)."""
    dotted = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            dotted += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            dotted.append(node.module)
    names = {name.split(".")[0] for name in dotted}
    names |= {name.split(".")[1] for name in dotted if name.startswith("visiontokens.")}
    return names


PYTHON_PAGES = [page for page in PAGES if _blocks_of(page, "python")]


@pytest.mark.parametrize("page", PYTHON_PAGES, ids=_page_id)
def test_python_examples(page, monkeypatch):
    import visiontokens as vt

    blocks = _blocks_of(page, "python")
    for module in sorted(set().union(*(_imports(code) for _, _, code in blocks)) & OPTIONAL):
        pytest.importorskip(module, reason=f"{_page_id(page)} needs the optional {module}")
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
    before = {ruleset: {m.id for m in vt.models(ruleset)} for ruleset in vt.rulesets()}
    namespace: dict = {"__name__": "docs_example"}
    checked = 0
    try:
        for _, line, code in blocks:
            checked += run_python(code, namespace, f"{_page_id(page)}:{line}")
    finally:  # the register_model examples leave the registry as they found it
        for ruleset, known in before.items():
            for name in {m.id for m in vt.models(ruleset)} - known:
                vt.unregister_model(name, ruleset=ruleset)
    assert checked or page.name != "README.md"


def test_the_pages_check_many_values():
    total = 0
    for page in PYTHON_PAGES:
        for _, _, code in _blocks_of(page, "python"):
            comments = _comments(code)
            total += sum(value_comment(text) is not None for _, text in comments.values())
    assert total >= 60


# --- the checker itself -----------------------------------------------------------------------

@pytest.mark.parametrize("comment, expected", [
    ("765", ("equals", 765)),
    ("765: the header's size, then the calculator", ("equals", 765)),
    ("('chat', 9527): a tuple", ("equals", ("chat", 9527))),
    ("{'a': 1}: prose with: colons", ("equals", {"a": 1})),
    ("'data:image/png;base64'", ("equals", "data:image/png;base64")),
    ("UnknownModelError: names the closest models", ("raises", "UnknownModelError")),
    ("ImageInfo(width=1, height=2): prose", ("repr", "ImageInfo(width=1, height=2)")),
    ("the default: an upper bound", None),
    ("one model per row", None),
])
def test_value_comments_are_read(comment, expected):
    assert value_comment(comment) == expected


def test_a_wrong_value_fails():
    import visiontokens  # noqa: F401

    namespace: dict = {}
    code = "import visiontokens as vt\nvt.count_image_tokens(1024, 1024, 'gpt-4o', 'high')  # {}\n"
    assert run_python(code.format("765"), namespace, "ok") == 1
    assert run_python(code.format("765: prose after the value"), namespace, "ok") == 1
    for wrong in ("1105", "1105: prose after the value", "[765, 1]", "UnknownModelError"):
        with pytest.raises(Mismatch):
            run_python(code.format(wrong), namespace, "wrong")


def test_an_uncheckable_value_comment_fails():
    with pytest.raises(Mismatch, match="cannot be checked"):
        run_python("for i in [1]:\n    i  # 1\n", {}, "loop")
    with pytest.raises(Mismatch, match="inside a statement"):
        run_python("x = (1 +  # 2\n     1)\n", {}, "inside")
    assert run_python("x = 1 + 1  # 2\n", {}, "assign") == 1
    with pytest.raises(Mismatch):
        run_python("x = 1 + 1  # 3: wrong\n", {}, "assign")
    with pytest.raises(Mismatch, match="raises nothing"):
        run_python("1 + 1  # ValueError\n", {}, "raises")


def test_columns_compare_as_lists():
    np = pytest.importorskip("numpy")
    assert matches(np.array([765, 615]), [765, 615])
    assert matches((np.array([1, 0]), np.array([False, True])), ([1, 0], [False, True]))
    assert not matches(np.array([765, 615]), [765, 570])
    assert not matches(1, True) and matches(True, True)


# --- shell examples ---------------------------------------------------------------------------

def _run_shell(command: str) -> subprocess.CompletedProcess:
    """A command line as a user types it, with ``visiontokens`` the package of this checkout."""
    shim = f'visiontokens() {{ {shlex.quote(sys.executable)} -m visiontokens "$@"; }}\n'
    env = dict(os.environ, COLUMNS="100", NO_COLOR="1")
    return subprocess.run(["bash", "-c", shim + command], check=False, cwd=ROOT, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)


def _output_matches(shown: list[str], actual: list[str]) -> bool:
    if not shown:
        return not actual
    if shown[0].strip() == "...":
        return any(_output_matches(shown[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and shown[0].rstrip() == actual[0].rstrip() and _output_matches(
        shown[1:], actual[1:])


def _console_commands(code: str) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            out.append((line[2:], []))
        elif out:
            out[-1][1].append(line)
        elif line.strip():
            raise AssertionError(f"output before any command: {line!r}")
    return out


SHELL = [(page, line, code, lang) for page in PAGES
         for lang, line, code in _blocks_of(page, "console", "bash", "sh")]


@pytest.mark.parametrize("page, line, code, lang", SHELL,
                         ids=[f"{_page_id(p)}:{n}" for p, n, _, _ in SHELL])
def test_shell_examples(page, line, code, lang):
    where = f"{_page_id(page)}:{line}"
    if lang == "console":
        commands = _console_commands(code)
        assert commands, f"{where}: a console block without a $ command"
    else:
        commands = [(text, None) for text in code.splitlines() if text.startswith("visiontokens ")]
    for command, shown in commands:
        assert command.startswith("visiontokens"), f"{where}: only visiontokens commands run: {command}"
        status = re.search(r"#\s*exit status (\d+)\s*$", command)
        result = _run_shell(command)
        expected_status = int(status.group(1)) if status else 0
        assert result.returncode == expected_status, (
            f"{where}: {command}\n  exit status {result.returncode}\n{result.stdout}")
        if shown is not None:
            while shown and not shown[-1].strip():
                shown.pop()
            if shown:
                actual = result.stdout.rstrip("\n").splitlines()
                assert _output_matches(shown, actual), (
                    f"{where}: {command}\n--- the page shows\n" + "\n".join(shown)
                    + "\n--- it prints\n" + result.stdout)


def test_the_output_checker():
    assert _output_matches(["a", "...", "d"], ["a", "b", "c", "d"])
    assert _output_matches(["a  "], ["a"])
    assert not _output_matches(["a", "c"], ["a", "b"])
    assert not _output_matches(["a"], ["a", "b"])


SYNOPSES = [(page, text) for page in PAGES for _, _, code in _blocks_of(page, "text")
            for text in code.splitlines() if text.startswith("visiontokens ")]


def test_synopsis_lines_use_real_options():
    helps: dict[str, str] = {}
    for page, text in SYNOPSES:
        command = text.split()[1]
        if re.fullmatch(r"(\d+|W)x(\d+|H)|WIDTHxHEIGHT", command):
            command = "1x1"
        if command not in helps:
            helps[command] = _run_shell(f"visiontokens {shlex.quote(command)} --help").stdout
        for option in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", text.split("#")[0]):
            assert option in helps[command], f"{_page_id(page)}: {text}: no option {option}"


def test_yaml_examples_parse():
    yaml = pytest.importorskip("yaml")
    for page in PAGES:
        for _, line, code in _blocks_of(page, "yaml"):
            assert yaml.safe_load(code) is not None, f"{_page_id(page)}:{line}"


# --- the README's shape -----------------------------------------------------------------------

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_first_block_is_the_two_commands():
    """.ci/run reads the test command from the first block's second line."""
    _, _, code = fenced_blocks(README)[0]
    assert [line for line in code.splitlines() if line.strip()] == [
        "pip install . && visiontokens request examples/chat_request.json",
        'pip install ".[test]" && python -m pytest']


def test_the_readme_is_short_and_opens_with_what_and_who():
    lines = README.splitlines()
    assert len(lines) <= 260
    first = next(line for line in lines[1:] if line.strip())
    assert not first.startswith("```") and " for " in first


def test_no_spec_or_issue_citations():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        found = re.findall(r"\b(?:spec|issue)s? \d", text, re.I)
        assert not found, f"{_page_id(page)} cites {found}"


def test_every_bundled_file_a_page_names_exists():
    for page in PAGES:
        for name in set(re.findall(r"examples/[\w./-]+\.\w+", page.read_text(encoding="utf-8"))):
            assert (ROOT / name).is_file(), f"{_page_id(page)} names {name}, which is not bundled"


# --- the site builds --------------------------------------------------------------------------

def test_mkdocs_build_strict(tmp_path):
    pytest.importorskip("mkdocs", reason="mkdocs is not installed (pip install '.[docs]')")
    pytest.importorskip("material", reason="mkdocs-material is not installed (pip install '.[docs]')")
    pytest.importorskip("mkdocstrings", reason="mkdocstrings is not installed (pip install '.[docs]')")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                             str(tmp_path / "site")], check=False, cwd=ROOT, text=True,
                            capture_output=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    site = "\n".join(path.read_text(encoding="utf-8", errors="replace")
                     for path in (tmp_path / "site").rglob("*.html"))
    assert "count_image_tokens" in site and "ImageTokenMiddleware" in site
    assert not re.findall(r"\b(?:spec|issue) \d", re.sub(r"<[^>]+>", " ", site))
