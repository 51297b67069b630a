"""What every subcommand of the command line shares: its usage error, the counting API's
options as flags, the error text that names a flag for a keyword, and the request twin the
commands count with (``WALK``: the tests set either twin here, so ``visiontokens request``
and ``visiontokens logs`` run on both)."""

from __future__ import annotations

import argparse
from typing import Any, Callable

from .. import rules


class UsageError(Exception):
    """The command line itself is wrong (exit status 2): nothing was counted."""


#: A Python keyword an error's hint names -> how the command line says it. An error carries
#: its hint as data (``error.hint = (argument, value)`` and ``error.hint_text``, the phrase of
#: its message that names the keyword); the CLI puts the flag in the phrase's place.
FLAGS: dict[str, Callable[[object], str]] = {
    "undocumented": lambda value: f"pass --undocumented {value}",
    "enforce_patch_limit": lambda value: ("pass --no-enforce-patch-limit" if value is False
                                          else "pass --enforce-patch-limit"),
    "on_unknown": lambda value: "pass --upper-bound",
    "on_violation": lambda value: "pass --collect",
    "fetch": lambda value: "pass --fetch",
    "allow_private": lambda value: "--fetch --allow-private",
    "input_fidelity": lambda value: f"pass --input-fidelity {value}",
    "ruleset": lambda value: f"pass --ruleset {value}",
    "resolve_file": lambda value: "no file resolver (not available on the command line: "
                                  "file ids need the Python API's resolve_file)",
}


def cli_message(error: BaseException, text: str | None = None) -> str:
    """The error's text (or ``text``, its message alone), its hint (when it has one) naming
    the flag instead of the keyword."""
    text = str(error) if text is None else text
    seen = 0
    cause: BaseException | None = error
    while cause is not None and seen < 8:  # the hint may sit on the cause (a fetch's refusal)
        hint = getattr(cause, "hint", None)
        phrase = getattr(cause, "hint_text", None)
        if hint and phrase and hint[0] in FLAGS and phrase in text:
            text = text.replace(phrase, FLAGS[hint[0]](hint[1]))
        cause, seen = cause.__cause__, seen + 1
    return text


def add_ruleset(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ruleset", "-r", default=None,
                        help=f"dated ruleset (default: {rules.DEFAULT_RULESET}, the newest)")


def add_policies(parser: Any, *, fidelity: bool = False, patch_limit: bool = True,
                 fetch: bool = False) -> None:
    """The counting API's options as flags: ``--ruleset``, ``--undocumented``,
    ``--enforce-patch-limit/--no-enforce-patch-limit``, and where they apply
    ``--input-fidelity``, ``--upper-bound``, ``--fetch`` and ``--allow-private``."""
    add_ruleset(parser)
    parser.add_argument("--undocumented", choices=("error", "assume"), default="error",
                        help="a known model whose rule is not documented: refuse it (default), "
                        "or count it like the closest documented model, marked as assumed")
    if patch_limit:
        parser.add_argument("--enforce-patch-limit", action=argparse.BooleanOptionalAction,
                            default=True,
                            help="refuse an image over the model's patch limit, as the API does "
                            "(default: on); --no-enforce-patch-limit counts it anyway")
    if fidelity:
        parser.add_argument("--input-fidelity", choices=("low", "high"), default=None,
                            help="GPT Image 1 input fidelity (default: low)")
    if fetch:
        parser.add_argument("--upper-bound", action="store_true",
                            help="count an image of unknown size at the most it could cost")
        parser.add_argument("--fetch", action="store_true",
                            help="fetch http(s) images to read their size (public addresses "
                            "only, unless --allow-private)")
        parser.add_argument("--allow-private", action="store_true",
                            help="with --fetch: also fetch from loopback, private and "
                            "link-local addresses (default: refused)")


def fetch_option(args: argparse.Namespace) -> Any:
    """``fetch=`` of the Python API from ``--fetch`` and ``--allow-private``."""
    if args.allow_private and not args.fetch:
        raise UsageError("--allow-private needs --fetch")
    if not args.fetch:
        return None
    if args.allow_private:
        from ..images.fetch import Fetcher

        return Fetcher(allow_private=True)
    return True


def policies(args: argparse.Namespace) -> dict[str, Any]:
    """``undocumented=`` and ``enforce_patch_limit=`` of the Python API from the flags."""
    return {"undocumented": args.undocumented,
            "enforce_patch_limit": getattr(args, "enforce_patch_limit", True)}


#: The request twin the commands count with: None for the facade's (the process's choice);
#: the tests set either twin, so the commands run on both.
WALK: Any = None


def walk() -> Any:
    """The request twin to count with (see WALK)."""
    if WALK is not None:
        return WALK
    from .._extensions import twin

    return twin("request")
