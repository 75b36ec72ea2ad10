"""The Meltano Hub definition of the extractor works, and agrees with meltano.yml and the tap.

* A fresh project (`meltano init`) gets the extractor from the definition file alone
  (`meltano add --plugin-type extractor tap-museumcms --from-ref <file>`, no Hub access) and runs
  it into target-jsonl.
* The definition, meltano.yml and the tap's own settings (`tap-museumcms --about`) list the same
  settings, the same secrets, and the capabilities Meltano needs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import typing as t
from pathlib import Path

import yaml
from meltano_harness import REPO, MeltanoProject

from tap_museumcms.refserver.collection import SampleCollection
from tap_museumcms.refserver.server import ReferenceServer

HUB_FILE = REPO / "plugins" / "extractors" / "tap-museumcms--museumcms.yml"


def hub_definition() -> dict[str, t.Any]:
    """The Hub definition file, parsed."""
    return yaml.safe_load(HUB_FILE.read_text())


def repo_extractor() -> dict[str, t.Any]:
    """The extractor as declared in the repository's meltano.yml."""
    data = yaml.safe_load((REPO / "meltano.yml").read_text())
    return next(p for p in data["plugins"]["extractors"] if p["name"] == "tap-museumcms")


def tap_about() -> dict[str, t.Any]:
    """`tap-museumcms --about --format=json` of the installed tap."""
    exe = Path(sys.executable).parent / "tap-museumcms"
    out = subprocess.run(
        [str(exe), "--about", "--format=json"], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)


def test_definitions_agree_with_the_tap() -> None:
    hub, local, about = hub_definition(), repo_extractor(), tap_about()
    tap_settings = about["settings"]["properties"]
    hub_settings = {s["name"]: s for s in hub["settings"]}
    local_settings = {s["name"]: s for s in local["settings"]}
    assert set(hub_settings) == set(tap_settings), set(hub_settings) ^ set(tap_settings)
    assert set(local_settings) == set(tap_settings), set(local_settings) ^ set(tap_settings)
    for name, schema in tap_settings.items():
        secret = bool(schema.get("secret"))
        assert bool(hub_settings[name].get("sensitive")) == secret, name
        assert bool(local_settings[name].get("sensitive")) == secret, name
        assert hub_settings[name].get("kind") != "password", name
        assert hub_settings[name].get("description"), name
        assert local_settings[name] == hub_settings[name], name
    required = set(about["settings"].get("required") or [])
    assert [sorted(required)] == [sorted(g) for g in hub["settings_group_validation"]]
    for capability in ("catalog", "discover", "state", "about", "stream-maps"):
        assert capability in hub["capabilities"], capability
        assert capability in local["capabilities"], capability
    assert "batch" not in hub["capabilities"]
    assert {"museum", "collections", "iiif", "lido"} <= set(hub["keywords"])
    for field in ("name", "namespace", "variant", "pip_url", "repo", "label", "description"):
        assert hub.get(field), field
    assert hub["namespace"] == local["namespace"]


def test_fresh_project_adds_the_tap_from_the_definition_and_runs(
    tmp_path: Path, meltano_project: MeltanoProject
) -> None:
    root = tmp_path / "fresh"
    init = MeltanoProject(root=tmp_path, base_env=meltano_project.base_env).run(
        ["init", "--no-usage-stats", str(root)], timeout=120
    )
    assert init.returncode == 0, init.output[-2000:]
    project = MeltanoProject(root=root, base_env=meltano_project.base_env)

    # The file as submitted to the Hub, except that the package comes from this checkout.
    definition = hub_definition()
    definition["pip_url"] = f"-e {REPO}"
    ref = tmp_path / "tap-museumcms--museumcms.yml"
    ref.write_text(yaml.safe_dump(definition, sort_keys=False))
    added = project.run(
        ["add", "--plugin-type", "extractor", "tap-museumcms", "--from-ref", str(ref)],
        timeout=300,
    )
    assert added.returncode == 0, added.output[-3000:]
    loader = repo_loader("target-jsonl")
    data = yaml.safe_load((root / "meltano.yml").read_text())
    data["plugins"].setdefault("loaders", []).append(loader)
    (root / "meltano.yml").write_text(yaml.safe_dump(data, sort_keys=False))
    installed = project.run(["install", "--plugin-type", "loader"], timeout=300)
    assert installed.returncode == 0, installed.output[-3000:]

    extractor = next(p for p in data["plugins"]["extractors"] if p["name"] == "tap-museumcms")
    assert extractor["namespace"] == "tap_museumcms"
    assert "state" in extractor["capabilities"]
    assert any(s["name"] == "api_key" and s.get("sensitive") for s in extractor["settings"])

    with ReferenceServer(SampleCollection()) as server:
        env = {
            "TAP_MUSEUMCMS_API_URL": server.url,
            "TARGET_JSONL_DESTINATION_PATH": str(tmp_path / "out"),
        }
        (tmp_path / "out").mkdir()
        result = project.run(["run", "tap-museumcms", "target-jsonl"], env=env, timeout=300)
        assert result.returncode == 0, result.output[-3000:]
        expected = len(server.collection.expected("objects").valid_keys)
    lines = (tmp_path / "out" / "objects.jsonl").read_text().splitlines()
    assert len(lines) == expected
    print(
        f"\n[e2e hub] fresh project: add --from-ref {added.seconds:.1f} s, run "
        f"{result.seconds:.1f} s, {len(lines)} objects written by target-jsonl"
    )


def repo_loader(name: str) -> dict[str, t.Any]:
    """A loader as declared in the repository's meltano.yml (no Hub lookup needed)."""
    data = yaml.safe_load((REPO / "meltano.yml").read_text())
    return next(p for p in data["plugins"]["loaders"] if p["name"] == name)
