"""Configuration through Meltano: both environments run; bad settings fail fast and clearly.

A wrong ``api_url`` (404), an unreachable host (a closed port), a rejected key (401) and a
missing required setting must each end `meltano run` quickly, with one error line that names the
problem, a non-zero exit, and the saved state untouched.
"""

from __future__ import annotations

import typing as t

import pytest
from meltano_harness import MeltanoProject
from warehouse import Warehouse

from tap_museumcms.refserver.collection import SampleCollection
from tap_museumcms.refserver.server import ReferenceServer

TOKEN = "s3cret-token-for-tests"
ERROR_MARK = "tap-museumcms failed:"
"""How the tap's one error line starts, for every failure it knows (invalid settings included)."""


@pytest.fixture(scope="module")
def secured_server() -> t.Iterator[ReferenceServer]:
    """The sample behind a token."""
    with ReferenceServer(SampleCollection(), token=TOKEN) as server:
        yield server


def resumable(state: dict[str, t.Any] | None) -> dict[str, t.Any]:
    """The part of a saved state that a next run resumes from: the non-empty bookmarks.

    (A failed run can make Meltano save the tap's initial STATE again, which lists streams that
    never started as ``{}``: the same resume point.)
    """
    bookmarks = ((state or {}).get("singer_state") or {}).get("bookmarks") or {}
    return {stream: entry for stream, entry in bookmarks.items() if entry}


def closed_port() -> int:
    """A loopback port that nothing listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_prod_environment_runs(
    meltano_project: MeltanoProject, warehouse: Warehouse, secured_server: ReferenceServer
) -> None:
    env = {
        **warehouse.target_env(),
        "TAP_MUSEUMCMS_API_URL": secured_server.url,
        "TAP_MUSEUMCMS_API_KEY": TOKEN,
        "TAP_MUSEUMCMS_AUTH_HEADER": "x-api-key",
        "TAP_MUSEUMCMS_REQUEST_TIMEOUT_SECONDS": "20",
    }
    result = meltano_project.run(
        ["--environment=prod", "run", "--state-id-suffix", warehouse.schema,
         "tap-museumcms", "target-postgres"],
        env=env,
    )
    assert result.returncode == 0, result.output[-3000:]
    assert TOKEN not in result.output
    assert warehouse.count("objects") > 0
    print(f"\n[e2e prod] prod environment, X-API-Key auth: {warehouse.count('objects')} objects "
          f"in {result.seconds:.1f} s")


CASES = {
    "wrong api_url (404)": (lambda url: {"TAP_MUSEUMCMS_API_URL": url + "/no/such/api",
                                         "TAP_MUSEUMCMS_API_KEY": TOKEN}, ("404",)),
    "unreachable host": (lambda url: {"TAP_MUSEUMCMS_API_URL": f"http://127.0.0.1:{closed_port()}",
                                      "TAP_MUSEUMCMS_API_KEY": TOKEN}, ("127.0.0.1", "api_url")),
    "bad key (401)": (lambda url: {"TAP_MUSEUMCMS_API_URL": url,
                                   "TAP_MUSEUMCMS_API_KEY": "wrong-key"}, ("401", "api_key")),
    "missing api_url": (lambda url: {"TAP_MUSEUMCMS_API_KEY": TOKEN},
                        ("invalid settings", "'api_url' is a required property")),
}


def test_bad_configuration_fails_fast_and_clearly(
    meltano_project: MeltanoProject, warehouse: Warehouse, secured_server: ReferenceServer
) -> None:
    suffix = warehouse.schema
    state_id = f"dev:tap-museumcms-to-target-postgres:{suffix}"
    good = {**warehouse.target_env(), "TAP_MUSEUMCMS_API_URL": secured_server.url,
            "TAP_MUSEUMCMS_API_KEY": TOKEN}
    args = ["run", "--state-id-suffix", suffix, "tap-museumcms", "target-postgres"]
    first = meltano_project.run(args, env=good)
    assert first.returncode == 0, first.output[-3000:]
    saved = meltano_project.saved_state(state_id)
    assert saved is not None

    figures = []
    for name, (settings, words) in CASES.items():
        env = {**warehouse.target_env(), **settings(secured_server.url)}
        result = meltano_project.run(args, env=env, timeout=120)
        errors = result.lines(ERROR_MARK)
        assert result.returncode != 0, (name, result.output[-3000:])
        assert len(errors) == 1, (name, errors, result.output[-3000:])
        message = errors[0].split(" tap-museumcms ", 1)[-1]
        for word in words:
            assert word in message, (name, message)
        assert TOKEN not in result.output and "wrong-key" not in result.output, name
        assert result.seconds < 30, (name, result.seconds)
        assert resumable(meltano_project.saved_state(state_id)) == resumable(saved), name
        figures.append(f"{name}: exit {result.returncode} in {result.seconds:.1f} s: {message}")
    print("\n[e2e bad config]\n  " + "\n  ".join(figures))
