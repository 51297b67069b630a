"""The ``visiontokens`` command: ``visiontokens 1800x2400 --model gpt-4.1-mini``.

Bad input gives one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Sequence

from . import _registry
from ._errors import VisionTokensError

_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")
COMMANDS = ("models", "image", "request")
#: What a folder walk counts: the formats the API takes, and other image files, so that
#: they are reported as unsupported rather than silently skipped.
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".gif", ".webp", ".bmp", ".tif",
                  ".tiff", ".heic", ".heif", ".avif", ".svg", ".ico", ".psd", ".jp2"}
PROGRESS_FROM = 50  # images: fewer finish before a bar would help


def _size_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visiontokens",
        description="Input tokens of an image on an OpenAI vision model. "
        "Other commands: 'visiontokens request BODY.json', 'visiontokens image PATH...', "
        "'visiontokens models'.",
    )
    parser.add_argument("size", help="WIDTHxHEIGHT in pixels, e.g. 1800x2400")
    _add_common(parser)
    parser.add_argument("--input-fidelity", choices=("low", "high"), default=None,
                        help="GPT Image 1 input fidelity")
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", required=True, help="model id, e.g. gpt-4.1-mini")
    parser.add_argument("--detail", "-d", default="auto", help="low, high, original or auto")
    parser.add_argument("--ruleset", "-r", default=None,
                        help=f"dated ruleset (default {_registry.DEFAULT_RULESET})")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _models_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visiontokens models",
                                     description="List the models of a ruleset.")
    parser.add_argument("--ruleset", "-r", default=None)
    parser.add_argument("--json", action="store_true")
    return parser


def _cmd_size(argv: Sequence[str]) -> int:
    from . import explain_image_tokens

    args = _size_parser().parse_args(argv)
    match = _SIZE.match(args.size)
    if not match:
        raise VisionTokensError(f"size must look like 1800x2400, got {args.size!r}")
    cost = explain_image_tokens(int(match[1]), int(match[2]), args.model, args.detail,
                                ruleset=args.ruleset, input_fidelity=args.input_fidelity)
    if args.json:
        print(json.dumps(cost.as_dict()))
        return 0
    lines = [
        f"{cost.model} (ruleset {cost.ruleset}), detail {cost.detail}, {cost.scheme} scheme",
        f"  image       {cost.width} x {cost.height}",
        f"  resized     {cost.resized_width} x {cost.resized_height}",
    ]
    if cost.patches is not None:
        lines += [f"  patches     {cost.patches}", f"  multiplier  {cost.multiplier}"]
    elif cost.tiles is not None:
        lines.append(f"  tiles       {cost.tiles}")
    else:
        lines.append("  flat rate   (low detail: the base, whatever the size)")
    lines.append(f"  tokens      {cost.tokens}")
    print("\n".join(lines))
    return 0


def _describe_levels(spec: _registry.ModelSpec) -> str:
    parts = []
    for level, p in spec.params.items():
        if p.scheme == "patch":
            parts.append(f"{level}: cap {p.cap}" + (f", B {p.budget}" if p.budget else ""))
        elif p.scheme == "flat":
            parts.append(f"{level}: base")
        else:
            parts.append(f"{level}: tiles, S {p.short_side}")
    return "; ".join(parts) + f"; auto = {spec.auto}"


def _image_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visiontokens image",
        description="Input tokens of image files, their sizes read from their headers. "
        "A folder counts the image files in it, recursively.")
    parser.add_argument("paths", nargs="+", help="image files or folders")
    _add_common(parser)
    parser.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                        help=f"progress on stderr (auto: from {PROGRESS_FROM} images, on a terminal)")
    return parser


def _image_paths(arguments: Sequence[str]) -> list[str]:
    import os

    paths: list[str] = []
    for argument in arguments:
        if os.path.isdir(argument):
            found = []
            for folder, subfolders, files in os.walk(argument):
                subfolders.sort()
                found += [os.path.join(folder, name) for name in sorted(files)
                          if os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES]
            paths += found
        else:
            paths.append(argument)  # named explicitly: always counted, or reported
    return paths


def _cmd_image(argv: Sequence[str]) -> int:
    from . import count_image

    args = _image_parser().parse_args(argv)
    _registry.get_ruleset(args.ruleset)  # a bad ruleset is one error, not one per row
    paths = _image_paths(args.paths)
    show_progress = args.progress == "always" or (
        args.progress == "auto" and len(paths) >= PROGRESS_FROM and sys.stderr.isatty())
    rows: list[dict[str, object]] = []
    for done, path in enumerate(paths, 1):
        try:
            cost = count_image(path, args.model, args.detail, ruleset=args.ruleset)
            rows.append({"path": path, **cost.as_dict(), "error": None})
        except (VisionTokensError, OSError) as error:  # reported on its row; the rest go on
            rows.append({"path": path, "tokens": None, "error": str(error)})
        if show_progress:
            _progress(done, len(paths))
    if show_progress:
        print(file=sys.stderr)
    total = sum(int(row["tokens"]) for row in rows if row["error"] is None)  # type: ignore[call-overload]
    failed = sum(row["error"] is not None for row in rows)
    if args.json:
        print(json.dumps({"images": rows, "total_tokens": total, "counted": len(rows) - failed,
                          "failed": failed}))
    else:
        width = max([len(str(row["path"])) for row in rows] + [5])
        for row in rows:
            if row["error"] is None:
                size = f"{row['width']}x{row['height']}"
                print(f"{row['path']:<{width}}  {size:>11}  {row['tokens']:>8}")
            else:
                print(f"{row['path']:<{width}}  error: {row['error']}")
        summary = f"{len(rows) - failed} images" + (f", {failed} failed" if failed else "")
        print(f"{'total':<{width}}  {summary:>11}  {total:>8}")
    return 1 if failed else 0


def _progress(done: int, total: int) -> None:
    filled = 30 * done // total
    print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total}", end="", file=sys.stderr,
          flush=True)


def _request_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visiontokens request",
        description="Image tokens of a Chat Completions or Responses request body, image by "
        "image ('-' reads standard input).")
    parser.add_argument("body", help="a JSON request body, or - for standard input")
    parser.add_argument("--ruleset", "-r", default=None,
                        help=f"dated ruleset (default {_registry.DEFAULT_RULESET})")
    parser.add_argument("--fetch", action="store_true",
                        help="fetch http(s) images (public addresses only) to read their size")
    parser.add_argument("--upper-bound", action="store_true",
                        help="count an image of unknown size at the most it could cost")
    parser.add_argument("--collect", action="store_true",
                        help="report invalid images on their row instead of stopping")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _cmd_request(argv: Sequence[str]) -> int:
    from . import count_request

    args = _request_parser().parse_args(argv)
    if args.body == "-":
        text = sys.stdin.buffer.read()
    else:
        with open(args.body, "rb") as file:
            text = file.read()
    result = count_request(text, ruleset=args.ruleset, fetch=args.fetch,
                           on_unknown="upper_bound" if args.upper_bound else "error",
                           on_violation="collect" if args.collect else "raise")
    if args.json:
        print(json.dumps({
            "model": result.model, "api": result.api, "image_tokens": result.image_tokens,
            "upper_bound": result.upper_bound,
            "images": [{**i._asdict(), "error": None if i.error is None else str(i.error)}
                       for i in result.images],
            "violations": [str(v) for v in result.violations]}))
        return 1 if result.violations else 0
    print(f"{result.api} request, model {result.model}: {len(result.images)} images")
    width = max([len(i.pointer) for i in result.images] + [5])
    for image in result.images:
        if image.error is not None:
            print(f"  {image.pointer:<{width}}  error: {image.error}")
            continue
        size = "?" if image.width is None else f"{image.width}x{image.height}"
        kind = image.format or image.source
        bound = "  (upper bound: " + str(image.note) + ")" if image.upper_bound else ""
        print(f"  {image.pointer:<{width}}  {kind:<5} {size:>11}  {image.resolved_detail:<8} "
              f"{image.tokens:>7}{bound}")
    for violation in result.violations:
        if not any(violation is i.error for i in result.images):
            print(f"  error: {violation}")
    marker = " (an upper bound)" if result.upper_bound else ""
    print(f"  {'total':<{width}}  {'':<5} {'':>11}  {'':<8} {result.image_tokens:>7}{marker}")
    return 1 if result.violations else 0


def _cmd_models(argv: Sequence[str]) -> int:
    args = _models_parser().parse_args(argv)
    specs = _registry.models(args.ruleset)
    if args.json:
        print(json.dumps([
            {"id": s.id, "ruleset": s.ruleset, "scheme": s.scheme, "multiplier": s.multiplier,
             "base": s.base, "per_tile": s.per_tile, "auto": s.auto, "status": s.status,
             "source": s.source,
             "details": {lvl: {"cap": p.cap, "budget": p.budget or None, "short_side": p.short_side or None}
                         for lvl, p in s.params.items()}}
            for s in specs
        ], indent=1))
        return 0
    ruleset = _registry.get_ruleset(args.ruleset)
    print(f"ruleset {ruleset.name}: {ruleset.description}")
    for s in specs:
        cost = f"x{s.multiplier}" if s.scheme == "patch" else f"{s.base} + {s.per_tile}/tile"
        flag = "" if s.status == "current" else f" [{s.status}]"
        print(f"  {s.id:<22} {s.scheme:<5} {cost:<16} {_describe_levels(s)}{flag}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = {"models": _cmd_models, "image": _cmd_image, "request": _cmd_request}.get(
        argv[0] if argv else "", None)
    try:
        if command is not None:
            return command(argv[1:])
        return _cmd_size(argv)
    except BrokenPipeError:  # `visiontokens models | head`: the reader left, nothing to say
        sys.stdout = None
        return 0
    except (VisionTokensError, OSError) as error:
        print(f"visiontokens: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
