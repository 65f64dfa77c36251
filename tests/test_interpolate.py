"""Braced interpolation, form by form, against the compose spec's semantics (DESIGN §2.3)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from orchestra.config.interpolate import InterpolationError, interpolate

ENV = {"SET": "value", "EMPTY": "", "PORT": "5000", "HOST": "db"}
FORMS = "${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message} or ${NAME?message}"
NAME_RULE = "(expected letters, digits and '_', not starting with a digit)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("", ""),
        ("${SET}", "value"),
        ("a${SET}b${PORT}c", "avalueb5000c"),
        ("${EMPTY}", ""),
        # :- uses the default when unset or empty; - only when unset
        ("${UNSET:-d}", "d"),
        ("${EMPTY:-d}", "d"),
        ("${SET:-d}", "value"),
        ("${UNSET-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${SET-d}", "value"),
        ("${UNSET:-}", ""),
        ("${UNSET-}", ""),
        # ? and :? pass a present value through
        ("${SET:?msg}", "value"),
        ("${SET?msg}", "value"),
        ("${EMPTY?msg}", ""),
        # $$ is a literal $, also inside defaults and before a brace
        ("$$", "$"),
        ("$$$$", "$$"),
        ("$${SET}", "${SET}"),
        ("$$$SET", "$$SET"),
        ("${UNSET:-$$x}", "$x"),
        # a bare $VAR and a lone $ are for the shell at run time
        ("--bind :$PORT", "--bind :$PORT"),
        ("$SET ${SET}", "$SET value"),
        ("cost $5", "cost $5"),
        ("trailing $", "trailing $"),
        ("$(date) $? $1", "$(date) $? $1"),
        ("${UNSET:-$PORT}", "$PORT"),
        # a closing brace outside a reference is literal
        ("} {}", "} {}"),
        ("${SET}}", "value}"),
        # defaults are interpolated recursively
        ("${UNSET:-${SET}}", "value"),
        ("${UNSET:-${ALSO_UNSET:-${PORT}}}", "5000"),
        ("${UNSET:-http://${HOST}:${PORT}/x}", "http://db:5000/x"),
        ("${EMPTY:-a${UNSET-b}c}", "abc"),
        # an unused default is not looked up, so its unset variables are no error
        ("${SET:-${UNSET}}", "value"),
        ("${SET-${UNSET:?never}}", "value"),
        # defaults may hold characters that are operators elsewhere
        ("${UNSET:-a:-b-c?d:?e}", "a:-b-c?d:?e"),
        ("${UNSET-{x}", "{x"),
        ("${lower_case1:-ok}", "ok"),
        ("${_:-ok}", "ok"),
    ],
)
def test_expands(text: str, expected: str) -> None:
    assert interpolate(text, ENV) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("${DB_URL}", "variable 'DB_URL' is not set (use ${DB_URL:-default} to give a default)"),
        ("x ${UNSET:-${INNER}}", "variable 'INNER' is not set "
                                 "(use ${INNER:-default} to give a default)"),
        ("${UNSET:?set it in .env}", "variable 'UNSET' is required: set it in .env"),
        ("${EMPTY:?must not be empty}", "variable 'EMPTY' is required: must not be empty"),
        ("${UNSET?need it}", "variable 'UNSET' is required: need it"),
        ("${UNSET:?}", "variable 'UNSET' is required but is not set"),
        ("${EMPTY:?}", "variable 'EMPTY' is required but is empty"),
        ("${UNSET?}", "variable 'UNSET' is required but is not set"),
        # the message is quoted as written, not interpolated
        ("${UNSET:?see ${DOCS}}", "variable 'UNSET' is required: see ${DOCS}"),
        ("abcd${", "unterminated '${' at offset 4"),
        ("${SET", "unterminated '${' at offset 0"),
        ("${SET:-", "unterminated '${' at offset 0"),
        ("${SET:-abc", "unterminated '${' at offset 0"),
        ("${SET:-${PORT}", "unterminated '${' at offset 0"),
        ("${SET:-${PORT", "unterminated '${' at offset 7"),
        ("${}", f"invalid variable name '' at offset 0 {NAME_RULE}"),
        ("ab${1X}", f"invalid variable name '1X' at offset 2 {NAME_RULE}"),
        ("${A:+x}", f"invalid reference '${{A:+x}}' at offset 0 (expected {FORMS})"),
        ("${A B}", f"invalid reference '${{A B}}' at offset 0 (expected {FORMS})"),
        ("${A.B}", f"invalid reference '${{A.B}}' at offset 0 (expected {FORMS})"),
        ("${ A}", f"invalid reference '${{ A}}' at offset 0 (expected {FORMS})"),
        ("${é}", f"invalid reference '${{é}}' at offset 0 (expected {FORMS})"),
        ("${$}", f"invalid reference '${{$}}' at offset 0 (expected {FORMS})"),
        ("${A:" + "x" * 60, f"invalid reference '${{A:{'x' * 36}' at offset 0 (expected {FORMS})"),
        # the first error in the text wins, syntax or lookup alike
        ("${UNSET} ${", "variable 'UNSET' is not set (use ${UNSET:-default} to give a default)"),
        ("${ ${UNSET}", f"invalid reference '${{ ${{UNSET}}' at offset 0 (expected {FORMS})"),
        ("${SET:-${1}} ${UNSET}", f"invalid variable name '1' at offset 7 {NAME_RULE}"),
        # an unused default is still checked for syntax
        ("${SET:-${bad name}}",
         f"invalid reference '${{bad name}}' at offset 7 (expected {FORMS})"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolate(text, ENV)
    assert caught.value.message == message
    assert str(caught.value) == message


def test_deep_nesting_is_an_error_not_a_recursion_crash() -> None:
    text = "${A:-" * 5000 + "x" + "}" * 5000
    with pytest.raises(InterpolationError) as caught:
        interpolate(text, {})
    assert caught.value.message.startswith("references nested more than 32 deep at offset ")


def test_reasonable_nesting_works() -> None:
    assert interpolate("${A:-" * 30 + "x" + "}" * 30, {}) == "x"


def test_text_without_dollar_is_returned_as_is() -> None:
    """The fast path returns the very same object: no copy, no scan."""
    plain = "".join(["gunicorn {app} ", "--workers=2 }"])
    assert interpolate(plain, {}) is plain


def test_any_mapping_works() -> None:
    class Lookup(Mapping[str, str]):
        def __getitem__(self, key: str) -> str:
            if key == "X":
                return "from-mapping"
            raise KeyError(key)

        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter(["X"])

        def __len__(self) -> int:
            return 1

    assert interpolate("${X}/${Y:-d}", Lookup()) == "from-mapping/d"


@pytest.mark.parametrize(("text", "expected"), [
    ("${services.my-db.port}", "5432"),
    ("${services.my-db.host}:${services.my-db.port}", "127.0.0.1:5432"),
    ("${services.cache.port:-6379}", "6379"),
    ("${services.my-db.port-1}", "5432"),
])
def test_a_services_address(text: str, expected: str) -> None:
    lookup = {"services.my-db.port": "5432", "services.my-db.host": "127.0.0.1"}
    assert interpolate(text, lookup) == expected


def test_a_service_without_a_port_is_named_in_the_error() -> None:
    with pytest.raises(InterpolationError, match=r"^'services.db.port': no service 'db' with "):
        interpolate("${services.db.port}", {})
    with pytest.raises(InterpolationError, match="invalid reference"):
        interpolate("${services.db.name}", {})
