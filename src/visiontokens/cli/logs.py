"""``visiontokens logs FILE...``: what logged requests spent on images, per model and detail.

Two kinds of log:

- **JSONL**, one request body per line (Chat Completions or Responses), each counted by
  ``count_request`` (``--upper-bound`` and ``--fetch`` as in ``visiontokens request``);
- **tables**, Parquet or CSV, one image per row with width, height, model and (optionally)
  detail columns, counted a batch of rows at a time by ``count_image_tokens_batch``.

A bad row (not JSON, not a request, an image the API would refuse, a size out of range, a
missing value) is reported on stderr with its file and line (row, for Parquet) and counted;
the rest go on. ``--strict`` stops at the first one instead, with exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Iterator, Sequence

from .._errors import VisionTokensError

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv")
TABLE_BATCH = 65_536  # rows per batch call on tables
PROGRESS_EVERY = 2_000  # JSONL lines between progress updates


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="visiontokens logs",
        description="Image tokens of request logs, summed per model and detail: JSONL with "
        "one request body per line, or a Parquet/CSV table with one image per row.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="log files (.jsonl, .parquet, .csv), or - for JSONL on standard input")
    p.add_argument("--format", choices=("auto", "jsonl", "parquet", "csv"), default="auto",
                   help="how to read the files (default: by their suffix)")
    p.add_argument("--ruleset", "-r", default=None,
                   help="dated ruleset (default: the newest)")
    jsonl = p.add_argument_group("JSONL request logs")
    jsonl.add_argument("--fetch", action="store_true",
                       help="fetch http(s) images (public addresses only) to read their size")
    jsonl.add_argument("--upper-bound", action="store_true",
                       help="count an image of unknown size at the most it could cost")
    table = p.add_argument_group("Parquet and CSV tables")
    table.add_argument("--width-column", default="width", help="(default: width)")
    table.add_argument("--height-column", default="height", help="(default: height)")
    table.add_argument("--model-column", default="model", help="(default: model)")
    table.add_argument("--detail-column", default="detail",
                       help="(default: detail; without such a column every row is auto)")
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="the summary as JSON on stdout")
    out.add_argument("--out", metavar="FILE.parquet",
                     help="write one result row per log row (needs pyarrow)")
    out.add_argument("--plot", metavar="FILE.png",
                     help="draw tokens by model (needs matplotlib: visiontokens[plot])")
    out.add_argument("--strict", action="store_true",
                     help="stop at the first bad row, with exit status 1")
    out.add_argument("--max-errors", type=int, default=100, metavar="N",
                     help="bad rows to print on stderr and list in --json (all are counted, "
                     "and --out has every one; default: 100)")
    out.add_argument("--progress", choices=("auto", "always", "never"), default="auto",
                     help="progress bar on stderr (auto: on a terminal)")
    return p


class StrictStop(Exception):
    """--strict and a bad row: stop."""


class Tally:
    """What the logs add up to, and the per-row results when --out asks for them."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.groups: dict[tuple[str, str], list[int]] = {}  # (model, detail) -> [images, tokens, at bound]
        self.rows = self.bad = 0
        self.errors: list[dict[str, object]] = []
        self.keep = args.out is not None  # per-row results for --out
        self.results: dict[str, list[Any]] | None = None  # JSONL rows for --out
        self.tables: list[Any] = []  # table batches for --out

    def add(self, model: str, detail: str, images: int, tokens: int, at_bound: int = 0) -> None:
        group = self.groups.get((model, detail))
        if group is None:
            group = self.groups[(model, detail)] = [0, 0, 0]
        group[0] += images
        group[1] += tokens
        group[2] += at_bound

    def bad_row(self, file: str, where: str, error: object) -> None:
        self.bad += 1
        entry = {"file": file, "line" if where.startswith("line") else "row": int(where.split()[1]),
                 "error": str(error)}
        if len(self.errors) < self.args.max_errors:
            self.errors.append(entry)
            print(f"{file}:{where.split()[1]}: {error}" if where.startswith("line")
                  else f"{file}: {where}: {error}", file=sys.stderr)
        if self.args.strict:
            raise StrictStop()


