"""Translation catalogues: complete for the current sources, compiled, placeholders intact.

No database or network: the sources are read with Babel's extraction API and the
catalogues with its PO/MO readers.
"""

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).parents[1]
TRANSLATIONS = ROOT / "controller" / "translations"
LOCALES = sorted(p.name for p in TRANSLATIONS.iterdir() if (p / "LC_MESSAGES").is_dir())
POLISH_PO = TRANSLATIONS / "pl" / "LC_MESSAGES" / "messages.po"
HOW_TO_UPDATE = (
    "Run `make translations`, fill in every empty or fuzzy msgstr in "
    "controller/translations/pl/LC_MESSAGES/messages.po (and drop the `#, fuzzy` flags), "
    "then run `make translations` again to compile the .mo files."
)
# A %-format conversion, named or not: %(name)s, %(n)d, %5.2f, %s ... and the escape %%.
PLACEHOLDER = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?(?P<conv>[diouxXeEfFgGcrsa%])"
)


def _read_po(path: Path):
    with path.open("rb") as fh:
        return read_po(fh, locale=path.parents[1].name)


def _key(message_id, context):
    """A message's identity: its msgid (the singular for plurals) and its context."""
    singular = message_id[0] if isinstance(message_id, tuple | list) else message_id
    return (context, singular)


def _extract_sources() -> dict[tuple, list[str]]:
    """Every message id in the sources, as `make translations` extracts it, with locations."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh, "babel.cfg")
    keywords = {**DEFAULT_KEYWORDS, "_l": None}  # pybabel extract -k _l
    found: dict[tuple, list[str]] = {}
    for filename, lineno, message, _comments, context in extract_from_dir(
        ROOT, method_map, options_map, keywords=keywords
    ):
        key = _key(message, context)
        if key[1]:
            found.setdefault(key, []).append(f"{filename}:{lineno}")
    return found


def _placeholders(text: str) -> set[str]:
    return {m.group(0) for m in PLACEHOLDER.finditer(text) if m.group("conv") != "%"}


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple | list) else [message.string]
    return not message.fuzzy and all(strings)


def test_extraction_finds_messages():
    """Guards the tests below against a babel.cfg that silently matches no file."""
    found = _extract_sources()
    files = {loc.split(":")[0] for locations in found.values() for loc in locations}
    assert any(f.endswith(".py") for f in files), "babel.cfg extracts nothing from Python code"
    assert any(f.endswith(".html") for f in files), "babel.cfg extracts nothing from templates"


def test_every_source_message_is_translated_into_polish():
    catalog = _read_po(POLISH_PO)
    problems = []
    for key, locations in sorted(_extract_sources().items(), key=lambda kv: kv[0][1]):
        context, msgid = key
        message = catalog.get(msgid, context=context)
        label = f"{msgid!r}" + (f" (context {context!r})" if context else "")
        where = ", ".join(locations[:3]) + (" …" if len(locations) > 3 else "")
        if message is None:
            problems.append(f"  missing:      {label}  [{where}]")
        elif not _translated(message):
            state = "fuzzy" if message.fuzzy else "untranslated"
            problems.append(f"  {state + ':':<13} {label}  [{where}]")
    assert not problems, (
        f"{len(problems)} message(s) of the current sources are missing from or not translated "
        f"in {POLISH_PO.relative_to(ROOT)}:\n" + "\n".join(problems) + "\n" + HOW_TO_UPDATE
    )


def _contents(catalog) -> dict[tuple, object]:
    """What a compiled catalogue serves: each message id (with context) and its translation."""
    return {
        (message.context, message.id): message.string
        for message in catalog
        if message.id and message.string
    }


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_mo_is_up_to_date(locale):
    po_path = TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.is_file(), f"{mo_path.relative_to(ROOT)} is missing. {HOW_TO_UPDATE}"
    compiled = io.BytesIO()
    write_mo(compiled, _read_po(po_path))  # as `pybabel compile` does: no fuzzy, no empty
    compiled.seek(0)
    expected = _contents(read_mo(compiled))
    with mo_path.open("rb") as fh:
        committed = _contents(read_mo(fh))
    stale = sorted(
        repr(key[1])
        for key in expected.keys() | committed.keys()
        if expected.get(key) != committed.get(key)
    )
    assert not stale, (
        f"{mo_path.relative_to(ROOT)} does not match {po_path.name} for {len(stale)} "
        f"message(s): {', '.join(stale[:10])}{' …' if len(stale) > 10 else ''}. "
        "Run `make translations` (or `pybabel compile -d controller/translations`)."
    )


def _dummy_values(text: str):
    """Arguments that fill every placeholder of text: a mapping, or a tuple for bare %s."""
    found = [m for m in PLACEHOLDER.finditer(text) if m.group("conv") != "%"]
    if any(m.group("name") is None for m in found):
        return (1,) * len(found)
    return {m.group("name"): 1 for m in found}


def _formats(text: str, values) -> bool:
    try:
        text % values
    except (TypeError, ValueError, KeyError):
        return False
    return True


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_the_placeholders(locale):
    catalog = _read_po(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po")
    problems = []
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        expected = _placeholders(ids[-1]) | _placeholders(ids[0])
        values = _dummy_values(ids[-1])
        for string in strings:
            if not string:
                continue  # untranslated: served as the msgid; the test above reports it
            got = _placeholders(string)
            if got != expected:
                problems.append(
                    f"  {ids[0]!r}: msgid has {sorted(expected)}, msgstr {string!r} has "
                    f"{sorted(got)}"
                )
            elif _formats(ids[-1], values) and not _formats(string, values):
                # Templates always %-format (Jinja newstyle gettext): a lone % must be %%.
                problems.append(f"  {ids[0]!r}: msgstr {string!r} cannot be %-formatted")
    assert not problems, (
        f"Placeholders differ between msgid and msgstr in {locale}/LC_MESSAGES/messages.po:\n"
        + "\n".join(problems)
    )
