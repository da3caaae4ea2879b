"""Field validators shared by the API schemas and the web forms, with translated messages."""

import ipaddress
import re
from typing import Annotated
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from pydantic import AfterValidator, BeforeValidator, ValidationError

from controller.schemas import MAX_ID

_MAC = re.compile(r"^[0-9a-f]{2}([:-]?)[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")
_HOSTNAME_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE | re.ASCII)
_TERYT = re.compile(r"^\d{2}(\d{2}(\d{3})?)?$", re.ASCII)
_TAG = re.compile(r"^[\w.-]{1,40}$")


def normalize_mac(value: str) -> str:
    """A MAC address in lower case with colons; refuses anything else."""
    raw = value.strip().lower()
    if not _MAC.match(raw):
        raise ValueError(
            _("Not a MAC address (expected six pairs of hex digits, aa:bb:cc:dd:ee:ff).")
        )
    digits = re.sub(r"[^0-9a-f]", "", raw)
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def check_ip(value: str) -> str:
    """An IPv4 or IPv6 address in its canonical form."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(_("Not an IPv4 or IPv6 address.")) from None


def check_teryt(value: str) -> str:
    """A TERYT unit code: voivodeship (2 digits), county (4) or gmina (7, kind digit 1–5)."""
    code = value.strip()
    if not _TERYT.match(code):
        raise ValueError(_("A TERYT code has 2, 4 or 7 digits (e.g. 0610 or 0610012)."))
    voivodeship = int(code[:2])
    if voivodeship % 2 or not 2 <= voivodeship <= 32:
        raise ValueError(_("The first two digits must be a voivodeship code (02, 04 … 32)."))
    if len(code) == 7 and code[6] not in "12345":
        raise ValueError(_("The last digit of a gmina code gives its kind (1–5)."))
    return code


def parse_id(text: str) -> int | None:
    """An object id written in a target, a CLI argument or a form field, or None.

    Only ASCII digits up to the largest id the databases hold: "²" and 10**30 are not ids
    (int() would accept the one and the database refuse the other).
    """
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 10):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None


def check_host(value: str) -> str:
    """A host name or an IP address (how a device is reached)."""
    try:
        return check_ip(value)
    except ValueError:
        pass
    try:
        return check_hostname(value)
    except ValueError:
        raise ValueError(_("Not a valid host name or IP address.")) from None


def check_hostname(value: str) -> str:
    """A DNS host name (RFC 1123), lower-cased."""
    name = value.strip().lower().rstrip(".")
    if len(name) > 253 or not all(_HOSTNAME_LABEL.match(p) for p in name.split(".")):
        raise ValueError(_("Not a valid host name (letters, digits and hyphens, dot-separated)."))
    return name


def check_email(value: str) -> str:
    """An e-mail address (syntax only, no DNS look-up), domain lower-cased."""
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        raise ValueError(_("Not a valid e-mail address.")) from None
    return result.normalized


def check_timezone(value: str) -> str:
    """An IANA time zone name such as Europe/Warsaw."""
    if value not in _zones():
        raise ValueError(_("Unknown time zone (use a name like Europe/Warsaw)."))
    return value


def check_tags(values: list[str]) -> list[str]:
    """Distinct tags of letters, digits, dots, dashes and underscores, sorted."""
    tags = sorted({t.strip().lower() for t in values if t.strip()})
    for tag in tags:
        if not _TAG.match(tag):
            raise ValueError(
                _("Each tag may hold letters, digits, '.', '-' and '_', at most 40 characters.")
            )
    if len(tags) > 20:
        raise ValueError(_("At most 20 tags."))
    return tags


def _blank_to_none(value):
    if isinstance(value, str) and not value.strip():
        return None
    return value


Blank = BeforeValidator(_blank_to_none)  # an empty form field or query parameter means "none"


def _split_tags(value):
    if isinstance(value, str):
        return [t for t in re.split(r"[,\s]+", value) if t]
    return value


_zone_cache: set[str] = set()


def _zones() -> set[str]:
    if not _zone_cache:
        _zone_cache.update(available_timezones())
    return _zone_cache


def _unless_none(check):
    return AfterValidator(lambda v: None if v is None else check(v))


# Optional values: a blank form field means "none".
MacAddress = Annotated[str | None, Blank, _unless_none(normalize_mac)]
IPAddress = Annotated[str | None, Blank, _unless_none(check_ip)]
Teryt = Annotated[str | None, Blank, _unless_none(check_teryt)]
Hostname = Annotated[str, AfterValidator(lambda v: check_hostname(v) if v.strip() else "")]
Email = Annotated[str, AfterValidator(check_email)]
OptionalEmail = Annotated[str, AfterValidator(lambda v: check_email(v) if v.strip() else "")]
Timezone = Annotated[str, AfterValidator(check_timezone)]
Tags = Annotated[list[str], BeforeValidator(_split_tags), AfterValidator(check_tags)]


def _message(error: dict) -> str:
    kind, ctx = error["type"], error.get("ctx", {})
    simple = {
        "missing": _("This field is required."),
        "string_type": _("Must be text."),
        "int_type": _("Must be a whole number."),
        "int_parsing": _("Must be a whole number."),
        "int_from_float": _("Must be a whole number."),
        "bool_type": _("Must be true or false."),
        "bool_parsing": _("Must be true or false."),
        "list_type": _("Must be a list."),
        "extra_forbidden": _("Unknown field."),
        "value_error": str(ctx.get("error", "")),
        "json_invalid": _("Malformed JSON."),
        "nul_byte": _("Contains a NUL character."),
        "null_not_allowed": _("May not be empty (null)."),
        "missing_arg": _("This command needs it."),
        "empty_target": _("Choose devices, an office or a kind."),
        "extra_arg": _("This command does not use it."),
        "staff_kind": _("This command is sent by ending a hotspot session."),
        "slot_order": _("A slot must close after it opens."),
        "string_pattern_mismatch": _("Contains characters that are not allowed here."),
        "model_attributes_type": _("Must be a JSON object."),
        "model_type": _("Must be a JSON object."),
        "dict_type": _("Must be a JSON object."),
        "one_trigger": _("Give either a crontab or an interval in seconds."),
        "not_scheduled": _("This command cannot be scheduled."),
        "not_for_kind": _("Not used by this kind of schedule."),
        "one_of": _("Give a number of canaries or their ids, not both."),
    }
    if kind in simple:
        return simple[kind]
    if kind == "crontab_fields":
        return _("A crontab has 5 fields (minute hour day month weekday), not %(n)d.", n=ctx["n"])
    if kind == "crontab":
        return _("Not a valid crontab: %(reason)s", reason=ctx["reason"])
    if kind == "string_too_long":
        return _("At most %(n)d characters.", n=ctx["max_length"])
    if kind == "string_too_short":
        return _("At least %(n)d characters.", n=ctx["min_length"])
    if kind in ("greater_than_equal", "greater_than"):
        return _("Must be at least %(n)s.", n=ctx.get("ge", ctx.get("gt")))
    if kind in ("less_than_equal", "less_than"):
        return _("Must be at most %(n)s.", n=ctx.get("le", ctx.get("lt")))
    if kind in ("enum", "literal_error"):
        allowed = str(ctx.get("expected", "")).replace(" or ", ", ")
        return _("Must be one of: %(values)s.", values=allowed)
    if kind == "too_long":
        return _("At most %(n)d items.", n=ctx["max_length"])
    return error["msg"]


def field_messages(exc: ValidationError) -> dict[str, str]:
    """One translated message per field (the first problem of each)."""
    out: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        loc = [str(p) for p in error["loc"] if not isinstance(p, int) or len(error["loc"]) == 1]
        field = ".".join(loc[:1]) or str(error.get("ctx", {}).get("field", "_"))
        out.setdefault(field, _message(error))
    return out
