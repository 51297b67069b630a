"""MkDocs hooks: the tables the docs show are generated at build time from the code itself.

A page asks for a table with a marker on a line of its own, ``<!-- generated: NAME -->`` or
``<!-- generated: NAME ARGUMENT -->``:

- ``models RULESET``: every input model of a ruleset, its scheme, parameters per detail
  level, status and source, with its ASSUMED marks (from ``visiontokens.models()``);
- ``aliases RULESET`` and ``undocumented RULESET``: the aliases, and the known models without
  a rule with what they are assumed from and on what evidence;
- ``output-models RULESET``: the models priced in output tokens, EMPIRICAL where they are;
- ``errors``: every error class, its ``code``, its bases and when it is raised;
- ``file-map``: one line per file of the package, from the tree as it is (its docstring's
  first sentence), so the map stays true when files move.

The package is imported from ``src/`` of this checkout. The rules' sources and the
docstrings cite sections of the project's internal specification, which a reader cannot look
up; those citations are dropped from what the site shows (``plain``).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PACKAGE = SRC / "visiontokens"
MARKER = re.compile(r"^<!-- generated: ([\w-]+)(?: ([\w.-]+))? -->$", re.M)



def on_config(config: Any) -> Any:
    """Document the package of this checkout (MkDocs restores sys.path after loading hooks,
    so it is set here, before anything imports the package)."""
    if str(SRC) not in sys.path:
        sys.path.insert(0, str(SRC))
    if not any(PACKAGE.rglob("*.so")):
        # A clean checkout holds no compiled twins; the pure ones carry the same rules and
        # docstrings, which is all the site shows.
        os.environ.pop("VISIONTOKENS_REQUIRE_EXTENSIONS", None)
        os.environ["VISIONTOKENS_NO_EXTENSIONS"] = "1"
    import visiontokens

    where = Path(visiontokens.__file__).resolve()
    if PACKAGE.resolve() not in where.parents:
        raise RuntimeError(f"the docs would describe {where}, not this checkout's {PACKAGE}")
    return config

_CITATION = re.compile(
    r"\s*\((?:see )?(?:specs?|issues?|providers)[ -]\d[^()]*\)"      # "(spec 3.5)", "(see spec 6.2)"
    r"|,\s*(?:specs?|issues?|providers)[ -]\d[\w.]*(?:(?:,| and) \d[\w.]*)*(?: step \d+)?(?: note \d+)?"  # ", spec 4.1"
    r"|\b(?:specs?|issues?|providers)[ -]\d[\w.]*(?:(?:,| and) \d[\w.]*)*(?: step \d+)?(?: note \d+)?:?\s*",
    re.I)


def plain(text: str) -> str:
    """Text without citations of the internal specification or issues."""
    text = _CITATION.sub("", text)
    text = re.sub(r"\(\s*,?\s*\)", "", text)
    text = re.sub(r"\(\s*,\s*", "(", text)
    return re.sub(r"\s{2,}", " ", text).strip(" ,;")


def _registry() -> Any:
    """The rules module, wherever the package keeps it."""
    for name in ("visiontokens.rules.registry", "visiontokens.rules", "visiontokens._registry"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if hasattr(module, "get_ruleset"):
            return module
    raise RuntimeError("the rules module was not found")


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|")


def _marks(spec: Any) -> str:
    marks = []
    if getattr(spec, "low_same_as_high_assumed", False):
        marks.append("ASSUMED: `low` = `high`")
    for params in spec.params.values():
        if params.fidelity_square or params.fidelity_other:
            marks.append("ASSUMED: the fidelity extra at every level; square means `w == h`")
            break
    return "; ".join(marks)


def _levels(spec: Any) -> str:
    parts = []
    for level, p in spec.params.items():
        if p.scheme == "patch":
            text = f"cap {p.cap}" + (f", B {p.budget}" if p.budget else "")
        elif p.scheme == "flat":
            text = f"{p.base} flat"
        else:
            text = f"tiles, S {p.short_side}"
            if p.fidelity_square or p.fidelity_other:
                text += f", fidelity high +{p.fidelity_square} square / +{p.fidelity_other} other"
        parts.append(f"`{level}`: {text}")
    parts.append(f"`auto` = `{spec.auto}`")
    return "; ".join(parts)


def models_table(ruleset: str | None) -> str:
    import visiontokens as vt

    rows = ["| model | scheme | multiplier or base + per tile | detail levels | status | source | marks |",
            "|---|---|---|---|---|---|---|"]
    for spec in vt.models(ruleset):
        if spec.provider != "openai":  # listed under their providers (providers_table)
            continue
        if spec.scheme == "patch":
            price = f"× {spec.multiplier}"
        else:
            price = f"{spec.base} + {spec.per_tile} per tile"
        rows.append(f"| `{spec.id}` | {spec.scheme} | {price} | {_levels(spec)} | {spec.status} "
                    f"| {_cell(plain(spec.source))} | {_marks(spec)} |")
    rs = _registry().get_ruleset(ruleset)
    head = (f"Ruleset `{rs.name}`: {plain(rs.description)} Patch limit: "
            + (f"an image over {rs.reject_patches_over:,} patches is rejected."
               if rs.reject_patches_over else "none."))
    return head + "\n\n" + "\n".join(rows)


def aliases_table(ruleset: str | None) -> str:
    rs = _registry().get_ruleset(ruleset)
    if not rs.aliases:
        return f"Ruleset `{rs.name}` has no aliases."
    rows = ["| alias | model |", "|---|---|"]
    rows += [f"| `{alias}` | `{target}` |" for alias, target in sorted(rs.aliases.items())]
    return "\n".join(rows)


def undocumented_table(ruleset: str | None) -> str:
    rs = _registry().get_ruleset(ruleset)
    entries = [(f"`{name}`", entry) for name, entry in rs.undocumented.items()]
    entries += [(f"`{prefix}…`", entry) for prefix, entry in rs.undocumented_prefixes]
    if not entries:
        return f"Ruleset `{rs.name}` lists no undocumented models."
    rows = ["| model | counted like (with `undocumented=\"assume\"`) | evidence | released | source |",
            "|---|---|---|---|---|"]
    for name, entry in entries:
        rows.append(f"| {name} | `{entry.like}` | `{entry.evidence}` | {entry.released or ''} "
                    f"| {_cell(plain(entry.source))} |")
    return "\n".join(rows)


def output_models_table(ruleset: str | None) -> str:
    registry = _registry()
    rows = ["| model | rule | parameters | marks | source |", "|---|---|---|---|---|"]
    for spec in registry.output_models(ruleset):
        fields = {f: getattr(spec, f) for f in getattr(spec, "__dataclass_fields__", {})}
        rule = fields.get("rule", "")
        if fields.get("cells"):
            params = "; ".join(f"{quality}: " + ", ".join(f"{size} → {tokens}" for size, tokens in cells.items())
                               for quality, cells in fields["cells"].items())
        else:
            params = ", ".join(f"{k} {v}" for k, v in fields.items()
                               if k in ("quality_factors", "pixel_offset", "divisor", "size_multiple",
                                        "long_side_max", "ratio_max", "pixels_min", "pixels_max") and v)
        if fields.get("quality_factors"):
            params = ("quality factor f: " + ", ".join(f"{q} {f}" for q, f in fields["quality_factors"].items())
                      + f"; sides multiples of {fields['size_multiple']}, long side ≤ {fields['long_side_max']}, "
                      f"ratio ≤ {fields['ratio_max']}:1, {fields['pixels_min']:,} to {fields['pixels_max']:,} pixels")
        params += f"; +{fields.get('partial_image_tokens', 0)} per partial image (at most {fields.get('partial_images_max', 0)})"
        marks = "EMPIRICAL: " + plain(fields.get("evidence", "")) if fields.get("empirical") else ""
        rows.append(f"| `{spec.id}` | {rule} | {_cell(params)} | {marks} | {_cell(plain(fields.get('source', '')))} |")
    table = registry.output_table(ruleset) if hasattr(registry, "output_table") else None
    undocumented = list(getattr(table, "undocumented", None) or ())
    if undocumented:
        rows += ["", "Image models without an output rule (counted like the named model with "
                 "`undocumented=\"assume\"`):", "",
                 "| model | counted like | evidence | source |", "|---|---|---|---|"]
        for entry in undocumented:
            names = [f"`{name}`" for name in entry.get("ids", ())]
            names += [f"`{prefix}…`" for prefix in entry.get("prefixes", ())]
            rows.append(f"| {', '.join(names)} | `{entry.get('like')}` | `{entry.get('evidence')}` "
                        f"| {_cell(plain(entry.get('source', '')))} |")
    default = getattr(table, "tool_default_model", None)
    if default:
        rows += ["", f"The Responses `image_generation` tool without a `model` uses `{default}` "
                 f"({plain(getattr(table, 'tool_default_source', ''))})."]
    return "\n".join(rows)


def errors_table(_: str | None = None) -> str:
    import visiontokens as vt

    errors = importlib.import_module("visiontokens._errors")
    classes = [c for c in vars(errors).values()
               if inspect.isclass(c) and issubclass(c, vt.VisionTokensError)]
    rows = ["| error | `code` | bases | raised when |", "|---|---|---|---|"]
    for cls in classes:
        code = cls.__dict__.get("code", getattr(cls, "code", None))
        code = f"`{code}`" if isinstance(code, str) else "—"
        bases = ", ".join(f"`{base.__name__}`" for base in cls.__bases__)
        doc = inspect.getdoc(cls) or ""
        when = " ".join(doc.split("\n\n")[0].split())
        rows.append(f"| `{cls.__name__}` | {code} | {bases} | {_cell(plain(when))} |")
    return "\n".join(rows)


def _summary(path: Path) -> str:
    """The first sentence of a file's docstring or leading comment."""
    text = path.read_text(encoding="utf-8", errors="replace")
    doc = None
    if path.suffix == ".py" or path.suffix == ".pyx":
        try:
            doc = ast.get_docstring(ast.parse(text)) if path.suffix == ".py" else None
        except SyntaxError:
            doc = None
        if doc is None:
            match = re.match(r'\s*(?:#[^\n]*\n\s*)*[rRbBuU]?("""|\'\'\')(.*?)\1', text, re.S)
            doc = match.group(2) if match else None
    if doc is None:
        lines = []
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith(("# cython:", "#!")):
                continue
            if stripped.startswith(("#", "/*", "*")):
                lines.append(stripped.lstrip("#/* ").rstrip("*/ "))
            elif lines or stripped:
                break
        doc = " ".join(lines)
    if not doc:
        return ""
    first = " ".join(doc.strip().split("\n\n")[0].split())
    sentence = plain(re.split(r"(?<=\.)\s", first, maxsplit=1)[0]).rstrip(":.")
    sentence = re.sub(r":(?:func|class|meth):`~?([\w.]+)`", r"\1", sentence).replace("``", "")
    return sentence if len(sentence) <= 100 else sentence[:99].rsplit(" ", 1)[0] + " …"


