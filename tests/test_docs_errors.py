"""The error tables tell the truth: every error class's code and status is in the docs.

The classes are found by walking ``__subclasses__()`` from ``Exception`` after
importing every module of the four packages, keeping those defined in them
that carry a ``code``; so an error class added anywhere (a new subclass of
:class:`protocol.errors.ProtocolError`, :class:`storage.StorageError`,
:class:`node.problems.ApiError` or :class:`federation.httpsig.AuthError`, or a
new base) fails here until the docs' tables list its code with its status.
"""

import importlib
import pkgutil
from collections.abc import Iterator

import pytest

from federation.httpsig import AuthError
from node.problems import ApiError
from protocol.errors import ProtocolError
from storage import StorageError
from tests.test_docs import DOCS, section, table_rows

PACKAGES = ("protocol", "storage", "federation", "node")


def import_all() -> None:
    """Import every module of the packages, so every error class is defined."""
    for package in PACKAGES:
        root = importlib.import_module(package)
        for module in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if not module.name.endswith(".__main__"):  # running it would run the CLI
                importlib.import_module(module.name)


def subclasses(base: type[BaseException]) -> Iterator[type[BaseException]]:
    for sub in base.__subclasses__():
        yield sub
        yield from subclasses(sub)


def coded_errors() -> list[type[BaseException]]:
    """Every exception class of the packages with a ``code`` and a ``status``."""
    import_all()
    found = {
        cls
        for cls in subclasses(Exception)
        if cls.__module__.split(".")[0] in PACKAGES
        and isinstance(getattr(cls, "code", None), str)
        and isinstance(getattr(cls, "status", None), int)
    }
    return sorted(found, key=lambda cls: (cls.__module__, cls.__qualname__))


ERRORS = coded_errors()


def code_of(cls: type[BaseException]) -> str:
    code = getattr(cls, "code", None)
    assert isinstance(code, str)
    return code


def status_of(cls: type[BaseException]) -> int:
    status = getattr(cls, "status", None)
    assert isinstance(status, int)
    return status


def rows_for(code: str, rows: list[str]) -> list[str]:
    return [row for row in rows if row.startswith(f"| `{code}` |")]


def name(cls: type[BaseException]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def test_the_walk_finds_every_package_base_and_its_subclasses() -> None:
    assert {ProtocolError, StorageError, ApiError, AuthError} <= set(ERRORS)
    codes = {code_of(cls) for cls in ERRORS}
    assert {"audience-not-allowed", "schema-too-new", "moderation-conflict", "replay"} <= codes


@pytest.mark.parametrize("cls", ERRORS, ids=name)
def test_api_md_lists_the_code_with_its_status(cls: type[BaseException]) -> None:
    rows = rows_for(code_of(cls), table_rows(section(DOCS / "api.md", "Errors").text))
    assert rows, f"docs/api.md: no row for {code_of(cls)} ({name(cls)}) under Errors"
    # A code may have two rows: bad-signature is 400 for a record, 401 for a request.
    assert any(f"| {status_of(cls)} |" in row for row in rows), (
        f"docs/api.md: {code_of(cls)} ({name(cls)}) is answered with status {status_of(cls)}"
    )


RECORD_ERRORS = [cls for cls in ERRORS if issubclass(cls, ProtocolError)]
SIGNATURE_ERRORS = [cls for cls in ERRORS if issubclass(cls, AuthError) and cls is not AuthError]


@pytest.mark.parametrize("cls", RECORD_ERRORS, ids=name)
def test_protocol_md_error_codes_list_every_record_error(cls: type[BaseException]) -> None:
    table = section(DOCS / "protocol.md", "12. Error codes").text
    rows = rows_for(code_of(cls), table_rows(table))
    assert rows, f"docs/protocol.md section 12: no row for {code_of(cls)} ({name(cls)})"
    assert any(f"| {status_of(cls)} |" in row for row in rows), (
        f"docs/protocol.md section 12: {code_of(cls)} has status {status_of(cls)}"
    )


@pytest.mark.parametrize("cls", SIGNATURE_ERRORS, ids=name)
def test_protocol_md_federation_codes_list_every_signature_error(
    cls: type[BaseException],
) -> None:
    table = section(DOCS / "protocol.md", "22. Federation error codes").text
    rows = rows_for(code_of(cls), table_rows(table))
    assert rows, f"docs/protocol.md section 22: no row for {code_of(cls)} ({name(cls)})"
    assert any(f"| {status_of(cls)} |" in row for row in rows), (
        f"docs/protocol.md section 22: {code_of(cls)} has status {status_of(cls)}"
    )


def test_protocol_md_tables_list_no_code_the_code_does_not_have() -> None:
    """The other way round: a row for a record error names a class that exists."""
    record_codes = {code_of(cls) for cls in RECORD_ERRORS}
    table = section(DOCS / "protocol.md", "12. Error codes").text
    for row in table_rows(table)[2:]:
        code = row.split("`")[1]
        assert code in record_codes, f"docs/protocol.md section 12 lists {code}, raised nowhere"
