"""``visiontokens logs FILE...``: what logged requests spent on images, per model and detail,
and, when the log carries the bill, how the estimate compares with it.

Two kinds of log:

- **JSONL**, one line per request, each counted by ``count_request`` (``--upper-bound``,
  ``--fetch`` and the policy flags as in ``visiontokens request``). A line is a bare request
  body (Chat Completions, Responses or Images API); an OpenAI Batch API input line
  (``{"custom_id", "method", "url", "body"}``, its API told by its ``url``), whose usage comes
  from the matching Batch output file (``--usage FILE``, joined by ``custom_id``); or a request
  with its response, ``{"request": {...}, "response": {...}}``, as gateways log them (usage in
  ``response.usage``, or ``response.body.usage``);
- **tables**, Parquet or CSV, one image per row with width, height, model and (optionally)
  detail columns, counted a batch of rows at a time by ``count_image_tokens_batch``; a row
  without a detail is billed at ``--default-detail`` (``auto``, as the APIs do).

Arguments may be files, folders (read recursively, by suffix) or globs. A bad row (not JSON,
not a request, an image the API would refuse, a size out of range, a missing value) is
reported on stderr as ``FILE: line N: why`` (``row N`` for Parquet, which has no lines), in
the same words for every format, and counted; the rest go on. ``--strict`` stops at the first
one instead, with exit status 1.

Rows with usage are compared with ``visiontokens.reconcile``: billed against estimated per
model and detail, the share of comparable rows that match exactly, how many rows could not be
compared and why, and the largest differences.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Iterator, Sequence

from .._errors import MalformedRequestError, VisionTokensError, quoted

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json", ".jsonl.gz")
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv")
TABLE_BATCH = 65_536  # rows per batch call on tables
PROGRESS_EVERY = 2_000  # JSONL lines between progress updates


#: ``--out`` suffix -> the format written
OUT_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl",
               ".ndjson": "jsonl", ".json": "jsonl"}
#: Batch API ``url`` -> the API ``count_request`` prices the body as
BATCH_URLS = {"/v1/chat/completions": "chat", "/v1/responses": "responses",
              "/v1/images/generations": "images.generations", "/v1/images/edits": "images.edits"}
#: Largest differences listed in the summary (``--json`` lists as many)
LARGEST = 5


def parser() -> argparse.ArgumentParser:
    from .common import add_policies

    p = argparse.ArgumentParser(
        prog="visiontokens logs",
        description="Image tokens of request logs, summed per model and detail: JSONL with "
        "one request per line (a request body, a Batch API input line, or a request with its "
        "response), or a Parquet/CSV table with one image per row. When the log carries "
        "usage, the bill is compared with the estimate.")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="log files (.jsonl, .parquet, .csv), folders (read recursively) or "
                   "globs such as 'logs/*.jsonl'; - reads JSONL on standard input")
    p.add_argument("--format", choices=("auto", "jsonl", "parquet", "csv"), default="auto",
                   help="how to read the files (default: by their suffix)")
    add_policies(p, fetch=True)
    jsonl = p.add_argument_group("JSONL request logs")
    jsonl.add_argument("--usage", action="append", default=[], metavar="FILE",
                       help="a Batch API output file: its usage is joined to the input lines "
                       "by custom_id (may be repeated)")
    table = p.add_argument_group("Parquet and CSV tables")
    table.add_argument("--width-column", default="width", help="(default: width)")
    table.add_argument("--height-column", default="height", help="(default: height)")
    table.add_argument("--model-column", default="model", help="(default: model)")
    table.add_argument("--detail-column", default="detail",
                       help="(default: detail; a row without one, or a table without the "
                       "column, is billed at --default-detail)")
    table.add_argument("--default-detail", choices=("low", "high", "original", "auto"),
                       default="auto", help="the detail of a row that has none (default: "
                       "auto, as the APIs do)")
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="the summary as JSON on stdout")
    out.add_argument("--out", metavar="FILE",
                     help="write one result row per log row, in the format its suffix names: "
                     ".parquet, .csv (both need pyarrow) or .jsonl")
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
        # (model, detail) -> [images, input tokens, images at the bound, output tokens,
        # requests whose output is a bound]; output tokens sit on detail "-"
        self.groups: dict[tuple[str, str], list[int]] = {}
        self.rows = self.bad = 0
        self.errors: list[dict[str, object]] = []
        self.keep = args.out is not None  # per-row results for --out
        self.results: dict[str, list[Any]] | None = None  # JSONL rows for --out
        self.tables: list[Any] = []  # table batches for --out
        self.bill = Bill()
        self.custom_ids: set[str] = set()  # of the Batch input lines read

    def _group(self, model: str, detail: str) -> list[int]:
        group = self.groups.get((model, detail))
        if group is None:
            group = self.groups[(model, detail)] = [0, 0, 0, 0, 0]
        return group

    def add(self, model: str, detail: str, images: int, tokens: int, at_bound: int = 0) -> None:
        group = self._group(model, detail)
        group[0] += images
        group[1] += tokens
        group[2] += at_bound

    def add_output(self, model: str, tokens: int, at_bound: bool) -> None:
        group = self._group(model, "-")
        group[3] += tokens
        group[4] += 1 if at_bound else 0

    def bad_row(self, file: str, unit: str, number: int, error: object) -> None:
        """The one report of a bad row, whatever the format: ``FILE: line N: why`` (``row N``
        for Parquet), on stderr and in --json's ``errors``."""
        from .common import cli_message

        self.bad += 1
        message = cli_message(error) if isinstance(error, BaseException) else str(error)
        if len(self.errors) < self.args.max_errors:
            self.errors.append({"file": file, unit: number, "error": message})
            print(f"{file}: {unit} {number}: {message}", file=sys.stderr)
        if self.args.strict:
            raise StrictStop()


