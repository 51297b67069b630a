"""``visiontokens serve``: the flags and ``VISIONTOKENS_*`` variables are read by
:mod:`visiontokens.gateway.config`, the application is :mod:`visiontokens.gateway.server`."""

from __future__ import annotations

from typing import Sequence


def main(argv: Sequence[str]) -> int:
    from ..gateway.config import parse_args
    from ..gateway.server import run  # uvicorn loads only here

    return run(parse_args(list(argv)))
