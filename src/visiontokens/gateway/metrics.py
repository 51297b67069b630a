"""The few metrics ``serve`` exposes, in the Prometheus text format (version 0.0.4).

Written here rather than with ``prometheus_client``: four families of counters and one
histogram are some sixty lines, and the format is stable; a dependency would add an import
and, for several workers, its multiprocess mode's shared directory. Each server process keeps
its own figures (with ``--workers N`` a scrape reads one of them; run one worker per
container, or scrape each, when every figure matters).
"""

from __future__ import annotations

import threading
from typing import Iterable

#: Latency buckets, in seconds: a 1 MB body counts in about a millisecond, a dense or huge
#: one in seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n")


def _labels(pairs: Iterable[tuple[str, str]]) -> str:
    text = ",".join(f'{name}="{_escape(value)}"' for name, value in pairs)
    return "{" + text + "}" if text else ""


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str], int] = {}
        self.errors: dict[str, int] = {}
        self.image_tokens = {"input": 0, "output": 0}
        self.images = 0
        self.counting = 0  # bodies being counted now (a gauge)
        self._buckets: dict[str, list[int]] = {}
        self._sums: dict[str, float] = {}

    def observe(self, endpoint: str, status: int, seconds: float, code: str | None = None,
                input_tokens: int = 0, output_tokens: int = 0, images: int = 0) -> None:
        with self._lock:
            key = (endpoint, str(status))
            self.requests[key] = self.requests.get(key, 0) + 1
            if code:
                self.errors[code] = self.errors.get(code, 0) + 1
            self.image_tokens["input"] += input_tokens
            self.image_tokens["output"] += output_tokens
            self.images += images
            counts = self._buckets.setdefault(endpoint, [0] * (len(BUCKETS) + 1))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
                    break
            else:
                counts[-1] += 1
            self._sums[endpoint] = self._sums.get(endpoint, 0.0) + seconds

    def exposition(self) -> str:
        with self._lock:
            lines = ["# HELP visiontokens_requests_total Requests answered, by endpoint and status.",
                     "# TYPE visiontokens_requests_total counter"]
            lines += [f"visiontokens_requests_total{_labels([('endpoint', e), ('status', s)])} {n}"
                      for (e, s), n in sorted(self.requests.items())]
            lines += ["# HELP visiontokens_image_tokens_total Image tokens counted, input and "
                      "output (generated images).",
                      "# TYPE visiontokens_image_tokens_total counter"]
            lines += [f"visiontokens_image_tokens_total{_labels([('kind', k)])} {n}"
                      for k, n in self.image_tokens.items()]
            lines += ["# HELP visiontokens_images_total Images counted.",
                      "# TYPE visiontokens_images_total counter",
                      f"visiontokens_images_total {self.images}"]
            lines += ["# HELP visiontokens_counts_in_progress Bodies being counted now.",
                      "# TYPE visiontokens_counts_in_progress gauge",
                      f"visiontokens_counts_in_progress {self.counting}"]
            lines += ["# HELP visiontokens_errors_total Errors answered, by code.",
                      "# TYPE visiontokens_errors_total counter"]
            lines += [f"visiontokens_errors_total{_labels([('code', c)])} {n}"
                      for c, n in sorted(self.errors.items())]
            lines += ["# HELP visiontokens_request_duration_seconds Time from the request to "
                      "its answer, by endpoint.",
                      "# TYPE visiontokens_request_duration_seconds histogram"]
            for endpoint, counts in sorted(self._buckets.items()):
                running = 0
                for bound, n in zip([*map(repr, BUCKETS), "+Inf"], counts):
                    running += n
                    lines.append("visiontokens_request_duration_seconds_bucket"
                                 f"{_labels([('endpoint', endpoint), ('le', bound)])} {running}")
                label = _labels([("endpoint", endpoint)])
                lines.append(f"visiontokens_request_duration_seconds_sum{label} "
                             f"{self._sums[endpoint]!r}")
                lines.append(f"visiontokens_request_duration_seconds_count{label} {running}")
        return "\n".join(lines) + "\n"
