"""Every request shape the official SDK sends (spec 6.1), built from its own request types.

Each body is counted twice: as the Python value handed to the SDK (SDK objects, tuples and
generators included) and as the bytes the real SDK client puts on the wire, captured by an
httpx MockTransport. The two counts must be equal, and equal to the calculator image by image.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from headers import data_url, png_header

openai = pytest.importorskip("openai", reason="the openai SDK is in the test extra")
from openai.types.chat import (  # noqa: E402
    ChatCompletionContentPartImageParam,
    ChatCompletionContentPartTextParam,
    ChatCompletionMessage,
    ChatCompletionUserMessageParam,
)
from openai.types.chat.chat_completion_content_part_image_param import ImageURL  # noqa: E402
from openai.types.chat.chat_completion_content_part_param import File, FileFile  # noqa: E402
from openai.types.responses import (  # noqa: E402
    EasyInputMessageParam,
    ResponseFunctionToolCall,
    ResponseInputFileParam,
    ResponseInputImage,
    ResponseInputImageParam,
    ResponseInputTextParam,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponsePromptParam,
)

import visiontokens
from visiontokens import ImageRejectedError, MalformedRequestError, UndocumentedModelError

PNG_512 = data_url(png_header(512, 512))
PNG_1024x768 = data_url(png_header(1024, 768))


def tokens(w, h, model, detail="auto"):
    return visiontokens.count_image_tokens(w, h, model, detail)


def sent(api: str, **kwargs) -> bytes:
    """What the real SDK client sends for ``client.<api>.create(**kwargs)``."""
    captured = []

    def handler(request: httpx.Request) -> httpx.Response:
        captured.append(request.read())
        if api == "chat":
            return httpx.Response(200, json={"id": "c", "object": "chat.completion", "created": 0,
                                             "model": kwargs["model"], "choices": []})
        return httpx.Response(200, json={"id": "r", "object": "response", "created_at": 0,
                                         "model": kwargs["model"], "output": [],
                                         "status": "completed"})

    client = openai.OpenAI(api_key="test", base_url="http://sdk.test/v1", max_retries=0,
                           http_client=httpx.Client(transport=httpx.MockTransport(handler)))
    if api == "chat":
        client.chat.completions.create(**kwargs)
    else:
        client.responses.create(**kwargs)
    client.close()
    (body,) = captured
    return body


def counted_both_ways(walk, api, **kwargs):
    """count_request on the Python body and on the bytes the SDK sends: equal, or it fails."""
    ours = walk.count_request(dict(kwargs))
    wire = sent(api, **kwargs)
    assert walk.count_request(wire) == ours
    assert walk.count_request(json.loads(wire)) == ours
    return ours


def test_chat_parts_from_sdk_types_original_included(walk):
    """spec 3.4: 'original' is valid in Chat Completions (the SDK's type lists it)."""
    message = ChatCompletionUserMessageParam(role="user", content=[
        ChatCompletionContentPartTextParam(type="text", text="What is this?"),
        ChatCompletionContentPartImageParam(type="image_url", image_url=ImageURL(
            url=PNG_1024x768, detail="original")),
        ChatCompletionContentPartImageParam(type="image_url", image_url=ImageURL(url=PNG_512)),
    ])
    result = counted_both_ways(walk, "chat", model="gpt-5.4", messages=[message])
    assert [i.resolved_detail for i in result.images] == ["original", "high"]
    assert result.image_tokens == tokens(1024, 768, "gpt-5.4", "original") + tokens(512, 512, "gpt-5.4")


def test_sdk_objects_and_iterables_count_as_sent(walk):
    """A previous ChatCompletionMessage (pydantic) in the history, tuples for lists, and a
    generator of parts: counted as the SDK serialises them."""
    previous = ChatCompletionMessage(role="assistant", content="A cat.")

    def parts():
        yield ChatCompletionContentPartTextParam(type="text", text="And these?")
        yield ChatCompletionContentPartImageParam(type="image_url",
                                                  image_url=ImageURL(url=PNG_512, detail="low"))
        yield ChatCompletionContentPartImageParam(type="image_url",
                                                  image_url=ImageURL(url=PNG_1024x768))

    messages = (
        ChatCompletionUserMessageParam(role="user", content=(
            ChatCompletionContentPartImageParam(type="image_url", image_url=ImageURL(url=PNG_512)),)),
        previous,
        ChatCompletionUserMessageParam(role="user", content=parts()),
    )
    body = {"model": "gpt-4o", "messages": messages}
    ours = walk.count_request(body)
    # the generator was read once and put back as a list, so the SDK sends what was counted
    assert isinstance(messages[2]["content"], list)
    assert walk.count_request(sent("chat", **body)) == ours
    assert [i.pointer for i in ours.images] == [
        "/messages/0/content/0", "/messages/2/content/1", "/messages/2/content/2"]
    assert ours.image_tokens == tokens(512, 512, "gpt-4o") + 85 + tokens(1024, 768, "gpt-4o")


def test_responses_output_items_passed_back(walk):
    """response.output items (pydantic models) appended to the next input, as the SDK's docs
    show, next to an image given as the SDK's own ResponseInputImage model."""
    output = [
        ResponseOutputMessage(id="msg_1", type="message", role="assistant", status="completed",
                              content=[ResponseOutputText(type="output_text", text="Looking.",
                                                          annotations=[])]),
        ResponseFunctionToolCall(type="function_call", call_id="call_1", name="look",
                                 arguments="{}"),
    ]
    image = ResponseInputImage(type="input_image", image_url=PNG_1024x768, detail="high")
    items = [EasyInputMessageParam(role="user", content=[
        ResponseInputTextParam(type="input_text", text="Here"), image])] + output + [
        {"type": "function_call_output", "call_id": "call_1", "output": (
            ResponseInputImageParam(type="input_image", image_url=PNG_512, detail="auto"),)}]
    result = counted_both_ways(walk, "responses", model="gpt-4.1-mini", input=items)
    assert [i.pointer for i in result.images] == ["/input/0/content/1", "/input/3/output/0"]
    assert result.image_tokens == (tokens(1024, 768, "gpt-4.1-mini", "high")
                                   + tokens(512, 512, "gpt-4.1-mini"))


def test_prompt_variables_are_input_images(walk):
    """spec 6.1: a stored prompt's variables may be input_image parts; no 'input' is needed."""
    prompt = ResponsePromptParam(id="pmpt_123", version="2", variables={
        "customer": "Ada",
        "photo": ResponseInputImageParam(type="input_image", image_url=PNG_1024x768,
                                         detail="low"),
        "scan/page~1": ResponseInputImageParam(type="input_image", image_url=PNG_512),
        "contract": ResponseInputFileParam(type="input_file", file_id="file-abc"),
    })
    result = counted_both_ways(walk, "responses", model="gpt-5.4", prompt=prompt)
    assert result.api == "responses"
    assert [i.pointer for i in result.images] == ["/prompt/variables/photo",
                                                  "/prompt/variables/scan~1page~01"]
    assert result.image_tokens == tokens(1024, 768, "gpt-5.4", "low") + tokens(512, 512, "gpt-5.4")
    assert [(s.pointer, s.type) for s in result.skipped] == [
        ("/prompt/variables/contract", "input_file")]


@pytest.mark.parametrize("field,value", [("conversation", "conv_123"),
                                         ("previous_response_id", "resp_123"),
                                         ("prompt", {"id": "pmpt_1"})])
def test_responses_without_input_are_valid(field, value, walk):
    result = counted_both_ways(walk, "responses", model="gpt-5.4", **{field: value})
    assert (result.api, result.images, result.image_tokens) == ("responses", (), 0)


def test_chat_raw_base64_is_counted(walk):
    """spec 6.1: the SDK's ImageURL.url is "either a URL of the image or the base64 encoded
    image data"."""
    raw = base64.b64encode(png_header(1920, 1080)).decode()
    message = ChatCompletionUserMessageParam(role="user", content=[
        ChatCompletionContentPartImageParam(type="image_url", image_url=ImageURL(url=raw))])
    result = counted_both_ways(walk, "chat", model="gpt-4.1-mini", messages=[message])
    (image,) = result.images
    assert (image.width, image.height, image.source, image.url) == (1920, 1080, "data", None)
    assert image.tokens == tokens(1920, 1080, "gpt-4.1-mini")
    # a base64 that is no image is an image error, quoting no payload
    bad = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "QUJD" * 250_000}}]}]}
    with pytest.raises(visiontokens.InvalidImageError) as caught:
        walk.count_request(bad)
    assert len(str(caught.value)) < 300


