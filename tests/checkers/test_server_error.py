"""server-error: 5xx under contention fails the run; documented and retryable statuses warn."""

from __future__ import annotations

from stress.checkers import server_error

from .histories import History, ctx


def test_500_is_an_error_grouped_by_kind_and_status() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    first = h.refresh(p=1, presented="A", t=(2, 5), o="info", status=500, error="server_error")
    h.refresh(p=2, presented="A", t=(2, 6), o="info", status=500)
    result = server_error.check(h.operations(), ctx("strict"))
    assert result.verdict == "fail"
    assert len(result.findings) == 1
    assert result.findings[0].witness == (first,)
    assert result.findings[0].blame[0].why == "answered 500, the first of 2"
    assert result.findings[0].message == (
        "refresh answered 500 (undocumented) 2 times during step, first at op 1: server_error"
    )


def test_503_and_retryable_statuses_are_warnings() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", t=(2, 5), o="info", status=503)
    h.refresh(p=2, presented="A", t=(2, 5), o="fail", status=429)
    h.refresh(p=3, presented="A", t=(2, 5), o="fail", status=409)
    result = server_error.check(h.operations(), ctx("strict"))
    assert result.verdict == "pass"
    assert {f.severity for f in result.findings} == {"warning"}
    assert len(result.findings) == 3


def test_documented_status_is_reported_not_failed() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", t=(2, 5), o="info", status=502)
    result = server_error.check(h.operations(), ctx("strict", documented=frozenset({502})))
    assert result.verdict == "pass"
    assert "(documented)" in result.findings[0].message


def test_clean_and_indeterminate_ops_pass() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", t=(2, 5), o="fail")
    h.refresh(p=2, presented="A", t=(2, None))
    h.refresh(p=3, presented="A", t=(2, 900), o="info")
    result = server_error.check(h.operations(), ctx("strict"))
    assert result.verdict == "pass"
    assert result.findings == ()


def test_an_answer_without_an_oauth_error_is_a_warning_apart_from_refusals() -> None:
    """A firewall's 403 (recorded unknown) is reported, so the user knows it was not judged;
    the server's own 403 refusals beside it are no server error."""
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    first = h.refresh(p=1, presented="A", t=(2, 5), o="info", status=403, error="no-oauth-error")
    h.refresh(p=2, presented="A", t=(2, 6), o="info", status=403, error="no-oauth-error")
    h.refresh(p=3, presented="A", t=(2, 7), o="fail", status=403, error="invalid_grant")
    result = server_error.check(h.operations(), ctx("strict"))
    assert result.verdict == "pass"
    [found] = result.findings
    assert (found.severity, found.witness) == ("warning", (first,))
    assert found.message.startswith(
        "refresh answered 403 (without an OAuth 2.0 error: a firewall's or a proxy's page? "
        "counted unknown) 2 times during step"
    )
