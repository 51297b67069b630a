"""Type checkers see real types (issue 9, part 4).

``mypy --strict`` on the source tree must be clean; and a user's code calling the public API
must get precise types, not Any: the facade points type checkers at the annotated pure twins
(the propcache pattern), which tests/test_signatures.py holds equal to the compiled ones.
The second test also runs against an installed wheel (it needs ``py.typed`` and the pure
twins in it); the first needs a source tree and skips without one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from extras import needs

pytest.importorskip("mypy")

SRC = Path(__file__).resolve().parent.parent / "src"
HAS_TREE = (SRC / "visiontokens" / "__init__.py").is_file()

# Each assert_type fails under mypy when the expression is Any, so this pins precision.
USES = '''
from typing import assert_type

import numpy as np
from numpy.typing import NDArray

import visiontokens as vt

assert_type(vt.count_image_tokens(1024, 1024, "gpt-4o", "high"), int)
assert_type(vt.explain_image_tokens(1024, 1024, "gpt-4o"), vt.ImageCost)
model = vt.get_model("gpt-4o", ruleset="2026-04")
assert_type(model, vt.Model)
assert_type(model.count(np.int64(5), 7, "low"), int)
assert_type(model.explain(5, 7), vt.ImageCost)
sizes = np.array([1024, 2048])
assert_type(vt.count_image_tokens_batch(sizes, sizes, "gpt-4o"), NDArray[np.int64])
assert_type(vt.count_image_tokens_batch(sizes, [1, 2], ["gpt-4o", "o3"], "high", on_error="mask"),
            tuple[NDArray[np.int64], NDArray[np.bool_]])
assert_type(vt.image_info(b"\\x89PNG"), vt.ImageInfo)
assert_type(vt.count_image("photo.png", "gpt-4o"), vt.ImageCost)
result = vt.count_request({"model": "gpt-4o", "messages": []}, fetch=False)
assert_type(result, vt.RequestCount)
assert_type(result.images[0], vt.RequestImage)
assert_type(result.images[0].tokens, int | None)
assert_type(vt.max_image_tokens("gpt-4o", "high"), int)


async def later() -> None:
    assert_type(await vt.count_request_async(b"{}", on_unknown="upper_bound"), vt.RequestCount)
'''

# Misuse a type checker must flag, one error per line.
MISUSES = '''
import visiontokens as vt

vt.count_image_tokens(1024, 1024, 42)
vt.count_image_tokens(1024.5, 1024, "gpt-4o")
vt.count_request({}, fetch="yes")
tokens: str = vt.get_model("gpt-4o").count(1, 1)
vt.count_image_tokens_batch([1], [1], "gpt-4o", on_error="ignore")
vt.image_info(1234)
'''


def mypy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if HAS_TREE:  # check the tree these tests came with, not whatever is installed
        env["MYPYPATH"] = str(SRC)
    # no cache (os.devnull): a stale cache must not hide an error; ~4 s cold on this machine
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", f"--cache-dir={os.devnull}",
         "--no-incremental", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=300,
    )


def mypy_ini() -> str:
    """The project's [[tool.mypy.overrides]] as a mypy.ini, for a check outside the tree."""
    sections = ["[mypy]"]
    pyproject = Path(__file__).parent.parent / "pyproject.toml"
    overrides = (tomllib.loads(pyproject.read_text()).get("tool", {}).get("mypy", {})
                 .get("overrides", []) if pyproject.exists() else [{"module": ["cython"]}])
    for override in overrides:
        if override.get("ignore_missing_imports", True):
            sections += [f"[mypy-{module}]\nignore_missing_imports = True"
                         for module in override["module"]]
    return "\n".join(sections) + "\n"


# visiontokens/litellm.py subclasses LiteLLM's CustomLogger: strict mypy needs LiteLLM's types
@needs("litellm", "fastapi")
@pytest.mark.skipif(not HAS_TREE, reason="no source tree (tests run against an installed wheel)")
def test_mypy_strict_src_is_clean():
    done = mypy("--config-file", str(SRC.parent / "pyproject.toml"), str(SRC), cwd=SRC.parent)
    assert done.returncode == 0 and "Success" in done.stdout, done.stdout + done.stderr


def test_the_public_api_has_precise_types(tmp_path):
    # Checked from the source tree, the package's own modules are checked too: they need the
    # project's overrides (modules without type information: Cython, the engines of the extras).
    (tmp_path / "mypy.ini").write_text(mypy_ini())
    (tmp_path / "uses.py").write_text(textwrap.dedent(USES))
    (tmp_path / "misuses.py").write_text(textwrap.dedent(MISUSES))
    done = mypy("uses.py", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    done = mypy("misuses.py", cwd=tmp_path)
    flagged = {int(line.split(":")[1]) for line in done.stdout.splitlines()
               if line.startswith("misuses.py:") and ": error:" in line}
    lines = textwrap.dedent(MISUSES).splitlines()
    expected = {n for n, line in enumerate(lines, 1) if line.startswith(("vt.", "tokens:"))}
    assert flagged == expected, done.stdout
