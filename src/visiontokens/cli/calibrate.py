"""``visiontokens calibrate FILE``: fit a rule to billed rows (CSV or JSONL) and say how well
it fits, what stays open and which image sizes to bill next."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
from typing import Any, Iterator, Sequence

from .._errors import InvalidArgumentError

#: Most disagreeing rows printed (``--json`` carries them all).
SHOWN = 10
#: Largest rows file read: calibration needs hundreds of rows, not gigabytes.
MAX_BYTES = 256 * 2**20


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="visiontokens calibrate",
        description="Fit an image-token rule to billed rows: one image per row, with its "
        "width, height, detail and the image tokens the bill reports. Prints the rule, how "
        "many rows it reproduces, the rows it does not, and which image sizes would tell "
        "the remaining candidate rules apart.")
    p.add_argument("file", help="CSV with a header (width,height,detail,tokens; 'billed' or "
                   "'image_tokens' also name the tokens) or JSONL with the same keys; '-' reads "
                   "stdin")
    p.add_argument("--save", metavar="PATH", help="write the fitted rule as a model file "
                   "(register it with register_model(name, **data['register_model'])); an "
                   "error for a rule register_model cannot take (Gemini's tiles)")
    p.add_argument("--json", action="store_true", help="machine-readable JSON output")
    return p


def _text(path: str) -> str:
    if path == "-":
        return sys.stdin.read(MAX_BYTES + 1)
    if os.path.getsize(path) > MAX_BYTES:
        raise InvalidArgumentError(f"{path}: larger than {MAX_BYTES // 2**20} MB")
    with open(path, encoding="utf-8-sig") as file:
        return file.read()


def read_rows(path: str) -> list[dict[str, Any]]:
    """Rows of a CSV or JSONL file, as mappings (calibrate checks their values)."""
    text = _text(path)
    first = text.lstrip()[:1]
    if first in ("{", "["):
        return list(_jsonl(path, text))
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "width" not in [f.strip() for f in reader.fieldnames]:
        raise InvalidArgumentError(f"{path}: a CSV needs a header naming width, height, "
                                   "detail and tokens")
    return [{(k or "").strip(): (v.strip() if isinstance(v, str) else v)
             for k, v in row.items()} for row in reader]


def _jsonl(path: str, text: str) -> Iterator[dict[str, Any]]:
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except ValueError as error:
            raise InvalidArgumentError(f"{path}: not JSON: {error}") from None
        yield from data
        return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except ValueError as error:
            raise InvalidArgumentError(f"{path}, line {number}: not JSON: {error}") from None


def main(argv: Sequence[str]) -> int:
    from ..calibrate import calibrate

    args = parser().parse_args(argv)
    result = calibrate(read_rows(args.file))
    if args.json:
        print(json.dumps(result.as_dict()))
        if args.save:
            result.save(args.save)
        return 0
    print(result.statement())
    if result.disagreeing:
        print(f"\nrows that disagree ({len(result.disagreeing)}):")
        for d in result.disagreeing[:SHOWN]:
            predicted = "rejected" if d.predicted is None else d.predicted
            print(f"  row {d.row}: {d.width}x{d.height} {d.detail}: billed {d.billed}, "
                  f"rule gives {predicted}")
        if len(result.disagreeing) > SHOWN:
            print(f"  ... and {len(result.disagreeing) - SHOWN} more (--json lists them all)")
    if args.save:
        # after the fit is printed: a rule register_model cannot take is an error here
        result.save(args.save)
        print(f"\nsaved to {args.save}")
    return 0
