"""The reference server's connection, encoding and credential faults, seen by plain clients.

Clients here are plain ``requests`` and ``zlib``: no tap code. Time is a FakeClock wherever the
server's behaviour depends on it.
"""

from __future__ import annotations

import base64
import gzip
import json
import struct
import time
import zlib

import pytest
import requests
import urllib3
from fakeclock import FakeClock

from tap_museumcms.refserver import (
    Faults,
    GeneratedCollection,
    OaiSettings,
    OAuthClient,
    ReferenceServer,
)
from tap_museumcms.refserver.jsonl_face import drifted

PLAIN = {"Accept-Encoding": "identity"}
LIST = {"verb": "ListRecords", "metadataPrefix": "lido"}


def statuses(server: ReferenceServer, path: str, count: int, **kwargs: object) -> list[int]:
    with requests.Session() as s:
        return [s.get(server.url + path, **kwargs).status_code for _ in range(count)]


# --- statuses --------------------------------------------------------------------------------
def test_500_every_and_bursts_of_status_faults() -> None:
    with ReferenceServer(GeneratedCollection(5), faults=Faults(status_500_every=3)) as server:
        assert statuses(server, "/objects", 7) == [200, 200, 500, 200, 200, 500, 200]
        page = requests.get(server.url + "/objects")  # request 8; then 9: the 500 is JSON
        error = requests.get(server.url + "/objects").json()
    assert len(page.content.splitlines()) == 5 and error["error"] == "internal_error"
    faults = Faults(status_503_every=5, status_burst=3, retry_after=2)
    with ReferenceServer(GeneratedCollection(5), faults=faults) as server:
        got = statuses(server, "/objects", 12)
        oai = requests.get(server.url + "/oai", params={"verb": "Identify"})
    assert got == [200, 200, 200, 200, 503, 503, 503, 200, 200, 503, 503, 503]
    assert oai.status_code == 200  # request 13: 13 % 5 == 3, outside the burst


def test_500_on_the_oai_face_is_plain_text() -> None:
    with ReferenceServer(GeneratedCollection(5), faults=Faults(status_500_every=1)) as server:
        reply = requests.get(server.url + "/oai", params={"verb": "Identify"})
    assert reply.status_code == 500 and "Retry-After" not in reply.headers
    assert reply.headers["Content-Type"].startswith("text/plain")


