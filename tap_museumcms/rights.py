"""Rights statements and licences: one table, canonical URIs, labels and openness.

This module is the single source of truth for the rights vocabulary of the tap. The ingestion
boundary (``models.py``) normalises ``rights_uri`` (objects) and ``statement_uri`` (rights) with it;
the LIDO and IIIF builders take labels and openness from it.

Known terms:

- The twelve RightsStatements.org statements, read from the vendored vocabulary in
  ``tap_museumcms/vocab/rightsstatements/`` (CC0, see ``vocab/SOURCE.md``). Canonical form:
  ``http://rightsstatements.org/vocab/InC/1.0/``.
- Creative Commons licences, from :data:`CC_LICENSES` (code -> versions), canonical form
  ``http://creativecommons.org/licenses/by-sa/4.0/``. Jurisdiction ports of versions before 4.0
  (``.../licenses/by/3.0/de/``, ``.../by/3.0/igo/``) are accepted and kept as distinct licences.
- The Creative Commons public-domain tools in :data:`CC_PUBLIC_DOMAIN_TOOLS`:
  ``http://creativecommons.org/publicdomain/zero/1.0/`` (CC0) and
  ``http://creativecommons.org/publicdomain/mark/1.0/`` (Public Domain Mark).

Accepted input variants (all map to the canonical form: ``http``, no ``www.``, trailing slash):

- ``https``, ``www.``, no scheme, a missing trailing slash, any query string or fragment;
- RightsStatements.org human pages: ``https://rightsstatements.org/page/InC/1.0/?language=en``;
- statement IDs in any case (``inc-edu``), since the vocabulary defines one spelling per ID;
- CC ``deed``/``legalcode`` pages: ``.../by/4.0/deed.en``, ``.../by/4.0/legalcode.de``,
  ``.../rdf``;
- CC site pages that name a tool:
  ``https://creativecommons.org/share-your-work/public-domain/cc0/``, ``.../public-domain/cc0/``,
  ``.../choose/zero/``, ``.../publicdomain/zero/`` (and ``pdm``/``mark``);
- labels, case, hyphens and underscores ignored: ``"CC BY 4.0"``, ``"CC-BY-SA-4.0"`` (SPDX),
  ``"CC BY 4.0 International"``, ``"CC0"``, ``"CC0 1.0"``, ``"CC0 1.0 Universal"``,
  ``"Public Domain"`` and ``"Public Domain Mark"`` (PDM), every statement's ``prefLabel``
  (``"In Copyright"``, ``"No Known Copyright"``) and statement IDs (``"InC"``, ``"NoC-US"``).

An unknown value raises :class:`UnknownRights` naming it; the record is then rejected (quarantined)
rather than stored with a wrong or unusable rights statement. A future setting may map unknown
values to :data:`RIGHTS_UNDETERMINED` instead.

Openness (``RightsTerm.is_open``): a term is open when it allows reuse for any purpose,
commercial use and derivatives included, with at most attribution and share-alike conditions
(the Open Definition): CC0, the Public Domain Mark, CC BY and CC BY-SA in any version or port.
No RightsStatements.org statement is open: ``NoC-US`` is bound to one jurisdiction and the
others state restrictions or uncertainty.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Literal
from urllib.parse import urlsplit

RIGHTS_UNDETERMINED = "http://rightsstatements.org/vocab/UND/1.0/"
#: CC0 1.0, the waiver most open-access museum APIs put on their data and images.
CC0 = "http://creativecommons.org/publicdomain/zero/1.0/"
"""Copyright Undetermined: the statement a future setting may map unknown values to."""

_CC_ALL_VERSIONS = ("1.0", "2.0", "2.5", "3.0", "4.0")

CC_LICENSES: Mapping[str, tuple[str, ...]] = {
    "by": _CC_ALL_VERSIONS,
    "by-sa": _CC_ALL_VERSIONS,
    "by-nd": _CC_ALL_VERSIONS,
    "by-nc": _CC_ALL_VERSIONS,
    "by-nc-sa": _CC_ALL_VERSIONS,
    "by-nc-nd": ("2.0", "2.5", "3.0", "4.0"),
    # Version 1.0 of BY-NC-ND was published with the elements in the other order.
    "by-nd-nc": ("1.0",),
}
"""Creative Commons licence codes and the versions published for each."""

CC_PUBLIC_DOMAIN_TOOLS: Mapping[str, tuple[str, str]] = {
    "zero": ("1.0", "CC0 1.0"),
    "mark": ("1.0", "Public Domain Mark 1.0"),
}
"""Creative Commons public-domain tools: code -> (version, label)."""

CC_OPEN_LICENSES = frozenset({"by", "by-sa"})
"""Licence codes that count as open (see the module docstring)."""

_RS_VOCAB_DIR = "vocab/rightsstatements"
_RS_BASE = "http://rightsstatements.org/vocab/"
_CC_BASE = "http://creativecommons.org/"
_PORT_RE = re.compile(r"^(?:[a-z]{2}|igo)$")
_PAGE_SUFFIX_RE = re.compile(r"^(?:deed(?:\..*)?|legalcode(?:\..*)?|rdf)$")
_LABEL_SEPARATORS_RE = re.compile(r"[\s_\-]+")
# Words that CC appends to a licence's name and that do not change the licence.
_LABEL_SUFFIX_RE = re.compile(r" (?:international|universal|unported|generic)$")

# CC site pages (paths without slashes at the ends) that stand for a public-domain tool.
_CC_TOOL_PAGES: Mapping[str, str] = {
    "share-your-work/public-domain/cc0": "zero",
    "public-domain/cc0": "zero",
    "choose/zero": "zero",
    "publicdomain/zero": "zero",
    "share-your-work/public-domain/pdm": "mark",
    "public-domain/pdm": "mark",
    "publicdomain/mark": "mark",
}

# Labels seen in real data that are not a term's own label (normalised by _label_key).
_LABEL_ALIASES: Mapping[str, str] = {
    "cc0": "http://creativecommons.org/publicdomain/zero/1.0/",
    "cc zero": "http://creativecommons.org/publicdomain/zero/1.0/",
    "public domain": "http://creativecommons.org/publicdomain/mark/1.0/",
    "public domain mark": "http://creativecommons.org/publicdomain/mark/1.0/",
    "pdm": "http://creativecommons.org/publicdomain/mark/1.0/",
    "pdm 1.0": "http://creativecommons.org/publicdomain/mark/1.0/",
}


class UnknownRights(ValueError):
    """A rights value that is not a known statement, licence or label.

    The message names the value, e.g. ``unknown rights statement 'CC BY 5.0'``.
    """


@dataclass(frozen=True)
class RightsTerm:
    """One known rights statement or licence.

    Example: ``RightsTerm(uri="http://creativecommons.org/licenses/by/4.0/", label="CC BY 4.0",
    scheme="creativecommons", code="by", version="4.0", jurisdiction=None, is_open=True)``.
    """

    uri: str
    label: str
    scheme: Literal["creativecommons", "rightsstatements"]
    code: str
    version: str
    jurisdiction: str | None
    is_open: bool


def _cc_license(code: str, version: str, jurisdiction: str | None = None) -> RightsTerm:
    port = f"{jurisdiction}/" if jurisdiction else ""
    label = f"CC {code.upper()} {version}" + (f" {jurisdiction.upper()}" if jurisdiction else "")
    return RightsTerm(
        uri=f"{_CC_BASE}licenses/{code}/{version}/{port}",
        label=label,
        scheme="creativecommons",
        code=code,
        version=version,
        jurisdiction=jurisdiction,
        is_open=code in CC_OPEN_LICENSES,
    )


def _cc_tool(code: str) -> RightsTerm:
    version, label = CC_PUBLIC_DOMAIN_TOOLS[code]
    return RightsTerm(
        uri=f"{_CC_BASE}publicdomain/{code}/{version}/",
        label=label,
        scheme="creativecommons",
        code=code,
        version=version,
        jurisdiction=None,
        is_open=True,
    )


@functools.cache
def _rightsstatements() -> dict[str, RightsTerm]:
    """Load the vendored statements: lower-cased ID -> term."""
    terms: dict[str, RightsTerm] = {}
    folder = resources.files("tap_museumcms").joinpath(_RS_VOCAB_DIR)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith("_en.json"):
            continue
        data = json.loads(entry.read_text(encoding="utf-8"))
        uri: str = data["@id"]
        statement_id, version = uri.removeprefix(_RS_BASE).strip("/").split("/")
        terms[statement_id.lower()] = RightsTerm(
            uri=uri,
            label=data["prefLabel"],
            scheme="rightsstatements",
            code=statement_id,
            version=version,
            jurisdiction=None,
            is_open=False,
        )
    return terms


@functools.cache
def _registry() -> dict[str, RightsTerm]:
    """Canonical URI -> term, for every unported term."""
    terms = [_cc_license(code, v) for code, versions in CC_LICENSES.items() for v in versions]
    terms += [_cc_tool(code) for code in CC_PUBLIC_DOMAIN_TOOLS]
    terms += list(_rightsstatements().values())
    return {term.uri: term for term in terms}


def _label_key(value: str) -> str:
    key = _LABEL_SEPARATORS_RE.sub(" ", value.casefold()).strip()
    return _LABEL_SUFFIX_RE.sub("", key)


@functools.cache
def _labels() -> dict[str, str]:
    """Normalised label -> canonical URI (term labels, statement IDs and aliases)."""
    labels: dict[str, str] = {}
    for term in _registry().values():
        labels[_label_key(term.label)] = term.uri
        if term.scheme == "rightsstatements":
            labels[_label_key(term.code)] = term.uri
    labels.update(_LABEL_ALIASES)
    return labels


def _unknown(value: str, why: str = "") -> UnknownRights:
    shown = value if len(value) <= 80 else value[:77] + "..."
    return UnknownRights(f"unknown rights statement {shown!r}" + (f" ({why})" if why else ""))


def _from_rightsstatements(value: str, segments: list[str]) -> RightsTerm:
    if len(segments) != 3 or segments[0] not in ("vocab", "page"):
        raise _unknown(value, "expected /vocab/<ID>/1.0/")
    term = _rightsstatements().get(segments[1].lower())
    if term is None:
        raise _unknown(value, f"no RightsStatements.org statement {segments[1]!r}")
    if segments[2] != term.version:
        raise _unknown(value, f"{term.code} has no version {segments[2]!r}")
    return term


def _from_creativecommons(value: str, segments: list[str]) -> RightsTerm:
    if segments and _PAGE_SUFFIX_RE.match(segments[-1]):
        segments = segments[:-1]
    page = "/".join(segments).lower()
    if page in _CC_TOOL_PAGES:
        return _cc_tool(_CC_TOOL_PAGES[page])
    if len(segments) == 3 and segments[0] == "publicdomain":
        code, version = segments[1].lower(), segments[2]
        if code in CC_PUBLIC_DOMAIN_TOOLS and CC_PUBLIC_DOMAIN_TOOLS[code][0] == version:
            return _cc_tool(code)
        raise _unknown(value, "not a Creative Commons public-domain tool")
    if len(segments) in (3, 4) and segments[0] == "licenses":
        code, version = segments[1].lower(), segments[2]
        if version not in CC_LICENSES.get(code, ()):
            raise _unknown(value, f"no Creative Commons licence {code!r} version {version!r}")
        if len(segments) == 3:
            return _cc_license(code, version)
        port = segments[3].lower()
        if version == "4.0" or not _PORT_RE.match(port):
            raise _unknown(value, f"no jurisdiction port {port!r} of {code} {version}")
        return _cc_license(code, version, port)
    raise _unknown(value, "not a Creative Commons licence or public-domain tool")


def _from_url(value: str) -> RightsTerm:
    text = value if "://" in value else "http://" + value
    try:
        parts = urlsplit(text)
    except ValueError as exc:
        raise _unknown(value, "not a URL") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise _unknown(value, "only http(s) URIs are known")
    host = (parts.hostname or "").removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if host == "rightsstatements.org":
        return _from_rightsstatements(value, segments)
    if host == "creativecommons.org":
        return _from_creativecommons(value, segments)
    raise _unknown(value, f"host {host!r} publishes no known statements")


@functools.lru_cache(maxsize=4096)
def lookup_rights(value: str) -> RightsTerm:
    """Find the term a rights URI or label stands for.

    Args:
        value: A URI or label, e.g. ``"https://creativecommons.org/licenses/by/4.0/deed.en"``.

    Returns:
        The term, e.g. ``RightsTerm(uri="http://creativecommons.org/licenses/by/4.0/", ...)``.

    Raises:
        UnknownRights: the value is not a known statement, licence or label.
    """
    text = value.strip()
    if not text:
        raise _unknown(value, "empty")
    lowered = text.lower()
    if "://" in text or lowered.startswith(("rightsstatements.org/", "creativecommons.org/")):
        return _from_url(text)
    if lowered.startswith(("www.rightsstatements.org/", "www.creativecommons.org/")):
        return _from_url(text)
    uri = _labels().get(_label_key(text))
    if uri is None:
        raise _unknown(value)
    return _registry()[uri]


def normalize_rights_uri(value: str) -> str:
    """Return the canonical URI of a rights statement, licence or label.

    Args:
        value: e.g. ``"https://rightsstatements.org/page/InC/1.0/?language=en"``, ``"CC BY 4.0"``.

    Returns:
        The canonical URI, e.g. ``"http://rightsstatements.org/vocab/InC/1.0/"``,
        ``"http://creativecommons.org/licenses/by/4.0/"``.

    Raises:
        UnknownRights: the value is not known; the message names it.
    """
    return lookup_rights(value).uri


def rights_label(uri: str) -> str:
    """Return the human label of a rights statement or licence.

    Args:
        uri: A canonical or accepted URI or label, e.g.
            ``"http://creativecommons.org/licenses/by/4.0/"``.

    Returns:
        e.g. ``"CC BY 4.0"``, ``"CC0 1.0"``, ``"Public Domain Mark 1.0"``, ``"In Copyright"``.

    Raises:
        UnknownRights: the value is not known.
    """
    return lookup_rights(uri).label
