"""Text cleaning: remove what XML 1.0 and PostgreSQL cannot store, and stray MARC delimiters.

Two functions, one for each boundary:

- :func:`strip_xml_illegal` deletes every character that is illegal in an XML 1.0 document and
  nothing else: the C0 controls except TAB, LF and CR (``\\x00``-``\\x08``, ``\\x0b``, ``\\x0c``,
  ``\\x0e``-``\\x1f``), lone surrogates (``\\ud800``-``\\udfff``) and the non-characters
  ``\\ufffe`` and ``\\uffff``. ``\\x00`` is among them, which also makes the result storable in
  PostgreSQL ``text`` and ``jsonb``. The LIDO builder uses it on any string it writes.
- :func:`clean_text` is what the ingestion boundary (``models.py``) applies to every string of a
  record, nested ones and extra fields included. On top of :func:`strip_xml_illegal` it treats
  unescaped MARC fragments and trims the ends::

      "\\x1faHarbour at Dawn\\x1fbsketch\\x1e"  ->  "Harbour at Dawn sketch"
      "Oil on\\x00 canvas  "                  ->  "Oil on canvas"

MARC rules (MARC 21 / ISO 2709):

- A subfield delimiter ``0x1F`` is always followed by a one-character subfield code (a lowercase
  ASCII letter or a digit). The delimiter *and* its code are removed, so ``"\\x1faTitle"`` becomes
  ``"Title"`` and not ``"aTitle"``. A delimiter followed by anything else is removed alone.
- The field terminator ``0x1E`` and the record terminator ``0x1D`` separate values.
- Each such separator, with the spaces and tabs around it, becomes a single space, so pieces are
  not glued together; the result is then stripped of leading and trailing whitespace.

Printable ``$a``-style subfield markers are deliberately left alone: they are legal text, and no
rule can tell ``"$aHarbour"`` from ``"$100"`` or ``"$5 note"`` without corrupting real prose.

Both functions are fast on clean input (the common case): one precompiled regex scan in C, and the
string is returned unchanged when it finds nothing.
"""

from __future__ import annotations

import re

# Characters that XML 1.0 (section 2.2, production [2] Char) does not allow.
_XML_ILLEGAL = "\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff"

_XML_ILLEGAL_RE = re.compile(f"[{_XML_ILLEGAL}]+")
# Detection only: a single-character class without "+" scans about twice as fast, and an ASCII
# string (checked in C by str.isascii) can only hold the C0 part.
_XML_ILLEGAL_CHAR_RE = re.compile(f"[{_XML_ILLEGAL}]")
_C0_ILLEGAL_CHAR_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")

# A MARC separator with the horizontal whitespace around it: a subfield delimiter with its
# optional subfield code, a field terminator or a record terminator; runs of them count as one.
_MARC_SEPARATOR_RE = re.compile(r"(?:[ \t]*(?:\x1f[a-z0-9]?|[\x1d\x1e]))+[ \t]*")

_MARC_CHARS = frozenset("\x1d\x1e\x1f")


def needs_cleaning(value: str) -> bool:
    """Tell whether :func:`clean_text` would do more than strip the ends.

    Callers with many strings can test them joined in one call (``"".join(values)``) and take the
    cheap path, ``str.strip``, when the answer is ``False``.

    Args:
        value: Any string, e.g. ``"Harbour\x1fbat Dawn"``.

    Returns:
        ``True`` when it holds a MARC separator or an XML-illegal character.
    """
    if value.isascii():
        return _C0_ILLEGAL_CHAR_RE.search(value) is not None
    return _XML_ILLEGAL_CHAR_RE.search(value) is not None


def strip_xml_illegal(value: str) -> str:
    """Delete the characters that are illegal in XML 1.0, and nothing else.

    Args:
        value: Any string, e.g. ``"Harbour\\x00 at Dawn\\ufffe"``.

    Returns:
        The string without those characters, e.g. ``"Harbour at Dawn"``; the same object when
        there was nothing to delete.
    """
    if not needs_cleaning(value):
        return value
    return _XML_ILLEGAL_RE.sub("", value)


def clean_text(value: str) -> str:
    """Clean one string from the CMS: MARC separators, XML-illegal characters, outer whitespace.

    Args:
        value: A raw string field, e.g. ``" \\x1faHarbour at Dawn\\x1fbsketch\\x1e\\x00"``.

    Returns:
        The cleaned string, e.g. ``"Harbour at Dawn sketch"``. It may be empty; the caller
        decides what an empty value means. ``$a``-style printable markers are kept as they are.
    """
    if needs_cleaning(value):
        if not _MARC_CHARS.isdisjoint(value):
            value = _MARC_SEPARATOR_RE.sub(" ", value)
        value = _XML_ILLEGAL_RE.sub("", value)
    return value.strip()
