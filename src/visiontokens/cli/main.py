"""The ``visiontokens`` command: ``visiontokens 1800x2400 --model gpt-4.1-mini`` and the
subcommands of ``COMMANDS``.

Bad input gives one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from typing import TYPE_CHECKING, Any, Sequence

from .. import rules
from .._errors import PayloadTooLargeError, VisionTokensError, quoted
from .._spec import MAX_PAYLOAD
from .common import UsageError, add_policies, add_ruleset, cli_message, fetch_option, policies, walk

if TYPE_CHECKING:
    from .._results import ImageCost

#: Exit statuses, the same for every subcommand (documented in docs/cli.md).
EXIT_OK, EXIT_UNCOUNTED, EXIT_USAGE = 0, 1, 2

_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")
#: What a folder walk counts: the formats the API takes, and other image files, so that
#: they are reported as unsupported rather than silently skipped.
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".gif", ".webp", ".bmp", ".tif",
                  ".tiff", ".heic", ".heif", ".avif", ".svg", ".ico", ".psd", ".jp2"}
PROGRESS_FROM = 50  # images: fewer finish before a bar would help


def _size_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visiontokens WIDTHxHEIGHT",
        description="Input tokens of a WIDTHxHEIGHT image on a vision model (OpenAI, Claude, "
        "Gemini, Mistral, Qwen, Amazon Nova 2 Lite), and how they are reached.")
    parser.add_argument("size", help="WIDTHxHEIGHT in pixels, e.g. 1800x2400")
    _add_common(parser)
    return parser


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", "-m", required=True, help="model id, e.g. gpt-4.1-mini")
    parser.add_argument("--detail", "-d", default="auto",
                        help="low, high, original or auto (default: auto); Gemini also takes "
                        "medium and ultra_high")
    add_policies(parser, fidelity=True)
    _add_json(parser)


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="machine-readable JSON output")


def _models_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="visiontokens models",
                                     description="List the models of a ruleset and their "
                                     "parameters.")
    add_ruleset(parser)
    _add_json(parser)
    return parser


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _cmd_size(argv: Sequence[str]) -> int:
    from .. import explain_image_tokens

    args = _size_parser().parse_args(argv)
    match = _SIZE.match(args.size)
    if not match:
        raise UsageError(f"size must look like 1800x2400, got {quoted(args.size)}")
    cost = explain_image_tokens(int(match[1]), int(match[2]), args.model, args.detail,
                                ruleset=args.ruleset, input_fidelity=args.input_fidelity,
                                **policies(args))
    if args.json:
        print(json.dumps(cost.as_dict()))
        return 0
    if cost.provider != "openai":
        print("\n".join(_provider_lines(cost)))
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
    if cost.assumed_from:
        lines.append(f"  assumed     counted like {cost.assumed_from} (ASSUMED: the model's rule "
                     f"is not documented; evidence: {cost.evidence})")
    print("\n".join(lines))
    return 0


#: How the size command says what a provider figure is (ImageCost.exactness).
_EXACTNESS_TEXT = {"exact": "exact", "documented_maximum": "the documented maximum",
                   "assumed": "assumed (part of the rule is inferred)",
                   "empirical": "empirical (third-party evidence)"}


def _provider_lines(cost: ImageCost) -> list[str]:
    """The size command's lines for a model beyond OpenAI: the OpenAI layout, plus what the
    figure is."""
    detail = "does not apply" if cost.detail == "auto" else cost.detail
    tier = f", {cost.tier} tier" if cost.tier else ""
    lines = [
        f"{cost.model} ({cost.provider}, docs as of {cost.docs_as_of}), detail {detail}, "
        f"{cost.scheme} scheme{tier}",
        f"  image       {cost.width} x {cost.height}",
        f"  resized     {cost.resized_width} x {cost.resized_height}",
    ]
    if cost.grid is not None:
        unit = "tiles" if cost.tiles is not None else "patches"
        lines.append(f"  {unit:<11} {cost.grid[0]} x {cost.grid[1]} = {cost.tiles or cost.patches}")
    else:
        lines.append("  flat rate   (the same count whatever the size)")
    if cost.scheme == "mistral" and cost.grid is not None:
        lines.append(f"  breaks      {cost.grid[1]} (a break or end token per row)")
    if cost.marker_tokens:
        lines.append(f"  markers     {cost.marker_tokens} (vision start and end tokens, included)")
    lines.append(f"  tokens      {cost.tokens}")
    lines.append(f"  figure      {_EXACTNESS_TEXT.get(cost.exactness, cost.exactness)}")
    return lines


def _describe_levels(spec: rules.ModelSpec) -> str:
    if spec.levels == ():  # a provider model without detail levels
        only = spec.params[spec.auto]
        what = f"{only.base} per image" if only.scheme == "fixed" else only.scheme
        return f"{what} ({only.exactness}); detail does not apply"
    parts = []
    for level, p in spec.params.items():
        if p.scheme == "patch":
            parts.append(f"{level}: cap {p.cap}" + (f", B {p.budget}" if p.budget else ""))
        elif p.scheme == "flat":
            parts.append(f"{level}: base")
        elif p.scheme == "fixed":
            parts.append(f"{level}: {p.base} ({p.exactness})")
        elif p.scheme != "tile":  # the provider schemes
            parts.append(f"{level}: {p.scheme} ({p.exactness})")
        else:
            parts.append(f"{level}: tiles, S {p.short_side}")
    return "; ".join(parts) + f"; auto = {spec.auto}"


def _image_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visiontokens image",
        description="Input tokens of image files, their sizes read from their headers. "
        "A folder counts the image files in it, recursively; '-' reads one image from "
        "standard input.")
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="image files or folders, or - for standard input")
    _add_common(parser)
    parser.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                        help=f"progress bar on stderr (auto: from {PROGRESS_FROM} images, "
                        "on a terminal)")
    return parser


def _image_paths(arguments: Sequence[str]) -> tuple[list[str], int]:
    """(the paths to count, how many files the folder walks skipped as not images)."""
    paths: list[str] = []
    skipped = 0
    for argument in arguments:
        if argument != "-" and os.path.isdir(argument):
            for folder, subfolders, files in os.walk(argument):
                subfolders.sort()
                for name in sorted(files):
                    if os.path.splitext(name)[1].lower() in IMAGE_SUFFIXES:
                        paths.append(os.path.join(folder, name))
                    else:
                        skipped += 1
        else:
            paths.append(argument)  # named explicitly: always counted, or reported
    return paths, skipped


def _count_file(source: Any, args: argparse.Namespace, model: str) -> Any:
    """``count_image`` with the policy flags: the header's size, counted by
    ``explain_image_tokens`` (which takes ``undocumented=`` and ``enforce_patch_limit=``)."""
    from .. import explain_image_tokens
    from .. import image_info
    from ..images.sources import animation_error
    from ..images.sources import refused_animation

    if args.undocumented == "error" and args.enforce_patch_limit:
        return walk().count_image(source, args.model, args.detail, ruleset=args.ruleset,
                           input_fidelity=args.input_fidelity)
    info = image_info(source)
    if refused_animation(info):
        raise animation_error(info, f"GIF ({info.width}x{info.height})")
    return explain_image_tokens(info.width, info.height, args.model, args.detail,
                                ruleset=args.ruleset, input_fidelity=args.input_fidelity,
                                **policies(args))


def _cmd_image(argv: Sequence[str]) -> int:
    from .. import get_model

    args = _image_parser().parse_args(argv)
    # Model, detail, ruleset and fidelity are checked once, up front: one error, not one a row.
    model = get_model(args.model, ruleset=args.ruleset, **policies(args))
    model.count(1, 1, args.detail, input_fidelity=args.input_fidelity)
    missing = [p for p in args.paths if p != "-" and not os.path.exists(p)]
    if missing:  # a name on the command line that is not there: the command line is wrong
        raise UsageError(f"no such file or folder: {missing[0]}")
    paths, skipped = _image_paths(args.paths)
    show_progress = args.progress == "always" or (
        args.progress == "auto" and len(paths) >= PROGRESS_FROM and sys.stderr.isatty())
    width = max([len(path) for path in paths] + [5])
    rows: list[dict[str, object]] = []
    total = failed = 0
    for done, path in enumerate(paths, 1):
        try:
            source = read_limited(sys.stdin.buffer, "standard input") if path == "-" else path
            cost = _count_file(source, args, model.id)
            row: dict[str, object] = {"path": path, **cost.as_dict(), "error": None}
            total += cost.tokens
            line = f"{path:<{width}}  {f'{cost.width}x{cost.height}':>11}  {cost.tokens:>8}"
        except (VisionTokensError, OSError) as error:  # reported on its row; the rest go on
            row = {"path": path, "tokens": None, "error": cli_message(error),
                   "code": getattr(error, "code", "os_error")}
            failed += 1
            line = f"{path:<{width}}  error: {cli_message(error)}"
        rows.append(row)
        if not args.json:  # rows as they are counted: a long walk shows its progress
            if show_progress:
                print("\r\033[K", end="", file=sys.stderr)
            print(line, flush=show_progress)
        if show_progress:
            _progress(done, len(paths))
    if show_progress:
        print(file=sys.stderr)
    if args.json:
        print(json.dumps({"images": rows, "total_tokens": total, "counted": len(rows) - failed,
                          "failed": failed, "skipped": skipped}))
    else:
        summary = _plural(len(rows) - failed, "image") + (f", {failed} failed" if failed else "")
        print(f"{'total':<{width}}  {summary:>11}  {total:>8}")
        if skipped:
            print(f"({_plural(skipped, 'file')} in the folders skipped: not image files)")
    return 1 if failed else 0


def _progress(done: int, total: int) -> None:
    filled = 30 * done // total
    print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{total}", end="", file=sys.stderr,
          flush=True)


def _request_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visiontokens request",
        description="Image tokens of a Chat Completions, Responses, Images API, Anthropic "
        "Messages or Gemini generateContent request body, "
        "image by image, and the output image tokens it may generate ('-' reads standard input).")
    parser.add_argument("body", help="a JSON request body, or - for standard input")
    add_policies(parser, fetch=True)
    parser.add_argument("--collect", action="store_true",
                        help="report invalid images on their row instead of stopping")
    parser.add_argument("--content-type", default=None,
                        help="the body's content type (default: JSON, or multipart/form-data "
                        "when the body's first line is --BOUNDARY, as a form's is)")
    parser.add_argument("--api", default=None,
                        choices=("chat", "responses", "images.generations", "images.edits",
                                 "anthropic.messages", "gemini.generate_content"),
                        help="the endpoint the body is for (default: told by its shape)")
    parser.add_argument("--model", "-m", default=None,
                        help="the model the request is for, when the body names none (a "
                        "generateContent body: its model is in the URL) or another one")
    _add_json(parser)
    return parser


#: RFC 2046 section 5.1.1: a boundary is 1 to 70 of these characters, not ending in a space.
_BOUNDARY = re.compile(rb"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")


def multipart_type(body: bytes) -> str | None:
    """``multipart/form-data; boundary=B`` when the body opens with a ``--B`` line, as every
    multipart body does (its first delimiter); None otherwise (JSON)."""
    if not body.startswith(b"--"):
        return None
    end = body.find(b"\n", 0, 80)
    if end < 0:
        return None
    boundary = body[2:end].rstrip(b"\r")
    if not _BOUNDARY.fullmatch(boundary):
        return None
    return f"multipart/form-data; boundary={boundary.decode('ascii')}"


def _cmd_request(argv: Sequence[str]) -> int:
    count_request = walk().count_request
    args = _request_parser().parse_args(argv)
    fetch = fetch_option(args)
    if args.body == "-":
        text = read_limited(sys.stdin.buffer, "standard input")
    else:
        if not os.path.exists(args.body):
            raise UsageError(f"no such file: {args.body}")
        with open(args.body, "rb") as file:
            text = read_limited(file, args.body)
    content_type = args.content_type or multipart_type(text)
    result = count_request(text, ruleset=args.ruleset, fetch=fetch,
                           on_unknown="upper_bound" if args.upper_bound else "error",
                           on_violation="collect" if args.collect else "raise",
                           content_type=content_type, api=args.api, model=args.model,
                           **policies(args))
    if args.json:
        print(json.dumps({
            "model": result.model, "api": result.api, "image_tokens": result.image_tokens,
            "upper_bound": result.upper_bound,
            "output_image_tokens": result.output_image_tokens,
            "output_upper_bound": result.output_upper_bound,
            "images": [{**i._asdict(), "error": None if i.error is None else _error_json(i.error)}
                       for i in result.images],
            "violations": [_error_json(v) for v in result.violations],
            "skipped": [s._asdict() for s in result.skipped]}))
        return 1 if result.violations else 0
    print(f"{result.api} request, model {result.model}: {_plural(len(result.images), 'image')}")
    width = max([len(i.pointer) for i in result.images] + [5])
    for image in result.images:
        if image.error is not None:
            print(f"  {image.pointer:<{width}}  error: {cli_message(image.error)}")
            continue
        size = "?" if image.width is None else f"{image.width}x{image.height}"
        kind = image.format or image.source
        bound = "  (upper bound: " + str(image.note) + ")" if image.upper_bound else ""
        rule = f"  ({image.rule})" if image.rule else ""
        print(f"  {image.pointer:<{width}}  {kind:<6} {size:>11}  {image.resolved_detail or '-':<8} "
              f"{image.tokens:>7}{bound}{rule}")
    for violation in result.violations:
        if not any(violation is i.error for i in result.images):
            print(f"  error: {cli_message(violation)}")
    for part in result.skipped:  # spec 6.1: files and the other API's parts, not counted
        print(f"  {part.pointer:<{width}}  not counted ({part.type}): {part.reason}")
    marker = " (an upper bound)" if result.upper_bound else ""
    print(f"  {'total':<{width}}  {'':<6} {'':>11}  {'':<8} {result.image_tokens:>7}{marker}")
    if result.output_image_tokens or result.api.startswith("images."):  # spec 6.2
        marker = " (an upper bound)" if result.output_upper_bound else ""
        print(f"  {'output':<{width}}  {'':<6} {'':>11}  {'':<8} "
              f"{result.output_image_tokens:>7}{marker}  output image tokens")
    return 1 if result.violations else 0


def _error_json(error: VisionTokensError) -> dict[str, object]:
    """A violation in ``--json`` output: data, not text to parse (its hint naming the flag)."""
    return {"pointer": error.pointer, "code": error.code,
            "message": cli_message(error, error.message)}


#: How many bytes a body or an image read from a file or standard input may hold: the API's
#: limit on a request's payload (spec 5), so a stream of zeros ends with our error, not a
#: MemoryError.
READ_LIMIT = MAX_PAYLOAD


def read_limited(stream: Any, what: str, limit: int | None = None) -> bytes:
    """All of ``stream``, or PayloadTooLargeError as soon as it holds more than ``limit``
    bytes (READ_LIMIT when None): never more than ``limit`` + one chunk is held."""
    limit = READ_LIMIT if limit is None else limit
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = stream.read(min(1 << 20, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            chunks.clear()
            raise PayloadTooLargeError(f"{what} holds more than {limit} bytes, the most a "
                                       "request may carry")
    return b"".join(chunks)


def _generate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visiontokens generate",
        description="Output image tokens of generating images with a GPT Image model, "
        "and how they are reached.")
    parser.add_argument("--model", "-m", required=True, help="image model, e.g. gpt-image-2")
    parser.add_argument("--size", "-s", default="auto",
                        help="WIDTHxHEIGHT as the API takes it, or auto (default: auto, an "
                        "upper bound)")
    parser.add_argument("--quality", "-q", default="auto",
                        help="low, medium, high or auto (default: auto, an upper bound)")
    parser.add_argument("--n", "-n", type=int, default=1, help="number of images (default: 1)")
    parser.add_argument("--partial-images", type=int, default=0,
                        help="streamed partial images per image, 0-3 (default: 0)")
    add_policies(parser, patch_limit=False)
    _add_json(parser)
    return parser


def _cmd_generate(argv: Sequence[str]) -> int:
    from .. import explain_output_image_tokens

    args = _generate_parser().parse_args(argv)
    cost = explain_output_image_tokens(args.model, args.size, args.quality, n=args.n,
                                       partial_images=args.partial_images, ruleset=args.ruleset,
                                       undocumented=args.undocumented)
    if args.json:
        print(json.dumps(cost.as_dict()))
        return 0
    how = "EMPIRICAL rule (no published formula)" if cost.empirical else "documented table"
    if cost.assumed_from:
        how += f", counted like {cost.assumed_from} (ASSUMED: undocumented model)"
    lines = [f"{cost.model} (ruleset {cost.ruleset}), output image tokens: {how}",
             f"  size        {cost.priced_size}" + ("" if cost.size == cost.priced_size
                                                     else f" (asked: {cost.size})"),
             f"  quality     {cost.priced_quality}" + ("" if cost.quality == cost.priced_quality
                                                        else f" (asked: {cost.quality})"),
             f"  per image   {cost.per_image_tokens}"]
    if cost.partial_images:
        lines.append(f"  partials    {cost.partial_images} x {cost.partial_image_tokens} per image")
    if cost.n != 1:
        lines.append(f"  images      {cost.n}")
    lines.append(f"  tokens      {cost.tokens}" + (" (an upper bound)" if cost.upper_bound else ""))
    if cost.why:
        lines.append(f"  why         {cost.why}")
    print("\n".join(lines))
    return 0


def _level_json(p: rules.DetailParams) -> dict[str, object]:
    """One detail level as ``models --json`` shows it: its scheme and every parameter that
    applies to it."""
    if p.scheme in ("claude", "gemini_tiles", "fixed", "mistral", "qwen"):  # providers.md
        names = {"claude": ("patch", "cap", "budget"), "fixed": ("base",),
                 "gemini_tiles": ("short_side", "base", "per_tile", "lo", "hi"),
                 "mistral": ("patch", "cap", "merge"), "qwen": ("patch", "lo", "hi", "markers")}
        return {"scheme": p.scheme, **{name: getattr(p, name) for name in names[p.scheme]},
                "exactness": p.exactness}
    level: dict[str, object] = {"scheme": p.scheme, "cap": p.cap}
    if p.scheme == "patch":
        level.update(budget=p.budget or None, multiplier=f"{p.mult_num}/{p.mult_den}",
                     reject_over=p.reject_over or None)
    else:
        level.update(base=p.base)
        if p.scheme == "tile":
            level.update(short_side=p.short_side, per_tile=p.per_tile)
    if p.fidelity_square or p.fidelity_other:  # spec 3.3: GPT Image 1, input_fidelity="high"
        level["input_fidelity_high"] = {"square": p.fidelity_square, "other": p.fidelity_other}
    return level


#: What the short column names of ``models`` mean (printed under the listing, and in --json).
LEGEND = {
    "patch": "patch scheme: the image is cut into 32x32 patches, tokens = patches x the multiplier",
    "tile": "tile scheme: base tokens plus per-tile tokens for each 512x512 tile",
    "xM": "the patch multiplier M (tokens per patch)",
    "A + T/tile": "base tokens A, plus T tokens per tile",
    "cap": "the longest side (pixels) an image is scaled down to first",
    "B": "the patch budget: the most patches an image is scaled to fit",
    "S": "the shortest side (pixels) a tile image is scaled to",
    "base": "at this detail level the image costs the base tokens, whatever its size",
    "tiles": "at this detail level the image costs base + per-tile tokens",
    "auto": "the detail level 'auto' is billed at",
    "table": "output tokens read from the documented table of sizes and qualities",
    "flexible": "output tokens computed from any allowed size (EMPIRICAL: no published formula)",
    "claude": "Anthropic's rule: one token per 28x28 patch, the image scaled down until it "
              "fits the tier's edge and token caps",
    "gemini_tiles": "Gemini's tile rule: a fixed count for a small image, else a fixed count "
                    "per tile",
    "fixed": "a fixed count per image (per detail level where the model has them)",
    "mistral": "Mistral's rule: one token per patch cell of the image scaled to its maximum "
               "size, plus a break or end token per row",
    "qwen": "Qwen's rule: one token per merged patch of the image rounded to the patch grid "
            "within its pixel limits, plus vision start and end tokens",
    "exact": "the figure is exact: the provider documents the rule",
    "documented_maximum": "the figure is the most the provider documents; the bill may be lower",
    "assumed": "part of the rule is inferred (ASSUMED), not documented",
    "empirical": "the rule rests on third-party measurements (EMPIRICAL)",
    "[legacy]": "dropped from the current guide: its last documented rule",
    "[deprecated]": "deprecated by OpenAI, still billed by this rule",
}


def _undocumented_rows(ruleset: rules.Ruleset) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = [
        {"id": name, "like": entry.like, "evidence": entry.evidence, "source": entry.source}
        for name, entry in sorted(ruleset.undocumented.items())]
    rows += [{"id": prefix + "*", "like": entry.like, "evidence": entry.evidence,
              "source": entry.source} for prefix, entry in ruleset.undocumented_prefixes]
    return rows


def _output_rows(name: str | None) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(documented output models, undocumented output models) of a ruleset."""
    table = rules.output_table(name)
    documented = [
        {"id": m.id, "rule": m.rule, "qualities": list(m.qualities), "sizes": list(m.sizes),
         "empirical": m.empirical, "partial_image_tokens": m.partial_image_tokens,
         "status": m.status, "source": m.source}
        for m in rules.output_models(name)]
    undocumented: list[dict[str, object]] = []
    for entry in table.undocumented:
        for ident in list(entry.get("ids", ())) + [p + "*" for p in entry.get("prefixes", ())]:
            undocumented.append({"id": ident, "like": entry["like"],
                                 "evidence": entry["evidence"], "source": entry["source"]})
    return documented, undocumented


