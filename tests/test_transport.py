"""The run's transport: credentials go to the source's own origin only, in the form it wants."""

from __future__ import annotations

import requests

from tap_museumcms.redact import sanitize_url
from tap_museumcms.transport import KeyAuth, PageRequest, origin_of

ORIGIN = origin_of("https://api.example.org/api/v1")


def prepared(url: str, auth: KeyAuth) -> requests.PreparedRequest:
    return auth(requests.Request("GET", url).prepare())


def test_origin_makes_default_ports_explicit_and_ignores_case():
    assert origin_of("https://API.example.org/x") == ("https", "api.example.org", 443)
    assert origin_of("http://api.example.org:80/") == ("http", "api.example.org", 80)
    assert origin_of("https://api.example.org:8443/") != ORIGIN


def test_the_key_goes_where_the_source_wants_it():
    bearer = prepared("https://api.example.org/api/v1/x", KeyAuth("k-1234", ORIGIN))
    assert bearer.headers["Authorization"] == "Bearer k-1234"
    header = prepared("https://api.example.org/x", KeyAuth("k-1234", ORIGIN, header="x-api-key"))
    assert header.headers["X-API-Key"] == "k-1234" and "Authorization" not in header.headers
    query = prepared("https://api.example.org/x?rows=10", KeyAuth("k-1234", ORIGIN, param="wskey"))
    assert query.url == "https://api.example.org/x?rows=10&wskey=k-1234"
    assert "Authorization" not in query.headers


def test_no_key_to_another_origin_in_any_form():
    for auth in (KeyAuth("k-1234", ORIGIN), KeyAuth("k-1234", ORIGIN, header="x-api-key"),
                 KeyAuth("k-1234", ORIGIN, param="api_key")):
        for url in ("https://cdn.example.org/x", "http://api.example.org/x",
                    "https://api.example.org:8443/x", "https://api.example.org.evil.test/x"):
            request = prepared(url, auth)
            assert "k-1234" not in (request.url or "")
            assert "k-1234" not in str(dict(request.headers))
    assert "k-1234" not in repr(KeyAuth("k-1234", ORIGIN))


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
