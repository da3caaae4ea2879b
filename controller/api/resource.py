"""A collection exposed as list / create / show / change / delete endpoints of /api/v1."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from controller.api.actor import api_actor
from controller.api.core import endpoint, page_out
from controller.auth.roles import Perm
from controller.schemas import Page


@dataclass(frozen=True)
class Resource:
    """What the endpoints of one collection call; the views themselves are generated."""

    plural: str  # URL segment, OpenAPI tag and endpoint names: "devices"
    singular: str  # "device": get_device, /devices/<id:device_id>
    names: tuple[str, str]  # for summaries: ("devices", "a device")
    out: type[BaseModel]
    query: type[BaseModel]
    create: type[BaseModel]
    update: type[BaseModel]
    read: Perm
    write: Perm
    list: Callable[[Any, Any], Any]  # (user, query) -> Paged
    get: Callable[[Any, int], Any]  # (user, id) -> object, NotFound outside the scope
    add: Callable[[Any, Any], Any]  # (actor, body) -> object
    change: Callable[[Any, Any, Any], Any]  # (actor, object, body) -> object
    remove: Callable[[Any, Any], None] | None = None  # (actor, object)
    detail: type[BaseModel] | None = None  # the shape of one object, when richer than out


def expose(res: Resource) -> None:
    """Register the collection's endpoints on the API blueprint."""
    many, one = res.names
    item = res.detail or res.out
    item_rule, key = f"/{res.plural}/<id:{res.singular}_id>", f"{res.singular}_id"

    def _named(fn: Callable, name: str, doc: str) -> Callable:
        fn.__name__, fn.__doc__ = name, doc
        return fn

    def list_(user, query):
        return page_out(res.list(user, query), res.out)

    def create(user, body):
        return item.model_validate(res.add(api_actor(user), body))

    def show(user, **ids):
        return item.model_validate(res.get(user, ids[key]))

    def change(user, body, **ids):
        target = res.get(user, ids[key])
        return item.model_validate(res.change(api_actor(user), target, body))

    def delete(user, **ids):
        res.remove(api_actor(user), res.get(user, ids[key]))

    endpoint(
        f"/{res.plural}",
        summary=f"List {many}",
        tag=res.plural,
        perm=res.read,
        query=res.query,
        response=Page[res.out],
        errors=(422,),
    )(_named(list_, f"list_{res.plural}", f"The {many} the caller may see."))
    endpoint(
        f"/{res.plural}",
        "POST",
        summary=f"Create {one}",
        tag=res.plural,
        perm=res.write,
        body=res.create,
        response=item,
        status=201,
        errors=(409, 422),
    )(_named(create, f"create_{res.singular}", f"Add {one}."))
    endpoint(
        item_rule,
        summary=f"Show {one}",
        tag=res.plural,
        perm=res.read,
        response=item,
        errors=(404,),
    )(_named(show, f"get_{res.singular}", f"One of the {many}."))
    endpoint(
        item_rule,
        "PATCH",
        summary=f"Change {one}",
        tag=res.plural,
        perm=res.write,
        body=res.update,
        response=item,
        errors=(404, 409, 422),
    )(_named(change, f"update_{res.singular}", "Change the given fields; others stay."))
    if res.remove is not None:
        endpoint(
            item_rule,
            "DELETE",
            summary=f"Delete {one}",
            tag=res.plural,
            perm=res.write,
            status=204,
            errors=(404, 409),
        )(_named(delete, f"delete_{res.singular}", f"Remove {one}."))
