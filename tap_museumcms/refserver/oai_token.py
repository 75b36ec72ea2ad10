"""Opaque, tamper-evident resumptionTokens of the reference server's OAI-PMH face.

A token is ``urlsafe_b64(compact JSON) + "." + urlsafe_b64(HMAC-SHA256[:12])``; the JSON holds the
whole list request and where the next page starts::

    {"v": "ListRecords", "m": "lido", "f": "2026-01-01", "u": null, "s": "type:painting",
     "n": 200, "c": 100, "l": 1000, "t": 1800000000}

(verb, metadataPrefix, from, until, set, next position, records before the next page,
completeListSize, issue time in epoch seconds). The key is random per server, so a token of
another server (or of a restarted one) is unknown.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import json
import os
import typing as t


@dataclasses.dataclass(frozen=True)
class ListState:
    """Where a list request stands.

    Attributes:
        verb: ``"ListRecords"`` or ``"ListIdentifiers"``.
        prefix: the metadataPrefix.
        since: ``from`` as requested (in the repository's granularity), or None.
        until: ``until`` as requested, or None.
        set_spec: ``set`` as requested, or None.
        position: the collection position the page starts at.
        cursor: how many records (positions shown) came before the page.
        size: the ``completeListSize`` computed when the list began.
        issued: epoch seconds (server clock) when the token was issued.
    """

    verb: str
    prefix: str
    since: str | None
    until: str | None
    set_spec: str | None
    position: int
    cursor: int
    size: int
    issued: int


_FIELDS: dict[str, tuple[str, type | tuple[type, ...]]] = {
    "v": ("verb", str),
    "m": ("prefix", str),
    "f": ("since", (str, type(None))),
    "u": ("until", (str, type(None))),
    "s": ("set_spec", (str, type(None))),
    "n": ("position", int),
    "c": ("cursor", int),
    "l": ("size", int),
    "t": ("issued", int),
}


class TokenCodec:
    """Encodes and checks tokens with one HMAC key.

    Args:
        key: the HMAC key (default: 16 random bytes).
    """

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key if key is not None else os.urandom(16)

    def _sign(self, payload: bytes) -> str:
        digest = hmac.new(self._key, payload, hashlib.sha256).digest()[:12]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def encode(self, state: ListState) -> str:
        """The token of ``state``."""
        data = {short: getattr(state, name) for short, (name, _type) in _FIELDS.items()}
        compact = json.dumps(data, separators=(",", ":")).encode()
        payload = base64.urlsafe_b64encode(compact).rstrip(b"=")
        return payload.decode() + "." + self._sign(payload)

    def decode(self, token: str) -> ListState:
        """The state a token of this codec carries.

        Raises:
            ValueError: when the token was not issued with this key or was altered.
        """
        payload, dot, signature = token.strip().rpartition(".")
        if not dot or not hmac.compare_digest(self._sign(payload.encode()), signature):
            raise ValueError("the resumptionToken is not one this repository issued")
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            data = json.loads(raw)
        except (binascii.Error, ValueError) as exc:  # pragma: no cover - signed, so ours
            raise ValueError("the resumptionToken cannot be read") from exc
        if not isinstance(data, dict) or set(data) != set(_FIELDS):
            raise ValueError("the resumptionToken cannot be read")
        values: dict[str, t.Any] = {}
        for short, (name, kinds) in _FIELDS.items():
            value = data[short]
            if not isinstance(value, kinds) or isinstance(value, bool):
                raise ValueError("the resumptionToken cannot be read")
            values[name] = value
        return ListState(**values)