class Bill:
    """Billed against estimated, over the rows that carry usage (``reconcile`` per row)."""

    def __init__(self) -> None:
        self.with_usage = 0  # rows that carry usage
        self.without_usage = 0  # rows that could have (a Batch line, a logged pair) but did not
        # (model, detail) -> [rows, estimated, billed, exact rows]: comparable rows only
        self.groups: dict[tuple[str, str], list[int]] = {}
        self.not_comparable: dict[str, int] = {}  # why -> rows
        self.differences: list[dict[str, object]] = []  # comparable rows that differ
        self.output = [0, 0, 0, 0]  # rows, estimated, billed, exact: output image tokens
        self.unmatched = 0  # Batch output lines whose custom_id is on no input line

    def missing(self, why: str) -> None:
        self.without_usage += 1
        self.not_comparable[why] = self.not_comparable.get(why, 0) + 1

    def add(self, where: dict[str, object], model: str, detail: str, rec: Any,
            result: Any) -> None:
        self.with_usage += 1
        if rec.comparable:
            group = self.groups.setdefault((model, detail), [0, 0, 0, 0])
            billed = rec.estimated_image_tokens + rec.difference
            group[0] += 1
            group[1] += rec.estimated_image_tokens
            group[2] += billed
            group[3] += 1 if rec.exact else 0
            if not rec.exact:
                self.differences.append({**where, "model": model, "detail": detail,
                                         "estimated": rec.estimated_image_tokens,
                                         "billed": billed, "difference": rec.difference})
        else:
            why = _why_not_comparable(rec, result)
            self.not_comparable[why] = self.not_comparable.get(why, 0) + 1
        if rec.output_difference is not None:
            self.output[0] += 1
            self.output[1] += rec.estimated_output_image_tokens
            self.output[2] += rec.billed_output_image_tokens
            self.output[3] += 1 if rec.output_difference == 0 else 0
            if rec.output_difference:
                self.differences.append({**where, "model": model, "detail": "output",
                                         "estimated": rec.estimated_output_image_tokens,
                                         "billed": rec.billed_output_image_tokens,
                                         "difference": rec.output_difference})

    def largest(self, n: int) -> list[dict[str, object]]:
        return sorted(self.differences, key=lambda d: -abs(d["difference"]))[:n]  # type: ignore[arg-type]


