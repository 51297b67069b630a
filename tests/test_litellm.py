"""ImageTokenHook in the real LiteLLM proxy (issue 10).

The test starts ``litellm --config ...`` as a subprocess on 127.0.0.1, in front of a fake
OpenAI upstream (uvicorn, 127.0.0.1), with the hook registered in config.yaml as a user would:
the ready instance by module path, and a subclass of the hook from a file next to the config
(it records the metadata the hook stored, through LiteLLM's success callback). Requests go
through the proxy with httpx and with the official SDK. The Images API (issue 11): image
generations and multipart edits encoded by the official SDK go through the proxy to the same
fake upstream, and the hook's figures are held to ``count_request`` on the very bytes the SDK
sent.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sysconfig
import textwrap
import time
from pathlib import Path

import httpx
import pytest
from extras import integration_module, needs
from headers import data_url, gif_header, png_header
from servers import FakeOpenAI, serve

import visiontokens

pytestmark = integration_module("litellm")

LITELLM = Path(sysconfig.get_path("scripts")) / "litellm"
STARTUP_TIMEOUT = 150  # seconds; importing the proxy is most of it on this machine

RECORDER = textwrap.dedent('''
    import json, os
    from visiontokens.litellm import ImageTokenHook

    class Recording(ImageTokenHook):
        """The hook, plus a success callback that writes down what the hook stored."""

        async def async_log_success_event(self, kwargs, response_obj, start_time, end_time):
            params = kwargs.get("litellm_params") or {}
            stored = None
            for key in ("metadata", "litellm_metadata"):
                stored = (params.get(key) or {}).get("image_tokens", stored)
            with open(os.environ["VT_RECORD"], "a") as out:
                out.write(json.dumps({"image_tokens": stored}) + "\\n")

    hook = Recording(max_image_tokens=20_000, max_output_image_tokens=20_000,
                     models={"vision-prod": "gpt-4.1-mini"})

    # OpenTelemetry's SDK in the proxy, its spans written to VT_SPANS as they end (the ready
    # hook, which keeps its success callback, puts the estimate and the bill on them)
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
    except ImportError:
        pass
    else:
        class ToFile(SpanExporter):
            def export(self, spans):
                with open(os.environ["VT_SPANS"], "a") as out:
                    for span in spans:
                        out.write(json.dumps({"name": span.name,
                                              "attributes": dict(span.attributes)}) + "\\n")
                return SpanExportResult.SUCCESS

        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(ToFile()))
        trace.set_tracer_provider(provider)
''')


def config(upstream: str) -> str:
    models = [("gpt-4o", "gpt-4o"), ("gpt-6-astra", "gpt-6-astra"), ("gpt-5.4", "gpt-5.4"),
              ("vision-prod", "gpt-4.1-mini"), ("openai/gpt-4.1", "gpt-4.1"),
              ("gpt-image-1", "gpt-image-1"), ("gpt-image-2", "gpt-image-2")]
    entries = "".join(f"""
  - model_name: {name}
    litellm_params:
      model: openai/{model}
      api_base: {upstream}/v1
      api_key: fake-upstream-key""" for name, model in models)
    # a Claude deployment behind an alias: the hook counts by litellm_params.model (Claude's
    # rule), not by the alias; the fake upstream answers Anthropic's Messages API
    entries += f"""
  - model_name: my-claude
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: {upstream}
      api_key: fake-upstream-key"""
    return f"""model_list:{entries}
litellm_settings:
  callbacks: ["visiontokens.litellm.image_token_hook", "recorder.hook"]
