"""Declaring API endpoints: authentication, permission, validation and the spec in one place."""

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from flask_babel import gettext as _
from pydantic import BaseModel, TypeAdapter, ValidationError

from controller.auth.roles import Perm
from controller.auth.tokens import authenticate, touch
from controller.errors import DomainError, Invalid
from controller.extensions import csrf
from controller.pagination import Paged
from controller.schemas import Page

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens are not sent by browsers on their own, so CSRF cannot apply


@dataclass
class Operation:
    """What the OpenAPI document says about one endpoint."""

    rule: str
    method: str
    endpoint: str
    summary: str
    tag: str
    perm: Perm | None
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    response: Any
    status: int
    errors: list[int] = field(default_factory=list)
    prefix: str = "/api/v1"
    security: str = "bearerAuth"


OPERATIONS: list[Operation] = []


def error_response(status: int, code: str, message: str, fields: dict | None = None):
    """The one error envelope of the API."""
    body = {"error": {"status": status, "code": code, "message": message, "fields": fields or {}}}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="telecentre"'
    return response


def is_api_request() -> bool:
    """Whether this request is for the JSON API (answered in JSON, authenticated by token)."""
    return request.path.startswith("/api/")


def _authenticate(perm: Perm | None):
    header = request.headers.get("Authorization", "")
    scheme, _sep, secret = header.partition(" ")
    user = authenticate(secret.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        raise DomainError(
            _("A valid API token is required (Authorization: Bearer …)."),
            status=401,
            code="unauthorized",
        )
    g.api_user = user
    if perm is not None and not user.can(perm):
        raise DomainError(_("Your role does not allow this."), status=403, code="forbidden")
    return user


def _parse_body(model: type[BaseModel]) -> BaseModel:
    if not request.is_json:
        raise DomainError(
            _("Send a JSON body (Content-Type: application/json)."),
            status=415,
            code="unsupported_media_type",
        )
    try:
        # strict: JSON true is not an id and "3" is not a number
        return model.model_validate_json(request.get_data(cache=False), strict=True)
    except ValidationError as exc:
        raise Invalid.from_pydantic(exc, _("The request body is not valid.")) from None


def _parse_query(model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(request.args.to_dict())
    except ValidationError as exc:
        raise Invalid.from_pydantic(exc, _("The query parameters are not valid.")) from None


def endpoint(
    rule: str,
    method: str = "GET",
    *,
    summary: str,
    tag: str,
    perm: Perm | None,
    query: type[BaseModel] | None = None,
    body: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
) -> Callable:
    """Register an API view: it gets (user, *url args, query=, body=) and returns data."""

    def decorate(view: Callable) -> Callable:
        name = view.__name__

        @functools.wraps(view)
        def wrapper(**kwargs):
            user = _authenticate(perm)
            if query is not None:
                kwargs["query"] = _parse_query(query)
            if body is not None:
                kwargs["body"] = _parse_body(body)
            result = view(user, **kwargs)
            touch(user)
            if status == 204:
                return "", 204
            if isinstance(result, Response):
                return result, status
            return jsonify(_dump(result)), status

        bp.add_url_rule(rule, endpoint=name, view_func=wrapper, methods=[method])
        OPERATIONS.append(
            Operation(
                rule, method, name, summary, tag, perm, query, body, response, status, list(errors)
            )
        )
        return wrapper

    return decorate


def _dump(result: Any) -> Any:
    if isinstance(result, BaseModel):
        return result.model_dump(mode="json")
    return result


@functools.cache
def _page_adapter(schema: type[BaseModel]) -> TypeAdapter:
    return TypeAdapter(Page[schema])


def page_out(paged: Paged, schema: type[BaseModel]) -> Response:
    """A page of objects or dicts checked against the output schema and encoded as JSON.

    One pass through pydantic-core, straight to bytes: lists are the API's hot path.
    """
    adapter = _page_adapter(schema)
    page = {
        "items": paged.items,
        "total": paged.total,
        "page": paged.page,
        "per_page": paged.per_page,
        "pages": paged.pages,
    }
    return Response(adapter.dump_json(adapter.validate_python(page)), mimetype="application/json")