def _cmd_models(argv: Sequence[str]) -> int:
    args = _models_parser().parse_args(argv)
    specs = rules.models(args.ruleset)
    ruleset = rules.get_ruleset(args.ruleset)
    outputs, outputs_undocumented = _output_rows(ruleset.name)
    undocumented = _undocumented_rows(ruleset)
    if args.json:
        print(json.dumps({
            "ruleset": ruleset.name, "description": ruleset.description,
            "input_models": [
                {"id": s.id, "ruleset": s.ruleset, "scheme": s.scheme, "multiplier": s.multiplier,
                 "base": s.base, "per_tile": s.per_tile, "auto": s.auto, "status": s.status,
                 "source": s.source, "provider": s.provider,
                 "docs_as_of": s.docs_as_of or s.ruleset,
                 "details": {lvl: _level_json(p) for lvl, p in s.params.items()}}
                for s in specs],
            "aliases": dict(ruleset.aliases),
            "undocumented_models": undocumented,
            "output_models": outputs,
            "undocumented_output_models": outputs_undocumented,
            "legend": LEGEND,
        }, indent=1))
        return 0
    print(f"ruleset {ruleset.name}: {ruleset.description}")
    print("input models (image input tokens; OpenAI's first, then each provider's):")
    width = max([len(s.id) for s in specs] + [22])
    schemes = max([len(s.scheme) for s in specs] + [5])
    for s in sorted(specs, key=lambda s: (s.provider != "openai", s.provider, s.id)):
        if s.provider != "openai":
            cost = f"{s.provider}, {s.docs_as_of}"
        else:
            cost = f"x{s.multiplier}" if s.scheme == "patch" else f"{s.base} + {s.per_tile}/tile"
        flag = "" if s.status == "current" else f" [{s.status}]"
        print(f"  {s.id:<{width}} {s.scheme:<{schemes}} {cost:<17} {_describe_levels(s)}{flag}")
    if ruleset.aliases:
        print("aliases:")
        for alias, target in sorted(ruleset.aliases.items()):
            print(f"  {alias:<22} -> {target}")
    print("undocumented input models (counted only with --undocumented assume):")
    for row in undocumented:
        print(f"  {row['id']:<22} like {row['like']:<16} evidence: {row['evidence']}")
    print("output models (image output tokens, visiontokens generate):")
    for row in outputs:
        how = "EMPIRICAL rule" if row["empirical"] else "documented table"
        sizes = ", ".join(row["sizes"]) or "flexible sizes"  # type: ignore[arg-type]
        print(f"  {row['id']:<22} {row['rule']:<8} {sizes}; "
              f"{', '.join(row['qualities'])}; {how}")  # type: ignore[arg-type]
    print("undocumented output models (counted only with --undocumented assume):")
    for row in outputs_undocumented:
        print(f"  {row['id']:<22} like {row['like']:<16} evidence: {row['evidence']}")
    print("legend:")
    for key, meaning in LEGEND.items():
        print(f"  {key:<18} {meaning}")
    return 0


