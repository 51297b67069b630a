"""``visiontokens logs``: JSONL request logs and Parquet/CSV tables, end to end through the
command line."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from extras import needs
from implementations import KINDS, load_twin

import visiontokens as vt
from visiontokens.cli.main import main


@pytest.fixture(autouse=True, params=KINDS)
def request_twin(request, monkeypatch):
    """Every command here runs on both request twins (each on its own lower twins)."""
    from visiontokens.cli import main as cli_main

    monkeypatch.setattr(cli_main, "WALK", load_twin("request", request.param))
    return request.param

EXAMPLE = Path(__file__).parent.parent / "examples" / "chat_request.json"


def url_request(model: str, url: str, detail: str | None = None) -> dict:
    part = {"url": url} if detail is None else {"url": url, "detail": detail}
    return {"model": model, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"}, {"type": "image_url", "image_url": part}]}]}


def responses_request(model: str, url: str) -> dict:
    return {"model": model, "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": url, "detail": "low"}]}]}


@pytest.fixture
def jsonl(tmp_path):
    example = json.loads(EXAMPLE.read_text())
    lines = [
        json.dumps(example),                                                       # 1
        json.dumps(url_request("gpt-4o", "https://img.example/a.png", "low")),     # 2
        "",                                                                        # 3 blank
        "{not json",                                                               # 4 bad
        json.dumps(responses_request("gpt-4.1-mini", "https://img.example/b.png")),  # 5
        json.dumps({"model": "gpt-4o", "messages": "nope"}),                       # 6 bad
        json.dumps(url_request("gpt-5.4", "https://img.example/c.png")),          # 7 unknown size
    ]
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path, example


def run(capsys, *argv):
    code = main(["logs", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_jsonl_summary_and_bad_lines(jsonl, capsys):
    path, example = jsonl
    code, out, err = run(capsys, path, "--upper-bound", "--json")
    assert code == 0  # bad rows are reported and counted, never fatal
    report = json.loads(out)
    assert report["rows"] == 6 and report["bad_rows"] == 2 and report["counted"] == 4
    assert [e["line"] for e in report["errors"]] == [4, 6]
    assert f"{path}:4: the request body is not JSON" in err and f"{path}:6: " in err
    # the example's images, each as count_request counts it, plus the three URL images
    counted = vt.count_request(example)
    groups = {(r["model"], r["detail"]): r for r in report["summary"]}
    for detail in {i.resolved_detail for i in counted.images}:
        images = [i for i in counted.images if i.resolved_detail == detail]
        row = groups[(counted.model, detail)]
        extra = 1 if detail == "low" else 0  # line 5: gpt-4.1-mini low, an upper bound
        assert row["images"] == len(images) + extra
    # line 2: a tile model at low costs its base whatever the size: exact, no bound (spec 3.4)
    assert groups[("gpt-4o", "low")] == {"model": "gpt-4o", "detail": "low", "images": 1,
                                          "tokens": 85, "upper_bound_images": 0}
    bound = vt.max_image_tokens("gpt-5.4", "high")  # auto is high on gpt-5.4
    assert groups[("gpt-5.4", "high")]["tokens"] == bound
    assert report["tokens"] == counted.image_tokens + 85 + bound + vt.max_image_tokens("gpt-4.1-mini", "low")
    assert report["upper_bound_images"] == 2


def test_jsonl_without_upper_bound_and_the_table(jsonl, capsys):
    path, example = jsonl
    code, out, err = run(capsys, path)
    assert code == 0
    assert f"{path}:7: /messages/0/content/1: the image's size is unknown" in err
    assert f"{path}:2: " not in err  # gpt-4o low needs no size (spec 3.4)
    lines = out.splitlines()
    assert lines[0].split() == ["model", "detail", "images", "tokens"]
    total = vt.count_request(example).image_tokens + 85
    assert lines[-2].split() == ["total", str(len(vt.count_request(example).images) + 1),
                                 f"{total:,}"]
    assert lines[-1] == "2 of 6 rows counted; 4 bad (on stderr)"


def test_strict_stops_at_the_first_bad_row(jsonl, capsys):
    path, _ = jsonl
    code, out, err = run(capsys, path, "--upper-bound", "--strict")
    assert code == 1 and out == ""
    assert f"{path}:4: " in err and f"{path}:6: " not in err and "--strict" in err


def test_fetch_goes_through_the_ssrf_guard(tmp_path, capsys):
    path = tmp_path / "local.jsonl"
    path.write_text(json.dumps(url_request("gpt-4o", "http://127.0.0.1:9/x.png")) + "\n")
    code, out, err = run(capsys, path, "--fetch", "--json")
    report = json.loads(out)
    assert report["bad_rows"] == 1
    assert "fetch failed: refusing to connect to '127.0.0.1'" in report["errors"][0]["error"]
    code, out, err = run(capsys, path, "--json")  # without --fetch, nothing is fetched
    assert "not fetched (fetching is off)" in json.loads(out)["errors"][0]["error"]


def test_jsonl_from_stdin_and_out_file(jsonl, tmp_path, capsys, monkeypatch):
    import io
    import sys

    path, example = jsonl
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(path.read_bytes())))
    out_path = tmp_path / "rows.parquet"
    code, out, _ = run(capsys, "-", "--upper-bound", "--out", out_path, "--json")
    assert code == 0 and json.loads(out)["rows"] == 6
    rows = pq.read_table(out_path).to_pylist()
    assert [r["line"] for r in rows] == [1, 2, 4, 5, 6, 7]
    assert rows[0]["image_tokens"] == vt.count_request(example).image_tokens
    assert rows[0]["images"] == len(vt.count_request(example).images) and rows[0]["error"] is None
    assert rows[2]["error"].startswith("the request body is not JSON") and rows[2]["image_tokens"] is None
    assert rows[4]["upper_bound"] is False and rows[5]["upper_bound"] is True


@pytest.fixture
def tables(tmp_path):
    parquet = tmp_path / "images.parquet"
    pq.write_table(pa.table({
        "w": pa.array([1024, 2048, None, 0, 512, 1800], pa.int32()),
        "h": pa.array([1024, 4096, 5, 5, 512, 2400], pa.int32()),
        "llm": pa.array(["gpt-4o", "gpt-4.1-mini-2025-04-14", "gpt-4o", "gpt-4o", "gpt-5.4",
                         "gpt-4.1-mini"]).dictionary_encode(),
        "level": ["high", "high", "low", "high", None, "auto"],
        "other": [1, 2, 3, 4, 5, 6],
    }), parquet, row_group_size=2)
    csv = tmp_path / "images.csv"
    csv.write_text("llm,w,h\ngpt-4o,1024,1024\nnope,5,5\ngpt-4o,,5\ngpt-6-astra,9000,9000\n")
    return parquet, csv


def test_tables_with_configured_columns(tables, tmp_path, capsys):
    parquet, csv = tables
    out_path = tmp_path / "rows.parquet"
    code, out, err = run(capsys, parquet, csv, "--width-column", "w", "--height-column", "h",
                         "--model-column", "llm", "--detail-column", "level", "--json",
                         "--out", out_path)
    assert code == 0
    report = json.loads(out)
    assert report["rows"] == 10 and report["bad_rows"] == 6
    assert [(e["file"], e.get("row", e.get("line"))) for e in report["errors"]] == [
        (str(parquet), 3), (str(parquet), 4), (str(parquet), 5),
        (str(csv), 3), (str(csv), 4), (str(csv), 5)]
    assert f"{parquet}: row 3: no w" in err and f"{parquet}: row 5: no level" in err
    assert f"{csv}:3: unknown model 'nope'" in err and f"{csv}:5: " in err  # 30,000 patches
    summary = {(r["model"], r["detail"]): (r["images"], r["tokens"]) for r in report["summary"]}
    mini = vt.count_image_tokens(2048, 4096, "gpt-4.1-mini", "high") + \
        vt.count_image_tokens(1800, 2400, "gpt-4.1-mini")
    assert summary == {("gpt-4o", "high"): (2, 765 * 2), ("gpt-4.1-mini", "high"): (2, mini)}
    rows = pq.read_table(out_path).to_pylist()
    assert len(rows) == 10 and rows[0]["tokens"] == 765 and rows[2]["error"] == "no w"
    assert rows[6]["line"] == 2 and rows[6]["detail"] == "auto"  # the CSV has no detail column


def test_table_with_a_missing_column_is_an_error(tables, capsys):
    parquet, _ = tables
    code, out, err = run(capsys, parquet)
    assert code == 1 and "no column 'width', 'height', 'model'" in err


@needs("matplotlib")
def test_progress_bar_and_plot(tables, tmp_path, capsys):
    parquet, _ = tables
    png = tmp_path / "tokens.png"
    code, out, err = run(capsys, parquet, "--width-column", "w", "--height-column", "h",
                         "--model-column", "llm", "--detail-column", "level",
                         "--progress", "always", "--plot", png)
    assert code == 0 and "] 100% 6 rows" in err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    info = vt.image_info(str(png))
    assert info.width > 400 and info.height > 100
    code, out, err = run(capsys, parquet, "--width-column", "w", "--height-column", "h",
                         "--model-column", "llm")
    assert "%" not in err  # auto: not a terminal, no bar


def test_help_lists_logs(capsys):
    assert main(["--help"]) == 0
    assert "logs" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["logs", "--help"])
    assert "--width-column" in capsys.readouterr().out
