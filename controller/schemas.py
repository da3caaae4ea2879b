"""Building blocks shared by the API schemas: strictness, pagination, errors."""

from typing import Annotated, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

T = TypeVar("T")
MAX_ID = 2**31 - 1  # the largest id either database stores

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


class Input(BaseModel):
    """Base of request bodies: unknown fields are refused, text is trimmed, NUL is refused.

    Fields named in NOT_NULL may be left out (PATCH) but not set to null.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    NOT_NULL: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data):
        if isinstance(data, dict):
            for key, value in data.items():
                texts = value if isinstance(value, list) else [value]
                if any(isinstance(t, str) and "\x00" in t for t in texts):
                    raise PydanticCustomError(
                        "nul_byte", "NUL character in {field}", {"field": key}
                    )
        return data

    @model_validator(mode="after")
    def _not_null(self):
        for name in self.NOT_NULL:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise PydanticCustomError("null_not_allowed", "{field} may not be null",
                                          {"field": name})  # fmt: skip
        return self


class Output(BaseModel):
    """Base of response bodies, read straight from model attributes."""

    model_config = ConfigDict(from_attributes=True)


class PageQuery(Input):
    """Pagination parameters of list endpoints."""

    page: int = Field(1, ge=1, le=1_000_000, description="Page number, from 1.")
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
