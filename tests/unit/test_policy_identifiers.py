"""The SELinux identifier check (cross-checked against the real checkmodule in
tests/integration/test_policy_identifiers_tools.py)."""

from __future__ import annotations

import pytest

from avcfix.names.identifiers import (
    InvalidIdentifier,
    check_identifier,
    check_version,
    identifier_problem,
    is_identifier,
)

VALID = ["httpd_t", "a", "eucalyptus_eucanetd_t", "my-type_t", "x.y_t", "A1", "container.process", "name_bind"]
INVALID = [
    "", "1abc", "_t", "-t", "a..b", "a.", "a b", "a;b", "a}", "a{", "a\nb", "a:b", "a\tb", "a\x00",
    "é_t", "a/b", "a$", "allow", "self", "type", "ALLOW", "require", "dnl", "syscmd", "all", "x" * 300,
    "a\"; allow", "}allow",
]


@pytest.mark.parametrize("name", VALID)
def test_valid_names(name: str) -> None:
    assert is_identifier(name), identifier_problem(name)
    assert check_identifier(name) == name


@pytest.mark.parametrize("name", INVALID)
def test_invalid_names(name: str) -> None:
    assert not is_identifier(name)
    with pytest.raises(InvalidIdentifier):
        check_identifier(name, "type")


def test_non_string_is_invalid() -> None:
    assert identifier_problem(None) == "not a string"


def test_versions() -> None:
    assert check_version("1.0") == "1.0"
    assert check_version("2") == "2"
    for bad in ("", "1.", "a", "1..2", "1.0;", "1 0"):
        with pytest.raises(InvalidIdentifier):
            check_version(bad)
