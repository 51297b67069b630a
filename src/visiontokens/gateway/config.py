"""The configuration of ``visiontokens serve``: flags, each with a ``VISIONTOKENS_*``
environment variable (a flag wins over its variable), validated once into a
:class:`ServeConfig`.

The server's worker processes (uvicorn's ``--workers``, and the processes that count) get the
resolved configuration as JSON in one variable, :data:`CONFIG_VARIABLE`, so every process
runs the same settings however they were given.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
from typing import Any, Mapping, Sequence

from .._errors import InvalidArgumentError

#: The resolved configuration, as JSON, for the processes the server starts.
CONFIG_VARIABLE = "VISIONTOKENS_SERVE_CONFIG"
MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1  # uvicorn worker processes
    concurrency: int = 2  # counting processes per server process: counts run at once
    max_body_size: int = 64 * MIB
    inline_max_bytes: int = 2 * MIB  # sparse bodies up to this size count on the event loop
    body_timeout: float = 30.0  # seconds to receive a whole body (slow clients: 408)
    count_timeout: float = 30.0  # seconds one count may take before its process is replaced
    max_connections: int | None = None  # uvicorn's limit_concurrency: over it, 503
    shutdown_timeout: float = 30.0  # seconds in-flight requests get after SIGTERM
    worker_memory: int = 0  # bytes of address space per counting process; 0: no limit
    ruleset: str | None = None
    undocumented: str = "error"
    model_aliases: tuple[tuple[str, str], ...] = ()
    fetch: bool = False
    fetch_timeout: float = 5.0
    fetch_max_bytes: int = 4 * MIB
    max_image_tokens: int | None = None
    max_output_image_tokens: int | None = None
    over_budget_status: int = 429
    log_level: str = "info"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "ServeConfig":
        data = json.loads(text)
        data["model_aliases"] = tuple(tuple(pair) for pair in data.get("model_aliases", ()))
        return cls(**data)


def from_environment(environ: Mapping[str, str] | None = None) -> ServeConfig:
    """The configuration a server process was started with (:data:`CONFIG_VARIABLE`), or the
    one the ``VISIONTOKENS_*`` variables alone give."""
    environ = os.environ if environ is None else environ
    text = environ.get(CONFIG_VARIABLE)
    if text:
        return ServeConfig.from_json(text)
    return parse_args([], environ)


_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]i?b?)?\s*$", re.IGNORECASE)


def byte_size(text: str) -> int:
    """``1048576``, ``64M``, ``64MiB`` or ``1G``: binary multiples."""
    match = _SIZE.match(str(text))
    if not match:
        raise argparse.ArgumentTypeError(f"not a size in bytes (e.g. 64M): {text!r}")
    unit = (match[2] or "")[:1].lower()
    return int(match[1]) * {"": 1, "k": 1024, "m": MIB, "g": 1024 * MIB}[unit]


def _positive(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
        return value

    return parse


def _budget(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of tokens: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text!r}")
    return value


def _alias(text: str) -> tuple[str, str]:
    name, sep, model = text.partition("=")
    if not sep or not name.strip() or not model.strip():
        raise argparse.ArgumentTypeError(f"an alias is NAME=MODEL, got {text!r}")
    return name.strip(), model.strip()


def _flag(text: str) -> bool:
    if text.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if text.strip().lower() in ("", "0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"not a yes/no value: {text!r}")


#: flag -> (environment variable, parser of its text, default, help)
_OPTIONS: dict[str, tuple[str, Any, Any, str]] = {
    "--host": ("HOST", str, ServeConfig.host, "address to listen on"),
    "--port": ("PORT", int, ServeConfig.port, "port to listen on"),
    "--workers": ("WORKERS", _positive(int), ServeConfig.workers,
                  "server processes (uvicorn workers); /metrics adds up all of them"),
    "--concurrency": ("CONCURRENCY", _positive(int), ServeConfig.concurrency,
                      "counting processes per server process: requests counted at once "
                      "(the rest wait their turn)"),
    "--max-body-size": ("MAX_BODY_SIZE", byte_size, ServeConfig.max_body_size,
                        "largest body read, e.g. 64M; a larger one gets 413 and is not read"),
    "--inline-max-bytes": ("INLINE_MAX_BYTES", byte_size, ServeConfig.inline_max_bytes,
                           "bodies up to this size with few JSON values (images are one "
                           "each) count in the server process, skipping the hand-over to a "
                           "counting process; 0: every body goes to one"),
    "--body-timeout": ("BODY_TIMEOUT", _positive(float), ServeConfig.body_timeout,
                       "seconds a client has to send its whole body; then 408"),
    "--count-timeout": ("COUNT_TIMEOUT", _positive(float), ServeConfig.count_timeout,
                        "seconds a count may take; then 503 and its process is replaced"),
    "--max-connections": ("MAX_CONNECTIONS", _positive(int), None,
                          "open connections at most; more get 503 (default: no limit)"),
    "--shutdown-timeout": ("SHUTDOWN_TIMEOUT", _positive(float), ServeConfig.shutdown_timeout,
                           "seconds in-flight requests get to finish after SIGTERM"),
    "--worker-memory": ("WORKER_MEMORY", byte_size, ServeConfig.worker_memory,
                        "address space per counting process, e.g. 2G; a count over it gets "
                        "503 (default 0: no limit)"),
    "--ruleset": ("RULESET", str, None, "dated ruleset (default: the newest)"),
    "--undocumented": ("UNDOCUMENTED", str, ServeConfig.undocumented,
                       "a model whose image rule is undocumented: error (refuse to count), or "
                       "assume (count it like the closest documented model)"),
    "--model-alias": ("MODEL_ALIASES", _alias, None,
                      "NAME=MODEL: count a request for model NAME (a deployment, a model "
                      "group) as MODEL, the rule of the middleware's models= (repeatable; "
                      "the variable takes a comma-separated list)"),
    "--model-alias-file": ("MODEL_ALIAS_FILE", str, None,
                           "a JSON file of {\"NAME\": \"MODEL\", ...} aliases"),
    "--fetch": ("FETCH", _flag, False,
                "fetch http(s) images (public addresses only) to read their size; off by "
                "default: unknown sizes count at their upper bound"),
    "--fetch-timeout": ("FETCH_TIMEOUT", _positive(float), ServeConfig.fetch_timeout,
                        "seconds per image fetch"),
    "--fetch-max-bytes": ("FETCH_MAX_BYTES", byte_size, ServeConfig.fetch_max_bytes,
                          "bytes read of each fetched image at most"),
    "--max-image-tokens": ("MAX_IMAGE_TOKENS", _budget, None,
                           "input image-token budget per request for /v1/check"),
    "--max-output-image-tokens": ("MAX_OUTPUT_IMAGE_TOKENS", _budget, None,
                                  "output image-token budget per request for /v1/check"),
    "--over-budget-status": ("OVER_BUDGET_STATUS", int, ServeConfig.over_budget_status,
                             "status of a request over budget: 429 or 413"),
    "--log-level": ("LOG_LEVEL", str, ServeConfig.log_level,
                    "debug, info, warning or error"),
}
ENV_PREFIX = "VISIONTOKENS_"


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="visiontokens serve",
        description="An HTTP service that counts the image tokens of provider request bodies "
        "(POST /v1/count) and answers gateways' external-authorisation calls (POST /v1/check). "
        "Every option can also be set by the environment variable named after it.")
    for flag, (variable, kind, _default, text) in _OPTIONS.items():
        help_text = f"{text} [env {ENV_PREFIX}{variable}]"
        if flag == "--fetch":
            parser.add_argument(flag, action="store_true", default=None, help=help_text)
        elif flag == "--model-alias":
            parser.add_argument(flag, type=kind, action="append", default=None,
                                metavar="NAME=MODEL", help=help_text)
        elif flag == "--undocumented":
            parser.add_argument(flag, choices=("error", "assume"), default=None, help=help_text)
        elif flag == "--over-budget-status":
            parser.add_argument(flag, type=int, choices=(429, 413), default=None, help=help_text)
        elif flag == "--log-level":
            parser.add_argument(flag, choices=("debug", "info", "warning", "error"),
                                default=None, help=help_text)
        else:
            parser.add_argument(flag, type=kind, default=None, help=help_text)
    return parser


def parse_args(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> ServeConfig:
    """Flags, then the environment, then the defaults; every value checked (an invalid one
    exits with argparse's usage message, naming the flag or the variable)."""
    environ = os.environ if environ is None else environ
    p = parser()
    args = vars(p.parse_args(list(argv)))
    values: dict[str, Any] = {}
    for flag, (variable, kind, default, _) in _OPTIONS.items():
        key = flag[2:].replace("-", "_")
        value = args[key]
        if value is None and ENV_PREFIX + variable in environ:
            text = environ[ENV_PREFIX + variable]
            try:
                if key == "model_alias":
                    value = [_alias(item) for item in text.split(",") if item.strip()]
                elif key == "over_budget_status":
                    value = int(text)
                else:
                    value = kind(text)
            except (argparse.ArgumentTypeError, ValueError) as error:
                p.error(f"{ENV_PREFIX}{variable}: {error}")
        values[key] = default if value is None else value
    aliases = dict(values.pop("model_alias") or ())
    alias_file = values.pop("model_alias_file")
    if alias_file:
        aliases = {**_alias_file(p, alias_file), **aliases}  # a flag wins over the file
    values["model_aliases"] = tuple(sorted(aliases.items()))
    if values["undocumented"] not in ("error", "assume"):
        p.error(f"--undocumented must be error or assume, got {values['undocumented']!r}")
    if values["over_budget_status"] not in (429, 413):
        p.error(f"--over-budget-status must be 429 or 413, got {values['over_budget_status']}")
    if not 0 <= values["port"] <= 65535:
        p.error(f"--port must be 0-65535, got {values['port']}")
    config = ServeConfig(**values)
    check(config)
    return config


def _alias_file(p: argparse.ArgumentParser, path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError) as error:
        p.error(f"--model-alias-file {path}: {error}")
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and k and isinstance(v, str) and v for k, v in data.items()):
        p.error(f"--model-alias-file {path}: must hold a JSON object of \"NAME\": \"MODEL\"")
    return dict(data)


def check(config: ServeConfig) -> None:
    """The ruleset and the aliases are checked before the server starts, not on the first
    request: a typo stops ``serve`` with one line."""
    from ..rules import get_ruleset

    get_ruleset(config.ruleset)
    check_aliases(config)


def check_aliases(config: ServeConfig) -> None:
    """``--model-alias`` is the ``models=`` map of the middleware and the LiteLLM hook (the
    counting code takes it per request, nothing is registered): each alias must name a model
    the ruleset knows, as an image reader or an image generator (UnknownModelError, with the
    closest names, otherwise; an undocumented one follows ``--undocumented``)."""
    from .._errors import UnknownModelError
    from ..rules import resolve, resolve_output
    from .shared import check_models

    check_models(dict(config.model_aliases))
    for name, model in config.model_aliases:
        if name == model:
            raise InvalidArgumentError(f"model alias {name!r} names itself", argument="models")
        try:
            resolve(model, config.ruleset, config.undocumented)
        except UnknownModelError:
            try:
                resolve_output(model, config.ruleset, config.undocumented)
            except UnknownModelError:
                pass
            else:
                continue
            raise
