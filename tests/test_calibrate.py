"""calibrate(rows): recover every shipped model's rule from rows its own rule generates, with
and without corrupted rows; name the ambiguity when the rows cannot decide."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import numpy as np

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import visiontokens as vt
from visiontokens import ArgumentTypeError, InvalidArgumentError
from visiontokens.calibrate import SEARCHERS, CalibrationRule, _probe_sizes, calibrate, load, predict

#: Sizes a probe run would bill: small (no resize), budget-bound, cap-bound, extreme ratios.
SIZES = [(1, 1), (31, 33), (100, 200), (300, 300), (512, 512), (513, 700), (800, 600),
         (1024, 1024), (1500, 900), (2048, 2048), (1800, 2400), (3000, 1000), (4096, 512),
         (512, 4096), (4000, 3000), (6000, 6000), (8192, 1024), (1200, 7000), (640, 480),
         (700, 701)]


def generated(spec, sizes=SIZES):
    """Rows billed by the model's own rule (sizes it rejects are not billed)."""
    rows = []
    for detail in spec.details:
        for w, h in sizes:
            try:
                rows.append((w, h, detail, vt.count_image_tokens(w, h, spec.id, detail,
                                                                 ruleset=spec.ruleset)))
            except vt.ImageRejectedError:
                pass
    return rows


def _distinct_rules():
    """Every model of every shipped ruleset, every scheme, grouped by the rows its rule bills:
    models with the same rule give the same rows, and one calibration answers for all of
    them."""
    groups: dict[str, list] = {}
    for ruleset in vt.rulesets():
        for spec in vt.models(ruleset):
            rows = generated(spec)
            groups.setdefault(json.dumps(rows), []).append(spec)
    return list(groups.values())


RULES = _distinct_rules()


def _ids(specs):
    return "+".join(f"{s.ruleset}/{s.id}" for s in specs[:3]) + ("+..." if len(specs) > 3 else "")


def truth_of(spec) -> dict:
    """The parameters a fit can be compared with: per level, and for "auto"."""
    out = {}
    for level, p in spec.params.items():
        if spec.scheme == "patch":
            out[level] = {"cap": p.cap, "budget": p.budget}
    return out


def assert_recovers(result, spec):
    """The fit equals the true parameters wherever the rows determine them, and the truth
    lies in the ranges the rows leave open."""
    rule = result.rule
    assert rule.scheme == spec.scheme
    open_ = result.ranges

    def check(name, fitted, true):
        if name in open_:
            assert any(lo <= (true or 2**31 - 1 if name.endswith("budget") else true) <= hi
                       for lo, hi in open_[name]), (name, true, open_[name])
        elif fitted != true:
            # Only a parameter that changes no count may differ (a budget no capped image
            # reaches): the rule with the true value counts every probe size alike.
            assert immaterial(name, true), (name, fitted, true)

    def immaterial(name, true):
        level, _, param = name.rpartition(".")
        if level:
            details = {k: dict(v) for k, v in rule.details.items()}
            details[level][param] = true
            other = replace(rule, details=details)
        elif param == "cell":  # Mistral: a bill shows patch x merge only
            other = replace(rule, patch=true, merge=1)
        else:
            other = replace(rule, **{param: true})
        w = np.array([s[0] for s in _probe_sizes()])
        h = np.array([s[1] for s in _probe_sizes()])
        return all((predict(rule, w, h, d) == predict(other, w, h, d)).all() for d in rule.details)

    if spec.provider != "openai":
        assert_recovers_provider(rule, spec, check)
    elif spec.scheme == "patch":
        multipliers = {c.multiplier for c in result.candidates}
        assert spec.multiplier in multipliers or rule.multiplier == spec.multiplier
        if len(multipliers) == 1:
            assert rule.multiplier == spec.multiplier
        true_levels = truth_of(spec)
        for level, params in true_levels.items():
            assert level in rule.details
            check(f"{level}.cap", rule.details[level]["cap"], params["cap"])
            check(f"{level}.budget", rule.details[level]["budget"], params["budget"])
        assert rule.details[rule.auto] == rule.details[spec.auto] or \
            true_levels[spec.auto] == rule.details[rule.auto]
    else:
        p = spec.params["high"]
        assert (rule.base, rule.per_tile) == (p.base, p.per_tile)
        check("short_side", rule.short_side, p.short_side)
        check("fit", rule.fit, p.cap)


