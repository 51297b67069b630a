"""ImageTokenHook in the real LiteLLM proxy (issue 10).

The test starts ``litellm --config ...`` as a subprocess on 127.0.0.1, in front of a fake
OpenAI upstream (uvicorn, 127.0.0.1), with the hook registered in config.yaml as a user would:
the ready instance by module path, and a subclass of the hook from a file next to the config
(it records the metadata the hook stored, through LiteLLM's success callback). Requests go
through the proxy with httpx and with the official SDK.
"""

from __future__ import annotations

import importlib.util
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
from headers import data_url, gif_header, png_header
from servers import FakeOpenAI, serve

import visiontokens

if importlib.util.find_spec("litellm") is None:
    pytest.skip("litellm[proxy] is not installed (pip install '.[test]')", allow_module_level=True)

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

    hook = Recording(max_image_tokens=20_000, models={"vision-prod": "gpt-4.1-mini"})
''')


def config(upstream: str) -> str:
    models = [("gpt-4o", "gpt-4o"), ("gpt-6-astra", "gpt-6-astra"), ("gpt-5.4", "gpt-5.4"),
              ("vision-prod", "gpt-4.1-mini"), ("openai/gpt-4.1", "gpt-4.1")]
    entries = "".join(f"""
  - model_name: {name}
    litellm_params:
      model: openai/{model}
      api_base: {upstream}/v1
      api_key: fake-upstream-key""" for name, model in models)
    return f"""model_list:{entries}
litellm_settings:
  callbacks: ["visiontokens.litellm.image_token_hook", "recorder.hook"]
"""


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    if not LITELLM.exists():
        pytest.skip(f"the litellm command is not installed ({LITELLM})")
    fake = FakeOpenAI()
    folder = tmp_path_factory.mktemp("litellm")
    record = folder / "record.jsonl"
    record.touch()
    key = "sk-" + secrets.token_hex(24)
    with serve(fake) as upstream:
        (folder / "config.yaml").write_text(config(upstream))
        (folder / "recorder.py").write_text(RECORDER)
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {**os.environ, "LITELLM_MASTER_KEY": key, "VT_RECORD": str(record),
               # the model cost map ships with litellm: no fetch from the network
               "LITELLM_LOCAL_MODEL_COST_MAP": "True", "PYTHONPATH": str(folder)}
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
            yield {"url": url, "key": key, "upstream": fake, "record": record}
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
    client = openai.OpenAI(base_url=proxy["url"] + "/v1", api_key=proxy["key"], max_retries=0)
    answer = client.chat.completions.create(**chat("gpt-4o", PNG))
    assert answer.choices[0].message.content == "ok"
    with pytest.raises(openai.BadRequestError, match="animated GIF"):
        client.chat.completions.create(**chat("gpt-4o", data_url(gif_header(4, 4, frames=3),
                                                                 "image/gif")))
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(**chat("gpt-6-astra", *[data_url(png_header(2048, 2048))] * 5))
    client.close()


def test_text_only_and_uncountable_bodies_go_through(proxy):
    seen = records(proxy)
    response = post(proxy, "/v1/chat/completions",
                    {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello"}]})
    assert response.status_code == 200
    assert last_record(proxy, seen)["image_tokens"]["total"] == 0