def _why_not_comparable(rec: Any, result: Any) -> str:
    """A row's reason, in words that group rows (the row's own ``reason`` has its figures):
    the same order of tests as ``reconcile``."""
    if any(image.tokens is None for image in result.images):
        return "an image of the request could not be counted"
    if rec.billed_image_tokens is None and rec.billed_input_tokens is not None:
        return f"the {rec.usage_format} usage reports only the input total, not images"
    return "the usage reports no input tokens"


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


class Line:
    """What one JSONL line holds: the request, how to count it, and its usage if any."""

    __slots__ = ("body", "api", "custom_id", "usage", "no_usage")

    def __init__(self, body: Any, api: str | None = None, custom_id: str | None = None,
                 usage: Any = None, no_usage: str | None = None) -> None:
        self.body, self.api, self.custom_id = body, api, custom_id
        self.usage = usage  # the usage to reconcile with, or None
        self.no_usage = no_usage  # why a line that could carry usage does not, or None


def _read_line(line: bytes, usage: dict[str, Any]) -> Line:
    """The request of a JSONL line. A bare body goes to ``count_request`` as its bytes (the
    fast path); a Batch input line or a logged pair is parsed first, to take it apart."""
    if b'"custom_id"' not in line and b'"request"' not in line:
        return Line(line)
    try:
        value = json.loads(line)
    except ValueError:
        return Line(line)  # count_request says what is wrong with it, in its words
    if not isinstance(value, dict):
        return Line(line)
    if "custom_id" in value and "body" in value:  # a Batch API input line
        custom_id, url = value["custom_id"], value.get("url")
        if not isinstance(custom_id, str):
            raise MalformedRequestError(f"custom_id must be a string, got {quoted(custom_id)}")
        api = BATCH_URLS.get(url.split("?", 1)[0].rstrip("/")) if isinstance(url, str) else None
        if api is None:
            raise MalformedRequestError(
                f"custom_id {custom_id!r}: url {quoted(url)} is not one that is priced "
                f"({', '.join(BATCH_URLS)})")
        found = usage.get(custom_id, _NO_OUTPUT)
        if found is _NO_OUTPUT:
            return Line(value["body"], api, custom_id,
                        no_usage="no output line for its custom_id" if usage else None)
        if isinstance(found, _Failed):
            return Line(value["body"], api, custom_id, no_usage=found.why)
        return Line(value["body"], api, custom_id, found)
    if "request" in value and "response" in value:  # a request logged with its response
        response = value["response"]
        if not isinstance(response, dict):
            return Line(value["request"], no_usage="the response is not an object")
        inner = response.get("body")
        body: dict[str, Any] = inner if isinstance(inner, dict) else response
        if body.get("usage") is None and body.get("usageMetadata") is None:
            return Line(value["request"], no_usage="the response has no usage")
        return Line(value["request"], usage=body)
    return Line(line)


class _Failed:
    """A Batch output line for a request that failed: no usage, and why."""

    def __init__(self, why: str) -> None:
        self.why = why


_NO_OUTPUT = object()


def read_usage(paths: list[str], tally: Tally) -> dict[str, Any]:
    """custom_id -> ``{"usage": ...}`` of a response of Batch API output files, or a
    :class:`_Failed`. A line that is not an output line, or a custom_id met twice (which of
    the two was billed?), is a bad row of the output file; a duplicate's usage is not used."""
    found: dict[str, Any] = {}
    duplicates: set[str] = set()
    for path in paths:
        for number, line, _ in _jsonl_lines(path):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError:
                tally.bad_row(path, "line", number, "a Batch output line is not JSON")
                continue
            custom_id = value.get("custom_id") if isinstance(value, dict) else None
            if not isinstance(custom_id, str):
                tally.bad_row(path, "line", number, "a Batch output line has no custom_id")
                continue
            if custom_id in found or custom_id in duplicates:
                tally.bad_row(path, "line", number,
                              f"custom_id {custom_id!r} is on more than one output line; "
                              "its usage is not used")
                found[custom_id] = _Failed("its custom_id is on more than one output line")
                duplicates.add(custom_id)
                continue
            response, error = value.get("response"), value.get("error")
            body = response.get("body") if isinstance(response, dict) else None
            if error or not isinstance(body, dict) or \
                    (isinstance(response, dict) and response.get("status_code", 200) != 200):
                why = (error or {}).get("message") if isinstance(error, dict) else None
                if why is None and isinstance(body, dict) and isinstance(body.get("error"), dict):
                    why = body["error"].get("message")
                found[custom_id] = _Failed(f"the batch request failed: {why or 'no response'}")
                continue
            if body.get("usage") is None:
                found[custom_id] = _Failed("the response has no usage")
                continue
            found[custom_id] = {"usage": body["usage"]}  # the usage alone: outputs can be large
    return found