def _cmd_logs(argv: Sequence[str]) -> int:
    from .logs import main as logs  # pyarrow and matplotlib load only here

    return logs(argv)


def _cmd_serve(argv: Sequence[str]) -> int:
    from .serve import main as serve  # uvicorn loads only here

    return serve(argv)


def _cmd_calibrate(argv: Sequence[str]) -> int:
    from .calibrate import main as calibrate  # numpy loads only here

    return calibrate(argv)


#: Subcommand -> (what it does, its function). A first argument that is none of these and
#: looks like a size (digits, an x, digits) is the size command.
COMMANDS = {
    "image": ("input tokens of image files, sizes read from their headers", _cmd_image),
    "request": ("image tokens of a Chat Completions, Responses, Images API, Anthropic Messages "
                "or Gemini generateContent request body",
                _cmd_request),
    "models": ("the models of a ruleset and their parameters", _cmd_models),
    "logs": ("image tokens of request logs (JSONL, Parquet, CSV) per model and detail",
             _cmd_logs),
    "generate": ("output image tokens of generating images (GPT Image models)", _cmd_generate),
    "serve": ("an HTTP service counting request bodies for gateways (/v1/count, /v1/check)",
              _cmd_serve),
    "calibrate": ("fit a rule to billed rows (width, height, detail, tokens)", _cmd_calibrate),
}