def test_uppercase_data_scheme_is_a_data_url(walk):
    for url in ("DATA:image/png;base64," + PNG_512.split(",", 1)[1],
                "Data:IMAGE/PNG;BASE64," + PNG_512.split(",", 1)[1]):
        body = {"model": "gpt-4o", "input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": url}]}]}
        (image,) = walk.count_request(body).images
        assert (image.source, image.width, image.tokens) == ("data", 512, tokens(512, 512, "gpt-4o"))


def test_a_bad_url_is_quoted_short(walk):
    """The error names the URL by its first 60 characters, never the megabytes after."""
    payload = "iVBORw0KGgo" + "A" * 3_000_000
    for url in (payload, "ftp:" + payload, "x" * 80 + ":" + payload):
        body = {"model": "gpt-4o", "input": [{"role": "user", "content": [
            {"type": "input_image", "image_url": url}]}]}
        with pytest.raises(MalformedRequestError) as caught:
            walk.count_request(body)
        assert len(str(caught.value)) < 200 and caught.value.pointer == "/input/0/content/0"


def test_long_url_notes_are_short(walk):
    url = "http://127.0.0.1/" + "a" * 100_000
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url, "detail": "high"}}]}]}
    (image,) = walk.count_request(body, fetch=True, on_unknown="upper_bound").images
    assert image.upper_bound and image.note.startswith("fetch failed") and len(image.note) < 400
    assert image.url == url  # the record itself keeps the URL