#: Per provider scheme: the rule's field and the kernel parameter that holds its truth.
PROVIDER_TRUTH = {
    "claude": {"max_edge": "cap", "max_tokens": "budget"},
    "mistral": {"max_edge": "cap"},
    "qwen": {"patch": "patch", "min_pixels": "lo", "max_pixels": "hi", "markers": "markers"},
    "gemini_tiles": {"base": "base", "per_tile": "per_tile", "short_side": "short_side",
                     "unit_min": "lo", "unit_max": "hi"},
    "fixed": {},
}


def assert_recovers_provider(rule, spec, check):
    """A provider model: its levels (or none), the level auto stands for, each flat level's
    count, and the scheme's parameters where the rows determine them."""
    assert rule.levels == (spec.levels or ())
    if spec.levels:
        assert rule.auto == spec.auto
    for level, p in spec.params.items():
        if p.scheme == "fixed":
            assert rule.details[level].get("base", rule.base) == p.base
            continue
        assert rule.details[level] == {}
        for name, attr in PROVIDER_TRUTH[p.scheme].items():
            check(name, getattr(rule, name), getattr(p, attr))
        if p.scheme == "mistral":
            check("cell", rule.patch * rule.merge, p.patch * p.merge)


@pytest.mark.parametrize("specs", RULES, ids=[_ids(s) for s in RULES])
def test_recovers_every_shipped_rule(specs):
    spec = specs[0]
    rows = generated(spec)
    result = calibrate(rows)
    assert result.exact and result.matched == result.total == len(rows)
    assert result.disagreeing == ()
    assert_recovers(result, spec)
    # every candidate reproduces every row, counted by the library's own kernel
    for candidate in result.candidates:
        model = candidate.model()
        assert all(model.count(w, h, candidate.auto if d == "auto" else d) == t
                   for w, h, d, t in rows)
    # the probes split the candidates: each probe is billed differently by two of them
    for w, h, d in result.probes:
        counts = {c.model().count(w, h, c.auto if d == "auto" else d) for c in result.candidates}
        assert len(counts) > 1
    assert ("the rows decide the rule" in result.statement()) == result.decided


@pytest.mark.parametrize("specs", RULES, ids=[_ids(s) for s in RULES])
def test_recovers_with_corrupted_rows(specs):
    spec = specs[0]
    rows = generated(spec)
    rng = random.Random(spec.id)
    bad = sorted(rng.sample(range(len(rows)), 3))
    for i in bad:
        w, h, d, t = rows[i]
        rows[i] = (w, h, d, t + rng.choice([-7, 3, 13, 250]) if t > 250 else t + 13)
    result = calibrate(rows)
    assert result.matched == len(rows) - 3 and not result.exact
    assert [d.row for d in result.disagreeing] == bad
    assert all(d.billed == rows[d.row][3] and d.predicted != d.billed for d in result.disagreeing)
    assert_recovers(result, spec)
    assert "3 rows disagree" in result.statement()


def test_too_few_rows_name_the_ambiguity_and_probes():
    spec = vt.get_model("gpt-5.4").spec
    rows = generated(spec, [(100, 200), (512, 512), (1024, 1024)])
    rows = [r for r in rows if r[2] == "high"]
    result = calibrate(rows)
    assert result.exact and not result.decided and len(result.candidates) > 1
    assert "high.cap" in result.ranges and "high.budget" in result.ranges
    assert result.probes
    text = result.statement()
    assert f"{len(result.candidates)} rules reproduce these rows" in text
    assert f"{len(result.probes)} more rows would split them" in text
    for w, h, d in result.probes:
        assert f"{w}x{h} {d}" in text
    # the probes' bills, added as rows, decide: calibrating again leaves fewer candidates
    more = rows + [(w, h, d, vt.count_image_tokens(w, h, "gpt-5.4", d)) for w, h, d in result.probes]
    again = calibrate(more)
    assert again.exact and len(again.candidates) < len(result.candidates)


@pytest.mark.parametrize("model", ["claude-opus-4-7", "claude-haiku-4-5", "pixtral-12b",
                                   "Qwen/Qwen2.5-VL-7B-Instruct"])
