"""Settings in one place: each project setting declared once, read through it, documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from scrapy.settings import Settings, default_settings

from booksscraper.config import docs, readers
from booksscraper.config.declared import DECLARED, SETTINGS
from booksscraper.config.errors import BadConfig
from tests.helpers import REPO

PACKAGE = REPO / "booksscraper"
SCRAPY_SETTINGS = {name for name in dir(default_settings) if name.isupper()}
SETTINGS_METHODS = {
    "get", "getbool", "getint", "getfloat", "getlist", "getdict", "getdictorlist",
    "getpriority", "getwithbase", "set", "setdefault",
}
# Readers whose second argument is the setting's name.
READERS = {
    "int_setting", "number_setting", "choice_setting", "number", "whole_number", "boolean",
    "choice", "text", "text_list", "output_path", "_positive", "_non_negative", "_ratio",
    "domain_key_setting", "require_redis", "positive", "share",
}
# Readers that still take a literal default (the explicit-default ones and Scrapy's get*).
DEFAULT_ARGUMENT = {"int_setting": 2, "number_setting": 2, "choice_setting": 2}
# Modules other engineers are converting: they still carry literal defaults, which must
# equal the declared ones until they read through booksscraper.config.readers. (None left.)
NOT_CONVERTED: set[str] = set()


def is_settings(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id in ("settings", "s")) or (
        isinstance(node, ast.Attribute) and node.attr == "settings"
    )


def constant(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isupper():
        return node.value
    return None


def reads() -> list[tuple[str, str, ast.expr | None]]:
    """(module, setting name, literal default or None) of every setting read in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = str(path.relative_to(PACKAGE))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Subscript) and is_settings(node.value) and (
                name := constant(node.slice)
            ):
                found.append((module, name, None))
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if isinstance(func, ast.Attribute) and called in SETTINGS_METHODS and is_settings(
                func.value
            ):
                if name := constant(node.args[0]):
                    literal = node.args[1] if len(node.args) > 1 and called.startswith("get") \
                        else None
                    found.append((module, name, literal))
            elif called in READERS and len(node.args) > 1 and (name := constant(node.args[1])):
                index = DEFAULT_ARGUMENT.get(called)
                literal = node.args[index] if index is not None and len(node.args) > index \
                    else None
                found.append((module, name, literal))
    return found


def test_the_declaration_is_alphabetical_and_each_default_has_its_type() -> None:
    names = [s.name for s in SETTINGS]
    assert names == sorted(names) and len(set(names)) == len(names)
    for setting in SETTINGS:
        assert setting.default is None or isinstance(setting.default, setting.type), setting
        assert setting.section in docs.sections(docs.PAGE.read_text(encoding="utf-8")), setting
        assert setting.name not in SCRAPY_SETTINGS, f"{setting.name}: Scrapy's (the add-on's)"


def test_code_reads_no_undeclared_project_setting() -> None:
    undeclared = sorted({
        f"{name} ({module})" for module, name, _ in reads()
        if name not in DECLARED and name not in SCRAPY_SETTINGS
    })
    assert undeclared == []


