"""A fake EWS endpoint (``/EWS/Exchange.asmx``) for the lab's ``WebServer``.

    site = lab.web("mail.example.test", https_port=0, http_port=0)
    ews = EwsService(lab.users, inbox=12).mount(site, "mail.example.test")
    ews.url(site)         # https://mail.example.test:PORT/EWS/Exchange.asmx
    site.requests         # every request (headers, body), as ``tests/lab/web.py`` records them

It answers what exchangelib 5.x sends when it signs in to a known EWS URL and reads
a folder (``exchangelib/transport.py``, ``protocol.py``, ``services/get_folder.py``):

- A request without acceptable credentials: 401 with one ``WWW-Authenticate`` per
  ``challenges`` (default ``Basic realm=...``; IIS sends an HTML page with it,
  ``refusal``). With ``NTLM`` among them, an ``Authorization: NTLM`` handshake is
  checked by pyspnego against ``NTLM_USER_FILE`` (``tests.lab.ews.ntlm_user_file``),
  its state kept per client connection as IIS does.
- Accepted: ``Basic`` with a user and password from ``users``, ``Bearer`` with one
  of ``tokens``, or a completed NTLM handshake.
- Then SOAP (MS-OXWSCORE): ``GetFolder`` of the distinguished folder ``inbox`` of a
  mailbox in ``mailboxes`` answers the folder with ``TotalCount`` ``inbox``; another
  mailbox gets ``ErrorNonExistentMailbox``; ``folder_error`` answers every GetFolder
  with that (code, text); ``ConvertId`` (exchangelib's probe) answers NoError; any
  other operation is a SOAP fault (HTTP 500, ``ErrorInvalidRequest``). The SOAP
  header states ``ServerVersionInfo`` (``build``, ``version``).

``RequestServerVersion`` of each SOAP request is kept in ``versions``.
"""

from __future__ import annotations

import base64
import threading
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import Any, Self
from xml.sax.saxutils import escape, quoteattr

from .web import Request, Response, WebServer, unauthorized, xml

__all__ = ["EWS_PATH", "EwsService"]

EWS_PATH = "/EWS/Exchange.asmx"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
# What IIS sends with a 401 from Exchange (trimmed).
IIS_REFUSAL = (
    "<!DOCTYPE html><html><head><title>401 - Unauthorized: Access is denied due to "
    "invalid credentials.</title></head><body><h2>401 - Unauthorized: Access is denied "
    "due to invalid credentials.</h2></body></html>"
)


