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
    from visiontokens.cli import common

    monkeypatch.setattr(common, "WALK", load_twin("request", request.param))
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
    assert f"{path}: line 4: the request body is not JSON" in err and f"{path}: line 6: " in err
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
                                          "tokens": 85, "upper_bound_images": 0,
                                          "output_image_tokens": 0,
                                          "output_upper_bound_requests": 0}
    bound = vt.max_image_tokens("gpt-5.4", "high")  # auto is high on gpt-5.4
    assert groups[("gpt-5.4", "high")]["tokens"] == bound
    assert report["tokens"] == counted.image_tokens + 85 + bound + vt.max_image_tokens("gpt-4.1-mini", "low")
    assert report["upper_bound_images"] == 2


def test_jsonl_without_upper_bound_and_the_table(jsonl, capsys):
    path, example = jsonl
    code, out, err = run(capsys, path)
    assert code == 0
    assert f"{path}: line 7: /messages/0/content/1: the image's size is unknown" in err
    assert f"{path}: line 2: " not in err  # gpt-4o low needs no size (spec 3.4)
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
    assert f"{path}: line 4: " in err and f"{path}: line 6: " not in err and "--strict" in err


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
    assert report["rows"] == 10 and report["bad_rows"] == 5
    assert [(e["file"], e.get("row", e.get("line"))) for e in report["errors"]] == [
        (str(parquet), 3), (str(parquet), 4), (str(csv), 3), (str(csv), 4), (str(csv), 5)]
    # one wording for every format: FILE: line N (CSV, JSONL) or row N (Parquet): why
    assert f"{parquet}: row 3: no w" in err and f"{parquet}: row 5:" not in err
    assert f"{csv}: line 3: unknown model 'nope'" in err and f"{csv}: line 5: " in err  # 30,000 patches
    summary = {(r["model"], r["detail"]): (r["images"], r["tokens"]) for r in report["summary"]}
    mini = vt.count_image_tokens(2048, 4096, "gpt-4.1-mini", "high") + \
        vt.count_image_tokens(1800, 2400, "gpt-4.1-mini")
    # parquet row 5 has no level: billed at auto (the default), which gpt-5.4 bills at high
    assert summary == {("gpt-4o", "high"): (2, 765 * 2), ("gpt-4.1-mini", "high"): (2, mini),
                       ("gpt-5.4", "high"): (1, vt.count_image_tokens(512, 512, "gpt-5.4"))}
    rows = pq.read_table(out_path).to_pylist()
    assert len(rows) == 10 and rows[0]["image_tokens"] == 765 and rows[2]["error"] == "no w"
    assert rows[4]["detail"] == "auto" and rows[4]["error"] is None
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
    assert main(["logs", "--help"]) == 0
    assert "--width-column" in capsys.readouterr().out


# --- logs that carry the bill ---------------------------------------------------------------

EXAMPLES = Path(__file__).parent.parent / "examples"
BATCH_APIS = {"/v1/chat/completions": "chat", "/v1/responses": "responses",
              "/v1/images/generations": "images.generations", "/v1/images/edits": "images.edits"}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_batch_input_is_priced_by_its_url(tmp_path, capsys):
    inputs = read_jsonl(EXAMPLES / "batch_input.jsonl")
    out_path = tmp_path / "rows.jsonl"
    code, out, err = run(capsys, EXAMPLES / "batch_input.jsonl", "--json", "--out", out_path)
    assert code == 0 and err == ""
    report = json.loads(out)
    assert "billed" not in report  # no --usage: an estimate before the batch is submitted
    rows = read_jsonl(out_path)
    assert [r["custom_id"] for r in rows] == [line["custom_id"] for line in inputs]
    assert [r["api"] for r in rows] == [BATCH_APIS[line["url"]] for line in inputs]
    counts = [vt.count_request(line["body"], api=BATCH_APIS[line["url"]]) for line in inputs]
    assert [r["image_tokens"] for r in rows] == [c.image_tokens for c in counts]
    # the Images API rows' output tokens are counted, in the rows and the summary
    assert [r["output_image_tokens"] for r in rows] == [c.output_image_tokens for c in counts]
    assert report["output_image_tokens"] == sum(c.output_image_tokens for c in counts) > 0
    assert report["tokens"] == sum(c.image_tokens for c in counts)


def test_batch_line_with_an_unpriced_url_or_a_repeated_custom_id_is_a_bad_row(tmp_path, capsys):
    body = url_request("gpt-4o", "https://img.example/a.png", "low")
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in [
        {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": body},
        {"custom_id": "b", "method": "POST", "url": "/v1/embeddings", "body": {"input": "x"}},
        {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": body},
    ]) + "\n")
    code, out, err = run(capsys, path, "--json")
    report = json.loads(out)
    assert code == 0 and report["bad_rows"] == 2 and report["tokens"] == 85
    assert f"{path}: line 2: custom_id 'b': url '/v1/embeddings' is not one that is priced" in err
    assert f"{path}: line 3: custom_id 'a' is on an earlier line too" in err


