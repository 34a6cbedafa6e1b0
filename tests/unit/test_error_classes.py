"""Every error class says by its class whether the caller or the server is at fault, and gets its status from it."""

from __future__ import annotations

import importlib
import json
import pkgutil

import pytest

import consent_ledger
from consent_ledger.api.problems import INTERNAL_DETAIL, problem_for, status_for
from consent_ledger.errors import ClientError, LedgerError, RateLimitedError, ServerError


def _all_error_classes() -> list[type[LedgerError]]:
    for module in pkgutil.walk_packages(consent_ledger.__path__, "consent_ledger."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: list[type[LedgerError]] = []
    todo = [LedgerError]
    while todo:
        cls = todo.pop()
        for sub in cls.__subclasses__():
            if sub not in found:
                found.append(sub)
                todo.append(sub)
    return sorted(found, key=lambda c: f"{c.__module__}.{c.__qualname__}")


CLASSES = [c for c in _all_error_classes() if c not in (ClientError, ServerError)]
EXPECTED = {  # the statuses people rely on; every other class is checked for its family only
    "AuthError": 401,
    "TokenError": 401,
    "NonceError": 401,
    "ForbiddenError": 403,
    "NotFoundError": 404,
    "ConflictError": 409,
    "ErasedError": 410,
    "GoneError": 410,
    "PayloadTooLargeError": 413,
    "RateLimitedError": 429,
    "InputError": 400,
    "NodeUnavailableError": 503,
    "ChainUncertainError": 503,
    "UnavailableError": 503,
    "TamperedError": 500,
    "WrongMasterKeyError": 500,
    "ConfigError": 500,
    "KeystoreError": 500,
    "ToolchainError": 500,
    "CompileError": 500,
    "AuditError": 500,
    "ProofError": 500,
    "RootMismatchError": 500,
}


def _instance(cls: type[LedgerError]) -> LedgerError:
    error = cls.__new__(cls)
    Exception.__init__(error, f"a {cls.__name__} at http://user:pw@node.example/v3/0123456789abcdef0123?apikey=k")
    if isinstance(error, RateLimitedError):
        error.retry_after = 7
    return error


def test_the_hierarchy_is_complete() -> None:
    names = {c.__name__ for c in CLASSES}
    assert set(EXPECTED) <= names, set(EXPECTED) - names


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_each_class_is_a_client_error_or_a_server_error(cls: type[LedgerError]) -> None:
    assert issubclass(cls, ClientError) != issubclass(cls, ServerError), f"{cls} must be exactly one of the two"
    status, _slug = status_for(_instance(cls))
    if issubclass(cls, ClientError):
        assert 400 <= status < 500
    else:
        assert 500 <= status < 600
    if cls.__name__ in EXPECTED:
        assert status == EXPECTED[cls.__name__]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_each_class_answers_a_redacted_problem(cls: type[LedgerError]) -> None:
    response = problem_for(_instance(cls))
    body = json.loads(bytes(response.body))
    assert response.media_type == "application/problem+json"
    assert body["status"] == response.status_code
    assert "pw" not in body["detail"]
    assert "apikey=k" not in body["detail"]
    assert "0123456789abcdef0123" not in body["detail"]
    if response.status_code == 500:  # our own fault: the message stays in the log
        assert body["detail"] == INTERNAL_DETAIL
    if response.status_code == 429:
        assert response.headers["retry-after"] == "7"
    if response.status_code == 401:
        assert response.headers["www-authenticate"] == "Bearer"