#: Files whose first lines are not a description (build directives, bare declarations).
_DESCRIBED = {
    "__main__.py": "python -m visiontokens: the command line",
    "_kernels.pxd": "the integer kernels, shared by the scalar and the batch entry points",
    "_tokens_c.pxd": "the declarations of the compiled Model, for the batch twin",
}


def file_map(_: str | None = None) -> str:
    lines = []
    skip = {".so", ".c", ".pyc", ".html"}
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_dir() or path.suffix in skip or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(PACKAGE).as_posix()
        if path.suffix == ".json":
            what = f"rules as data: the {path.parent.name} ruleset {path.stem}"
        elif path.name == "py.typed":
            what = "marks the package as typed"
        elif path.name in _DESCRIBED:
            what = _DESCRIBED[path.name]
        else:
            what = _summary(path) or ""
        lines.append((relative, what))
    width = max(len(name) for name, _ in lines) + 2
    body = "\n".join(f"{name.ljust(width)}{what}".rstrip() for name, what in lines)
    return "```text\nsrc/visiontokens/\n" + "\n".join("  " + line for line in body.splitlines()) + "\n```"


_RULES = {
    "claude": lambda p: f"28-px patches; resized by the documented bisection to at most "
                        f"{p.cap} px a side and {p.budget} patches",
    "gemini_tiles": lambda p: f"{p.base} when both sides are at most {p.short_side} px; else "
                              f"{p.per_tile} per tile, crop unit min side / 1.5 clamped to "
                              f"{p.lo}..{p.hi}",
    "fixed": lambda p: f"{p.base} per image",
    "mistral": lambda p: f"{p.patch}-px patches, merge {p.merge}, at most {p.cap} px a side; "
                         f"rows × (columns + 1)",
    "qwen": lambda p: f"smart_resize, factor {p.patch}, {p.lo:,}..{p.hi:,} pixels; "
                      f"(h/f)(w/f) + {p.markers} markers",
}