def _count_jsonl(path: str, tally: Tally, progress: Progress, base: int,
                 usage: dict[str, Any]) -> int:
    from .. import get_model
    from ..reconcile import reconcile
    from .common import fetch_option, policies, walk

    count_request = walk().count_request

    args = tally.args
    fetch = fetch_option(args)
    options = policies(args)
    on_unknown = "upper_bound" if args.upper_bound else "error"
    results = tally.results
    done = 0
    canonical: dict[object, str] = {}
    seen_ids = tally.custom_ids
    for number, line, done in _jsonl_lines(path):
        if not line.strip():
            continue  # a blank line is not a request
        tally.rows += 1
        custom_id = None
        try:
            read = _read_line(line, usage)
            custom_id = read.custom_id
            if custom_id is not None:
                if custom_id in seen_ids:
                    raise MalformedRequestError(
                        f"custom_id {custom_id!r} is on an earlier line too (the Batch API "
                        "refuses a file whose custom_ids repeat)")
                seen_ids.add(custom_id)
            result = count_request(read.body, ruleset=args.ruleset, fetch=fetch,
                                   on_unknown=on_unknown, api=read.api, **options)
        except VisionTokensError as error:
            if results is not None:
                _jsonl_result(results, path, number, custom_id, error=_message(error))
            tally.bad_row(path, "line", number, error)
            continue
        model = result.model
        if model not in canonical:  # the request's name as the model's canonical id
            try:
                if model is None:
                    raise VisionTokensError("no model")
                canonical[model] = get_model(model, ruleset=args.ruleset, **options).id
            except VisionTokensError:
                canonical[model] = str(model)
        name = canonical[model]
        details = set()
        for image in result.images:
            detail = image.resolved_detail or "?"
            details.add(detail)
            tally.add(name, detail, 1, image.tokens or 0, 1 if image.upper_bound else 0)
        if result.output_image_tokens or result.api.startswith("images.generations"):
            tally.add_output(name, result.output_image_tokens, result.output_upper_bound)
        rec = None
        if read.usage is not None:
            where: dict[str, object] = {"file": path, "line": number}
            if custom_id is not None:
                where["custom_id"] = custom_id
            detail = details.pop() if len(details) == 1 else ("-" if not details else "mixed")
            try:
                rec = reconcile(result, read.usage)
            except VisionTokensError as error:
                tally.bill.missing(f"the usage cannot be read: {_message(error)}")
            else:
                tally.bill.add(where, name, detail, rec, result)
        elif read.no_usage is not None:
            tally.bill.missing(read.no_usage)
        if results is not None:
            _jsonl_result(results, path, number, custom_id, result, rec)
        if tally.rows % PROGRESS_EVERY == 0:
            progress.show(base + done, tally.rows)
    return done


def _message(error: BaseException) -> str:
    from .common import cli_message

    return cli_message(error)


JSONL_COLUMNS = ("file", "line", "custom_id", "api", "model", "images", "image_tokens",
                 "upper_bound", "output_image_tokens", "output_upper_bound",
                 "billed_image_tokens", "billed_input_tokens", "billed_output_image_tokens",
                 "difference", "output_difference", "exact", "comparable", "reason", "error")


