"""The OpenAPI 3.1 document, generated from the schemas that validate requests."""

import functools
import re

from flask import Blueprint, jsonify
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from controller.api.core import OPERATIONS, Operation
from controller.schemas import MAX_ID, Error

docs = Blueprint("openapi", __name__)

_REF = "#/components/schemas/{model}"
_AGENT_DOC = (
    "Device agents sign each request: X-Telecentre-Device (id), X-Telecentre-Timestamp (Unix "
    "seconds, at most 300 s off), X-Telecentre-Nonce (never reused) and X-Telecentre-Signature "
    "= hex HMAC-SHA256(device secret, METHOD \\n PATH \\n TIMESTAMP \\n NONCE \\n "
    "SHA-256(body)). Answers carry X-Telecentre-Controller and their own signature."
)
_ID_SCHEMA = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
_REASONS = {
    400: "Malformed request", 401: "Missing or invalid API token", 403: "Role does not allow this",
    404: "Not found or outside your offices", 409: "Conflicts with existing data",
    413: "Body too large", 415: "Body is not JSON", 422: "Validation failed",
    429: "Too many requests",
}  # fmt: skip


def build_spec(version: str) -> dict:
    """The whole document for the endpoints registered so far."""
    models = {Error}
    for op in OPERATIONS:
        models.update(m for m in (op.query, op.body, op.response) if isinstance(m, type))
    mode_pairs = [(m, "validation" if _is_input(m) else "serialization") for m in models]
    refs, schema = models_json_schema(mode_pairs, ref_template=_REF)
    components = schema.get("$defs", {})
    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        path = op.prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", op.rule)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op, refs, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Telecentre Controller API",
            "version": version,
            "description": "Offices, devices and staff of the county's public access network. "
            "Authenticate with a personal API token: `Authorization: Bearer tc_…`.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "tags": [{"name": "agent", "description": _AGENT_DOC}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "agentSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Telecentre-Signature",
                    "description": _AGENT_DOC,
                },
            },
        },
    }


def _is_input(model: type[BaseModel]) -> bool:
    return model.model_config.get("extra") == "forbid"


def _ref(refs: dict, model: type[BaseModel]) -> dict:
    mode = "validation" if _is_input(model) else "serialization"
    return refs[(model, mode)]


def _operation(op: Operation, refs: dict, components: dict) -> dict:
    out: dict = {
        "operationId": op.endpoint,
        "security": [{op.security: []}] if op.security else [],
        "summary": op.summary,
        "tags": [op.tag],
        "parameters": _parameters(op, refs, components),
        "responses": {},
    }
    if op.perm is not None:
        out["description"] = f"Requires the permission `{op.perm.value}`; office scope applies."
    if op.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(refs, op.body)}},
        }
    if op.status == 204:
        out["responses"]["204"] = {"description": "Done"}
    elif isinstance(op.response, dict):  # a file download: media types it may come as
        binary = {"schema": {"type": "string", "format": "binary"}}
        content = {media: binary for media in op.response}
        out["responses"][str(op.status)] = {"description": "A file", "content": content}
    else:
        content = {"application/json": {"schema": _ref(refs, op.response)}}
        out["responses"][str(op.status)] = {"description": "Success", "content": content}
    error = {"application/json": {"schema": _ref(refs, Error)}}
    usual = (
        {401, 403, 429} - ({403} if op.perm is None else set())
        if op.security == "bearerAuth"
        else set()
    )
    for status in sorted(usual | set(op.errors)):
        out["responses"][str(status)] = {"description": _REASONS[status], "content": error}
    return out


def _parameters(op: Operation, refs: dict, components: dict) -> list[dict]:
    params = [
        {"name": name, "in": "path", "required": True,
         "schema": _ID_SCHEMA if converter == "id:" else {"type": "string"}}
        for converter, name in re.findall(r"<(\w+:)?(\w+)>", op.rule)
    ]  # fmt: skip
    if op.query is not None:
        schema = components[_ref(refs, op.query)["$ref"].rsplit("/", 1)[1]]
        required = set(schema.get("required", []))
        for name, prop in schema["properties"].items():
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if "description" in prop:
                param["description"] = prop["description"]
            params.append(param)
    return params


@docs.get("/api/openapi.json")
def openapi_json():
    """Serve the OpenAPI document (built once per process: the routes do not change)."""
    return jsonify(_cached_spec())


@functools.cache
def _cached_spec() -> dict:
    from importlib.metadata import version

    return build_spec(version("telecentre-controller"))
