"""Web forms: posted fields validated by the same pydantic schemas as the API."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import request
from flask_babel import gettext as _
from flask_login import current_user
from pydantic import BaseModel, ValidationError

from controller.audit.service import Actor
from controller.errors import DomainError, Invalid
from controller.extensions import db
from controller.validation import field_messages


@dataclass
class FormState:
    """What a form page shows: the values typed, errors per field, a summary message."""

    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    message: str = ""

    @property
    def status(self) -> int:
        """HTTP status for the page: 422 when the form is shown again with errors."""
        return 422 if self.errors or self.message else 200


def ui_actor() -> Actor:
    """The signed-in user acting through the web UI."""
    return Actor.for_request(current_user._get_current_object(), "ui")


def posted(schema: type[BaseModel], lists: tuple[str, ...] = (), flags: tuple[str, ...] = ()):
    """Posted fields that the schema knows, with lists and checkboxes read properly."""
    known = set(schema.model_fields)
    values: dict[str, Any] = {
        k: v for k, v in request.form.items() if k in known and k not in lists + flags
    }
    for name in lists:
        values[name] = [v for v in request.form.getlist(name) if v]
    for name in flags:
        values[name] = name in request.form
    return values


def submit(
    schema: type[BaseModel],
    save: Callable[[Any], Any],
    *,
    required: tuple[str, ...] = (),
    lists: tuple[str, ...] = (),
    flags: tuple[str, ...] = (),
    drop_blank: tuple[str, ...] = (),
) -> tuple[Any, FormState]:
    """Validate the posted form and save it; on failure nothing is written."""
    values = posted(schema, lists, flags)
    for name in drop_blank:
        if not values.get(name):
            values.pop(name, None)
    state = FormState(values=values)
    missing = {
        k: _("This field is required.") for k in required if not str(values.get(k, "")).strip()
    }
    message = _("Please correct the marked fields.")
    try:
        try:  # every problem at once: the missing fields and the invalid ones
            data = schema.model_validate({k: v for k, v in values.items() if k not in missing})
        except ValidationError as exc:
            raise Invalid(message, {**field_messages(exc), **missing}) from None
        if missing:
            raise Invalid(message, missing)
        return save(data), state
    except DomainError as exc:
        db.session.rollback()
        state.errors, state.message = exc.fields, exc.message
        return None, state