def _jsonl_result(results: dict[str, list[Any]], path: str, number: int, custom_id: str | None,
                  result: Any = None, rec: Any = None, error: str | None = None) -> None:
    row: dict[str, Any] = dict.fromkeys(JSONL_COLUMNS)
    row.update(file=path, line=number, custom_id=custom_id, error=error)
    if result is not None:
        row.update(api=result.api, model=result.model, images=len(result.images),
                   image_tokens=result.image_tokens, upper_bound=result.upper_bound,
                   output_image_tokens=result.output_image_tokens,
                   output_upper_bound=result.output_upper_bound)
    else:
        row["images"] = 0
        row["upper_bound"] = False
    if rec is not None:
        row.update(billed_image_tokens=rec.billed_image_tokens,
                   billed_input_tokens=rec.billed_input_tokens,
                   billed_output_image_tokens=rec.billed_output_image_tokens,
                   difference=rec.difference, output_difference=rec.output_difference,
                   exact=rec.exact, comparable=rec.comparable, reason=rec.reason)
    for name in JSONL_COLUMNS:
        results[name].append(row[name])


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

    import pyarrow.compute as pc

    from .. import count_image_tokens
    from .. import count_image_tokens_batch
    from .common import policies

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
    default = args.default_detail
    options = policies(args)
    for batch in batches:
        n = batch.num_rows
        w, h, m = batch.column(width), batch.column(height), batch.column(model)
        # a row without a detail is billed at the default, as the APIs bill a part without one
        d: Any = (pc.fill_null(batch.column(detail).cast(pa.string()), default) if has_detail
                  else pa.array([default] * n, pa.string()))
        try:
            arrow: Any = count_image_tokens_batch(w, h, m, d, ruleset=args.ruleset,
                                                  on_error="mask", **options)
            tokens, rejected = arrow  # Arrow columns in, Arrow columns out
        except VisionTokensError as error:  # the batch as a whole: a column of the wrong type
            raise VisionTokensError(f"{path}: {error}") from None
        valid = tokens.is_valid().to_numpy(zero_copy_only=False)
        bad = rejected.to_numpy(zero_copy_only=False) | ~valid
        errors: list[object] | None = [None] * n if (tally.keep or bad.any()) else None
        for row in np.flatnonzero(bad).tolist():
            values = [w[row].as_py(), h[row].as_py(), m[row].as_py(), d[row].as_py()]
            if None in values:
                column = (width, height, model, detail)[values.index(None)]
                message: object = f"no {column}"
            else:
                try:
                    count_image_tokens(*values, ruleset=args.ruleset, **options)
                    message = "cannot be counted"
                except VisionTokensError as error:
                    message = error
            if errors is not None:
                errors[row] = _message(message) if isinstance(message, BaseException) \
                    else str(message)
            tally.bad_row(path, where, offset + row + first_line, message)
        tally.rows += n
        _table_groups(tally, pa, m, d, tokens, valid & ~bad, n)
        if tally.keep:
            tally.tables.append(pa.table({
                "file": pa.array([path] * n), where: pa.array(
                    np.arange(offset + first_line, offset + first_line + n)),
                "width": w, "height": h, "model": m.cast(pa.string()),
                "detail": d, "image_tokens": tokens, "error": pa.array(errors, pa.string())}))
        offset += n
        progress.show(offset, tally.rows)


def _table_groups(tally: Tally, pa: Any, models: Any, details: Any, tokens: Any, good: Any,
                  n: int) -> None:
    """Add a batch's good rows to the (model, detail) groups: Arrow's group_by, then each
    distinct (model, detail) named by its canonical id and the level it is billed at."""
    from .. import get_model
    from .common import policies

    keep = pa.array(good)
    table = pa.table({"m": models.cast(pa.string()), "d": details, "t": tokens}).filter(keep)
    if not table.num_rows:
        return
    grouped = table.group_by(["m", "d"]).aggregate([("t", "sum"), ("t", "count")])
    for m, d, total, count in zip(grouped["m"].to_pylist(), grouped["d"].to_pylist(),
                                  grouped["t_sum"].to_pylist(), grouped["t_count"].to_pylist()):
        spec = get_model(m, ruleset=tally.args.ruleset, **policies(tally.args)).spec
        tally.add(spec.id, spec.detail_params(d).level, count, total)


