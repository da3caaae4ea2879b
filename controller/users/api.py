"""Staff account endpoints of /api/v1."""

from controller.api import endpoint
from controller.api.resource import Resource, expose
from controller.auth.roles import Perm
from controller.users import service as users
from controller.users.schemas import UserCreate, UserOut, UserQuery, UserUpdate


@endpoint("/me", summary="Show the token's owner", tag="users", perm=None, response=UserOut)
def me(user):
    """The account the token acts for."""
    return UserOut.model_validate(users.get_user(user.id))


expose(
    Resource(
        plural="users",
        singular="user",
        names=("staff accounts", "a staff account"),
        out=UserOut,
        query=UserQuery,
        create=UserCreate,
        update=UserUpdate,
        read=Perm.USERS_MANAGE,
        write=Perm.USERS_MANAGE,
        list=lambda _user, query: users.list_users(query),
        get=lambda _user, user_id: users.get_user(user_id),
        add=users.create_user,
        change=users.update_user,
    )
)
