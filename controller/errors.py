"""Domain errors raised by services and turned into 4xx answers by views."""

from pydantic import ValidationError

from controller.validation import field_messages


class DomainError(Exception):
    """A request that cannot be carried out, with a message for people."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        fields: dict[str, str] | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class NotFound(DomainError):
    """The object does not exist, or is outside the caller's offices."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The change clashes with existing data (a duplicate, a dependent object)."""

    status = 409
    code = "conflict"


class Invalid(DomainError):
    """The input failed validation; fields maps each bad field to its message."""

    status = 422
    code = "validation_error"

    @classmethod
    def from_pydantic(cls, exc: ValidationError, message: str) -> "Invalid":
        """Wrap pydantic's errors with translated, per-field messages."""
        return cls(message, field_messages(exc))
