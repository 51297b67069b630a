"""Qwen2-VL / 2.5-VL / 3-VL (shared/providers.md §4): the worked examples, per-call and
registered pixel limits, the twins, and transformers' own smart_resize."""

from __future__ import annotations

import ast
import importlib.util
import math
import pathlib

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from extras import needs
from implementations import load_impl

import visiontokens

core = load_impl("cython")
reference = load_impl("python")

Q2, Q25, Q3 = "Qwen/Qwen2-VL-7B-Instruct", "Qwen/Qwen2.5-VL-7B-Instruct", "Qwen/Qwen3-VL-8B-Instruct"
CONFIGS = {Q2: (28, 3136, 12845056), Q25: (28, 3136, 12845056), Q3: (32, 65536, 16777216)}

# providers 4.4: (model, w, h, max_pixels or None, resized, image tokens without the markers)
EXAMPLES = [
    (Q2, 1000, 1000, None, (1008, 1008), 1296),
    (Q25, 1920, 1080, None, (1932, 1092), 2691),
    (Q25, 3840, 2160, None, (3836, 2156), 10549),
    (Q2, 4000, 3000, 1003520, (1148, 840), 1230),
    (Q3, 1920, 1080, None, (1920, 1088), 2040),
    (Q3, 100, 100, None, (256, 256), 64),
]


@pytest.mark.parametrize("model, w, h, max_pixels, resized, image_tokens", EXAMPLES)
def test_worked_examples(impl, model, w, h, max_pixels, resized, image_tokens):
    cost = impl.explain_image_tokens(w, h, model, max_pixels=max_pixels)
    assert (cost.resized_width, cost.resized_height) == resized
    # the count includes the 2 marker tokens, and says so (providers 4.1 step 6)
    assert cost.marker_tokens == 2 and cost.patches == image_tokens
    assert cost.tokens == image_tokens + 2 == impl.count_image_tokens(
        w, h, model, max_pixels=max_pixels)
    assert (cost.provider, cost.exactness) == ("qwen", "exact")


def test_1920x1080_on_qwen25_is_2693_with_its_markers(impl):
    assert impl.count_image_tokens(1920, 1080, Q25) == 2693  # 2691 + 2 (providers 4.4)


@pytest.mark.parametrize("model", ["Qwen/Qwen2.5-VL-72B-Instruct", "qwen/qwen2.5-vl-7b-instruct",
                                   "Qwen2.5-VL-3B-Instruct-AWQ", "hosted_vllm/Qwen/Qwen2.5-VL-7B-Instruct",
                                   "Qwen/QVQ-72B-Preview", "Qwen/Qwen2-VL-2B-Instruct"])
def test_id_forms_of_the_28_families(impl, model):
    assert impl.count_image_tokens(1920, 1080, model) == 2693


def test_qwen3_family_ids(impl):
    for model in ("Qwen/Qwen3-VL-235B-A22B-Instruct", "qwen/qwen3-vl-30b-a3b-thinking"):
        assert impl.count_image_tokens(1920, 1080, model) == 2042


def test_aspect_ratio_over_200_is_refused(impl):
    with pytest.raises(visiontokens.AspectRatioError) as raised:
        impl.count_image_tokens(201, 1, Q25)
    assert raised.value.code == "aspect_ratio_too_large"
    assert isinstance(raised.value, visiontokens.InvalidDimensionsError)
    assert impl.count_image_tokens(200, 1, Q25) == impl.count_image_tokens(1, 200, Q25)


def test_per_call_pixel_limits(impl):
    assert impl.count_image_tokens(4000, 3000, Q2, min_pixels=3136, max_pixels=1003520) == 1232
    model = impl.get_model(Q2)
    assert model.count(4000, 3000, max_pixels=1003520) == 1232
    assert model.explain(4000, 3000, max_pixels=1003520).tokens == 1232
    for bad in (dict(min_pixels=0), dict(max_pixels=2**31), dict(min_pixels=5000, max_pixels=4000)):
        with pytest.raises(visiontokens.InvalidArgumentError):
            impl.count_image_tokens(100, 100, Q2, **bad)
    with pytest.raises(visiontokens.ArgumentTypeError):
        impl.count_image_tokens(100, 100, Q2, max_pixels=1.5)


@pytest.mark.parametrize("model", ["gpt-4o", "claude-opus-4-8", "pixtral-12b-2409", "gemini-3-pro"])
def test_pixel_limits_are_refused_for_other_models(impl, model):
    with pytest.raises(visiontokens.ArgumentNotApplicableError) as raised:
        impl.count_image_tokens(100, 100, model, min_pixels=3136)
    assert raised.value.code == "argument_not_applicable"
    with pytest.raises(visiontokens.ArgumentNotApplicableError):
        impl.get_model(model).explain(100, 100, max_pixels=3136)


def test_maximum_tokens_from_max_pixels(impl):
    # 12845056 / 28^2 = 16384 = 128 x 128 (3584 x 3584 is not resized), plus the 2 markers
    assert impl.get_model(Q25).max_tokens() == 16386
    assert impl.get_model(Q3).max_tokens() == 16386  # 16777216 / 32^2


@given(st.integers(1, 8000), st.integers(1, 8000), st.sampled_from(sorted(CONFIGS)))
def test_no_size_costs_more_than_the_bound(w, h, model):
    bound = core.get_model(model).max_tokens()
    try:
        assert core.count_image_tokens(w, h, model) <= bound
    except visiontokens.AspectRatioError:
        pass