"""


@pytest.fixture(scope="module", params=["cython", "python"])
def proxy(tmp_path_factory, request):
    """The proxy with the hook counting on the compiled stack, then the pure one (the
    proxy process's switch: VISIONTOKENS_NO_EXTENSIONS)."""
    if not LITELLM.exists():
        pytest.skip(f"the litellm command is not installed ({LITELLM})")
    fake = FakeOpenAI()
    folder = tmp_path_factory.mktemp("litellm")
    record = folder / "record.jsonl"
    record.touch()
    spans = folder / "spans.jsonl"
    spans.touch()
    key = "sk-" + secrets.token_hex(24)
    with serve(fake) as upstream:
        (folder / "config.yaml").write_text(config(upstream))
        (folder / "recorder.py").write_text(RECORDER)
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "LITELLM_MASTER_KEY": key, "VT_RECORD": str(record),
               "VT_SPANS": str(spans),
               # the model cost map ships with litellm: no fetch from the network
               "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONPATH": os.pathsep.join(
                   # the recorder's folder, and the visiontokens under test (this tree's,
                   # not whichever the proxy's interpreter would find first)
                   [str(folder), str(Path(visiontokens.__file__).resolve().parents[1])]),
               "VISIONTOKENS_NO_EXTENSIONS": "1" if request.param == "python" else "0"}
        log = open(folder / "proxy.log", "w")
        process = subprocess.Popen(
            [str(LITELLM), "--config", str(folder / "config.yaml"), "--host", "127.0.0.1",
             "--port", str(port)], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while True:
                if process.poll() is not None:
                    pytest.fail("the LiteLLM proxy exited:\n" + _tail(folder / "proxy.log"))
                try:
                    if httpx.get(f"{url}/health/liveliness", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    pytest.fail(f"the LiteLLM proxy did not start in {STARTUP_TIMEOUT} s:\n"
                                + _tail(folder / "proxy.log"))
                time.sleep(0.25)
            yield {"url": url, "key": key, "upstream": fake, "record": record, "spans": spans}
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)
            log.close()


def _tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-40:])


def post(proxy, path: str, body: dict) -> httpx.Response:
    return httpx.post(proxy["url"] + path, json=body, timeout=60,
                      headers={"Authorization": f"Bearer {proxy['key']}"})


