"""Building blocks shared by the API schemas: strictness, pagination, errors."""

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Input(BaseModel):
    """Base of request bodies: unknown fields are refused, text is trimmed."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Output(BaseModel):
    """Base of response bodies, read straight from model attributes."""

    model_config = ConfigDict(from_attributes=True)


class PageQuery(Input):
    """Pagination parameters of list endpoints."""

    page: int = Field(1, ge=1, description="Page number, from 1.")
    per_page: int = Field(50, ge=1, le=200, description="Items per page (at most 200).")


class Page(Output, Generic[T]):
    """One page of a list."""

    items: list[T]
    total: int = Field(description="Number of items across all pages.")
    page: int
    per_page: int
    pages: int


class ErrorBody(BaseModel):
    """What went wrong."""

    status: int
    code: str = Field(description="Stable machine-readable error code.")
    message: str = Field(description="Human-readable explanation, in the caller's language.")
    fields: dict[str, str] = Field(
        default_factory=dict, description="Per-field messages for validation errors."
    )


class Error(BaseModel):
    """The one error envelope of every API answer that is not a success."""

    error: ErrorBody
