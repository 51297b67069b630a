"""The OpenAPI 3.1 document of ``visiontokens serve`` (served at ``/openapi.json``)."""

from __future__ import annotations

from typing import Any


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_BODY = {
    "required": True,
    "description": "The request body exactly as the client sends it to the provider, with its "
                   "Content-Type: JSON, or multipart/form-data for an Images API edit.",
    "content": {"application/json": {"schema": {"type": "object"}},
                "multipart/form-data": {"schema": {"type": "object"}}},
}
_API = [
    {"name": "api", "in": "query", "required": False, "schema": {"type": "string"},
     "description": "The format the body is in (chat, responses, images.generations, "
                    "images.edits); default: told by the path after the endpoint, or the "
                    "body's shape."},
    {"name": "x-visiontokens-api", "in": "header", "required": False,
     "schema": {"type": "string"}, "description": "The same as the api query parameter."},
]
_BUDGETS = [
    {"name": "x-visiontokens-max-image-tokens", "in": "header", "required": False,
     "schema": {"type": "string", "pattern": "^[0-9]+$"},
     "description": "Lowers the input image-token budget for this request (never raises it)."},
    {"name": "x-visiontokens-max-output-image-tokens", "in": "header", "required": False,
     "schema": {"type": "string", "pattern": "^[0-9]+$"},
     "description": "Lowers the output image-token budget for this request (never raises it)."},
]
_PROVIDER_PATH = {"name": "provider_path", "in": "path", "required": True,
                  "schema": {"type": "string"},
                  "description": "The provider path the body is for, e.g. v1/images/edits."}

_ERRORS = {
    "400": _json(_ref("Error"), "Malformed JSON, not a request, or a bad parameter"),
    "408": _json(_ref("Error"), "The body did not arrive in time"),
    "413": _json(_ref("Error"), "The body is over the size this service reads"),
    "415": _json(_ref("Error"), "Not JSON or multipart/form-data, or a compressed body"),
    "503": _json(_ref("Error"), "The count ran out of time or memory, or the service is busy"),
}
_CHECK_HEADERS = {
    name: {"description": text, "schema": {"type": "string"}}
    for name, text in (
        ("x-image-tokens", "Input image tokens of the request"),
        ("x-image-tokens-upper-bound", "true when some image counts at its upper bound"),
        ("x-output-image-tokens", "Output image tokens the request will generate"),
        ("x-output-image-tokens-upper-bound", "true when that figure is an upper bound"))
}
#: The refusal in the shape of the provider the path is for (gateway.shared.provider_error)
_PROVIDER_ERROR = {"oneOf": [_ref("OpenAIError"), _ref("AnthropicError"), _ref("GoogleError")]}


def _count_operation() -> dict[str, Any]:
    return {"summary": "Count the image tokens of a request body",
            "parameters": _API, "requestBody": _BODY,
            "responses": {"200": _json(_ref("Count"), "The counts, image by image"),
                          **_ERRORS}}


def _check_operation() -> dict[str, Any]:
    return {"summary": "Allow or refuse a request (external-authorisation hooks)",
            "parameters": _API + _BUDGETS, "requestBody": _BODY,
            "responses": {
                "200": {**_json(_ref("CheckSummary"), "Within budget"),
                        "headers": _CHECK_HEADERS},
                "400": _json(_PROVIDER_ERROR, "A body the provider would refuse"),
                "404": _json(_PROVIDER_ERROR, "A model the ruleset does not know"),
                "408": _json(_PROVIDER_ERROR, "The body did not arrive in time"),
                "413": _json(_PROVIDER_ERROR, "Body too large, or over budget (when so set)"),
                "415": _json(_PROVIDER_ERROR, "Not a provider request body's media type"),
                "429": _json(_PROVIDER_ERROR, "Over the image-token budget"),
                "503": _json(_PROVIDER_ERROR, "The count ran out of time or memory")}}


def _get(summary: str, response: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "responses": response}}


def document() -> dict[str, Any]:
    from .. import __version__

    nullable_int = {"type": ["integer", "null"]}
    nullable_str = {"type": ["string", "null"]}
    image = {"type": "object", "required": ["pointer", "source", "tokens", "upper_bound"],
             "properties": {"pointer": {"type": "string"}, "source": {"type": "string"},
                            "format": nullable_str, "width": nullable_int,
                            "height": nullable_int, "detail": nullable_str,
                            "resolved_detail": nullable_str, "tokens": nullable_int,
                            "upper_bound": {"type": "boolean"}, "note": nullable_str,
                            "error": nullable_str}}
    violation = {"type": "object", "required": ["code", "message"],
                 "properties": {"pointer": nullable_str, "code": {"type": "string"},
                                "message": {"type": "string"}}}
    summary = {"api": {"type": "string"}, "model": nullable_str,
               "image_tokens": {"type": "integer"}, "upper_bound": {"type": "boolean"},
               "output_image_tokens": {"type": "integer"},
               "output_upper_bound": {"type": "boolean"}}
    schemas = {
        "Image": image, "Violation": violation,
        "CheckSummary": {"type": "object", "required": list(summary), "properties": summary},
        "Count": {"type": "object",
                  "required": [*summary, "images", "skipped", "violations"],
                  "properties": {**summary,
                                 "images": {"type": "array", "items": _ref("Image")},
                                 "skipped": {"type": "array", "items": {
                                     "type": "object", "properties": {
                                         "pointer": {"type": "string"},
                                         "type": {"type": "string"},
                                         "reason": {"type": "string"}}}},
                                 "violations": {"type": "array", "items": _ref("Violation")}}},
        "Error": {"type": "object", "required": ["error"],
                  "properties": {"error": violation}},
        "OpenAIError": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["message", "type"],
            "properties": {"message": {"type": "string"}, "type": {"type": "string"},
                           "param": nullable_str, "code": nullable_str}}}},
        "AnthropicError": {"type": "object", "required": ["type", "error"], "properties": {
            "type": {"const": "error"}, "error": {
                "type": "object", "required": ["type", "message"],
                "properties": {"type": {"type": "string"}, "message": {"type": "string"}}}}},
        "GoogleError": {"type": "object", "required": ["error"], "properties": {"error": {
            "type": "object", "required": ["code", "message", "status"],
            "properties": {"code": {"type": "integer"}, "message": {"type": "string"},
                           "status": {"type": "string"}}}}},
    }
    text = {"text/plain": {"schema": {"type": "string"}}}
    status = _json({"type": "object", "properties": {"status": {"type": "string"}}}, "Status")
    return {
        "openapi": "3.1.0",
        "info": {"title": "visiontokens serve", "version": __version__,
                 "description": "Exact image-token counts of LLM API request bodies, before "
                                "the request is sent."},
        "paths": {
            "/v1/count": {"post": _count_operation()},
            "/v1/count/{provider_path}": {"post": {**_count_operation(),
                                                   "parameters": [_PROVIDER_PATH, *_API]}},
            "/v1/check": {"post": _check_operation()},
            "/v1/check/{provider_path}": {"post": {
                **_check_operation(), "parameters": [_PROVIDER_PATH, *_API, *_BUDGETS]}},
            "/healthz": _get("Liveness", {"200": status}),
            "/readyz": _get("Readiness: the counting processes are up",
                            {"200": status, "503": status}),
            "/metrics": _get("Prometheus metrics",
                             {"200": {"description": "Text format 0.0.4", "content": text}}),
            "/openapi.json": _get("This document", {"200": _json({"type": "object"},
                                                                 "OpenAPI 3.1")}),
        },
        "components": {"schemas": schemas},
    }