pixels = st.one_of(st.none(), st.integers(1, 2**31 - 1))


@given(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1), st.sampled_from(sorted(CONFIGS)),
       pixels, pixels)
@example(2**31 - 1, 2**31 - 1, Q25, None, None)
@example(2**31 - 1, 2**31 - 1, Q25, None, 12845057)
@example(4000, 4000, Q25, None, None)
@example(98, 1, Q2, None, None)
def test_twins_agree(w, h, model, min_pixels, max_pixels):
    def run(impl):
        try:
            return impl.explain_image_tokens(w, h, model, min_pixels=min_pixels,
                                             max_pixels=max_pixels)
        except visiontokens.VisionTokensError as error:
            return type(error), str(error)
    assert run(core) == run(reference)


# --- transformers' own smart_resize (providers 4.3) ---------------------------------------------

@pytest.fixture(scope="module")
def vendor_smart_resize():
    """transformers 5.25.0's smart_resize, run from the installed source. Its module imports
    torch, so the function is taken out of the file (ast) and run with only ``math``: the
    vendor's own code, not a copy of it."""
    found = importlib.util.find_spec("transformers")
    if found is None or not found.submodule_search_locations:
        pytest.skip("the vendor comparison needs transformers (the integration extra)")
    path = (pathlib.Path(found.submodule_search_locations[0])
            / "models" / "qwen2_vl" / "image_processing_qwen2_vl.py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    function = next(node for node in tree.body
                    if isinstance(node, ast.FunctionDef) and node.name == "smart_resize")
    namespace = {"math": math}
    exec(compile(ast.Module([function], []), str(path), "exec"), namespace)
    return namespace["smart_resize"]


def vendor_tokens(smart_resize, w, h, factor, min_pixels, max_pixels):
    resized_h, resized_w = smart_resize(h, w, factor, min_pixels, max_pixels)
    return resized_w, resized_h, (resized_h // factor) * (resized_w // factor)


@needs("transformers")
@given(st.integers(1, 8000), st.integers(1, 8000), st.sampled_from(sorted(CONFIGS)))
@example(98, 1, Q2)
@example(4000, 4000, Q25)
@example(3840, 2160, Q25)
def test_agrees_with_transformers(vendor_smart_resize, w, h, model):
    factor, min_pixels, max_pixels = CONFIGS[model]
    try:
        expected = vendor_tokens(vendor_smart_resize, w, h, factor, min_pixels, max_pixels)
    except ValueError:  # the vendor's aspect-ratio refusal
        for impl in (core, reference):
            with pytest.raises(visiontokens.AspectRatioError):
                impl.count_image_tokens(w, h, model)
        return
    for impl in (core, reference):
        cost = impl.explain_image_tokens(w, h, model)
        assert (cost.resized_width, cost.resized_height, cost.patches) == expected


@needs("transformers")
@given(st.integers(1, 2**26), st.integers(1, 2**26), st.sampled_from([28, 32]),
       st.integers(1, 2**24), st.integers(1, 2**31 - 1))
@example(4000, 3000, 28, 3136, 1003520)
@example(2**26, 2**26 - 1, 28, 1, 2**31 - 1)
def test_agrees_with_transformers_for_any_limits(vendor_smart_resize, w, h, factor, lo, hi):
    # every float operation of the vendor's code, reproduced exactly over the large range too
    hi = max(lo, hi)
    try:
        expected = vendor_tokens(vendor_smart_resize, w, h, factor, lo, hi)
    except ValueError:
        return
    for impl in (core, reference):
        spec = impl.get_model(Q2 if factor == 28 else Q3)
        cost = spec.explain(w, h, min_pixels=lo, max_pixels=hi)
        assert (cost.resized_width, cost.resized_height, cost.patches) == expected


@needs("transformers")
def test_exact_rationals_would_differ_from_the_floats(vendor_smart_resize):
    # Why the twins reproduce the floats: the vendor's float steps do not always give what
    # exact arithmetic would. Find one such size on a small grid, and check we follow the floats.
    factor, lo, hi = CONFIGS[Q25]
    found = None
    for w in range(3585, 4400):
        h = w  # square: exact floor(sqrt(hi / f^2)) = 128 for every side
        resized = vendor_tokens(vendor_smart_resize, w, h, factor, lo, hi)
        exact = math.isqrt(hi * h // (w * factor * factor)) * factor
        if resized[1] != max(factor, exact):
            found = (w, h, resized)
            break
    if found is None:
        pytest.skip("no float/exact difference on this grid")
    w, h, resized = found
    cost = core.explain_image_tokens(w, h, Q25)
    assert (cost.resized_width, cost.resized_height, cost.patches) == resized


def test_batch_refuses_the_aspect_ratio_on_every_path(impl):
    import numpy as np

    widths, heights = np.array([1920, 1000, 64, 1000]), np.array([1080, 1, 64, 4])
    one = impl.count_image_tokens_batch(widths, heights, Q25, on_error="mask")
    mixed = impl.count_image_tokens_batch(widths, heights, [Q25, Q25, "gpt-4o", "claude-opus-4-8"],
                                          on_error="mask")
    assert one[1].tolist() == [False, True, False, True]
    assert mixed[1].tolist() == [False, True, False, False]
    assert mixed[0][0] == 2693 and mixed[0][1] == 0
    with pytest.raises(visiontokens.AspectRatioError, match="row 1"):
        impl.count_image_tokens_batch(widths, heights, [Q25, Q25, "gpt-4o", Q3])