def test_provider_rows_too_few_name_the_ambiguity_and_probes_settle_it(model):
    spec = vt.get_model(model).spec
    rows = generated(spec, [(100, 200), (1000, 1000), (3000, 3000)])
    result = calibrate(rows)
    assert result.exact and result.rule.scheme == spec.scheme
    assert not result.decided and result.ranges and result.probes
    assert_recovers(result, spec)  # the truth lies in what the rows leave open

    def width(ranges):
        return sum(hi - lo for r in ranges.values() for lo, hi in r)

    for _ in range(2):  # bill the probes, calibrate again: the rows say more each time
        rows += [(w, h, d, vt.count_image_tokens(w, h, model)) for w, h, d in result.probes]
        again = calibrate(rows)
        assert again.exact
        assert_recovers(again, spec)
        assert again.decided or len(again.candidates) < len(result.candidates) or \
            width(again.ranges) < width(result.ranges)
        result = again


@pytest.mark.parametrize("model", ["claude-haiku-4-5", "pixtral-12b",
                                   "Qwen/Qwen2.5-VL-7B-Instruct", "gemini-2.0-flash"])
def test_provider_searchers_on_a_noisy_log(model):
    """Rows as a log holds them: random sizes (few small enough to escape resizing), one in
    twenty billed wrong. The scheme's searcher finds a rule that reproduces every other row."""
    spec = vt.get_model(model).spec
    rng = random.Random(model)
    rows, wrong = [], set()
    while len(rows) < 600:
        w, h = rng.randint(1, 5000), rng.randint(1, 5000)
        try:
            tokens = vt.count_image_tokens(w, h, model)
        except vt.VisionTokensError:
            continue
        if rng.random() < 0.05:
            wrong.add(len(rows))
            tokens += rng.choice([1, 7, 100])
        rows.append((w, h, "auto", tokens))
    result = calibrate(rows, schemes=[spec.scheme])
    assert result.rule.scheme == spec.scheme
    assert {d.row for d in result.disagreeing} <= wrong, result.rule.describe()


def test_low_detail_constant_is_the_tile_base():
    rows = [(w, h, "low", 85) for w, h in SIZES[:5]]
    result = calibrate(rows)
    assert result.rule.scheme == "tile" and result.rule.base == 85
    assert "per_tile" in result.ranges and not result.decided or result.exact


def test_register_and_save_round_trip(tmp_path):
    spec = vt.get_model("gpt-5.4").spec
    result = calibrate(generated(spec))
    path = tmp_path / "acme.json"
    result.save(path)
    data = json.loads(path.read_text())
    assert data["calibration"]["matched"] == result.matched
    try:
        vt.register_model("calibrated-acme", **data["register_model"])
        load(path, "calibrated-acme-2")
        result.register("calibrated-acme-3")
        for w, h in SIZES:
            for detail in spec.details:
                try:
                    want = vt.count_image_tokens(w, h, "gpt-5.4", detail)
                except vt.ImageRejectedError:
                    continue
                for name in ("calibrated-acme", "calibrated-acme-2", "calibrated-acme-3"):
                    assert vt.count_image_tokens(w, h, name, detail) == want
    finally:
        for name in ("calibrated-acme", "calibrated-acme-2", "calibrated-acme-3"):
            vt.unregister_model(name)


def test_tile_rule_registers(tmp_path):
    spec = vt.get_model("gpt-image-1").spec
    result = calibrate(generated(spec))
    try:
        result.register("calibrated-tiles")
        assert vt.count_image_tokens(4000, 3000, "calibrated-tiles", "high") == \
            vt.count_image_tokens(4000, 3000, "gpt-image-1", "high")
    finally:
        vt.unregister_model("calibrated-tiles")


