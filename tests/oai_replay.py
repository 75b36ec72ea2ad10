"""A local OAI-PMH server that replays recorded responses (``fixtures/oai``), for the tests.

``verb=Identify`` answers ``sickle_Identify.xml``; ``verb=ListRecords&metadataPrefix=...``
the first page, ``sickle_ListRecords.xml``; ``resumptionToken=T`` the file ``sickle_T`` (the
recorded tokens are the next file's name). ``ListMetadataFormats`` lists ``oai_dc``. Every
request is logged in ``server.requests`` as ``(verb, params)``.
"""

from __future__ import annotations

import http.server
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parent / "fixtures" / "oai"
FORMATS = b"""<?xml version="1.0" encoding="UTF-8"?>
<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>2013-02-27T09:10:56Z</responseDate>
<request verb="ListMetadataFormats">http://test.example.com/oai</request><ListMetadataFormats>
<metadataFormat><metadataPrefix>oai_dc</metadataPrefix>
<schema>http://www.openarchives.org/OAI/2.0/oai_dc.xsd</schema>
<metadataNamespace>http://www.openarchives.org/OAI/2.0/oai_dc/</metadataNamespace></metadataFormat>
</ListMetadataFormats></OAI-PMH>"""


class ReplayServer:
    """Serves the recorded pages on a loopback port (a context manager)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        replay = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802
                params = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                replay.requests.append(params)
                body = replay.answer(params)
                self.send_response(200 if body is not None else 404)
                body = body if body is not None else b"not found"
                self.send_header("Content-Type", "text/xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_port}/oai"

    def answer(self, params: dict[str, str]) -> bytes | None:
        verb = params.get("verb")
        if verb == "Identify":
            return (FIXTURES / "sickle_Identify.xml").read_bytes()
        if verb == "ListMetadataFormats":
            return FORMATS
        if verb == "ListRecords" and "resumptionToken" in params:
            path = FIXTURES / f"sickle_{params['resumptionToken']}"
            return path.read_bytes() if path.is_file() else (
                FIXTURES / "sickle_badResumptionToken.xml").read_bytes()
        if verb == "ListRecords":
            return (FIXTURES / "sickle_ListRecords.xml").read_bytes()
        return None

    def __enter__(self) -> ReplayServer:
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class RecordsServer(ReplayServer):
    """Serves given metadata elements as a ListRecords chain, ``page_size`` records a page.

    ``records`` are ``(identifier, datestamp, metadata_bytes)``; the metadata is put as it is
    inside ``<metadata>`` (real LIDO records in a protocol envelope). Tokens are ``page-<n>``.
    """

    def __init__(self, records: list[tuple[str, str, bytes]], page_size: int = 10,
                 prefix: str = "lido", namespace: str = "http://www.lido-schema.org") -> None:
        super().__init__()
        self.records, self.page_size = records, page_size
        self.formats = FORMATS.replace(b"oai_dc</metadataPrefix>", prefix.encode() +
                                       b"</metadataPrefix>").replace(
            b"http://www.openarchives.org/OAI/2.0/oai_dc/</metadataNamespace>",
            namespace.encode() + b"</metadataNamespace>")

    def answer(self, params: dict[str, str]) -> bytes | None:
        verb = params.get("verb")
        if verb == "ListMetadataFormats":
            return self.formats
        if verb != "ListRecords":
            return super().answer(params)
        page = int(params.get("resumptionToken", "page-0").split("-")[1])
        chunk = self.records[page * self.page_size:(page + 1) * self.page_size]
        more = (page + 1) * self.page_size < len(self.records)
        body = [b'<?xml version="1.0" encoding="UTF-8"?><OAI-PMH xmlns="http://www.openarchives'
                b'.org/OAI/2.0/"><responseDate>2026-11-29T09:00:00Z</responseDate>'
                b'<request verb="ListRecords">http://test/oai</request><ListRecords>']
        for identifier, datestamp, metadata in chunk:
            body.append(b"<record><header><identifier>%s</identifier><datestamp>%s</datestamp>"
                        b"</header><metadata>%s</metadata></record>"
                        % (identifier.encode(), datestamp.encode(), metadata))
        token = f"page-{page + 1}".encode() if more else b""
        body.append(b"<resumptionToken>%s</resumptionToken></ListRecords></OAI-PMH>" % token)
        return b"".join(body)