def test_files_and_the_other_apis_parts_are_noted(walk):
    """spec 6.1: input_file / file parts are not images under this guide; an image part of the
    other API's type is not read by this one. Neither is counted, and each is noted."""
    chat = {"model": "gpt-4o", "messages": [ChatCompletionUserMessageParam(role="user", content=[
        File(type="file", file=FileFile(file_id="file-1")),
        ChatCompletionContentPartImageParam(type="image_url", image_url=ImageURL(url=PNG_512)),
    ])]}
    result = counted_both_ways(walk, "chat", **chat)
    assert [(s.pointer, s.type) for s in result.skipped] == [("/messages/0/content/0", "file")]
    assert "file-inputs guide" in result.skipped[0].reason
    foreign = walk.count_request({"model": "gpt-4o", "messages": [{"role": "user", "content": [
        {"type": "input_image", "image_url": PNG_512}]}]})
    assert foreign.images == () and [s.type for s in foreign.skipped] == ["input_image"]
    responses = walk.count_request({"model": "gpt-4o", "input": [{"role": "user", "content": [
        ResponseInputFileParam(type="input_file", file_url="https://example.com/a.pdf"),
        {"type": "image_url", "image_url": {"url": PNG_512}},
        ResponseInputImageParam(type="input_image", image_url=PNG_512, detail="auto")]}]})
    assert [(s.pointer, s.type) for s in responses.skipped] == [
        ("/input/0/content/0", "input_file"), ("/input/0/content/1", "image_url")]
    assert len(responses.images) == 1