def test_tile_rule_with_its_own_fit_box_registers(tmp_path):
    vt.register_model("acme-fit", scheme="tile", base=10, per_tile=20, fit=1024)
    try:
        spec = vt.get_model("acme-fit").spec
        result = calibrate(generated(spec))
        assert result.exact and result.rule.scheme == "tile"
        fits = result.ranges.get("fit", ((result.rule.fit, result.rule.fit),))
        assert any(lo <= 1024 <= hi for lo, hi in fits)
        assert result.rule.register_kwargs()["fit"] == result.rule.fit
        result.save(tmp_path / "fit.json")
        load(tmp_path / "fit.json", "calibrated-fit")
        for w, h in SIZES:
            for detail in ("low", "high"):
                assert vt.count_image_tokens(w, h, "calibrated-fit", detail) == \
                    vt.count_image_tokens(w, h, "acme-fit", detail)
    finally:
        vt.unregister_model("acme-fit")
        vt.unregister_model("calibrated-fit")


@pytest.mark.parametrize("model, scheme", [
    ("claude-opus-4-7", "claude"), ("claude-haiku-4-5", "claude"), ("pixtral-12b", "mistral"),
    ("mistral-small-2503", "mistral"), ("Qwen/Qwen2.5-VL-7B-Instruct", "qwen"),
    ("Qwen/Qwen3-VL-8B-Instruct", "qwen"), ("amazon.nova-2-lite-v1:0", "fixed"),
])
def test_provider_rules_register_save_and_load(tmp_path, model, scheme):
    spec = vt.get_model(model).spec
    rows = generated(spec)
    result = calibrate(rows)
    assert result.exact and result.rule.scheme == scheme
    path = tmp_path / "model.json"
    result.save(path)
    data = json.loads(path.read_text())
    assert data["register_model"]["scheme"] == scheme
    names = ("calibrated-p1", "calibrated-p2", "calibrated-p3")
    try:
        result.register(names[0])
        load(path, names[1])
        vt.register_model(names[2], **data["register_model"])
        for w, h, _detail, tokens in rows:
            for name in names:
                assert vt.count_image_tokens(w, h, name) == tokens
    finally:
        for name in names:
            vt.unregister_model(name)


@pytest.mark.parametrize("model, match", [
    ("gemini-2.5-flash", "no gemini_tiles scheme"),
    ("gemini-3-pro", "without detail levels"),
])
def test_rules_register_model_cannot_take_say_so(tmp_path, model, match):
    result = calibrate(generated(vt.get_model(model).spec))
    assert result.exact
    with pytest.raises(InvalidArgumentError, match=match):
        result.register("calibrated-nope")
    with pytest.raises(InvalidArgumentError, match=match):
        result.save(tmp_path / "nope.json")
    assert not (tmp_path / "nope.json").exists()
    with pytest.raises(vt.UnknownModelError):
        vt.get_model("calibrated-nope")


@settings(max_examples=60)
@given(w=st.integers(1, 20000), h=st.integers(1, 20000), cap=st.integers(1, 65535),
       budget=st.integers(0, 20000), k=st.integers(1, 30000))
def test_search_evaluator_equals_the_kernel_patch(w, h, cap, budget, k):
    from visiontokens.calibrate import _decimal

    rule = CalibrationRule("patch", {"high": {"cap": cap, "budget": budget}}, "high",
                           multiplier=_decimal(k))
    assert int(predict(rule, [w], [h], "high")[0]) == rule.model().count(w, h, "high")


@settings(max_examples=60)
@given(w=st.integers(1, 20000), h=st.integers(1, 20000), side=st.integers(1, 2048),
       base=st.integers(0, 5000), per_tile=st.integers(0, 5000))
def test_search_evaluator_equals_the_kernel_tile(w, h, side, base, per_tile):
    rule = CalibrationRule("tile", {"low": {}, "high": {}}, "high", base=base,
                           per_tile=per_tile, fit=2048, short_side=side)
    for detail in ("low", "high"):
        assert int(predict(rule, [w], [h], detail)[0]) == rule.model().count(w, h, detail)


@settings(max_examples=40)
@given(w=st.integers(1, 20000), h=st.integers(1, 20000), edge=st.integers(28, 8000),
       tokens=st.integers(1, 20000))
def test_search_evaluator_equals_the_kernel_claude(w, h, edge, tokens):
    rule = CalibrationRule("claude", {"auto": {}}, "auto", max_edge=edge, max_tokens=tokens)
    assert int(predict(rule, [w], [h], "auto")[0]) == rule.model().count(w, h)