def billed_image_tokens(output_line: dict) -> int | None:
    usage = output_line["response"]["body"]["usage"]
    if "prompt_tokens_details" in usage:
        return usage["prompt_tokens_details"]["image_tokens"]
    return usage.get("input_tokens_details", {}).get("image_tokens")


def test_batch_output_joined_by_custom_id_shows_the_drift(tmp_path, capsys):
    inputs = read_jsonl(EXAMPLES / "batch_input.jsonl")
    outputs = {o["custom_id"]: o for o in read_jsonl(EXAMPLES / "batch_output.jsonl")}
    out_path = tmp_path / "rows.csv"
    code, out, err = run(capsys, EXAMPLES / "batch_input.jsonl", "--usage",
                         EXAMPLES / "batch_output.jsonl", "--json", "--out", out_path)
    assert code == 0 and err == ""
    billed = json.loads(out)["billed"]
    # what the example's files say, read here without the CLI
    expected = {}
    for line in inputs:
        output = outputs.get(line["custom_id"])
        if output is None or output["response"] is None:
            continue
        image = billed_image_tokens(output)
        if image is not None:
            count = vt.count_request(line["body"], api=BATCH_APIS[line["url"]])
            expected[line["custom_id"]] = image - count.image_tokens
    assert billed["comparable"] == len(expected) and billed["rows_with_usage"] == 7
    assert billed["exact"] == sum(1 for d in expected.values() if d == 0) < len(expected)
    assert billed["exact_share"] == round(billed["exact"] / billed["comparable"], 4)
    assert billed["not_comparable"] == {
        "the responses usage reports only the input total, not images": 1,
        "the batch request failed: Rate limit reached": 1,
        "no output line for its custom_id": 1}
    largest = [(d["custom_id"], d["difference"]) for d in billed["largest_differences"]]
    assert largest == sorted(((k, v) for k, v in expected.items() if v),
                             key=lambda kv: -abs(kv[1]))
    assert billed["billed"] - billed["estimated"] == sum(expected.values())
    # --out carries the billed figures beside ours
    import pyarrow.csv as pcsv

    rows = {r["custom_id"]: r for r in pcsv.read_csv(out_path).to_pylist()}
    for custom_id, difference in expected.items():
        row = rows[custom_id]
        assert row["difference"] == difference
        assert row["billed_image_tokens"] == row["image_tokens"] + difference
    assert rows["req-5"]["comparable"] is False and "input total" in rows["req-5"]["reason"]
    assert rows["req-9"]["billed_image_tokens"] is None


def test_the_drift_summary_as_printed(capsys):
    code, out, err = run(capsys, EXAMPLES / "batch_input.jsonl", "--usage",
                         EXAMPLES / "batch_output.jsonl")
    assert code == 0
    lines = out.splitlines()
    start = lines.index("billed against estimated (image input tokens of the rows whose usage "
                        "reports them):")
    total = next(line for line in lines[start:] if line.startswith("total"))
    assert total.split()[-4:] == ["4", "of", "6", "(67%)"]
    assert "3 rows not compared:" in lines
    assert any("(req-7): gpt-image-1 high, estimated 194, billed 65" in line for line in lines)


def test_join_reports_missing_and_duplicate_custom_ids(tmp_path, capsys):
    image = EXAMPLES / "images" / "screenshot.png"
    import base64

    url = "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode()
    body = url_request("gpt-4o", url, "high")
    tokens = vt.count_request(body).image_tokens

    def output(custom_id, image_tokens):
        return {"custom_id": custom_id, "response": {"status_code": 200, "body": {"usage": {
            "prompt_tokens": image_tokens + 9, "completion_tokens": 3, "total_tokens": 0,
            "prompt_tokens_details": {"image_tokens": image_tokens}}}}, "error": None}

    batch = tmp_path / "in.jsonl"
    batch.write_text("\n".join(json.dumps({"custom_id": c, "method": "POST",
                                           "url": "/v1/chat/completions", "body": body})
                               for c in ("a", "b", "c")) + "\n")
    usage = tmp_path / "out.jsonl"
    usage.write_text("\n".join(json.dumps(o) for o in [
        output("a", tokens), output("b", tokens), output("b", tokens + 1),
        output("zzz", 1), {"no": "custom id"}]) + "\n")
    code, out, err = run(capsys, batch, "--usage", usage, "--json")
    report = json.loads(out)
    assert code == 0
    assert f"{usage}: line 3: custom_id 'b' is on more than one output line" in err
    assert f"{usage}: line 5: a Batch output line has no custom_id" in err
    billed = report["billed"]
    assert billed["comparable"] == 1 and billed["exact"] == 1  # only a
    assert billed["not_comparable"] == {"its custom_id is on more than one output line": 1,
                                        "no output line for its custom_id": 1}
    assert billed["unmatched_output_lines"] == 1  # zzz
    assert report["bad_rows"] == 2 and report["rows"] == 3
    code, out, err = run(capsys, batch, "--usage", usage, "--strict")
    assert code == 1 and f"{usage}: line 3:" in err


