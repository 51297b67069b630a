"""Gemini generateContent bodies (providers 2.4) in count_request: both spellings, function
responses, media resolution per part and per request (providers 2.2), the model from
``model=``, the documented limits (providers 2.3), and google-genai objects."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from extras import needs
from headers import gif_header, jpeg_header, png_header
from hypothesis import given, settings
from hypothesis import strategies as st
from memory import traced_peak

import visiontokens
from visiontokens import MalformedRequestError, VisionTokensError
from visiontokens.requests import gemini

FLASH = "gemini-2.5-flash"
PRO3 = "gemini-3-pro"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def inline(data: bytes, mime: str = "image/png", snake: bool = False, **extra) -> dict:
    if snake:
        return {"inline_data": {"mime_type": mime, "data": b64(data)}, **extra}
    return {"inlineData": {"mimeType": mime, "data": b64(data)}, **extra}


def body(*parts, **extra) -> dict:
    return {"contents": [{"role": "user", "parts": list(parts)}], **extra}


def tokens(w, h, model, detail=None):
    return visiontokens.count_image_tokens(w, h, model, detail)


def test_every_place_an_image_sits_in_both_spellings(walk):
    request = body(
        {"text": "compare"},
        inline(png_header(960, 540)),
        inline(jpeg_header(300, 200), "image/jpeg", snake=True),
        {"fileData": {"mimeType": "image/png", "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}},
        {"file_data": {"mime_type": "image/jpeg", "file_uri": "gs://bucket/a.jpg"}},
        {"functionResponse": {"name": "shot", "response": {}, "parts": [inline(png_header(960, 540))]}},
        {"function_response": {"name": "shot", "response": {}, "parts": [
            {"file_data": {"mime_type": "image/png", "file_uri": "gs://b/c.png"}}]}},
        inline(b"%PDF-1.7", "application/pdf"),
    )
    sizes = {"https://generativelanguage.googleapis.com/v1beta/files/abc": (960, 540),
             "gs://bucket/a.jpg": (100, 100), "gs://b/c.png": (2000, 2000)}
    result = walk.count_request(request, model=FLASH, resolve_file=sizes.get)
    assert result.api == "gemini.generate_content" and result.model is not None
    assert [i.pointer for i in result.images] == [
        "/contents/0/parts/1", "/contents/0/parts/2", "/contents/0/parts/3",
        "/contents/0/parts/4", "/contents/0/parts/5/functionResponse/parts/0",
        "/contents/0/parts/6/function_response/parts/0"]
    expected = [tokens(w, h, FLASH) for w, h in
                [(960, 540), (300, 200), (960, 540), (100, 100), (960, 540), (2000, 2000)]]
    assert [i.tokens for i in result.images] == expected
    assert expected[0] == 1548  # providers 2.1: the documented 960x540 example (6 tiles)
    assert expected[1] == 258  # both sides <= 384
    assert [(s.pointer, s.type) for s in result.skipped] == [("/contents/0/parts/7", "inlineData")]


def test_media_resolution_per_part_wins(walk):
    request = body(inline(png_header(1024, 1024)),
                   inline(png_header(1024, 1024), mediaResolution={"level": "MEDIA_RESOLUTION_HIGH"}),
                   inline(png_header(1024, 1024), snake=True,
                          media_resolution={"level": "MEDIA_RESOLUTION_ULTRA_HIGH"}),
                   generationConfig={"mediaResolution": "MEDIA_RESOLUTION_LOW"})
    result = walk.count_request(request, model=PRO3)
    # providers 2.1, Gemini 3: LOW 280, HIGH 1120, ULTRA_HIGH 2240 (documented maxima)
    assert [i.tokens for i in result.images] == [280, 1120, 2240]
    assert [i.detail for i in result.images] == [
        "MEDIA_RESOLUTION_LOW", "MEDIA_RESOLUTION_HIGH", "MEDIA_RESOLUTION_ULTRA_HIGH"]
    snake = walk.count_request(body(inline(png_header(1024, 1024)),
                                    generation_config={"media_resolution": "MEDIA_RESOLUTION_MEDIUM"}),
                               model=FLASH)
    assert snake.image_tokens == 256  # providers 2.1: Gemini 2.5 MEDIUM


def test_the_model_comes_from_the_caller(walk):
    request = body(inline(png_header(100, 100)))
    with pytest.raises(MalformedRequestError) as raised:
        walk.count_request(request)
    assert raised.value.pointer == "/model"
    assert walk.count_request(request, model="models/gemini-2.5-flash").image_tokens == 258
    assert walk.count_request(request, model="gemini/gemini-2.5-flash").image_tokens == 258
    # a body that names one (as Vertex batch lines do) is counted with it; model= wins
    assert walk.count_request({**request, "model": FLASH}).image_tokens == 258
    assert walk.count_request({**request, "model": "nope"}, model=FLASH).image_tokens == 258
    with pytest.raises(visiontokens.ArgumentTypeError):
        walk.count_request(request, model=3)


def test_url_safe_base64_as_the_sdk_sends_it(walk):
    data = png_header(640, 480) + b"\xfb\xff\xfe" * 10
    text = base64.urlsafe_b64encode(data).decode()
    assert "-" in text or "_" in text
    request = body({"inlineData": {"mimeType": "image/png", "data": text}})
    assert walk.count_request(request, model=FLASH).images[0].width == 640


@pytest.mark.parametrize("as_bytes", [False, True], ids=["dict", "bytes"])
def test_url_safe_base64_is_read_in_place(walk, as_bytes):
    """A large URL-safe blob is read where it lies, as standard base64 is: no copy of it is
    made to translate its alphabet (measured with tracemalloc: the peak stays far below the
    blob's 6 MB; a translated copy is the blob's size again)."""
    data = png_header(4000, 3000) + b"\xfb\xff\xfe" * 1_500_000
    text = base64.urlsafe_b64encode(data).decode()
    request = body({"inlineData": {"mimeType": "image/png", "data": text}})
    payload = json.dumps(request).encode() if as_bytes else request
    expected = walk.count_request(body(inline(data)), model=FLASH)
    result, peak = traced_peak(lambda: walk.count_request(payload, model=FLASH))
    assert result == expected and result.images[0].width == 4000
    assert peak < len(text) // 10, peak


def test_ASSUMED_either_base64_alphabet_mixed_too(walk):
    """ASSUMED (the provider notes do not say): Gemini reads an inline blob in either base64
    alphabet, and a mix of both, as the standard one; the SDK sends the URL-safe one."""
    data = png_header(640, 480) + b"\xfb\xff\xfe" * 10
    standard, url_safe = base64.b64encode(data).decode(), base64.urlsafe_b64encode(data).decode()
    mixed = "".join(a if i % 2 else b for i, (a, b) in enumerate(zip(standard, url_safe)))
    assert set("-_") & set(mixed) and set("+/") & set(mixed)
    for text in (standard, url_safe, mixed):
        request = body({"inlineData": {"mimeType": "image/png", "data": text}})
        image = walk.count_request(request, model=FLASH).images[0]
        assert (image.width, image.height) == (640, 480)


def test_heic_is_of_unknown_size(walk):
    """HEIC/HEIF: Gemini takes them, the header reader does not size them: unknown size, with
    a note; exact anyway under a fixed budget (Gemini 3, 2.5 low/medium)."""
    heic = inline(b"\0\0\0\x18ftypheic" + b"\0" * 40, "image/heic")
    with pytest.raises(visiontokens.ImageSizeUnknownError):
        walk.count_request(body(heic), model=FLASH)
    # Gemini 2.x tiles grow with the size: no upper bound exists (the image's violation)
    bound = walk.count_request(body(heic), model=FLASH, on_unknown="upper_bound",
                               on_violation="collect")
    assert [v.code for v in bound.violations] == ["no_upper_bound"]
    fixed = walk.count_request(body(heic), model=PRO3)
    assert fixed.images[0].tokens == 1120 and not fixed.images[0].upper_bound
    assert "HEIC" in fixed.images[0].note
    medium = walk.count_request(body(heic, generationConfig={"mediaResolution": "MEDIA_RESOLUTION_MEDIUM"}),
                                model=FLASH)
    assert medium.image_tokens == 256


def test_limits(walk):
    assert gemini.FORMATS == ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
    assert gemini.MAX_INLINE == 20 * 2**20  # DOCUMENTED 20 MB; "MB" as 2**20 ASSUMED
    result = walk.count_request(body(inline(gif_header(10, 10), "image/gif")), model=FLASH,
                                on_violation="collect")
    assert [(v.code, v.pointer) for v in result.violations] == [
        ("unsupported_image_format", "/contents/0/parts/0")]
    big = body(*[inline(png_header(10, 10) + b"\0" * (8 * 2**20)) for _ in range(2)])
    result = walk.count_request(big, model=FLASH, on_violation="collect")
    assert [(v.code, v.pointer) for v in result.violations] == [("request_too_large", "")]


def test_text_only_and_string_contents(walk):
    assert walk.count_request({"contents": "hello"}).image_tokens == 0
    assert walk.count_request({"contents": [{"parts": [{"text": "x"}]}]}).api == "gemini.generate_content"


@needs("google.genai")
def test_google_genai_objects():
    from google.genai import types
    data = png_header(960, 540) + b"\xff\xfe" * 8
    request = {"contents": [types.Content(role="user", parts=[
        types.Part.from_bytes(data=data, mime_type="image/png"),
        types.Part(text="what is it?"),
        types.Part(inline_data=types.Blob(data=data, mime_type="image/png"),
                   media_resolution=types.PartMediaResolution(level="MEDIA_RESOLUTION_LOW"))])],
        "config": types.GenerateContentConfig(media_resolution="MEDIA_RESOLUTION_MEDIUM")}
    result = visiontokens.count_request(request, model=PRO3)
    assert [i.tokens for i in result.images] == [560, 280]
    assert [i.width for i in result.images] == [960, 960]


@pytest.mark.parametrize(("request_", "pointer"), [
    ({"contents": {}}, "/contents"),
    ({"contents": [3]}, "/contents/0"),
    ({"contents": [{"parts": 3}]}, "/contents/0/parts"),
    ({"contents": [{"parts": [[]]}]}, "/contents/0/parts/0"),
    ({"contents": [{"parts": [{"inlineData": []}]}]}, "/contents/0/parts/0/inlineData"),
    ({"contents": [{"parts": [{"inlineData": {"data": "AAAA"}}]}]}, "/contents/0/parts/0/inlineData/mimeType"),
    ({"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": 1}}]}]},
     "/contents/0/parts/0/inlineData/data"),
    ({"contents": [{"parts": [{"fileData": {"mimeType": "image/png"}}]}]},
     "/contents/0/parts/0/fileData/fileUri"),
    ({"contents": [{"parts": [{"functionResponse": {"parts": {}}}]}]},
     "/contents/0/parts/0/functionResponse/parts"),
    ({"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"},
                               "mediaResolution": 3}]}]},
     "/contents/0/parts/0/mediaResolution"),
    ({"contents": [], "generationConfig": []}, "/generationConfig"),
    ({"contents": [], "generationConfig": {"mediaResolution": {}}}, "/generationConfig/mediaResolution"),
])
def test_hostile_shapes_are_typed_errors_with_pointers(walk, request_, pointer):
    with pytest.raises(MalformedRequestError) as raised:
        walk.count_request(request_, api="gemini.generate_content", model=FLASH)
    assert raised.value.pointer == pointer


def test_huge_counts_of_parts(walk):
    with pytest.raises(visiontokens.TooManyImagesError):
        walk.count_request(body(*[inline(png_header(10, 10))] * 3601), model=FLASH)
    assert walk.count_request(body(*[{"text": "x"}] * 200_000), model=FLASH).image_tokens == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["inlineData", "inline_data", "fileData", "file_data", "mimeType",
                         "mime_type", "data", "fileUri", "file_uri", "parts", "level",
                         "mediaResolution", "functionResponse"]), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["contents", "generationConfig", "generation_config",
                                        "config", "model"]), json_values, max_size=3)
       .map(lambda d: {"contents": [], **d}))
def test_arbitrary_json_under_the_generate_content_shape(walk, request_):
    try:
        result = walk.count_request(request_, api="gemini.generate_content", model=FLASH,
                                    on_violation="collect", on_unknown="upper_bound")
    except VisionTokensError:
        return
    assert result.image_tokens >= 0


def test_model_from_the_path():
    assert gemini.model_from_path("/v1beta/models/gemini-2.5-flash:generateContent") == FLASH
    assert gemini.model_from_path("/v1beta/models/gemini-3-pro:streamGenerateContent") == PRO3
    assert gemini.model_from_path(
        "/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-flash"
        ":generateContent") == FLASH
    assert gemini.model_from_path("/v1/chat/completions") is None
    assert gemini.model_from_path("/v1beta/models/gemini-2.5-flash:countTokens") is None


def test_the_bundled_example_counts(walk):
    with open(Path(__file__).resolve().parents[1] / "examples" / "gemini_generate_content.json", "rb") as file:
        text = file.read()
    result = walk.count_request(text, model=FLASH)
    assert result.image_tokens == 2 * 256  # MEDIUM on Gemini 2.5
    assert json.loads(text)["generationConfig"]["mediaResolution"] == "MEDIA_RESOLUTION_MEDIUM"