# --- output ----------------------------------------------------------------------------------

def _summary_rows(tally: Tally) -> list[dict[str, object]]:
    return [{"model": model, "detail": detail, "images": images, "tokens": tokens,
             "upper_bound_images": bound, "output_image_tokens": output,
             "output_upper_bound_requests": output_bound}
            for (model, detail), (images, tokens, bound, output, output_bound) in sorted(
                tally.groups.items(), key=lambda item: (-item[1][1] - item[1][3], item[0]))]


def _print_table(tally: Tally) -> None:
    rows = _summary_rows(tally)
    outputs = any(r["output_image_tokens"] for r in rows)
    width = max([len(str(r["model"])) for r in rows] + [5])
    head = f"{'model':<{width}}  {'detail':<8}  {'images':>12}  {'tokens':>16}"
    print(head + (f"  {'output tokens':>16}" if outputs else ""))
    images = tokens = bound = output = output_bound = 0
    for r in rows:
        line = f"{r['model']:<{width}}  {r['detail']:<8}  {r['images']:>12,}  {r['tokens']:>16,}"
        if outputs:
            line += f"  {r['output_image_tokens']:>16,}"
        notes = []
        if r["upper_bound_images"]:
            notes.append(f"{r['upper_bound_images']:,} at the upper bound")
        if r["output_upper_bound_requests"]:
            notes.append(f"output of {r['output_upper_bound_requests']:,} at the upper bound")
        print(line + (f"  ({'; '.join(notes)})" if notes else ""))
        images += r["images"]  # type: ignore[operator]
        tokens += r["tokens"]  # type: ignore[operator]
        bound += r["upper_bound_images"]  # type: ignore[operator]
        output += r["output_image_tokens"]  # type: ignore[operator]
        output_bound += r["output_upper_bound_requests"]  # type: ignore[operator]
    line = f"{'total':<{width}}  {'':<8}  {images:>12,}  {tokens:>16,}"
    if outputs:
        line += f"  {output:>16,}"
    notes = [f"{bound:,} at the upper bound"] if bound else []
    if output_bound:
        notes.append(f"output of {output_bound:,} at the upper bound")
    print(line + (f"  ({'; '.join(notes)})" if notes else ""))
    counted = tally.rows - tally.bad
    line = f"{counted:,} of {tally.rows:,} rows counted"
    if tally.bad:
        line += f"; {tally.bad:,} bad" + (" (first ones on stderr)" if tally.bad > len(tally.errors)
                                         else " (on stderr)")
    print(line)
    if tally.bill.with_usage or tally.bill.without_usage or tally.bill.unmatched:
        _print_bill(tally.bill)


def _bill_json(bill: Bill) -> dict[str, object]:
    comparable = sum(g[0] for g in bill.groups.values())
    exact = sum(g[3] for g in bill.groups.values())
    return {
        "rows_with_usage": bill.with_usage, "rows_without_usage": bill.without_usage,
        "comparable": comparable, "exact": exact,
        "exact_share": round(exact / comparable, 4) if comparable else None,
        "estimated": sum(g[1] for g in bill.groups.values()),
        "billed": sum(g[2] for g in bill.groups.values()),
        "not_comparable": dict(sorted(bill.not_comparable.items(), key=lambda kv: -kv[1])),
        "summary": [{"model": m, "detail": d, "rows": rows, "estimated": est, "billed": billed,
                     "difference": billed - est, "exact": ex}
                    for (m, d), (rows, est, billed, ex) in sorted(bill.groups.items())],
        "output": {"rows": bill.output[0], "estimated": bill.output[1], "billed": bill.output[2],
                   "difference": bill.output[2] - bill.output[1], "exact": bill.output[3]},
        "largest_differences": bill.largest(LARGEST),
        "unmatched_output_lines": bill.unmatched,
    }