def test_logged_pairs_carry_their_usage(tmp_path, capsys):
    pairs = read_jsonl(EXAMPLES / "logged_pairs.jsonl")
    code, out, err = run(capsys, EXAMPLES / "logged_pairs.jsonl", "--json")
    assert code == 0
    billed = json.loads(out)["billed"]
    differences = [p["response"]["usage"]["prompt_tokens_details"]["image_tokens"]
                   - vt.count_request(p["request"]).image_tokens
                   for p in pairs if "usage" in p["response"]]
    assert billed["comparable"] == len(differences) == 4
    assert billed["exact"] == differences.count(0) == 3
    assert billed["not_comparable"] == {"the response has no usage": 1}
    # the usage may also sit in response.body.usage, as Batch output lines hold it
    wrapped = tmp_path / "wrapped.jsonl"
    wrapped.write_text(json.dumps({"request": pairs[2]["request"], "response": {
        "status_code": 200, "body": pairs[2]["response"]}}) + "\n")
    code, out, err = run(capsys, wrapped, "--json")
    billed = json.loads(out)["billed"]
    assert billed["largest_differences"][0]["difference"] == differences[2] != 0


def test_default_detail_for_rows_without_one(tmp_path, capsys):
    csv = tmp_path / "no_detail.csv"
    csv.write_text("width,height,model\n1024,1024,gpt-4o\n")
    for detail, expected in (("auto", 765), ("low", 85), ("high", 765)):
        args = [] if detail == "auto" else ["--default-detail", detail]
        code, out, err = run(capsys, csv, "--json", *args)
        report = json.loads(out)
        assert code == 0 and report["tokens"] == expected and report["bad_rows"] == 0


def test_folders_globs_and_out_suffixes(tmp_path, capsys, monkeypatch):
    logs = tmp_path / "logs"
    (logs / "deep").mkdir(parents=True)
    (logs / "a.csv").write_text("width,height,model\n1024,1024,gpt-4o\n")
    (logs / "deep" / "b.csv").write_text("width,height,model\n512,512,gpt-4o\n")
    (logs / "notes.txt").write_text("not a log: not read")
    code, out, err = run(capsys, logs, "--json")
    assert code == 0 and json.loads(out)["rows"] == 2
    code, out, err = run(capsys, str(logs / "*.csv"), "--json")  # a glob the shell left alone
    assert code == 0 and json.loads(out)["rows"] == 1
    code, out, err = run(capsys, str(logs / "**" / "*.csv"), "--json")
    assert json.loads(out)["rows"] == 2
    for suffix, read in ((".csv", lambda p: __import__("pyarrow.csv").csv.read_csv(p).to_pylist()),
                         (".parquet", lambda p: pq.read_table(p).to_pylist()),
                         (".jsonl", read_jsonl)):
        out_path = tmp_path / f"rows{suffix}"
        assert run(capsys, logs, "--out", out_path)[0] == 0
        assert [r["image_tokens"] for r in read(out_path)] == [765, 255]
    assert (tmp_path / "rows.parquet").read_bytes()[:4] == b"PAR1"
    assert not (tmp_path / "rows.csv").read_bytes().startswith(b"PAR1")


@pytest.mark.parametrize("argv, message", [
    (["{logs}", "--out", "rows.txt"], "the suffix names the format"),
    (["{tmp}/missing.jsonl"], "no such file or folder"),
    (["{tmp}/*.nothing"], "no file matches"),
    (["{tmp}"], "no log files in the folder"),
    (["{logs}", "--usage", "{tmp}/missing.jsonl"], "--usage: no such file"),
    (["{logs}", "--allow-private"], "--allow-private needs --fetch"),
    (["{logs}", "--max-errors", "-1"], "--max-errors must be 0 or more"),
])
def test_usage_errors_exit_2(tmp_path, capsys, argv, message):
    logs = tmp_path / "a.csv"
    logs.write_text("width,height,model\n1024,1024,gpt-4o\n")
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = [a.format(logs=logs, tmp=empty) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and message in err


def test_policy_flags_reach_the_counts(tmp_path, capsys):
    body = url_request("gpt-6-sol", "https://img.example/a.png", "low")
    path = tmp_path / "new.jsonl"
    path.write_text(json.dumps(body) + "\n")
    code, out, err = run(capsys, path, "--upper-bound", "--json")
    assert json.loads(out)["bad_rows"] == 1 and "--undocumented assume" in err
    assert "undocumented='assume'" not in err  # the hint names the flag
    code, out, err = run(capsys, path, "--upper-bound", "--undocumented", "assume", "--json")
    assert json.loads(out)["tokens"] == vt.count_request(
        body, on_unknown="upper_bound", undocumented="assume").image_tokens
    csv = tmp_path / "big.csv"
    csv.write_text("width,height,model,detail\n9000,9000,gpt-6-astra,original\n")
    code, out, err = run(capsys, csv, "--json")
    assert json.loads(out)["bad_rows"] == 1  # over the 30,000-patch limit
    code, out, err = run(capsys, csv, "--json", "--no-enforce-patch-limit")
    assert json.loads(out)["tokens"] == vt.count_image_tokens(
        9000, 9000, "gpt-6-astra", "original", enforce_patch_limit=False)
