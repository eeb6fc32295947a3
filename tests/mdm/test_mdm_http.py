"""HTTP helpers: Retry-After parsing, token renewal before expiry, URL rules."""
import email.utils

import pytest

from server.mdm.http import BearerToken, MdmConfigError, check_url, parse_retry_after, safe_url


def test_retry_after_forms():
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert parse_retry_after(date, now=1_000_000) == pytest.approx(30.0)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_token_renewed_before_expiry():
    clock = [0.0]
    issued = []

    def fetch():
        issued.append(clock[0])
        return f"t{len(issued)}", 600

    tok = BearerToken(fetch, clock=lambda: clock[0])
    assert tok.get() == "t1"
    clock[0] = 500
    assert tok.get() == "t1"
    clock[0] = 541          # within a minute of expiry: renewed before the server refuses it
    assert tok.get() == "t2"
    tok.invalidate()
    assert tok.get() == "t3"


def test_urls():
    assert check_url("https://x.jamfcloud.com/") == "https://x.jamfcloud.com"
    assert check_url("http://127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert check_url("http://localhost:1") == "http://localhost:1"
    for bad in ("http://jamf.example.com", "ftp://x", "", "jamf.example.com"):
        with pytest.raises(MdmConfigError):
            check_url(bad)
    assert safe_url("https://u:p@graph.microsoft.com/v1.0/x?$skiptoken=SECRET") == \
        "https://graph.microsoft.com/v1.0/x"