@settings(max_examples=40)
@given(w=st.integers(1, 20000), h=st.integers(1, 20000), edge=st.integers(1, 8000),
       patch=st.integers(1, 64), merge=st.integers(1, 4))
def test_search_evaluator_equals_the_kernel_mistral(w, h, edge, patch, merge):
    rule = CalibrationRule("mistral", {"auto": {}}, "auto", max_edge=edge, patch=patch, merge=merge)
    assert int(predict(rule, [w], [h], "auto")[0]) == rule.model().count(w, h)


@settings(max_examples=40)
@given(w=st.integers(1, 20000), h=st.integers(1, 20000), f=st.integers(1, 64),
       lo=st.integers(1, 2**20), hi=st.integers(1, 2**26))
def test_search_evaluator_equals_the_kernel_qwen(w, h, f, lo, hi):
    hi = max(hi, 200 * f * f, lo)
    rule = CalibrationRule("qwen", {"auto": {}}, "auto", patch=f, min_pixels=lo, max_pixels=hi,
                           markers=2)
    got = int(predict(rule, [w], [h], "auto")[0])
    if max(w, h) > 200 * min(w, h):
        assert got == -1
        with pytest.raises(vt.AspectRatioError):
            rule.model().count(w, h)
    else:
        assert got == rule.model().count(w, h)


@settings(max_examples=30)
@given(w=st.integers(1, 20000), h=st.integers(1, 20000), small=st.integers(0, 1000),
       base=st.integers(0, 1000), per_tile=st.integers(0, 1000), lo=st.integers(1, 1000),
       hi=st.integers(1, 2000))
def test_search_evaluator_equals_the_kernel_gemini(w, h, small, base, per_tile, lo, hi):
    lo, hi = min(lo, hi), max(lo, hi)  # a clamp in order, as the data's and the search's
    rule = CalibrationRule("gemini_tiles", {"low": {"base": 64}, "high": {}}, "high", base=base,
                           per_tile=per_tile, short_side=small, unit_min=lo, unit_max=hi)
    for detail in ("low", "high", "auto"):
        assert int(predict(rule, [w], [h], detail)[0]) == rule.model().count(w, h, detail)


@pytest.mark.parametrize("rows, error, match", [
    ([], InvalidArgumentError, "at least one row"),
    ("1024,1024,high,765", ArgumentTypeError, "iterable of rows"),
    (42, ArgumentTypeError, "iterable of rows"),
    ([(1024, 1024, "high")], ArgumentTypeError, "row 0: tokens must be an integer"),
    ([(1024, 1024, "hi", 765)], InvalidArgumentError, "row 0: detail"),
    ([(0, 1024, "high", 765)], InvalidArgumentError, "row 0: width"),
    ([(1024, 1024, "high", -1)], InvalidArgumentError, "tokens"),
    ([(1024, 1024, "high", 1.5)], ArgumentTypeError, "tokens must be an integer"),
    ([(True, 1024, "high", 5)], ArgumentTypeError, "width must be an integer"),
    ([{"width": 10, "height": 10}], InvalidArgumentError, "needs width, height and tokens"),
    ([object()], ArgumentTypeError, "row 0"),
])
def test_bad_rows(rows, error, match):
    with pytest.raises(error, match=match):
        calibrate(rows)


def test_unknown_scheme_and_registry():
    with pytest.raises(InvalidArgumentError, match="unknown scheme"):
        calibrate([(10, 10, "high", 5)], schemes=["nope"])
    assert {"patch", "tile", "claude", "mistral", "qwen", "fixed", "gemini_tiles"} <= set(SEARCHERS)
    # every scheme a shipped model counts with has a searcher
    assert {spec.scheme for rs in vt.rulesets() for spec in vt.models(rs)} <= set(SEARCHERS)


def test_three_values_mean_detail_auto():
    result = calibrate([(1024, 1024, 765), (512, 512, 255), (2048, 4096, 1105)])
    assert result.exact and result.rule.scheme == "tile" and result.rule.per_tile == 170


def test_mappings_and_repeats():
    rows = [{"width": 1024, "height": 1024, "detail": "high", "billed": 765}] * 50 + \
           [{"width": 512, "height": 512, "detail": "low", "image_tokens": 85}]
    result = calibrate(rows)
    assert result.exact and result.total == 51 and result.rule.scheme == "tile"


