"""Rights statements and licences: every accepted variant, labels, openness, unknown values."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from tap_museumcms.rights import (
    CC_LICENSES,
    CC_PUBLIC_DOMAIN_TOOLS,
    RIGHTS_UNDETERMINED,
    UnknownRights,
    _registry,
    lookup_rights,
    normalize_rights_uri,
    rights_label,
)

INC = "http://rightsstatements.org/vocab/InC/1.0/"
INC_EDU = "http://rightsstatements.org/vocab/InC-EDU/1.0/"
NKC = "http://rightsstatements.org/vocab/NKC/1.0/"
NOC_US = "http://rightsstatements.org/vocab/NoC-US/1.0/"
CC_BY_4 = "http://creativecommons.org/licenses/by/4.0/"
CC_BY_SA_3 = "http://creativecommons.org/licenses/by-sa/3.0/"
CC_BY_NC_ND_4 = "http://creativecommons.org/licenses/by-nc-nd/4.0/"
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"
PDM = "http://creativecommons.org/publicdomain/mark/1.0/"

VARIANTS = [
    # RightsStatements.org: canonical, https, no slash, no scheme, www, page form, case.
    (INC, INC),
    ("https://rightsstatements.org/vocab/InC/1.0/", INC),
    ("http://rightsstatements.org/vocab/InC/1.0", INC),
    ("rightsstatements.org/vocab/InC/1.0/", INC),
    ("http://www.rightsstatements.org/vocab/InC/1.0/", INC),
    ("https://rightsstatements.org/page/InC/1.0/?language=en", INC),
    ("http://rightsstatements.org/page/InC-EDU/1.0/", INC_EDU),
    ("https://rightsstatements.org/vocab/inc-edu/1.0/", INC_EDU),
    ("  http://rightsstatements.org/vocab/NoC-US/1.0/  ", NOC_US),
    # Creative Commons licences: https, www, deed and legalcode pages, no slash, fragments.
    (CC_BY_4, CC_BY_4),
    ("https://creativecommons.org/licenses/by/4.0/", CC_BY_4),
    ("https://creativecommons.org/licenses/by/4.0", CC_BY_4),
    ("https://www.creativecommons.org/licenses/by/4.0/deed.en", CC_BY_4),
    ("https://creativecommons.org/licenses/by/4.0/deed.zh-hans", CC_BY_4),
    ("https://creativecommons.org/licenses/by/4.0/legalcode", CC_BY_4),
    ("https://creativecommons.org/licenses/by/4.0/legalcode.de", CC_BY_4),
    ("https://creativecommons.org/licenses/by/4.0/#ref-appropriate-credit", CC_BY_4),
    ("https://creativecommons.org/licenses/by/4.0/?ref=chooser-v1", CC_BY_4),
    ("http://creativecommons.org/licenses/by-sa/3.0/deed", CC_BY_SA_3),
    ("creativecommons.org/licenses/BY-SA/3.0/", CC_BY_SA_3),
    # Jurisdiction ports of versions before 4.0 are distinct licences.
    (
        "https://creativecommons.org/licenses/by/3.0/de/deed.de",
        "http://creativecommons.org/licenses/by/3.0/de/",
    ),
    (
        "https://creativecommons.org/licenses/by-nc-nd/3.0/igo/",
        "http://creativecommons.org/licenses/by-nc-nd/3.0/igo/",
    ),
    (
        "http://creativecommons.org/licenses/by-nd-nc/1.0/",
        "http://creativecommons.org/licenses/by-nd-nc/1.0/",
    ),
    # Public-domain tools and the CC site pages that name them.
    (CC0, CC0),
    ("https://creativecommons.org/publicdomain/zero/1.0/deed.en", CC0),
    ("https://creativecommons.org/publicdomain/zero/1.0/legalcode.txt", CC0),
    ("https://creativecommons.org/share-your-work/public-domain/cc0/", CC0),
    ("https://creativecommons.org/share-your-work/public-domain/cc0", CC0),
    ("https://creativecommons.org/public-domain/cc0/", CC0),
    ("https://creativecommons.org/choose/zero/", CC0),
    ("https://creativecommons.org/publicdomain/zero/", CC0),
    (PDM, PDM),
    ("https://creativecommons.org/publicdomain/mark/1.0/deed.en", PDM),
    ("https://creativecommons.org/share-your-work/public-domain/pdm/", PDM),
    # Labels seen in real data, SPDX identifiers, statement IDs.
    ("CC BY 4.0", CC_BY_4),
    ("cc by 4.0", CC_BY_4),
    ("CC-BY-4.0", CC_BY_4),
    ("CC BY 4.0 International", CC_BY_4),
    ("CC BY-SA 3.0", CC_BY_SA_3),
    ("CC BY-SA 3.0 Unported", CC_BY_SA_3),
    ("CC-BY-NC-ND-4.0", CC_BY_NC_ND_4),
    ("CC0", CC0),
    ("CC0 1.0", CC0),
    ("CC0-1.0", CC0),
    ("CC0 1.0 Universal", CC0),
    ("Public Domain", PDM),
    ("public domain mark", PDM),
    ("Public Domain Mark 1.0", PDM),
    ("In Copyright", INC),
    ("In Copyright - Educational Use Permitted", INC_EDU),
    ("No Known Copyright", NKC),
    ("Copyright Undetermined", RIGHTS_UNDETERMINED),
    ("InC", INC),
    ("NoC-US", NOC_US),
]


@pytest.mark.parametrize(("value", "canonical"), VARIANTS)
def test_variant_maps_to_canonical_uri(value: str, canonical: str) -> None:
    assert normalize_rights_uri(value) == canonical


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "CC BY",  # no version
        "CC BY 5.0",
        "CC BY-NC-ND 1.0",  # 1.0 was published as BY-ND-NC
        "http://creativecommons.org/licenses/by/4.0/de/",  # 4.0 has no ports
        "http://creativecommons.org/licenses/by/3.0/germany/",
        "http://creativecommons.org/licenses/by-xx/4.0/",
        "http://creativecommons.org/publicdomain/zero/2.0/",
        "http://creativecommons.org/licenses/publicdomain/",  # retired tool
        "http://creativecommons.org/about/",
        "http://rightsstatements.org/vocab/InC/2.0/",
        "http://rightsstatements.org/vocab/NoC-XX/1.0/",
        "http://rightsstatements.org/vocab/InC/1.0/extra/",
        "ftp://creativecommons.org/licenses/by/4.0/",
        "https://example.org/rights/InC/1.0/",
        "All rights reserved",
        "Copyright the artist",
    ],
)
def test_unknown_value_raises_unknown_rights_naming_it(value: str) -> None:
    with pytest.raises(UnknownRights) as caught:
        normalize_rights_uri(value)
    message = str(caught.value)
    assert message.startswith("unknown rights statement")
    assert value.strip() in message
    assert isinstance(caught.value, ValueError)


def test_vendored_vocabulary_has_the_twelve_statements_with_their_labels() -> None:
    folder = resources.files("tap_museumcms").joinpath("vocab/rightsstatements")
    files = [e for e in folder.iterdir() if e.name.endswith("_en.json")]
    assert len(files) == 12
    assert folder.joinpath("LICENSE").read_text(encoding="utf-8").startswith("CC0 1.0")
    for entry in files:
        data = json.loads(entry.read_text(encoding="utf-8"))
        assert normalize_rights_uri(data["@id"]) == data["@id"]
        assert rights_label(data["@id"]) == data["prefLabel"]
        assert normalize_rights_uri(data["prefLabel"]) == data["@id"]
        assert not lookup_rights(data["@id"]).is_open


def test_terms_table_covers_every_cc_code_and_version() -> None:
    uris = {term.uri for term in tuple(_registry().values())}
    for code, versions in CC_LICENSES.items():
        for version in versions:
            assert f"http://creativecommons.org/licenses/{code}/{version}/" in uris
    for code, (version, _label) in CC_PUBLIC_DOMAIN_TOOLS.items():
        assert f"http://creativecommons.org/publicdomain/{code}/{version}/" in uris
    rs = [term for term in tuple(_registry().values()) if term.scheme == "rightsstatements"]
    assert len(rs) == 12


def test_every_term_round_trips_from_its_https_deed_and_label_forms() -> None:
    for term in tuple(_registry().values()):
        https = term.uri.replace("http://", "https://", 1)
        assert normalize_rights_uri(term.uri) == term.uri
        assert normalize_rights_uri(https.rstrip("/")) == term.uri
        assert normalize_rights_uri(term.label) == term.uri
        if term.scheme == "creativecommons":
            assert normalize_rights_uri(https + "deed.fr") == term.uri
            assert normalize_rights_uri(https + "legalcode") == term.uri


@pytest.mark.parametrize(
    ("value", "label", "open_"),
    [
        (CC_BY_4, "CC BY 4.0", True),
        (CC_BY_SA_3, "CC BY-SA 3.0", True),
        ("http://creativecommons.org/licenses/by-nc/4.0/", "CC BY-NC 4.0", False),
        ("http://creativecommons.org/licenses/by-nd/2.5/", "CC BY-ND 2.5", False),
        (CC_BY_NC_ND_4, "CC BY-NC-ND 4.0", False),
        ("http://creativecommons.org/licenses/by/3.0/de/", "CC BY 3.0 DE", True),
        (CC0, "CC0 1.0", True),
        (PDM, "Public Domain Mark 1.0", True),
        (INC, "In Copyright", False),
        (NKC, "No Known Copyright", False),
        (NOC_US, "No Copyright - United States", False),
        ("https://creativecommons.org/share-your-work/public-domain/cc0/", "CC0 1.0", True),
    ],
)
def test_label_and_openness(value: str, label: str, open_: bool) -> None:
    assert rights_label(value) == label
    assert lookup_rights(value).is_open is open_


def test_label_and_openness_of_unknown_value_raise() -> None:
    with pytest.raises(UnknownRights):
        rights_label("http://example.org/licence")
    with pytest.raises(UnknownRights):
        lookup_rights("Some licence")