class Progress:
    """A bar on stderr: how much of the input is read (bytes of JSONL, rows of Parquet);
    for CSV, whose length is not known up front, the rows so far."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total

    def show(self, done: int, rows: int) -> None:
        if not self.enabled:
            return
        if self.total <= 0:
            print(f"\r\033[K{rows:,} rows", end="", file=sys.stderr, flush=True)
            return
        filled = min(30, 30 * done // self.total)
        print(f"\r\033[K[{'#' * filled}{'.' * (30 - filled)}] {100 * done // self.total:3d}% "
              f"{rows:,} rows", end="", file=sys.stderr, flush=True)

    def end(self) -> None:
        if self.enabled:
            print(file=sys.stderr)


def _format(path: str, requested: str) -> str:
    if requested != "auto":
        return requested
    lower = path.lower()
    if path == "-" or lower.endswith(JSONL_SUFFIXES):
        return "jsonl"
    if lower.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if lower.endswith(CSV_SUFFIXES):
        return "csv"
    with open(path, "rb") as file:  # no telling suffix: look at the first byte
        head = file.read(4)
    if head == b"PAR1":
        return "parquet"
    if head.lstrip()[:1] in (b"{", b""):
        return "jsonl"
    raise VisionTokensError(f"{path}: cannot tell the format from the name; use --format")


# --- JSONL ---------------------------------------------------------------------------------

def _jsonl_lines(path: str) -> Iterator[tuple[int, bytes, int]]:
    """(line number, line, bytes read so far) of a JSONL file or stdin."""
    if path == "-":
        done = 0
        for number, line in enumerate(sys.stdin.buffer, 1):
            done += len(line)
            yield number, line, done
        return
    opener = open
    if path.lower().endswith(".gz"):
        import gzip

        opener = gzip.open  # type: ignore[assignment]
    with opener(path, "rb") as file:
        done = 0
        for number, line in enumerate(file, 1):
            done += len(line)
            yield number, line, done


def _count_jsonl(path: str, tally: Tally, progress: Progress, base: int) -> int:
    from .. import get_model
    from .main import walk

    count_request = walk().count_request

    args = tally.args
    fetch = bool(args.fetch)
    on_unknown = "upper_bound" if args.upper_bound else "error"
    results = tally.results
    done = 0
    canonical: dict[object, str] = {}
    for number, line, done in _jsonl_lines(path):
        if not line.strip():
            continue  # a blank line is not a request
        tally.rows += 1
        try:
            result = count_request(line, ruleset=args.ruleset, fetch=fetch,
                                   on_unknown=on_unknown)
        except VisionTokensError as error:
            if results is not None:
                _jsonl_result(results, path, number, None, None, 0, None, False, str(error))
            tally.bad_row(path, f"line {number}", error)
            continue
        for image in result.images:
            model = result.model
            if model not in canonical:  # the request's name as the model's canonical id
                try:
                    if model is None:
                        raise VisionTokensError("no model")
                    canonical[model] = get_model(model, ruleset=args.ruleset).id
                except VisionTokensError:
                    canonical[model] = str(model)
            tally.add(canonical[model], image.resolved_detail or "?", 1, image.tokens or 0,
                      1 if image.upper_bound else 0)
        if results is not None:
            _jsonl_result(results, path, number, result.api, result.model, len(result.images),
                          result.image_tokens, result.upper_bound, None)
        if tally.rows % PROGRESS_EVERY == 0:
            progress.show(base + done, tally.rows)
    return done


JSONL_COLUMNS = ("file", "line", "api", "model", "images", "image_tokens", "upper_bound", "error")


def _jsonl_result(results: dict[str, list[Any]], *values: Any) -> None:
    for name, value in zip(JSONL_COLUMNS, values):
        results[name].append(value)


# --- tables ----------------------------------------------------------------------------------

def _pyarrow() -> Any:
    try:
        import pyarrow
    except ImportError:
        raise VisionTokensError("reading Parquet or CSV and writing --out need pyarrow: "
                                "pip install 'visiontokens[arrow]'") from None
    return pyarrow


def _table_batches(path: str, kind: str, wanted: list[str]) -> tuple[Iterator[Any], int, list[str]]:
    """(record batches, rows in the file or 0 if unknown, the wanted columns it has)."""
    pa = _pyarrow()
    if kind == "parquet":
        import pyarrow.parquet as pq

        file = pq.ParquetFile(path)
        names = file.schema_arrow.names
        present = [c for c in wanted if c in names]
        return file.iter_batches(batch_size=TABLE_BATCH, columns=present), file.metadata.num_rows, names
    import pyarrow.csv as pcsv

    with open(path, "rb") as probe:
        first = probe.readline()
    delimiter = "\t" if path.lower().endswith(".tsv") or first.count(b"\t") > first.count(b",") else ","
    header = pcsv.open_csv(path, parse_options=pcsv.ParseOptions(delimiter=delimiter))
    names = header.schema.names
    present = [c for c in wanted if c in names]
    types = {c: pa.string() for c in present if c not in wanted[:2]}  # model, detail as text
    reader = pcsv.open_csv(
        path, parse_options=pcsv.ParseOptions(delimiter=delimiter),
        read_options=pcsv.ReadOptions(block_size=8 << 20),
        convert_options=pcsv.ConvertOptions(include_columns=present, column_types=types))
    return iter(reader), 0, names


def _count_table(path: str, kind: str, tally: Tally, progress: Progress) -> None:
    import numpy as np

    from .. import count_image_tokens
    from .. import count_image_tokens_batch

    pa = _pyarrow()
    args = tally.args
    width, height, model, detail = (args.width_column, args.height_column, args.model_column,
                                    args.detail_column)
    batches, total, names = _table_batches(path, kind, [width, height, model, detail])
    missing = [c for c in (width, height, model) if c not in names]
    if missing:
        raise VisionTokensError(f"{path}: no column {', '.join(map(repr, missing))} "
                                f"(columns: {', '.join(names)}); see --width-column and friends")
    has_detail = detail in names
    first_line = 2 if kind == "csv" else 1  # CSV: line 1 is the header; Parquet: rows from 1
    where = "line" if kind == "csv" else "row"
    progress.total, offset = total, 0
    for batch in batches:
        n = batch.num_rows
        w, h, m = batch.column(width), batch.column(height), batch.column(model)
        d: Any = batch.column(detail) if has_detail else "auto"
        try:
            arrow: Any = count_image_tokens_batch(w, h, m, d, ruleset=args.ruleset, on_error="mask")
            tokens, rejected = arrow  # Arrow columns in, Arrow columns out
        except VisionTokensError as error:  # the batch as a whole: a column of the wrong type
            raise VisionTokensError(f"{path}: {error}") from None
        valid = tokens.is_valid().to_numpy(zero_copy_only=False)
        bad = rejected.to_numpy(zero_copy_only=False) | ~valid
        errors: list[object] | None = [None] * n if (tally.keep or bad.any()) else None
        for row in np.flatnonzero(bad).tolist():
            values = [w[row].as_py(), h[row].as_py(), m[row].as_py(),
                      d[row].as_py() if has_detail else "auto"]
            if None in values:
                column = (width, height, model, detail)[values.index(None)]
                message: object = f"no {column}"
            else:
                try:
                    count_image_tokens(*values, ruleset=args.ruleset)
                    message = "cannot be counted"
                except VisionTokensError as error:
                    message = error
            if errors is not None:
                errors[row] = str(message)
            tally.bad_row(path, f"{where} {offset + row + first_line}", message)
        tally.rows += n
        _table_groups(tally, pa, m, d if has_detail else None, tokens, valid & ~bad, n)
        if tally.keep:
            tally.tables.append(pa.table({
                "file": pa.array([path] * n), where: pa.array(
                    np.arange(offset + first_line, offset + first_line + n)),
                "width": w, "height": h, "model": m.cast(pa.string()),
                "detail": d.cast(pa.string()) if has_detail else pa.array(["auto"] * n),
                "tokens": tokens, "error": pa.array(errors, pa.string())}))
        offset += n
        progress.show(offset, tally.rows)


def _table_groups(tally: Tally, pa: Any, models: Any, details: Any, tokens: Any, good: Any,
                  n: int) -> None:
    """Add a batch's good rows to the (model, detail) groups: Arrow's group_by, then each
    distinct (model, detail) named by its canonical id and the level it is billed at."""
    from .. import get_model

    keep = pa.array(good)
    table = pa.table({"m": models.cast(pa.string()),
                      "d": details.cast(pa.string()) if details is not None else pa.array(["auto"] * n),
                      "t": tokens}).filter(keep)
    if not table.num_rows:
        return
    grouped = table.group_by(["m", "d"]).aggregate([("t", "sum"), ("t", "count")])
    for m, d, total, count in zip(grouped["m"].to_pylist(), grouped["d"].to_pylist(),
                                  grouped["t_sum"].to_pylist(), grouped["t_count"].to_pylist()):
        spec = get_model(m, ruleset=tally.args.ruleset).spec
        tally.add(spec.id, spec.detail_params(d).level, count, total)


# --- output ----------------------------------------------------------------------------------

def _summary_rows(tally: Tally) -> list[dict[str, object]]:
    return [{"model": model, "detail": detail, "images": images, "tokens": tokens,
             "upper_bound_images": bound}
            for (model, detail), (images, tokens, bound) in sorted(
                tally.groups.items(), key=lambda item: (-item[1][1], item[0]))]


def _print_table(tally: Tally) -> None:
    rows = _summary_rows(tally)
    width = max([len(str(r["model"])) for r in rows] + [5])
    print(f"{'model':<{width}}  {'detail':<8}  {'images':>12}  {'tokens':>16}")
    images = tokens = bound = 0
    for r in rows:
        note = f"  ({r['upper_bound_images']:,} at the upper bound)" if r["upper_bound_images"] else ""
        print(f"{r['model']:<{width}}  {r['detail']:<8}  {r['images']:>12,}  {r['tokens']:>16,}{note}")
        images += r["images"]  # type: ignore[operator]
        tokens += r["tokens"]  # type: ignore[operator]
        bound += r["upper_bound_images"]  # type: ignore[operator]
    note = f"  ({bound:,} at the upper bound)" if bound else ""
    print(f"{'total':<{width}}  {'':<8}  {images:>12,}  {tokens:>16,}{note}")
    counted = tally.rows - tally.bad
    line = f"{counted:,} of {tally.rows:,} rows counted"
    if tally.bad:
        line += f"; {tally.bad:,} bad" + (" (first ones on stderr)" if tally.bad > len(tally.errors)
                                         else " (on stderr)")
    print(line)


def _json(tally: Tally) -> str:
    rows = _summary_rows(tally)
    return json.dumps({
        "rows": tally.rows, "counted": tally.rows - tally.bad, "bad_rows": tally.bad,
        "images": sum(r["images"] for r in rows),
        "tokens": sum(r["tokens"] for r in rows),
        "upper_bound_images": sum(r["upper_bound_images"] for r in rows),
        "summary": rows, "errors": tally.errors})


def _write_out(tally: Tally, path: str) -> None:
    pa = _pyarrow()
    import pyarrow.parquet as pq

    tables = list(tally.tables)
    if tally.results is not None and tally.results["file"]:
        tables.append(pa.table(tally.results))
    if not tables:
        tables = [pa.table({"file": pa.array([], pa.string())})]
    table = pa.concat_tables(tables, promote_options="permissive")
    pq.write_table(table, path)


def _plot(tally: Tally, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise VisionTokensError("--plot needs matplotlib: pip install 'visiontokens[plot]'") from None
    by_model: dict[str, dict[str, int]] = {}
    for (model, detail), (_images, tokens, _bound) in tally.groups.items():
        by_model.setdefault(model, {})[detail] = tokens
    models = sorted(by_model, key=lambda m: sum(by_model[m].values()))
    levels = sorted({d for parts in by_model.values() for d in parts})
    figure, axes = plt.subplots(figsize=(8, 1.2 + 0.45 * max(len(models), 1)), dpi=110)
    left = [0] * len(models)
    for level in levels:
        values = [by_model[m].get(level, 0) for m in models]
        axes.barh(models, values, left=left, label=f"detail {level}")
        left = [a + b for a, b in zip(left, values)]
    for y, total in enumerate(left):
        axes.text(total, y, f" {total:,}", va="center", fontsize=8)
    axes.set_xlabel("image input tokens")
    axes.set_title(f"Image tokens by model ({tally.rows - tally.bad:,} log rows)")
    axes.ticklabel_format(axis="x", style="plain")
    axes.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))
    axes.set_xlim(0, max(left + [1]) * 1.18)
    if levels:
        axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def main(argv: Sequence[str]) -> int:
    args = parser().parse_args(argv)
    if args.max_errors < 0:
        raise VisionTokensError("--max-errors must be 0 or more")
    if args.ruleset is not None:
        from ..rules import get_ruleset

        get_ruleset(args.ruleset)
    kinds = [(path, _format(path, args.format)) for path in args.files]
    tally = Tally(args)
    if args.out is not None:
        _pyarrow()  # fail before the work, not after it
        if any(kind == "jsonl" for _, kind in kinds):
            tally.results = {name: [] for name in JSONL_COLUMNS}
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401  (checked up front, as --out is)
        except ImportError:
            raise VisionTokensError("--plot needs matplotlib: pip install 'visiontokens[plot]'") from None
    show = args.progress == "always" or (args.progress == "auto" and sys.stderr.isatty())
    jsonl_bytes = sum(os.path.getsize(p) for p, k in kinds if k == "jsonl" and p != "-")
    progress = Progress(show, jsonl_bytes)
    stopped = False
    try:
        base = 0
        for path, kind in kinds:
            if kind == "jsonl":
                progress.total = max(jsonl_bytes, 1)
                base += _count_jsonl(path, tally, progress, base)
                progress.show(base, tally.rows)
            else:
                table_progress = Progress(show, 0)
                _count_table(path, kind, tally, table_progress)
                table_progress.end()
    except StrictStop:
        stopped = True
    progress.end()
    if stopped:
        print("visiontokens: stopped at the first bad row (--strict)", file=sys.stderr)
        return 1
    if args.out is not None:
        _write_out(tally, args.out)
    if args.plot is not None:
        _plot(tally, args.plot)
    if args.json:
        print(_json(tally))
    else:
        _print_table(tally)
    return 0
