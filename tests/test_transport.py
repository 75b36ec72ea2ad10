"""Credentials go to the source's own origin only, in the form it wants; keys rotate."""

from __future__ import annotations

import requests
from fakeclock import FakeClock

from tap_museumcms.auth import Credentials, OAuthSettings, api_keys, origin_of
from tap_museumcms.redact import sanitize_url
from tap_museumcms.transport import PageRequest

ORIGIN = origin_of("https://api.example.org/api/v1")


def prepared(url: str, auth: Credentials) -> requests.PreparedRequest:
    return auth(requests.Request("GET", url).prepare())


def test_origin_makes_default_ports_explicit_and_ignores_case():
    assert origin_of("https://API.example.org/x") == ("https", "api.example.org", 443)
    assert origin_of("http://api.example.org:80/") == ("http", "api.example.org", 80)
    assert origin_of("https://api.example.org:8443/") != ORIGIN


def test_the_key_goes_where_the_source_wants_it():
    key = ["k-1234"]
    bearer = prepared("https://api.example.org/api/v1/x", Credentials(key, ORIGIN))
    assert bearer.headers["Authorization"] == "Bearer k-1234"
    header = prepared("https://api.example.org/x", Credentials(key, ORIGIN, header="x-api-key"))
    assert header.headers["X-API-Key"] == "k-1234" and "Authorization" not in header.headers
    query = prepared("https://api.example.org/x?rows=10", Credentials(key, ORIGIN, param="wskey"))
    assert query.url == "https://api.example.org/x?rows=10&wskey=k-1234"
    assert "Authorization" not in query.headers


def test_no_key_to_another_origin_in_any_form():
    key = ["k-1234"]
    for auth in (Credentials(key, ORIGIN), Credentials(key, ORIGIN, header="x-api-key"),
                 Credentials(key, ORIGIN, param="api_key")):
        for url in ("https://cdn.example.org/x", "http://api.example.org/x",
                    "https://api.example.org:8443/x", "https://api.example.org.evil.test/x"):
            request = prepared(url, auth)
            assert "k-1234" not in (request.url or "")
            assert "k-1234" not in str(dict(request.headers))
    assert "k-1234" not in repr(Credentials(["k-1234"], ORIGIN))


def test_query_keys_are_masked_in_every_url_the_tap_shows():
    for name in ("api_key", "apikey", "wskey", "key", "token"):
        shown = sanitize_url(f"https://api.example.org/x?{name}=k-1234&rows=10")
        assert "k-1234" not in shown and "rows=10" in shown


def test_page_request_keeps_colons_readable_and_escapes_the_rest():
    request = PageRequest("https://x/oai", (("verb", "ListRecords"),
                                             ("resumptionToken", "a+b/c=:d"),
                                             ("from", "2026-01-01T00:00:00Z")))
    assert request.full_url == ("https://x/oai?verb=ListRecords&resumptionToken=a%2Bb%2Fc%3D:d"
                                "&from=2026-01-01T00:00:00Z")


def test_keys_come_as_a_string_a_list_or_a_json_list_in_a_string():
    assert api_keys("k1") == ["k1"]
    assert api_keys(["k1", "k2"]) == ["k1", "k2"]
    assert api_keys('["k1", "k2"]') == ["k1", "k2"]
    assert api_keys(None) == [] and api_keys("") == []


def test_a_rejected_key_is_set_aside_for_the_next_named_by_position_only():
    auth = Credentials(["key-one-secret", "key-two-secret", "key-three"], ORIGIN)
    url = "https://api.example.org/x"
    assert prepared(url, auth).headers["Authorization"] == "Bearer key-one-secret"
    line = auth.rejected(401)
    assert line == "API key 1 of 3 was set aside (HTTP 401); using key 2 of 3"
    assert prepared(url, auth).headers["Authorization"] == "Bearer key-two-secret"
    assert "spent" in auth.rejected(429, budget_spent=True)
    assert auth.rejected(403) is None  # nothing left: the refusal is final
    assert "secret" not in repr(auth)


def test_an_oauth_token_is_fetched_once_renewed_before_expiry_and_once_on_a_401():
    clock = FakeClock(start=1_800_000_000.0)
    fetched: list[str] = []

    def fetch(settings: OAuthSettings) -> dict:
        fetched.append(settings.client_id)
        return {"access_token": f"tok-{len(fetched)}", "expires_in": 600}

    auth = Credentials([], ORIGIN, oauth=OAuthSettings("https://auth.example.org/token", "c1",
                                                       "s3cret"), clock=clock, fetch_token=fetch)
    url = "https://api.example.org/x"
    assert prepared(url, auth).headers["Authorization"] == "Bearer tok-1"
    clock.advance(500)  # 600 s life, renewed 60 s before the end
    assert prepared(url, auth).headers["Authorization"] == "Bearer tok-1"
    clock.advance(41)
    assert prepared(url, auth).headers["Authorization"] == "Bearer tok-2"
    assert auth.rejected(401) is not None
    assert prepared(url, auth).headers["Authorization"] == "Bearer tok-3"
    assert auth.rejected(401) is None  # once, not a loop
    auth.accepted()
    assert auth.rejected(401) is not None  # a later 401, after a success: once again
    assert "Authorization" not in prepared("https://other.example.org/x", auth).headers
    assert "s3cret" not in repr(auth) and "s3cret" not in repr(auth.oauth)
    assert len(fetched) == 3