def last_record(proxy, seen: int) -> dict:
    """The record the success callback writes after the answer (it runs in the background)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        lines = proxy["record"].read_text().splitlines()
        if len(lines) > seen:
            return json.loads(lines[-1])
        time.sleep(0.05)
    raise AssertionError("the success callback wrote nothing")


def records(proxy) -> int:
    return len(proxy["record"].read_text().splitlines())


PNG = data_url(png_header(1024, 1024))
WIDE = data_url(png_header(1800, 600))


def chat(model: str, *urls: str) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"}] + [
        {"type": "image_url", "image_url": {"url": url}} for url in urls]}]}


def test_chat_counted_and_stored_in_metadata(proxy):
    body, seen = chat("gpt-4o", PNG, WIDE), records(proxy)
    before = len(proxy["upstream"].received)
    response = post(proxy, "/v1/chat/completions", body)
    assert response.status_code == 200, response.text
    assert len(proxy["upstream"].received) == before + 1
    stored = last_record(proxy, seen)["image_tokens"]
    expected = visiontokens.count_request(body)
    assert stored["total"] == expected.image_tokens == 765 + visiontokens.count_image_tokens(
        1800, 600, "gpt-4o")
    assert stored["images"] == 2 and stored["upper_bound"] is False and stored["model"] == "gpt-4o"
    # the count stays in the proxy: what goes upstream is the request, not our metadata
    sent = json.loads(proxy["upstream"].bodies[-1])
    assert "image_tokens" not in json.dumps(sent.get("metadata", {}))
    assert len(sent["messages"][0]["content"]) == 3


def our_spans(proxy) -> list[dict]:
    lines = proxy["spans"].read_text().splitlines()
    return [span for span in map(json.loads, lines) if span["name"] == "visiontokens.request"]


@needs("opentelemetry.sdk")
def test_opentelemetry_spans_carry_the_estimate_and_the_bill(proxy):
    """The success callback's span: our estimate, and the bill from the response's usage
    (the upstream reports prompt_tokens_details.image_tokens, 4 over the estimate)."""
    body, seen = chat("gpt-4o", PNG, WIDE), len(our_spans(proxy))
    expected = visiontokens.count_request(body).image_tokens
    proxy["upstream"].chat_image_tokens = expected + 4
    try:
        assert post(proxy, "/v1/chat/completions", body).status_code == 200
    finally:
        proxy["upstream"].chat_image_tokens = None
    deadline = time.monotonic() + 15
    while len(our_spans(proxy)) <= seen and time.monotonic() < deadline:
        time.sleep(0.05)
    spans = our_spans(proxy)[seen:]
    assert [span["attributes"] for span in spans] == [{
        "visiontokens.model": "gpt-4o", "visiontokens.api": "chat", "visiontokens.images": 2,
        "visiontokens.image.input_tokens": expected, "visiontokens.image.output_tokens": 0,
        "visiontokens.upper_bound": False, "visiontokens.output_upper_bound": False,
        "gen_ai.usage.image.input_tokens": expected + 4,
        "visiontokens.image.drift": 4, "visiontokens.exact": False}]


def test_responses_counted(proxy):
    body = {"model": "gpt-5.4", "input": [{"role": "user", "content": [
        {"type": "input_text", "text": "Describe"},
        {"type": "input_image", "image_url": PNG, "detail": "original"},
        {"type": "input_file", "file_id": "file-123"}]}]}
    seen = records(proxy)
    response = post(proxy, "/v1/responses", body)
    assert response.status_code == 200, response.text
    stored = last_record(proxy, seen)["image_tokens"]
    assert stored["total"] == visiontokens.count_image_tokens(1024, 1024, "gpt-5.4", "original")
    sent = json.loads(proxy["upstream"].bodies[-1])
    assert "image_tokens" not in json.dumps(sent.get("metadata", {}))
    assert stored["skipped"] == ["/input/0/content/2"]


def test_model_groups_map_to_openai_models(proxy):
    body, seen = chat("vision-prod", WIDE), records(proxy)
    assert post(proxy, "/v1/chat/completions", body).status_code == 200
    assert last_record(proxy, seen)["image_tokens"]["total"] == visiontokens.count_image_tokens(
        1800, 600, "gpt-4.1-mini")


def test_provider_prefixed_names(proxy):
    body, seen = chat("openai/gpt-4.1", WIDE), records(proxy)
    assert post(proxy, "/v1/chat/completions", body).status_code == 200
    stored = last_record(proxy, seen)["image_tokens"]
    assert stored["model"] == "gpt-4.1"
    assert stored["total"] == visiontokens.count_image_tokens(1800, 600, "gpt-4.1")


def test_violations_are_400_before_the_upstream(proxy):
    before = len(proxy["upstream"].received)
    animated = data_url(gif_header(8, 8, frames=2), "image/gif")
    response = post(proxy, "/v1/chat/completions", chat("gpt-4o", PNG, animated))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"].startswith("/messages/0/content/2: an animated GIF")
    too_big = post(proxy, "/v1/chat/completions",
                   chat("gpt-6-astra", data_url(png_header(6000, 6000))))
    assert too_big.status_code == 400 and "30000" in too_big.json()["error"]["message"]
    assert len(proxy["upstream"].received) == before


def test_over_budget_is_429(proxy):
    before = len(proxy["upstream"].received)
    body = chat("gpt-6-astra", *[data_url(png_header(2048, 2048))] * 5)  # 5 x 4,916 > 20,000
    response = post(proxy, "/v1/chat/completions", body)
    assert response.status_code == 429
    assert "over the limit of 20000" in response.json()["error"]["message"]
    assert len(proxy["upstream"].received) == before


def test_through_the_official_sdk(proxy):
    openai = pytest.importorskip("openai")
    with openai.OpenAI(base_url=proxy["url"] + "/v1", api_key=proxy["key"],
                       max_retries=0) as client:
        answer = client.chat.completions.create(**chat("gpt-4o", PNG))
        assert answer.choices[0].message.content == "ok"
        with pytest.raises(openai.BadRequestError, match="animated GIF"):
            client.chat.completions.create(**chat("gpt-4o", data_url(
                gif_header(4, 4, frames=3), "image/gif")))
        with pytest.raises(openai.RateLimitError):
            client.chat.completions.create(**chat("gpt-6-astra",
                                                  *[data_url(png_header(2048, 2048))] * 5))


def test_text_only_and_uncountable_bodies_go_through(proxy):
    seen = records(proxy)
    response = post(proxy, "/v1/chat/completions",
                    {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]})
    assert response.status_code == 200
    assert last_record(proxy, seen)["image_tokens"]["total"] == 0


# --- the Images API (issue 11) -------------------------------------------------------------------

def sdk_request(call) -> httpx.Request:
    """The request the official SDK builds for ``call(client)``, caught before it leaves:
    its own JSON or multipart encoding, byte for byte."""
    openai = pytest.importorskip("openai")
    caught = []

    def catch(request: httpx.Request) -> httpx.Response:
        request.read()
        caught.append(request)
        return httpx.Response(200, json={"created": 0, "data": []})

    with httpx.Client(transport=httpx.MockTransport(catch)) as http:
        call(openai.OpenAI(api_key="sk-x", base_url="http://sdk.invalid/v1", http_client=http,
                           max_retries=0))
    (request,) = caught
    return request


def send_as_sdk(proxy, request: httpx.Request) -> httpx.Response:
    """The SDK's bytes and content type, sent to the proxy."""
    return httpx.post(proxy["url"] + request.url.path, content=request.content, timeout=60,
                      headers={"Authorization": f"Bearer {proxy['key']}",
                               "content-type": request.headers["content-type"]})