def test_tile_low_needs_no_size(walk):
    """spec 3.4: tile-model low costs base whatever the image: exact, with no size known."""
    body = {"model": "gpt-4o", "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "low"},
        {"type": "input_image", "file_id": "file-123", "detail": "low"}]}]}
    result = walk.count_request(body)  # on_unknown="error": still no error
    assert [i.tokens for i in result.images] == [85, 85] and not result.upper_bound
    assert [i.width for i in result.images] == [None, None]
    body["model"] = "gpt-5.4"  # a patch model's low depends on the size: unknown is unknown
    with pytest.raises(visiontokens.ImageSizeUnknownError):
        walk.count_request(body)


def test_undocumented_models_in_requests(walk):
    body = {"model": "gpt-6.1-sol", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": PNG_1024x768}},
        {"type": "image_url", "image_url": {"url": data_url(png_header(7360, 7360))}}]}]}
    with pytest.raises(UndocumentedModelError, match="gpt-6-astra"):
        walk.count_request(body)
    result = walk.count_request(body, undocumented="assume", on_violation="collect")
    assert result.model == "gpt-6.1-sol"
    assert [i.assumed_from for i in result.images] == ["gpt-6-astra", "gpt-6-astra"]
    assert isinstance(result.images[1].error, ImageRejectedError)
    assert result.images[0].tokens == tokens(1024, 768, "gpt-6-astra")
    unlimited = walk.count_request(body, undocumented="assume", enforce_patch_limit=False)
    assert unlimited.images[1].tokens == 63480 and unlimited.violations == ()
    bound = walk.count_request({"model": "gpt-6-sol", "input": [{"role": "user", "content": [
        {"type": "input_image", "file_id": "file-1"}]}]}, undocumented="assume",
        on_unknown="upper_bound")
    assert bound.image_tokens == visiontokens.max_image_tokens("gpt-6-astra")
    assert bound.images[0].assumed_from == "gpt-6-astra"
    assert walk.count_request({"model": "gpt-5.6", "input": [{"role": "user", "content": [
        {"type": "input_image", "image_url": PNG_512}]}]}).model == "gpt-5.6-sol"


class _Broken:
    """Python objects no JSON body holds, each failing its own way."""

    def __iter__(self):
        raise RuntimeError("iter fails")


def _failing_generator():
    yield {"type": "text", "text": "first"}
    raise KeyError("second")


def test_odd_python_objects_give_our_errors(walk):
    """Bad input of any kind ends in our error: a broken iterable, a generator that raises, a
    model whose dump fails, an endless iterator (capped)."""
    import itertools
    from collections.abc import Mapping

    class BrokenMapping(Mapping):
        def __getitem__(self, key):
            raise LookupError("no")

        def __iter__(self):
            return iter(["type"])

        def __len__(self):
            return 1

    class Exploding(openai.BaseModel):
        x: int = 1

        def model_dump(self, **kwargs):
            raise ValueError("cannot dump")

    cases = [_Broken(), _failing_generator(), [BrokenMapping()], [Exploding()],
             itertools.count(), 5, [object()]]
    for content in cases:
        body = {"model": "gpt-4o", "messages": [{"role": "user", "content": content}]}
        with pytest.raises(MalformedRequestError) as caught:
            walk.count_request(body)
        assert caught.value.pointer.startswith("/messages/0/content")


def test_the_command_line_shows_what_was_not_counted(tmp_path, capsys):
    from visiontokens.cli.main import main

    path = tmp_path / "body.json"
    path.write_text(json.dumps({"model": "gpt-4o", "input": [{"role": "user", "content": [
        {"type": "input_file", "file_id": "file-1"},
        {"type": "input_image", "image_url": PNG_512, "detail": "low"}]}]}))
    assert main(["request", str(path)]) == 0
    out = capsys.readouterr().out
    assert "/input/0/content/0  not counted (input_file)" in out
    assert main(["request", str(path), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["skipped"][0]["pointer"] == "/input/0/content/0" and shown["image_tokens"] == 85