def test_every_declared_setting_is_read_somewhere() -> None:
    read = {name for _, name, _ in reads()}
    # Also a name a module reads through a variable (progress.py loops over its two intervals).
    named = {
        node.value
        for path in PACKAGE.rglob("*.py") if path.parent.name != "config"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    assert sorted(set(DECLARED) - read - named) == []


def test_no_literal_default_for_a_declared_setting_and_the_old_ones_agree() -> None:
    literal_defaults, disagreeing = [], []
    for module, name, literal in reads():
        if literal is None or name not in DECLARED:
            continue
        if module not in NOT_CONVERTED:
            literal_defaults.append(f"{name} ({module})")
            continue
        try:
            value = ast.literal_eval(literal)
        except ValueError:
            continue  # a name (scrapy-redis's defaults, a module constant): checked where defined
        if value != DECLARED[name].default:
            disagreeing.append(f"{name} ({module}): {value!r} != {DECLARED[name].default!r}")
    assert literal_defaults == []
    assert disagreeing == []


def test_the_settings_reference_is_generated_from_the_declaration() -> None:
    text = docs.PAGE.read_text(encoding="utf-8")
    assert docs.current(text) == text, "run: python -m booksscraper.config.docs"
    assert sorted(docs.sections(text)) == sorted({s.section for s in SETTINGS})


@pytest.mark.parametrize(("name", "value", "read", "message"), [
    ("SHUTDOWN_GRACE", "soon", lambda s: readers.number(s, "SHUTDOWN_GRACE"),
     "SHUTDOWN_GRACE: expected a number, got 'soon'"),
    ("LISTING_LOOKAHEAD", "1.5", lambda s: readers.whole_number(s, "LISTING_LOOKAHEAD"),
     "LISTING_LOOKAHEAD: expected an integer, got '1.5'"),
    ("LISTING_LOOKAHEAD", "-1", lambda s: readers.whole_number(s, "LISTING_LOOKAHEAD"),
     "LISTING_LOOKAHEAD: must be an integer >= 0, got '-1'"),
    ("REPORT_ON_CLOSE", "maybe", lambda s: readers.boolean(s, "REPORT_ON_CLOSE"),
     "REPORT_ON_CLOSE: expected True or False, got 'maybe'"),
    ("USER_AGENT_MODE", "fancy", lambda s: readers.choice(s, "USER_AGENT_MODE", ("identify",)),
     "USER_AGENT_MODE: must be one of identify, got 'fancy'"),
])
def test_a_bad_value_is_one_line_naming_the_setting(name, value, read, message) -> None:
    with pytest.raises(BadConfig) as error:
        read(Settings({name: value}))
    assert str(error.value) == message


def test_readers_give_the_declared_default() -> None:
    settings = Settings()
    assert readers.number(settings, "SHUTDOWN_GRACE") == DECLARED["SHUTDOWN_GRACE"].default
    assert readers.whole_number(settings, "REFETCH_INVALID_PAGES") == 2
    assert readers.boolean(settings, "OUTPUT_ENABLED") is True
    assert readers.text(settings, "USER_AGENT_PROFILES_FILE") is None
    assert readers.text_list(settings, "ROTATING_PROXY_BAN_STATUSES") == [403]


def test_an_undeclared_name_is_a_bug_not_a_default() -> None:
    with pytest.raises(KeyError):
        readers.number(Settings(), "NOT_A_SETTING")
    assert isinstance(Path(docs.PAGE), Path)


DOCSTRING_DEFAULT = re.compile(r"``([A-Z][A-Z0-9_]+)`` \[(\[.*?\]|[^\]]*)\]")


def stated_default(text: str) -> object:
    """A module docstring's ``[default]``, as a value (ValueError: prose, not a value)."""
    text = text.replace("``", "")
    if not text.startswith("["):
        text = re.split(r",| = | s$", text)[0]
    return ast.literal_eval(text.strip())


def test_module_docstrings_state_the_declared_defaults() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        for name, text in DOCSTRING_DEFAULT.findall(docstring):
            if name not in DECLARED:
                continue
            try:
                value = stated_default(text)
            except (ValueError, SyntaxError):
                continue  # prose ("number of usable CPUs")
            if value != DECLARED[name].default:
                wrong.append(f"{name} ({path.relative_to(PACKAGE)}): [{text}]")
    assert wrong == []


# Modules whose docstrings still give their settings' defaults in brackets (checked against
# the declaration above). Any other module names a setting and its meaning only: the default
# is in docs/settings.md, generated from the declaration, and nowhere else.
DOCSTRING_DEFAULTS_LEFT: set[str] = set()  # none left


def test_other_docstrings_do_not_repeat_a_declared_default() -> None:
    repeated = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = str(path.relative_to(PACKAGE))
        if module in DOCSTRING_DEFAULTS_LEFT:
            continue
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        repeated += [f"{name} ({module})" for name, _ in DOCSTRING_DEFAULT.findall(docstring)
                     if name in DECLARED]
    assert repeated == []