def expected_count(request: httpx.Request):
    content_type = request.headers["content-type"]
    return visiontokens.count_request(
        request.content, on_unknown="upper_bound",
        content_type=content_type if content_type.startswith("multipart/") else None)


@pytest.fixture(scope="module")
def pictures():
    from headers import pillow_image

    return {"png": pillow_image("PNG", (1200, 800)), "jpeg": pillow_image("JPEG", (600, 600)),
            "mask": pillow_image("PNG", (1200, 800), mode="RGBA")}


@pytest.mark.parametrize("model,size,quality,n", [
    ("gpt-image-1", "1024x1536", "medium", 2),
    ("gpt-image-2", "1536x1024", "auto", 1),  # quality auto: an upper bound (spec 6.2)
])
def test_image_generation_counted(proxy, model, size, quality, n):
    request = sdk_request(lambda client: client.images.generate(
        model=model, prompt="a lighthouse", size=size, quality=quality, n=n))
    seen, before = records(proxy), len(proxy["upstream"].received)
    response = send_as_sdk(proxy, request)
    assert response.status_code == 200, response.text
    assert proxy["upstream"].received[before]["path"] == "/v1/images/generations"
    stored = last_record(proxy, seen)["image_tokens"]
    expected = expected_count(request)
    assert expected.api == "images.generations" and expected.output_image_tokens > 0
    assert (stored["output_tokens"], stored["output_upper_bound"]) == (
        expected.output_image_tokens, expected.output_upper_bound)
    assert (stored["total"], stored["images"], stored["model"]) == (0, 0, model)
    assert stored["output_upper_bound"] is (quality == "auto")
    assert stored["output_tokens"] == visiontokens.count_output_image_tokens(
        model, size, quality, n=n)
    sent = json.loads(proxy["upstream"].bodies[before])
    assert "image_tokens" not in json.dumps(sent)  # the count stays in the proxy