def _signed(value: int) -> str:
    return f"{value:+,}" if value else "0"


def _print_bill(bill: Bill) -> None:
    data = _bill_json(bill)
    print()
    print("billed against estimated (image input tokens of the rows whose usage reports them):")
    rows: list[dict[str, Any]] = data["summary"]  # type: ignore[assignment]
    width = max([len(str(r["model"])) for r in rows] + [5])
    print(f"{'model':<{width}}  {'detail':<8}  {'rows':>6}  {'estimated':>12}  {'billed':>12}  "
          f"{'difference':>10}  exact")
    for r in rows:
        print(f"{r['model']:<{width}}  {r['detail']:<8}  {r['rows']:>6,}  {r['estimated']:>12,}  "
              f"{r['billed']:>12,}  {_signed(r['difference']):>10}  {r['exact']} of {r['rows']}")
    comparable, exact = data["comparable"], data["exact"]
    share = f" ({100 * exact / comparable:.0f}%)" if comparable else ""  # type: ignore[operator]
    print(f"{'total':<{width}}  {'':<8}  {comparable:>6,}  {data['estimated']:>12,}  "
          f"{data['billed']:>12,}  {_signed(data['billed'] - data['estimated']):>10}  "  # type: ignore[operator]
          f"{exact} of {comparable}{share}")
    output: dict[str, int] = data["output"]  # type: ignore[assignment]
    if output["rows"]:
        print(f"output image tokens: estimated {output['estimated']:,}, billed "
              f"{output['billed']:,} ({_signed(output['difference'])}), {output['exact']} of "
              f"{output['rows']} rows exact")
    not_comparable: dict[str, int] = data["not_comparable"]  # type: ignore[assignment]
    if not_comparable:
        total = sum(not_comparable.values())
        print(f"{_rows(total)} not compared:")
        for why, count in not_comparable.items():
            print(f"  {count:>6,}  {why}")
    if bill.unmatched:
        lines = "output line" if bill.unmatched == 1 else "output lines"
        print(f"{bill.unmatched:,} {lines} with a custom_id on no input line")
    largest: list[dict[str, Any]] = data["largest_differences"]  # type: ignore[assignment]
    if largest:
        print("largest differences (billed - estimated):")
        for d in largest:
            where = f"{d['file']}: line {d['line']}"
            if "custom_id" in d:
                where += f" ({d['custom_id']})"
            print(f"  {_signed(d['difference']):>8}  {where}: {d['model']} {d['detail']}, "
                  f"estimated {d['estimated']:,}, billed {d['billed']:,}")


def _rows(count: int) -> str:
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def _json(tally: Tally) -> str:
    rows = _summary_rows(tally)
    report: dict[str, object] = {
        "rows": tally.rows, "counted": tally.rows - tally.bad, "bad_rows": tally.bad,
        "images": sum(r["images"] for r in rows),  # type: ignore[misc]
        "tokens": sum(r["tokens"] for r in rows),  # type: ignore[misc]
        "upper_bound_images": sum(r["upper_bound_images"] for r in rows),  # type: ignore[misc]
        "output_image_tokens": sum(r["output_image_tokens"] for r in rows),  # type: ignore[misc]
        "summary": rows, "errors": tally.errors}
    if tally.bill.with_usage or tally.bill.without_usage or tally.bill.unmatched:
        report["billed"] = _bill_json(tally.bill)
    return json.dumps(report)


def out_format(path: str) -> str:
    """The format ``--out`` writes, told by its suffix; any other suffix is a usage error."""
    from .common import UsageError

    suffix = os.path.splitext(path)[1].lower()
    if suffix not in OUT_FORMATS:
        raise UsageError(f"--out {path}: the suffix names the format: "
                         f"{', '.join(OUT_FORMATS)}")
    return OUT_FORMATS[suffix]


