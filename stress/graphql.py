"""GraphQL answers: a refusal that comes with a 200.

A GraphQL API answers every request it could execute with 200 (GraphQL over HTTP with the
``application/json`` media type), a resolver's refusal included::

    {"errors": [{"message": "Refresh token reused",
                 "extensions": {"code": "UNAUTHENTICATED"}}],
     "data": {"tokens": null}}

Read by its status that is a success without tokens, an answer no checker can judge; it is a
refusal, and its code says which. An error the server did not expect says nothing of whether the
token was consumed, so it is unknown, as a 5xx is: Apollo Server gives ``INTERNAL_SERVER_ERROR``
to any exception that is not a GraphQL error, and GraphQL Yoga masks one as "Unexpected error.".
An answer with data beside its errors (a partial success) is no refusal.
"""

from __future__ import annotations

from typing import Any, Literal

__all__ = ["graphql_error"]

_UNEXPECTED_CODES = frozenset({"INTERNAL_SERVER_ERROR"})
_MASKED = "Unexpected error."


def graphql_error(document: Any) -> tuple[Literal["fail", "info"], str] | None:
    """How a GraphQL answer with errors and no data reads: a refusal (``fail``) labelled by its
    first error's code (``graphql-error`` without one), or ``info`` for an error the server did
    not expect; None when ``document`` is no such answer.

    >>> graphql_error({"errors": [{"message": "no", "extensions": {"code": "FORBIDDEN"}}]})
    ('fail', 'FORBIDDEN')
    >>> graphql_error({"errors": [{"message": "boom"}], "data": {"tokens": None}})
    ('fail', 'graphql-error')
    >>> unexpected = {"message": "x", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
    >>> graphql_error({"errors": [unexpected]})
    ('info', 'INTERNAL_SERVER_ERROR')
    >>> graphql_error({"errors": [{"message": "x"}], "data": {"me": {"id": 1}}}) is None
    True
    """
    if not isinstance(document, dict):
        return None
    errors = document.get("errors")
    if not isinstance(errors, list) or not errors:
        return None
    if not all(isinstance(e, dict) and isinstance(e.get("message"), str) for e in errors):
        return None
    data = document.get("data")
    if isinstance(data, dict) and any(value is not None for value in data.values()):
        return None
    first = errors[0]
    extensions = first.get("extensions")
    code = extensions.get("code") if isinstance(extensions, dict) else None
    if not isinstance(code, str) or not code:
        code = None
    if code in _UNEXPECTED_CODES:
        return "info", code
    if code is None and first["message"] == _MASKED:
        return "info", "graphql-unexpected-error"
    return "fail", code or "graphql-error"