@pytest.mark.parametrize("fidelity", ["low", "high"])
def test_multipart_image_edit_counted(proxy, pictures, fidelity):
    """The SDK's multipart edit, through the proxy: LiteLLM hands the hook the uploads as
    files; the figures equal count_request on the SDK's own bytes."""
    request = sdk_request(lambda client: client.images.edit(
        model="gpt-image-1", prompt="add a hat", image=[
            ("a.png", pictures["png"], "image/png"), ("b.jpg", pictures["jpeg"], "image/jpeg")],
        mask=("mask.png", pictures["mask"], "image/png"), input_fidelity=fidelity,
        size="1024x1024", quality="high", n=1))
    assert request.headers["content-type"].startswith("multipart/form-data")
    seen, before = records(proxy), len(proxy["upstream"].received)
    response = send_as_sdk(proxy, request)
    assert response.status_code == 200, response.text
    assert proxy["upstream"].received[before]["path"] == "/v1/images/edits"
    stored = last_record(proxy, seen)["image_tokens"]
    expected = expected_count(request)
    assert expected.api == "images.edits"
    assert stored["total"] == expected.image_tokens == sum(
        visiontokens.count_image_tokens(w, h, "gpt-image-1", input_fidelity=fidelity)
        for w, h in ((1200, 800), (600, 600)))
    assert stored["images"] == len(expected.images) == 3  # two images and the unbilled mask
    assert (stored["output_tokens"], stored["output_upper_bound"]) == (4160, False)
    assert stored["output_tokens"] == expected.output_image_tokens
    # LiteLLM sent the edit on as a form of its own, with the images and without our count
    upstream = proxy["upstream"].bodies[-1]
    assert "image_tokens" not in upstream and upstream.count('filename="') >= 2


def test_image_edit_violations_and_output_budget(proxy, pictures):
    """An animated GIF upload is refused (400), and so is a generation over the output
    budget of 20,000 (429), before the upstream is called."""
    from headers import pillow_image

    before = len(proxy["upstream"].received)
    animated = pillow_image("GIF", (64, 64), frames=3)
    edit = sdk_request(lambda client: client.images.edit(
        model="gpt-image-1", prompt="x", image=[("a.png", pictures["png"], "image/png"),
                                                ("b.gif", animated, "image/gif")]))
    response = send_as_sdk(proxy, edit)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"].startswith("/image/1: an animated GIF")
    generation = sdk_request(lambda client: client.images.generate(
        model="gpt-image-2", prompt="x", size="3840x2160", quality="high", n=2))
    assert visiontokens.count_output_image_tokens("gpt-image-2", "3840x2160", "high",
                                                  n=2) > 20_000
    response = send_as_sdk(proxy, generation)
    assert response.status_code == 429, response.text
    assert "over the limit of 20000 output image tokens" in response.json()["error"]["message"]
    assert len(proxy["upstream"].received) == before


def test_an_alias_is_counted_by_its_deployments_model(proxy):
    """"my-claude" routes to anthropic/claude-sonnet-4-5: Claude's rule, detail ignored."""
    body = chat("my-claude", data_url(png_header(1920, 1080)), WIDE)
    body["messages"][0]["content"][1]["image_url"]["detail"] = "low"
    seen, before = records(proxy), len(proxy["upstream"].received)
    response = post(proxy, "/v1/chat/completions", body)
    assert response.status_code == 200, response.text
    assert len(proxy["upstream"].received) == before + 1
    assert proxy["upstream"].received[-1]["path"].endswith("/v1/messages")
    stored = last_record(proxy, seen)["image_tokens"]
    assert "error" not in stored, stored
    assert stored["model"] == visiontokens.get_model("claude-sonnet-4-5").id
    assert stored["total"] == 1560 + visiontokens.count_image_tokens(1800, 600, "claude-sonnet-4-5")


def test_a_messages_request_through_the_proxy(proxy):
    """Anthropic's /v1/messages route of the proxy: the body is a Messages body."""
    import base64

    body = {"model": "my-claude", "max_tokens": 16, "messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": base64.b64encode(png_header(1920, 1080)).decode()}},
        {"type": "text", "text": "What is this?"}]}]}
    seen = records(proxy)
    response = post(proxy, "/v1/messages", body)
    assert response.status_code == 200, response.text
    stored = last_record(proxy, seen)["image_tokens"]
    assert stored["total"] == 1560 and stored["images"] == 1
    # over the per-side limit: refused with 400 before the upstream
    before = len(proxy["upstream"].received)
    body["messages"][0]["content"][0]["source"]["data"] = base64.b64encode(
        png_header(8001, 10)).decode()
    refused = post(proxy, "/v1/messages", body)
    assert refused.status_code == 400 and "8000" in refused.text
    assert len(proxy["upstream"].received) == before