def providers_table(argument: str | None) -> str:
    """Every model beyond OpenAI the data lists: its provider, rule per level, what the figure
    is (exact, documented maximum, assumed, empirical), the docs date and the source."""
    import visiontokens as vt

    rows = ["| model | provider | rule per level | figure | docs as of | source |",
            "|---|---|---|---|---|---|"]
    for spec in vt.models():
        if spec.provider == "openai":
            continue
        rules = "; ".join(f"`{level}`: {_RULES[p.scheme](p)}" for level, p in spec.params.items())
        figure = ", ".join(sorted({p.exactness.replace("_", " ") for p in spec.params.values()}))
        rows.append(f"| `{spec.id}` | {spec.provider} | {rules} | {figure} | {spec.docs_as_of} "
                    f"| {_cell(plain(spec.source))} |")
    return "\n".join(rows)


GENERATORS = {
    "providers": providers_table,
    "models": models_table,
    "aliases": aliases_table,
    "undocumented": undocumented_table,
    "output-models": output_models_table,
    "errors": errors_table,
    "file-map": file_map,
}


_LAZY = re.compile(r"^::: visiontokens\.(\w+)$", re.M)


def _lazy_names(markdown: str) -> str:
    """A public name the package loads on first use (``visiontokens.Fetcher``, through the
    module's ``__getattr__``) is not visible to static analysis: document it where it lives,
    found at build time, under its public name."""
    import visiontokens as vt

    def where(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in vars(vt) or name not in getattr(vt, "__all__", ()):
            return match.group(0)
        module = getattr(vt, name).__module__
        return (f"::: {module}.{name}\n    options:\n      show_root_full_path: false\n"
                f"      heading: visiontokens.{name}")

    return _LAZY.sub(where, markdown)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    def generate(match: re.Match[str]) -> str:
        name, argument = match.group(1), match.group(2)
        if name not in GENERATORS:
            raise ValueError(f"{page.file.src_path}: no generated table called {name!r}")
        return GENERATORS[name](argument)

    return _lazy_names(MARKER.sub(generate, markdown))


def on_page_content(html: str, page: Any, config: Any, files: Any) -> str:
    """The API reference renders docstrings: drop their citations of the internal spec."""
    if page.file.src_path.startswith("reference/"):
        return re.sub(r">([^<>]+)<", lambda m: ">" + _CITATION.sub("", m.group(1)) + "<", html)
    return html
