"""Secrets never leave the process: URL sanitising and a log filter.

``sanitize_url`` is applied to every URL that is logged or written into a record's
provenance; :class:`SecretFilter` scrubs the literal values of configured secrets from every
log record, at any level, as a second line of defence; :class:`EchoMask` masks them in the
items a source sends back (some APIs echo the caller's key inside every record's links).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import typing as t
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

#: Query parameter names whose values are credentials (compared case-insensitively,
#: ignoring ``-`` and ``_``).
SECRET_PARAMS = frozenset(
    {
        "apikey",
        "key",
        "wskey",
        "token",
        "accesstoken",
        "authtoken",
        "auth",
        "password",
        "secret",
        "clientsecret",
        "signature",
        "sig",
        "code",
    }
)

MASK = "***"


def _is_secret_name(name: str) -> bool:
    return name.lower().replace("-", "").replace("_", "") in SECRET_PARAMS


def sanitize_url(url: str) -> str:
    """Return ``url`` with credentials in the userinfo and the query string masked.

    Example:
        >>> sanitize_url("https://u:p@cms.example.org/objects?api_key=abc&cursor=x")
        'https://cms.example.org/objects?api_key=***&cursor=x'
    """
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, MASK if _is_secret_name(k) else v) for k, v in pairs], safe="*:"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class SecretFilter(logging.Filter):
    """Replace the literal values of secrets in log records with ``***``.

    Args:
        secrets: the secret values (empty and very short values are ignored, so that
            masking cannot garble ordinary text).
    """

    def __init__(self, secrets: t.Iterable[str]) -> None:
        super().__init__()
        values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def scrub(self, text: str) -> str:
        """Return ``text`` with every secret masked."""
        return self._pattern.sub(MASK, text) if self._pattern else text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._pattern is None:
            return True
        message = record.getMessage()
        scrubbed = self.scrub(message)
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, scrubbed, so the handler does not re-render it.
            formatted = logging.Formatter().formatException(record.exc_info)
            scrubbed = f"{scrubbed}\n{self.scrub(formatted)}"
            record.exc_info = None
            record.exc_text = None
        if scrubbed != message or record.args:
            record.msg = scrubbed
            record.args = None
        return True


class EchoMask:
    """Masks the configured secrets inside items before anything reads them.

    Europeana, for one, writes the caller's ``wskey`` into each record's ``link`` and
    ``guid``: without this the key would reach the warehouse and the quarantine. The raw bytes
    are searched once per secret (a few microseconds a record); only an item that holds one is
    rewritten, raw bytes and mapped fields alike.
    """

    def __init__(self, secrets: t.Iterable[str]) -> None:
        values = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
        self._needles = [v.encode() for v in values]
        self._text = SecretFilter(values)

    def __bool__(self) -> bool:
        return bool(self._needles)

    def item(self, item: t.Any) -> t.Any:
        """The item (a dataclass with ``raw``, ``fields``, ``document``), masked if need be."""
        if not any(needle in item.raw for needle in self._needles):
            return item
        raw = item.raw
        for needle in self._needles:
            raw = raw.replace(needle, MASK.encode())
        document = item.document
        if document is not None:
            for needle in self._needles:
                document = document.replace(needle, MASK.encode())
        return dataclasses.replace(item, raw=raw, fields=self._value(item.fields),
                                   document=document)

    def _value(self, value: t.Any) -> t.Any:
        if isinstance(value, str):
            return self._text.scrub(value)
        if isinstance(value, dict):
            return {key: self._value(inner) for key, inner in value.items()}
        if isinstance(value, list):
            return [self._value(inner) for inner in value]
        return value


def url_secrets(url: str) -> list[str]:
    """The secret parts of a URL: the userinfo password and secret query values.

    Example:
        >>> url_secrets("https://u:pw-123@cms.example.org/api?token=abcd&x=1")
        ['pw-123', 'abcd']
    """
    parts = urlsplit(url)
    found = [parts.password] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if _is_secret_name(k)]
    return found


_INSTALLED: list[SecretFilter] = []


def install_secret_filter(secrets: t.Iterable[str]) -> SecretFilter:
    """Attach a :class:`SecretFilter` to the root logger and to every handler.

    Handlers are where records from every logger end up, so filtering there covers the
    SDK's loggers as well as the tap's own. Calling it again replaces the previous filter
    (one tap run, one set of secrets), so filters never pile up.
    """
    secret_filter = SecretFilter(secrets)
    loggers = [logging.getLogger()] + [
        logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
    ]
    for old in _INSTALLED:
        for logger in loggers:
            logger.removeFilter(old)
            for handler in logger.handlers:
                handler.removeFilter(old)
    _INSTALLED[:] = [secret_filter]
    for logger in loggers:
        for handler in logger.handlers:
            handler.addFilter(secret_filter)
    logging.getLogger().addFilter(secret_filter)
    return secret_filter