# --- the command line -----------------------------------------------------------------------

def test_cli_csv_with_corrupted_rows(tmp_path, capsys):
    from visiontokens.cli.main import main

    rows = generated(vt.get_model("gpt-4o").spec)
    rows[4] = (*rows[4][:3], rows[4][3] + 170)
    path = tmp_path / "bill.csv"
    path.write_text("width,height,detail,billed\n" + "".join(f"{w},{h},{d},{t}\n" for w, h, d, t in rows))
    assert main(["calibrate", str(path), "--save", str(tmp_path / "m.json")]) == 0
    out = capsys.readouterr().out
    assert "tile scheme, base 85, 170 per tile" in out
    assert f"reproduces {len(rows) - 1} of {len(rows)} rows exactly" in out
    w, h, d, t = rows[4]
    assert f"row 4: {w}x{h} {d}: billed {t}, rule gives {t - 170}" in out
    assert json.loads((tmp_path / "m.json").read_text())["register_model"]["base"] == 85


def test_cli_jsonl_json(tmp_path):
    import subprocess
    import sys

    rows = generated(vt.get_model("gpt-5.4").spec)
    path = tmp_path / "bill.jsonl"
    path.write_text("".join(json.dumps({"width": w, "height": h, "detail": d, "tokens": t}) + "\n"
                            for w, h, d, t in rows))
    run = subprocess.run([sys.executable, "-m", "visiontokens", "calibrate", str(path), "--json"],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["exact"] and data["matched"] == len(rows) and data["rule"]["multiplier"] == "1.2"
    assert data["rule"]["details"]["original"] == {"cap": 6000, "budget": 10000}


def test_cli_provider_scheme_csv_without_detail(tmp_path, capsys):
    from visiontokens.cli.main import main

    rows = generated(vt.get_model("claude-opus-4-7").spec)
    path = tmp_path / "claude.csv"
    path.write_text("width,height,image_tokens\n" + "".join(f"{w},{h},{t}\n" for w, h, _d, t in rows))
    assert main(["calibrate", str(path), "--save", str(tmp_path / "claude.json")]) == 0
    out = capsys.readouterr().out
    assert "claude scheme, max edge 2576, max tokens 4784" in out
    assert f"reproduces {len(rows)} of {len(rows)} rows exactly" in out
    saved = json.loads((tmp_path / "claude.json").read_text())["register_model"]
    assert saved == {"scheme": "claude", "max_edge": 2576, "max_tokens": 4784}
    try:
        load(tmp_path / "claude.json", "calibrated-claude")
        assert all(vt.count_image_tokens(w, h, "calibrated-claude") == t for w, h, _d, t in rows)
    finally:
        vt.unregister_model("calibrated-claude")


def test_cli_gemini_rows_fit_but_do_not_save(tmp_path, capsys):
    from visiontokens.cli.main import main

    rows = generated(vt.get_model("gemini-2.5-flash").spec)
    path = tmp_path / "gemini.jsonl"
    path.write_text("".join(json.dumps({"width": w, "height": h, "detail": d, "tokens": t}) + "\n"
                            for w, h, d, t in rows))
    # the fit is printed, then saving it is an error: register_model cannot take it
    assert main(["calibrate", str(path), "--save", str(tmp_path / "g.json")]) == 1
    out, err = capsys.readouterr()
    assert "gemini_tiles scheme, 258 up to 384 px a side" in out and "low: 64 per image" in out
    assert f"reproduces {len(rows)} of {len(rows)} rows exactly" in out
    assert err.startswith("visiontokens: error:") and "gemini_tiles" in err
    assert not (tmp_path / "g.json").exists()


@pytest.mark.parametrize("text, match", [
    ("w,h\n1,2\n", "needs a header"),
    ("width,height,detail,tokens\n10,10,high,abc\n", "row 0: tokens must be an integer"),
    ('{"width": 10\n', "line 1: not JSON"),
])
def test_cli_bad_files(tmp_path, capsys, text, match):
    from visiontokens.cli.main import main

    path = tmp_path / "bad.csv"
    path.write_text(text)
    assert main(["calibrate", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("visiontokens: error:") and match in err and "Traceback" not in err

