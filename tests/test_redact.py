"""Secrets never appear in URLs we log or in log records."""

from __future__ import annotations

import logging

from tap_museumcms.dialects.base import RawItem
from tap_museumcms.redact import EchoMask, SecretFilter, sanitize_url


def test_sanitize_url_masks_query_keys_and_userinfo_but_keeps_the_rest():
    url = "https://user:pw@cms.example.org/objects?api_key=s3cr3t&cursor=b64:abc&limit=5&Access-Token=x"
    clean = sanitize_url(url)
    assert "s3cr3t" not in clean and "pw" not in clean and "user" not in clean
    assert "cursor=b64:abc" in clean and "limit=5" in clean
    assert "api_key=***" in clean and "Access-Token=***" in clean


def test_secret_filter_scrubs_messages_args_and_tracebacks(caplog):
    logger = logging.getLogger("test-redact")
    secret_filter = SecretFilter(["tok-123456"])
    logger.addFilter(secret_filter)
    try:
        with caplog.at_level(logging.DEBUG, logger="test-redact"):
            logger.info("header Authorization: Bearer %s", "tok-123456")
            try:
                raise ValueError("bad token tok-123456")
            except ValueError:
                logger.exception("failed")
    finally:
        logger.removeFilter(secret_filter)
    text = caplog.text + "".join(r.getMessage() for r in caplog.records)
    assert "tok-123456" not in text
    assert "Bearer ***" in text


def test_echo_mask_masks_secrets_in_raw_bytes_fields_and_documents():
    mask = EchoMask(["wsk-4711-secret", "", "abc"])  # empty and too-short values are ignored
    echoed = RawItem(
        raw=b'{"id": "/1/a", "link": "https://api.example.org/r/1/a.json?wskey=wsk-4711-secret"}',
        fields={"ObjectID": "/1/a", "media": [{"image_url": "https://x.org/a?k=wsk-4711-secret"}],
                "n": 3},
        document=b"<lido>wsk-4711-secret</lido>")
    masked = mask.item(echoed)
    assert masked.raw == b'{"id": "/1/a", "link": "https://api.example.org/r/1/a.json?wskey=***"}'
    assert masked.fields == {"ObjectID": "/1/a", "media": [{"image_url": "https://x.org/a?k=***"}],
                             "n": 3}
    assert masked.document == b"<lido>***</lido>"
    clean = RawItem(raw=b'{"id": "abc"}', fields={"ObjectID": "abc"})
    assert mask.item(clean) is clean  # nothing to mask: the item is passed on as it is
    assert not EchoMask(["", "abc"])  # no secret worth masking: the engine skips the check
