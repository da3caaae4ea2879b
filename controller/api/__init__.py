"""The JSON API: one blueprint, bearer tokens, one error envelope, schemas that document it."""

from controller.api.core import bp, endpoint, page_out

__all__ = ["bp", "endpoint", "page_out"]
