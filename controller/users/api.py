"""Staff account endpoints of /api/v1."""

from controller.api import endpoint, page_out
from controller.api.actor import api_actor
from controller.auth.roles import Perm
from controller.schemas import Page
from controller.users import service as users
from controller.users.schemas import UserCreate, UserOut, UserQuery, UserUpdate

_TAG = "users"


@endpoint("/me", summary="Show the token's owner", tag=_TAG, perm=None, response=UserOut)
def me(user):
    """The account the token acts for."""
    return UserOut.model_validate(users.get_user(user.id))


@endpoint("/users", summary="List staff accounts", tag=_TAG, perm=Perm.USERS_MANAGE,
          query=UserQuery, response=Page[UserOut], errors=(422,))  # fmt: skip
def list_users(user, query: UserQuery):
    """Every staff account (admins only)."""
    return page_out(users.list_users(query), UserOut)


@endpoint("/users", "POST", summary="Create a staff account", tag=_TAG, perm=Perm.USERS_MANAGE,
          body=UserCreate, response=UserOut, status=201, errors=(409, 422))  # fmt: skip
def create_user(user, body: UserCreate):
    """Add a staff account (admins only)."""
    return UserOut.model_validate(users.create_user(api_actor(user), body))


@endpoint("/users/<id:user_id>", summary="Show a staff account", tag=_TAG,
          perm=Perm.USERS_MANAGE, response=UserOut, errors=(404,))  # fmt: skip
def get_user(user, user_id: int):
    """One staff account."""
    return UserOut.model_validate(users.get_user(user_id))


@endpoint("/users/<id:user_id>", "PATCH", summary="Change a staff account", tag=_TAG,
          perm=Perm.USERS_MANAGE, body=UserUpdate, response=UserOut,
          errors=(404, 409, 422))  # fmt: skip
def update_user(user, user_id: int, body: UserUpdate):
    """Change role, scope, activity, language or password of an account."""
    return UserOut.model_validate(users.update_user(api_actor(user), users.get_user(user_id), body))