class EwsService:
    """The handler of ``POST /EWS/Exchange.asmx`` (see the module documentation)."""

    def __init__(
        self,
        users: Mapping[str, str],
        *,
        inbox: int = 12,
        mailboxes: tuple[str, ...] | None = None,
        challenges: tuple[str, ...] = ('Basic realm="mail.example.test"',),
        tokens: tuple[str, ...] = (),
        build: tuple[int, int, int, int] = (15, 1, 2507, 6),
        version: str = "V2017_07_11",
        refusal: str = IIS_REFUSAL,
        folder_error: tuple[str, str] | None = None,
    ) -> None:
        self.users = dict(users)
        self.inbox = inbox
        self.mailboxes = tuple(m.lower() for m in (mailboxes or tuple(self.users)))
        self.challenges = challenges
        self.tokens = tokens
        self.build = build
        self.version = version
        self.refusal = refusal
        self.folder_error = folder_error
        self.versions: list[str] = []
        self._lock = threading.Lock()
        self._ntlm: dict[tuple[str, int], Any] = {}  # client address -> pyspnego acceptor

    def mount(self, site: WebServer, host: str) -> Self:
        """Answer ``POST /EWS/Exchange.asmx`` on vhost ``host``, over HTTPS and HTTP."""
        site.route(host, "POST", EWS_PATH, self, scheme="both")
        return self

    @staticmethod
    def url(site: WebServer, host: str = "mail.example.test", scheme: str = "https") -> str:
        port = site.https_port if scheme == "https" else site.http_port
        return f"{scheme}://{host}:{port}{EWS_PATH}"

    # ------------------------------------------------------------------ HTTP
    def __call__(self, request: Request) -> Response:
        authorization = request.header("Authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "ntlm":
            answer = self._ntlm_step(request.client, token.strip())
            if answer is not None:
                return answer
        elif not self._accepted(scheme.lower(), token.strip()):
            return self._refuse()
        return self._soap(request.body)

    def _accepted(self, scheme: str, token: str) -> bool:
        if scheme == "bearer":
            return token in self.tokens
        if scheme != "basic":
            return False
        try:
            user, sep, password = base64.b64decode(token, validate=True).decode().partition(":")
        except ValueError:
            return False
        return bool(sep) and self.users.get(user) == password

    def _refuse(self, *challenges: str) -> Response:
        headers = {"Content-Type": "text/html"} if self.refusal else None
        return unauthorized(*(challenges or self.challenges), body=self.refusal, headers=headers)

    def _ntlm_step(self, client: tuple[str, int], token: str) -> Response | None:
        """One leg of NTLM; None once the client proved the password."""
        import spnego
        import spnego.exceptions

        raw = base64.b64decode(token)
        with self._lock:
            acceptor = self._ntlm.get(client)
            if raw[8:12] == b"\x01\x00\x00\x00" or acceptor is None:  # NEGOTIATE starts over
                acceptor = self._ntlm[client] = spnego.server(protocol="ntlm")
        try:
            answer = acceptor.step(raw)
        except spnego.exceptions.SpnegoError:
            with self._lock:
                self._ntlm.pop(client, None)
            return self._refuse()
        if answer:
            return self._refuse("NTLM " + base64.b64encode(answer).decode("ascii"))
        with self._lock:
            self._ntlm.pop(client, None)
        return None if acceptor.complete else self._refuse()

    # ------------------------------------------------------------------ SOAP
    def _soap(self, body: bytes) -> Response:
        try:
            root = ET.fromstring(body)  # our own client's request, on loopback
        except ET.ParseError:
            return self._fault("ErrorInvalidRequest", "The request is invalid.")
        requested = root.find(f".//{{{T}}}RequestServerVersion")
        with self._lock:
            self.versions.append("" if requested is None else requested.get("Version", ""))
        operation = root.find(f"{{{SOAP}}}Body/*")
        name = "" if operation is None else operation.tag.rpartition("}")[2]
        if name == "ConvertId":
            return self._answer(
                "ConvertId",
                '<m:ResponseMessages><m:ConvertIdResponseMessage ResponseClass="Error">'
                "<m:MessageText>Id is malformed.</m:MessageText>"
                "<m:ResponseCode>ErrorInvalidIdMalformed</m:ResponseCode>"
                "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
                "</m:ConvertIdResponseMessage></m:ResponseMessages>",
            )
        if name != "GetFolder" or operation is None:
            return self._fault("ErrorInvalidRequest", "The request is invalid.")
        folder = operation.find(f"{{{M}}}FolderIds/{{{T}}}DistinguishedFolderId")
        mailbox = "" if folder is None else folder.findtext(f".//{{{T}}}EmailAddress") or ""
        if self.folder_error is not None:
            return self._answer("GetFolder", _error("GetFolder", *self.folder_error))
        if mailbox.lower() not in self.mailboxes:
            text = "The SMTP address has no mailbox associated with it."
            return self._answer("GetFolder", _error("GetFolder", "ErrorNonExistentMailbox", text))
        if folder is None or folder.get("Id") != "inbox":
            text = "The specified folder could not be found in the store."
            return self._answer("GetFolder", _error("GetFolder", "ErrorFolderNotFound", text))
        folders = (
            '<m:Folders><t:Folder><t:FolderId Id="AAMkAGInbox" ChangeKey="AQAAABYAAAA"/>'
            f"<t:TotalCount>{self.inbox}</t:TotalCount></t:Folder></m:Folders>"
        )
        return self._answer(
            "GetFolder",
            '<m:ResponseMessages><m:GetFolderResponseMessage ResponseClass="Success">'
            f"<m:ResponseCode>NoError</m:ResponseCode>{folders}"
            "</m:GetFolderResponseMessage></m:ResponseMessages>",
        )

    def _header(self) -> str:
        major, minor, build, revision = self.build
        return (
            f'<h:ServerVersionInfo MajorVersion="{major}" MinorVersion="{minor}" '
            f'MajorBuildNumber="{build}" MinorBuildNumber="{revision}" '
            f"Version={quoteattr(self.version)} xmlns:h={quoteattr(T)}/>"
        )

    def _answer(self, operation: str, messages: str) -> Response:
        text = (
            f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}">'
            f"<s:Header>{self._header()}</s:Header><s:Body>"
            f'<m:{operation}Response xmlns:m="{M}" xmlns:t="{T}">{messages}'
            f"</m:{operation}Response></s:Body></s:Envelope>"
        )
        return xml(text)

    def _fault(self, code: str, text: str) -> Response:
        body = (
            f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{SOAP}"><s:Body>'
            f'<s:Fault><faultcode xmlns:a="{T}">a:{escape(code)}</faultcode>'
            f'<faultstring xml:lang="en-US">{escape(text)}</faultstring><detail>'
            '<e:ResponseCode xmlns:e="http://schemas.microsoft.com/exchange/services/2006/errors">'
            f"{escape(code)}</e:ResponseCode></detail></s:Fault></s:Body></s:Envelope>"
        )
        return xml(body, status=500)


def _error(operation: str, code: str, text: str) -> str:
    return (
        f'<m:ResponseMessages><m:{operation}ResponseMessage ResponseClass="Error">'
        f"<m:MessageText>{escape(text)}</m:MessageText>"
        f"<m:ResponseCode>{escape(code)}</m:ResponseCode>"
        "<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>"
        f"</m:{operation}ResponseMessage></m:ResponseMessages>"
    )
