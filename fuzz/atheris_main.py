"""Coverage-guided fuzzing with atheris (libFuzzer for Python).

    python fuzz/atheris_main.py TARGET [libFuzzer options] [CORPUS_DIR ...]

TARGET is one of image_bytes, data_url, request (see fuzz_targets.py). The pure twins are
instrumented for coverage; the compiled twins run beside them on every input, so a
disagreement or a foreign exception in either is a crash. A long run, on both cores:

    mkdir -p /tmp/found && python fuzz/atheris_main.py request /tmp/found fuzz/corpus/request \\
        -max_total_time=3600 -timeout=10 -rss_limit_mb=2048 -jobs=2 -workers=2

libFuzzer writes new inputs to the first corpus directory and a crashing input to
crash-<hash> (``-artifact_prefix=DIR/`` to put it elsewhere); replay it with
``python fuzz/atheris_main.py TARGET crash-<hash>``, then add it to fuzz/corpus/TARGET/ so
every test run replays it.
"""

from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

with atheris.instrument_imports(include=["visiontokens"]):
    import fuzz_targets as targets


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in targets.TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(targets.TARGETS)}}} [libFuzzer options] "
                 "[corpus dirs]")
    target = targets.TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0]] + sys.argv[2:], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