def _write_out(tally: Tally, path: str, kind: str) -> None:
    if kind == "jsonl":  # no pyarrow needed for JSONL rows alone
        with open(path, "w", encoding="utf-8") as file:
            for table in tally.tables:
                for row in table.to_pylist():
                    file.write(json.dumps(row) + "\n")
            if tally.results is not None:
                names = list(tally.results)
                for values in zip(*tally.results.values()):
                    file.write(json.dumps(dict(zip(names, values))) + "\n")
        return
    pa = _pyarrow()
    tables = list(tally.tables)
    if tally.results is not None and tally.results["file"]:
        tables.append(pa.table(tally.results))
    if not tables:
        tables = [pa.table({"file": pa.array([], pa.string())})]
    table = pa.concat_tables(tables, promote_options="permissive")
    if kind == "csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, path)
    else:
        import pyarrow.parquet as pq

        pq.write_table(table, path)


LOG_SUFFIXES = JSONL_SUFFIXES + PARQUET_SUFFIXES + CSV_SUFFIXES


def expand(arguments: Sequence[str]) -> list[str]:
    """The files the arguments name: a file as is, a folder's log files (recursively, by
    suffix, sorted), a glob's matches (expanded here when the shell did not). A name that
    matches nothing is a usage error."""
    import glob

    from .common import UsageError

    paths: list[str] = []
    for argument in arguments:
        if argument == "-" or os.path.isfile(argument):
            paths.append(argument)
        elif os.path.isdir(argument):
            found = []
            for folder, subfolders, files in os.walk(argument):
                subfolders.sort()
                found += [os.path.join(folder, name) for name in sorted(files)
                          if name.lower().endswith(LOG_SUFFIXES)]
            if not found:
                raise UsageError(f"{argument}: no log files in the folder "
                                 f"({', '.join(LOG_SUFFIXES)})")
            paths += found
        elif glob.has_magic(argument):
            found = sorted(p for p in glob.glob(argument, recursive=True) if os.path.isfile(p))
            if not found:
                raise UsageError(f"{argument}: no file matches")
            paths += found
        else:
            raise UsageError(f"no such file or folder: {argument}")
    return paths


def _plot(tally: Tally, path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise VisionTokensError("--plot needs matplotlib: pip install 'visiontokens[plot]'") from None
    by_model: dict[str, dict[str, int]] = {}
    for (model, detail), (_images, tokens, _bound, _output, _output_bound) in tally.groups.items():
        if tokens:
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
    from .common import UsageError, fetch_option

    args = parser().parse_args(argv)
    if args.max_errors < 0:
        raise UsageError("--max-errors must be 0 or more")
    fetch_option(args)  # --allow-private without --fetch: said before anything is read
    kind_out = out_format(args.out) if args.out is not None else None
    files = expand(args.files)
    for path in args.usage:
        if not os.path.isfile(path):
            raise UsageError(f"--usage: no such file: {path}")
    if args.ruleset is not None:
        from ..rules import get_ruleset

        get_ruleset(args.ruleset)
    kinds = [(path, _format(path, args.format)) for path in files]
    tally = Tally(args)
    if kind_out is not None:
        if kind_out != "jsonl" or any(kind != "jsonl" for _, kind in kinds):
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
        usage = read_usage(args.usage, tally)
        base = 0
        for path, kind in kinds:
            if kind == "jsonl":
                progress.total = max(jsonl_bytes, 1)
                base += _count_jsonl(path, tally, progress, base, usage)
                progress.show(base, tally.rows)
            else:
                table_progress = Progress(show, 0)
                _count_table(path, kind, tally, table_progress)
                table_progress.end()
        tally.bill.unmatched = len(set(usage) - tally.custom_ids)
    except StrictStop:
        stopped = True
    progress.end()
    if stopped:
        print("visiontokens: stopped at the first bad row (--strict)", file=sys.stderr)
        return 1
    if args.out is not None:
        _write_out(tally, args.out, kind_out)  # type: ignore[arg-type]
    if args.plot is not None:
        _plot(tally, args.plot)
    if args.json:
        print(_json(tally))
    else:
        _print_table(tally)
    return 0
