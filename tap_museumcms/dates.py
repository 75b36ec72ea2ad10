"""Fuzzy museum dates: turn a display date into the earliest and latest years it allows.

Museum catalogues write dates for people, not machines: ``"c.1830–41"``, ``"?1831"``,
``"19th century"``, ``"1763, published 1800–07"``. LIDO (``earliestDate``/``latestDate``) and
search indexes need a machine range. :func:`parse_date_range` derives one, or returns ``None``
when the text states no date (``"date not known"``, ``"n.d."``) or cannot be read.

Examples (text -> earliest, latest, qualifier)::

    "1889-06-01"            -> "1889-06-01", "1889-06-01", None
    "June 1889"             -> "1889-06", "1889-06", None
    "1775"                  -> "1775", "1775", None
    "c.1830–41"             -> "1830", "1841", "circa"
    "1850-60" / "1850–1860" -> "1850", "1860", None
    "?1831"                 -> "1831", "1831", "uncertain"
    "?exhibited 1807"       -> "1807", "1807", "uncertain exhibited"
    "published 1820"        -> "1820", "1820", "published"
    "1890s"                 -> "1890", "1899", "decade"
    "late 1990s"            -> "1996", "1999", "decade"
    "19th century"          -> "1800", "1899", "century"
    "early 19th century"    -> "1800", "1835", "century"
    "before 1900"           -> "1900", "1900", "before"
    "after c.1830"          -> "1830", "1830", "after circa"
    "500 BC"                -> "-0499", "-0499", None
    "date not known"        -> None

Rules (the decisions a cataloguer would ask about):

- Years are ISO 8601 strings, four digits at least (``"0850"``). Years before the common era
  use ISO 8601 astronomical numbering, as LIDO recommends ISO 8601: 1 BC is ``"0000"``,
  500 BC is ``"-0499"``.
- A short second year takes the first year's missing digits: ``"1633–8"`` is 1633-1638,
  ``"1749–50"`` is 1749-1750; across a century, ``"1898–02"`` is 1898-1902. En dash, em dash,
  hyphen, slash and ``" to "`` all separate a range. A hyphen with two digits is a year-month
  only when it cannot be a range in the same century: ``"1850-60"`` is 1850-1860, ``"1889-06"``
  is June 1889.
- ``"before X"`` and ``"after X"`` give X as both bounds with the qualifier ``before``/``after``
  (the LIDO 1.1 official examples record ``"vor 1896"`` as 1896-1896; the Tate data does the same
  for ``"after c.1830"``). The true bound is open; the qualifier says which side.
- Decades: ``"1890s"`` is 1890-1899; ``"early 1890s"`` 1890-1893, ``"mid 1890s"`` 1893-1897,
  ``"late 1890s"`` 1896-1899. A year ending in ``00s`` is a century: ``"1800s"`` is 1800-1899,
  ``"early 1800s"`` 1800-1835.
- Centuries run 00-99 as museums catalogue them (``"19th century"`` is 1800-1899, not 1801-1900).
  ``early``/``mid``/``late`` take 00-35, 30-70, 65-99; ``first half``/``second half`` 00-49, 50-99.
- Several comma-separated parts: the first part that holds a date is the making of the work.
  Later parts that are bare dates widen the range (``"c.1843, c.1855"`` is 1843-1855); later
  parts introduced by a word (``printed``, ``cast``, ``published``, ``reprinted``,
  ``reconstruction by ...``) describe other events and are ignored:
  ``"1763, published 1800–07"`` is 1763-1763.
- The qualifier lists, in reading order, what the text says about the date: ``uncertain``
  (a ``?``), ``circa`` (``c.``, ``ca.``, ``circa``, ``about``), ``before``, ``after``,
  ``published``, ``exhibited``, ``printed`` and similar words, ``decade``, ``century``.
  ``None`` means an exact date or plain range.
- A date whose earliest bound is after its latest (``"1860–1850"``), an impossible calendar date
  (``"2026-13-45"``) or unreadable text yields ``None``: the builder then writes the display date
  without a machine range rather than invent one.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class DateRange:
    """The machine range of a display date.

    Example: ``DateRange(earliest="1830", latest="1841", qualifier="circa")``.

    Attributes:
        earliest: ISO 8601 year (``"1830"``, ``"-0499"``), year-month or full date.
        latest: Same form as ``earliest``, never before it.
        qualifier: Space-separated words such as ``"uncertain circa"``; ``None`` when exact.
    """

    earliest: str
    latest: str
    qualifier: str | None = None


_NO_DATE = frozenset(
    {"date not known", "n.d.", "n.d", "nd", "undated", "unknown", "no date", "not dated", "?"}
)

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}

# Words that may introduce a date, mapped to the qualifier they contribute ("" = none).
_PREFIX_WORDS: dict[str, str] = {
    "?": "uncertain",
    "c.": "circa",
    "c": "circa",
    "ca.": "circa",
    "ca": "circa",
    "circa": "circa",
    "about": "circa",
    "around": "circa",
    "approx.": "circa",
    "approximately": "circa",
    "before": "before",
    "by": "before",
    "after": "after",
    "published": "published",
    "first published": "published",
    "exhibited": "exhibited",
    "printed": "printed",
    "cast": "cast",
    "made": "",
    "dated": "",
    "in": "",
}

_PREFIX_RE = re.compile(
    r"^(\?|(?:first published|published|exhibited|printed|cast|circa|about|around|approx\."
    r"|approximately|before|after|made|dated|ca\.|ca|c\.|c|by|in)(?![a-z]))\s*"
)

_ERA_RE = re.compile(r"\s*\b(b\.?\s?c\.?\s?e\.?|b\.?\s?c\.?|a\.?\s?d\.?|c\.?\s?e\.?)$")
_ERA_BEFORE_RE = re.compile(r"^(a\.?\s?d\.?)\s+")

_YEAR = r"(\d{1,4})"
_SEP = r"\s*(?:[-\u2010\u2011\u2012\u2013\u2014\u2015/]|\bto\b)\s*"

_ISO_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[t\s].*)?$")
_ISO_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE_RE = re.compile(rf"^{_YEAR}{_SEP}(?:c\.\s*|ca\.\s*|circa\s+)?{_YEAR}$")
_YEAR_RE = re.compile(rf"^{_YEAR}$")
_DECADE_RE = re.compile(r"^(?:(early|mid|late)[\s-]+)?(\d{2,3}0)'?s$")
_CENTURY_RE = re.compile(
    r"^(?:(early|mid|late|first half of(?: the)?|second half of(?: the)?)[\s-]+)?"
    r"(\d{1,2})(?:st|nd|rd|th)[\s-]+century$"
)
_DAY_MONTH_YEAR_RE = re.compile(r"^(\d{1,2})\s+([a-z]+)\.?,?\s+(\d{4})$")
_MONTH_DAY_YEAR_RE = re.compile(r"^([a-z]+)\.?\s+(\d{1,2}),?\s+(\d{4})$")
_MONTH_YEAR_RE = re.compile(r"^([a-z]+)\.?,?\s+(\d{4})$")

_DECADE_PARTS = {None: (0, 9), "early": (0, 3), "mid": (3, 7), "late": (6, 9)}
_CENTURY_PARTS = {
    None: (0, 99),
    "early": (0, 35),
    "mid": (30, 70),
    "late": (65, 99),
    "first half of": (0, 49),
    "second half of": (50, 99),
}

# "june 1, 1889": the comma belongs to the date, not between two parts.
_MONTH_DAY_COMMA_RE = re.compile(r"\b([a-z]{3,}\.?\s+\d{1,2}),\s*(\d{4})\b")

# A later comma-separated part that starts with one of these is another event, not the making.
_BARE_PART_RE = re.compile(r"^(?:\?\s*)?(?:(?:c\.|ca\.|circa)\s*)?\d")


def _year_str(year: int) -> str:
    """Format an astronomical year as ISO 8601 (``850`` -> ``"0850"``, ``-499`` -> ``"-0499"``)."""
    return f"-{-year:04d}" if year < 0 else f"{year:04d}"


def _expand_short(start: int, end_text: str) -> int:
    """Expand the short end of a range: (1633, "8") -> 1638, (1898, "02") -> 1902."""
    digits = len(end_text)
    end = int(end_text)
    if digits >= len(str(start)):
        return end
    scale = 10**digits
    candidate = start - start % scale + end
    if candidate < start:
        candidate += scale
    return candidate


@dataclass(frozen=True)
class _Core:
    """A parsed date core, bounds as sortable keys plus their ISO strings."""

    earliest: str
    latest: str
    words: tuple[str, ...] = ()


def _era_years(first: int, second: int, era: str | None) -> tuple[int, int] | None:
    """Apply an era suffix to a pair of written years (BC years count backwards)."""
    if era is not None and era.startswith("b"):
        # Written "500-400 BC": earliest is the larger number. Astronomical year = 1 - BC year.
        first, second = 1 - max(first, second), 1 - min(first, second)
        return first, second
    return first, second


_NO_MATCH = _Core("", "")
"""Marker: the text is not of this shape (as opposed to None: of this shape, but not a date)."""


def _parse_core(text: str) -> _Core | None:
    """Parse one date without prefix words: a date, year, range, decade or century."""
    text, era = _split_era(text)
    if not text:
        return None
    for parse in (_calendar_core, _year_core, _period_core):
        found = parse(text, era)
        if found is not _NO_MATCH:
            return found
    return None


def _split_era(text: str) -> tuple[str, str | None]:
    """``("500", "bc")`` for ``"500 BC"``; ``("1066", "ad")`` for ``"AD 1066"``."""
    match = _ERA_RE.search(text)
    if match:
        return text[: match.start()].strip(), "bc" if "b" in match.group(1) else "ad"
    before = _ERA_BEFORE_RE.match(text)
    if before:
        return text[before.end() :].strip(), "ad"
    return text, None


def _calendar_core(text: str, era: str | None) -> _Core | None:
    """ISO dates and months, and dates with month names (never with an era)."""
    if era is not None:
        return _NO_MATCH
    iso = _ISO_DATE_RE.match(text)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
        try:
            _dt.date(year, month, day)
        except ValueError:
            return None
        value = f"{year:04d}-{month:02d}-{day:02d}"
        return _Core(value, value)
    month_form = _ISO_MONTH_RE.match(text)
    if month_form:
        year, month = int(month_form.group(1)), int(month_form.group(2))
        as_range = _expand_short(year, month_form.group(2))
        if as_range - year >= 100 or as_range < year or as_range // 100 != year // 100:
            if not 1 <= month <= 12:
                return None
            value = f"{year:04d}-{month:02d}"
            return _Core(value, value)
    for pattern, order in ((_DAY_MONTH_YEAR_RE, (0, 1, 2)), (_MONTH_DAY_YEAR_RE, (1, 0, 2))):
        named = pattern.match(text)
        if named:
            parts = named.groups()
            day, month_name, year_text = parts[order[0]], parts[order[1]], parts[order[2]]
            number = _MONTHS.get(month_name)
            if number is None:
                return None
            try:
                _dt.date(int(year_text), number, int(day))
            except ValueError:
                return None
            value = f"{int(year_text):04d}-{number:02d}-{int(day):02d}"
            return _Core(value, value)
    month_year = _MONTH_YEAR_RE.match(text)
    if month_year:
        number = _MONTHS.get(month_year.group(1))
        if number is None:
            return None
        value = f"{int(month_year.group(2)):04d}-{number:02d}"
        return _Core(value, value)
    return _NO_MATCH


def _year_core(text: str, era: str | None) -> _Core | None:
    """A year range (``1850-60``, ``500-400 BC``) or a single year."""
    span = _RANGE_RE.match(text)
    if span:
        start = int(span.group(1))
        if era is not None and era.startswith("b"):
            end = int(span.group(2))
        else:
            end = _expand_short(start, span.group(2))
        first, second = _era_years(start, end, era)
        if first > second:
            return None
        return _Core(_year_str(first), _year_str(second))
    single = _YEAR_RE.match(text)
    if single:
        if len(single.group(1)) < 3 and era is None:
            return None
        first, second = _era_years(int(single.group(1)), int(single.group(1)), era)
        return _Core(_year_str(first), _year_str(second))
    return _NO_MATCH


def _period_core(text: str, era: str | None) -> _Core | None:
    """A decade (``1890s``, ``early 1850s``) or a century (``19th century``, ``5th century BC``)."""
    decade = _DECADE_RE.match(text)
    if decade and era is None:
        base = int(decade.group(2))
        if base % 100 == 0 and len(decade.group(2)) == 4:
            low, high = _CENTURY_PARTS[decade.group(1)]
            return _Core(_year_str(base + low), _year_str(base + high), ("century",))
        low, high = _DECADE_PARTS[decade.group(1)]
        return _Core(_year_str(base + low), _year_str(base + high), ("decade",))
    century = _CENTURY_RE.match(text)
    if not century:
        return _NO_MATCH
    number = int(century.group(2))
    if number < 1:
        return None
    part = century.group(1)
    if part is not None:
        part = part.replace(" the", "")
    low, high = _CENTURY_PARTS[part]
    if era is not None and era.startswith("b"):
        # The 5th century BC runs from 500 BC to 401 BC: astronomical -499 .. -400.
        start_bc = number * 100
        first, second = 1 - (start_bc - low), 1 - (start_bc - high)
    else:
        base = (number - 1) * 100
        first, second = base + low, base + high
    return _Core(_year_str(first), _year_str(second), ("century",))


def _parse_part(text: str) -> _Core | None:
    """Parse one comma-separated part: prefix words, then a date core."""
    words: list[str] = []
    rest = text.strip()
    while True:
        match = _PREFIX_RE.match(rest)
        if not match or match.end() == 0:
            break
        word = _PREFIX_WORDS[match.group(1)]
        if word:
            words.append(word)
        rest = rest[match.end() :]
    core = _parse_core(rest.strip().rstrip("."))
    if core is None:
        return None
    return _Core(core.earliest, core.latest, tuple(words) + core.words)


def _key(value: str) -> tuple[int, str]:
    """Sort key for ISO bounds: the signed year first, then the rest of the date."""
    if value.startswith("-"):
        return -int(value[1:5]), value[5:]
    return int(value[:4]), value[4:]


def parse_date_range(text: str | None) -> DateRange | None:
    """Derive the earliest and latest date that a display date allows.

    Args:
        text: A display or catalogue date, e.g. ``"c.1830–41"``, ``"?exhibited 1807"``,
            ``"1889-06-01"``, ``"early 19th century"``; ``None`` or empty for no date.

    Returns:
        e.g. ``DateRange(earliest="1830", latest="1841", qualifier="circa")``; ``None`` when the
        text states no date (``"date not known"``) or cannot be read.
    """
    if text is None:
        return None
    normalized = " ".join(text.strip().lower().split())
    if not normalized or normalized in _NO_DATE:
        return None
    normalized = _MONTH_DAY_COMMA_RE.sub(r"\1 \2", normalized)
    parts = [part.strip() for part in re.split(r"[,;]", normalized) if part.strip()]
    base: _Core | None = None
    extra: list[_Core] = []
    for part in parts:
        if base is None:
            base = _parse_part(part)
            continue
        if _BARE_PART_RE.match(part):
            parsed = _parse_part(part)
            if parsed is not None:
                extra.append(parsed)
    if base is None:
        return None
    earliest, latest = base.earliest, base.latest
    for other in extra:
        if _key(other.earliest) < _key(earliest):
            earliest = other.earliest
        if _key(other.latest) > _key(latest):
            latest = other.latest
    if _key(earliest) > _key(latest):
        return None
    qualifier_words: list[str] = []
    for word in base.words + tuple(word for other in extra for word in other.words):
        if word not in qualifier_words:
            qualifier_words.append(word)
    return DateRange(earliest, latest, " ".join(qualifier_words) or None)