# --- gzip ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("path", "params"), [("/objects", {"limit": 7}), ("/oai", LIST)])
def test_gzip_bodies_when_the_client_accepts_them(path: str, params: dict) -> None:
    faults = Faults(gzip_bodies=True)
    with ReferenceServer(GeneratedCollection(20), faults=faults,
                         oai=OaiSettings(page_size=7)) as server, requests.Session() as s:
        plain = s.get(server.url + path, params=params, headers=PLAIN)
        zipped = s.get(server.url + path, params=params, stream=True)
        raw = zipped.raw.read(decode_content=False)
        error = s.get(server.url + "/objects", params={"limit": "x"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    inflated = gzip.decompress(raw)
    if path == "/oai":  # the responseDate is the only difference (same server clock second)
        assert inflated.count(b"<record>") == plain.content.count(b"<record>") == 7
    else:
        assert inflated == plain.content and len(raw) < len(plain.content)
    assert error.status_code == 400 and error.json()["error"] == "bad_request"


def test_a_reset_page_is_cut_in_its_gzip_form() -> None:
    faults = Faults(gzip_bodies=True, reset_mid_body_every=1)
    with ReferenceServer(GeneratedCollection(20), faults=faults) as server:
        response = requests.get(server.url + "/objects", params={"limit": 10}, stream=True)
        raw = b""
        with pytest.raises(urllib3.exceptions.ProtocolError):
            for piece in response.raw.stream(1024, decode_content=False):
                raw += piece
    inflater = zlib.decompressobj(31)
    text = inflater.decompress(raw)
    assert not inflater.eof  # the gzip member never ends
    assert text.count(b"\n") == 5  # half the page, then part of the sixth line


@pytest.mark.parametrize(("path", "params"), [("/objects", {"limit": 5}), ("/oai", LIST)])
def test_every_nth_data_response_is_a_gzip_bomb(path: str, params: dict) -> None:
    faults = Faults(gzip_bomb_every=2)
    with ReferenceServer(GeneratedCollection(20), faults=faults) as server, \
            requests.Session() as s:
        first = s.get(server.url + path, params=params, headers=PLAIN)
        bomb = s.get(server.url + path, params=params, headers=PLAIN, stream=True)
        head = next(bomb.raw.stream(64 * 1024, decode_content=False))
        bomb.close()
    assert first.status_code == 200 and "Content-Encoding" not in first.headers
    assert bomb.status_code == 200 and bomb.headers["Content-Encoding"] == "gzip"
    assert bomb.headers["Transfer-Encoding"] == "chunked"
    inflater = zlib.decompressobj(31)
    out = inflater.decompress(head)
    assert len(out) > 60 * len(head) and out.strip(b" ") == b""


def test_the_bomb_is_one_valid_gzip_member_of_the_size_announced() -> None:
    small = Faults(gzip_bomb_every=1, gzip_bomb_bytes=3 * 1024 * 1024)
    with ReferenceServer(GeneratedCollection(3), faults=small) as server:
        raw = requests.get(server.url + "/objects", stream=True).raw.read(decode_content=False)
    assert gzip.decompress(raw) == b" " * (3 * 1024 * 1024) and len(raw) < 4000
    with ReferenceServer(GeneratedCollection(3), faults=Faults(gzip_bomb_every=1)) as server:
        raw = requests.get(server.url + "/objects", stream=True).raw.read(decode_content=False)
    crc, size = struct.unpack("<II", raw[-8:])
    assert size == 2 * 1024**3 and len(raw) < 2_200_000  # 2 GiB of spaces in about 2 MB


# --- OAuth2 ----------------------------------------------------------------------------------
CLIENT = OAuthClient("harvester", "client-s3cret", token_ttl=600)


def token(server: ReferenceServer, session: requests.Session, secret: str = "client-s3cret",
          grant: str = "client_credentials") -> requests.Response:
    basic = base64.b64encode(f"harvester:{secret}".encode()).decode()
    return session.post(server.oauth_url, data={"grant_type": grant},
                        headers={"Authorization": f"Basic {basic}"})


def test_token_endpoint_issues_live_tokens_on_the_server_clock() -> None:
    clock = FakeClock()
    with ReferenceServer(GeneratedCollection(3), oauth=CLIENT, clock=clock) as server, \
            requests.Session() as s:
        answer = token(server, s).json()
        wrong = token(server, s, secret="nope")
        grant = token(server, s, grant="password")
        get = s.get(server.oauth_url)
        none = s.get(server.url + "/objects")
        bearer = {"Authorization": f"Bearer {answer['access_token']}"}
        ok = s.get(server.url + "/objects", headers=bearer)
        clock.advance(599)
        still = s.get(server.url + "/oai", params={"verb": "Identify"}, headers=bearer)
        clock.advance(1)
        expired = s.get(server.url + "/objects", headers=bearer)
        log = server.stats.snapshot()
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 600
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")
    assert get.status_code == 405 and none.status_code == 401
    assert (ok.status_code, still.status_code, expired.status_code) == (200, 200, 401)
    assert 'error="invalid_token"' in expired.headers["WWW-Authenticate"]
    text = json.dumps(log)
    assert answer["access_token"] not in text and "client-s3cret" not in text
    assert [e["credential"] for e in log["log"] if e["path"] == "/objects"] == [
        "", "oauth", "oauth"]


def test_revocation_at_request_n_and_a_busy_token_service() -> None:
    faults = Faults(oauth_revoke_at_request=3, oauth_token_503_every=2, retry_after=4)
    with ReferenceServer(GeneratedCollection(3), oauth=CLIENT, faults=faults) as server, \
            requests.Session() as s:
        first = {"Authorization": f"Bearer {token(server, s).json()['access_token']}"}
        before = statuses_with(s, server, first, 2)
        revoked = statuses_with(s, server, first, 2)
        busy = token(server, s)
        second = {"Authorization": f"Bearer {token(server, s).json()['access_token']}"}
        after = statuses_with(s, server, second, 2)
    assert before == [200, 200] and revoked == [401, 401]
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "4"
    assert after == [200, 200]


def statuses_with(s: requests.Session, server: ReferenceServer, headers: dict, n: int) -> list:
    return [s.get(server.url + "/objects", headers=headers).status_code for _ in range(n)]


def test_a_token_of_the_wrong_scope_is_refused() -> None:
    with ReferenceServer(GeneratedCollection(3), oauth=CLIENT,
                         faults=Faults(oauth_wrong_scope=True)) as server, requests.Session() as s:
        bearer = {"Authorization": f"Bearer {token(server, s).json()['access_token']}"}
        refused = s.get(server.url + "/objects", headers=bearer)
    assert refused.status_code == 401
    assert 'error="insufficient_scope"' in refused.headers["WWW-Authenticate"]


# --- keys ------------------------------------------------------------------------------------
def test_several_keys_and_one_rejected_from_a_given_request_on() -> None:
    keys = ["key-one-Zq", "key-two-Xw"]
    faults = Faults(reject_key="key-one-Zq", reject_key_from_request=3)
    with ReferenceServer(GeneratedCollection(3), keys=keys, faults=faults) as server, \
            requests.Session() as s:
        one = {"Authorization": "Bearer key-one-Zq"}
        two = {"X-API-Key": "key-two-Xw"}
        got = [s.get(server.url + "/objects", headers=h).status_code
               for h in (one, one, one, two, one)]
        log = server.stats.snapshot()
    assert got == [200, 200, 401, 200, 401]
    assert [e["credential"] for e in log["log"]] == ["key 1"] * 3 + ["key 2", "key 1"]
    assert [e["carriers"] for e in log["log"]][3] == ("X-API-Key",)
    assert "key-one-Zq" not in json.dumps(log) and "key-two-Xw" not in json.dumps(log)


# --- connections -----------------------------------------------------------------------------
def test_refused_requests_get_no_answer_then_the_server_answers_again() -> None:
    faults = Faults(refuse_from_request=2, refuse_for_requests=3)
    with ReferenceServer(GeneratedCollection(3), faults=faults) as server:
        outcomes = []
        for path in ("/objects", "/objects", "/oai", "/rights", "/objects", "/_admin/stats"):
            try:
                outcomes.append(requests.get(server.url + path,
                                             params={"verb": "Identify"}).status_code)
            except requests.exceptions.ConnectionError:
                outcomes.append("refused")
        log = server.stats.log
    assert outcomes == [200, "refused", "refused", "refused", 200, 200]
    assert [entry.status for entry in log][:5] == [200, 0, 0, 0, 200]


@pytest.mark.parametrize(("path", "params"), [("/objects", {"limit": "3"}), ("/oai", LIST)])
def test_redirect_to_another_host_without_the_credentials(path: str, params: dict) -> None:
    clock = FakeClock()
    faults = Faults(redirect_other_host_every=2)
    with ReferenceServer(GeneratedCollection(9), token="tok-Rd1", faults=faults,
                         clock=clock) as server, requests.Session() as s:
        port = server.url.rsplit(":", 1)[1]
        headers = {"Authorization": "Bearer tok-Rd1"}
        direct = s.get(server.url + path, params=params, headers=headers)  # request 1
        moved = s.get(server.url + path, params=params, headers=headers, allow_redirects=False)
        s.get(server.url + path, params=params, headers=headers)  # 3
        followed = s.get(server.url + path, params=params, headers=headers)  # 4, then 5
        log = server.stats.log
    assert direct.status_code == 200
    assert moved.status_code == 302
    assert moved.headers["Location"].startswith(f"http://localhost:{port}{path}?")
    assert followed.status_code == 200 and followed.url.startswith("http://localhost:")
    assert [r.status_code for r in followed.history] == [302]
    other = [e for e in log if e.host == "localhost"]
    assert other and all(e.carriers == () and e.status == 200 for e in other)
    assert all(e.params == params for e in log if e.path == path)


def test_the_other_host_can_be_named() -> None:
    faults = Faults(redirect_other_host_every=1, redirect_host="museum.example")
    with ReferenceServer(GeneratedCollection(3), faults=faults) as server:
        moved = requests.get(server.url + "/objects", allow_redirects=False)
        port = server.url.rsplit(":", 1)[1]
    assert moved.status_code == 302
    assert moved.headers["Location"] == f"http://museum.example:{port}/objects"


# --- slow, drift, log ------------------------------------------------------------------------
def test_only_every_nth_request_is_slow() -> None:
    faults = Faults(slow_first_byte=0.3, slow_first_byte_every=2)
    with ReferenceServer(GeneratedCollection(3), faults=faults) as server, \
            requests.Session() as s:
        times = []
        for _ in range(2):
            start = time.perf_counter()
            s.get(server.url + "/objects")
            times.append(time.perf_counter() - start)
    assert times[0] < 0.3 <= times[1]


def test_schema_drift_changes_every_field_but_the_key_and_the_ground_truth_follows() -> None:
    collection = GeneratedCollection(20, invalid_every=7)
    with ReferenceServer(collection, faults=Faults(schema_drift_every=5)) as server:
        lines = requests.get(server.url + "/objects", params={"limit": 20}).content.splitlines()
        expected = server.expected("objects")
        media = server.expected("media")
    record = json.loads(lines[4])
    assert record["ObjectID"] == "obj-0000004" and record["title"]["en"]
    assert isinstance(record["media"], dict) and record["modified"]["en"].endswith("Z")
    assert isinstance(record["next_cursor"], str)
    assert expected.invalid_positions == {4, 6, 9, 13, 14, 19}
    assert "obj-0000004" not in expected.valid_keys and "obj-0000003" in expected.valid_keys
    assert media.invalid_positions == {4, 9, 14, 19} and len(media.valid_keys) == 16
    assert drifted(b'{"k":"a","n":null,"b":true}', "k") == b'{"k":"a","n":null,"b":"yes"}'