def _usage() -> str:
    from .. import __version__

    lines = [f"visiontokens {__version__}: exact input-token counts for images on OpenAI models",
             "", "usage: visiontokens WIDTHxHEIGHT --model M [--detail D] [--ruleset R] [--json]",
             "       visiontokens COMMAND ...", "", "commands:",
             f"  {'WIDTHxHEIGHT':<14}input tokens of one image size, and how they are reached"]
    lines += [f"  {name:<14}{summary}" for name, (summary, _) in COMMANDS.items()]
    lines += ["", "'visiontokens COMMAND --help' (or 'visiontokens 1x1 --help') for its options;",
              "'visiontokens --version' for the version."]
    return "\n".join(lines)


def _unknown_command(word: str) -> str:
    from .._errors import closest

    names = list(COMMANDS)
    hint = closest(word, names, n=1)
    guess = f"; did you mean {hint[0]!r}?" if hint else ""
    return (f"{quoted(word)} is not a command or a WIDTHxHEIGHT size{guess} "
            f"(commands: {', '.join(names)}; 'visiontokens --help' lists them)")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    first = argv[0] if argv else ""
    try:
        if first in ("", "-h", "--help", "help"):
            print(_usage())
            return 0 if first else 2
        if first in ("-V", "--version"):
            from .. import IMPLEMENTATION, _extensions
            from .. import __version__

            print(f"visiontokens {__version__} ({IMPLEMENTATION})")
            if IMPLEMENTATION != "cython":
                print(_extensions.fallback_text())
            return 0
        if first in COMMANDS:
            return COMMANDS[first][1](argv[1:])
        if not first[:1].isdigit() and not first.startswith("-"):
            raise UsageError(_unknown_command(first))
        return _cmd_size(argv)
    except BrokenPipeError:  # `visiontokens models | head`: the reader left, nothing to say
        sys.stdout = None
        return EXIT_OK
    except SystemExit as stop:  # argparse: 0 after --help, 2 for a bad flag (its own line)
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    except UsageError as error:
        print(f"visiontokens: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (VisionTokensError, OSError) as error:
        print(f"visiontokens: error: {cli_message(error)}", file=sys.stderr)
        return EXIT_UNCOUNTED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
