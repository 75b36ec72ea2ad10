"""Text cleaning: what XML 1.0 and PostgreSQL cannot store, and stray MARC delimiters."""

from __future__ import annotations

import pytest
from lxml import etree

from tap_museumcms.text import clean_text, needs_cleaning, strip_xml_illegal


def _xml_char(code: int) -> bool:
    """XML 1.0 (5th ed.) production [2] Char, written from the spec."""
    return (
        code in (0x9, 0xA, 0xD)
        or 0x20 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    )


def test_strip_xml_illegal_keeps_exactly_the_xml_chars_of_the_whole_code_space() -> None:
    everything = "".join(map(chr, range(0x110000)))
    expected = "".join(chr(c) for c in range(0x110000) if _xml_char(c))
    assert strip_xml_illegal(everything) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "\x00",
        "\x01",
        "\x08",
        "\x0b",
        "\x0c",
        "\x0e",
        "\x1d",
        "\x1e",
        "\x1f",
        "\ud800",
        "\udfff",
        "\ufffe",
        "\uffff",
    ],
)
def test_lxml_refuses_the_raw_text_and_accepts_the_stripped_text(bad: str) -> None:
    text = f"Harbour{bad} at Dawn"
    element = etree.Element("title")
    with pytest.raises(ValueError):
        element.text = text
    element.text = strip_xml_illegal(text)
    assert etree.tostring(element, encoding="unicode") == "<title>Harbour at Dawn</title>"


def test_strip_xml_illegal_leaves_legal_text_alone() -> None:
    text = "Tab\there, line\nbreak\r\n, DEL \x7f, é, ‘quotes’, emoji \U0001f5bc, $a and $100"
    assert strip_xml_illegal(text) == text


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        # A subfield delimiter and its code go together; pieces stay apart.
        ("\x1faHarbour at Dawn\x1fbsketch\x1e", "Harbour at Dawn sketch"),
        ("Harbour at Dawn \x1fb sketch", "Harbour at Dawn sketch"),
        ("Harbour\x1f6at Dawn", "Harbour at Dawn"),
        # Field and record terminators separate values.
        ("Oil on canvas\x1eOil on panel\x1d", "Oil on canvas Oil on panel"),
        ("A\x1e\x1d\x1fcB", "A B"),
        # A delimiter not followed by a subfield code is removed alone.
        ("Monet\x1fClaude", "Monet Claude"),
        # Other C0 controls and \x00 are deleted, ends are stripped.
        ("  Oil on\x00 canvas\x07  ", "Oil on canvas"),
        ("\x00", ""),
        # Printable $-markers are text: a price and a subfield marker survive alike.
        ("Sold for $100", "Sold for $100"),
        ("$aHarbour at Dawn$bsketch", "$aHarbour at Dawn$bsketch"),
        # Legal line breaks inside the text are kept.
        (
            "support: 575 x 819 mm\r\nframe: 765 x 940 mm",
            "support: 575 x 819 mm\r\nframe: 765 x 940 mm",
        ),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


def test_clean_text_is_idempotent_and_xml_safe() -> None:
    samples = ["\x1faA\x1fbB\x1e", " x\x00y ", "\ud800lone", "a\ufffeb\uffffc", "plain"]
    for sample in samples:
        once = clean_text(sample)
        assert clean_text(once) == once
        etree.Element("t").text = once  # raises ValueError on XML-illegal text


def test_needs_cleaning_works_on_joined_strings() -> None:
    assert not needs_cleaning("".join(["Harbour", "é ‘x’", "\t\n\r"]))
    assert needs_cleaning("".join(["Harbour", "at\x1fDawn"]))
    assert needs_cleaning("".join(["ascii", "non-ascii é \udc00"]))
    assert needs_cleaning("".join(["ascii", "\uffff"]))
