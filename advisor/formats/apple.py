"""Apple configuration profiles (``.mobileconfig``) for Mail on iPhone, iPad and Mac.

Pure: an :class:`~advisor.formats.plan.AccountPlan` in, the bytes of an
unsigned XML property list out. The keys are Apple's, from the Device
Management reference (github.com/apple/device-management,
``mdm/profiles/TopLevel.yaml``, ``CommonPayloadKeys.yaml``,
``com.apple.mail.managed.yaml``, ``com.apple.eas.account.yaml``).

Choices, each also explained where it is made:

* **STARTTLS.** ``IncomingMailServerUseSSL``/``OutgoingMailServerUseSSL`` are
  one boolean: "If true, the system enables SSL for authentication on the
  incoming mail server" - Apple does not distinguish implicit TLS from
  STARTTLS. Apple Mail with ``UseSSL`` true on a STARTTLS port (143, 110, 587)
  negotiates STARTTLS and refuses to go on without it; with ``false`` it may
  log in in clear text when STARTTLS is missing or stripped by an attacker.
  Profiles in the field rely on that reading (Mail-in-a-Box's
  ``conf/ios-profile.xml``: SMTP 587, STARTTLS-only, ``UseSSL`` true). So
  ``true`` is written for both SSL and STARTTLS, ``false`` only for a server the
  plan says is plain: the choice that never sends a password in clear.
* **OAuth2.** ``com.apple.mail.managed`` offers ``EmailAuthNone``,
  ``EmailAuthPassword``, ``EmailAuthCRAMMD5``, ``EmailAuthNTLM`` and
  ``EmailAuthHTTPMD5``: no OAuth2. So an OAuth2 account (:func:`profile_kind`)
  gets: for Google, a ``com.apple.google-oauth`` payload (``EmailAddress``,
  ``AccountName``, ``AccountDescription``; "the payload never contains
  credentials", the device asks); for Microsoft 365 and Outlook.com, an
  Exchange ActiveSync payload with ``OAuth`` true (iOS 12+; "if enabled, don't
  specify a password"); for another provider that accepts an app password,
  the Mail payload with ``EmailAuthPassword`` and descriptions that say "app
  password"; for any other OAuth2-only provider, no profile at all
  (:class:`AppleExportError`): a password profile could never sign in.
  The Google and Exchange payloads exist on iOS, iPadOS and visionOS only.
* **Exchange.** ``com.apple.eas.account`` exists on iOS, iPadOS and visionOS
  only (macOS: "n/a"), so such a profile carries ``TargetDeviceType`` 1
  (iPhone/iPad) and macOS refuses it instead of installing nothing.
* **Identifiers.** ``PayloadUUID`` values are :func:`uuid.uuid5` of a fixed
  namespace of ours, the payload kind and the lower-cased address: a re-export
  for the same address yields the same profile, which replaces the installed
  one instead of adding a second account. ``PayloadIdentifier`` is the
  reversed mail domain, ``mail-setup-advisor`` and that UUID.
* **No password**, ever: no ``IncomingPassword``, ``OutgoingPassword`` or
  ``Password`` key. The device asks for it while installing the profile.
"""

from __future__ import annotations

import plistlib
import re
import uuid
from typing import Any, Final
from urllib.parse import urlsplit

from advisor.errors import AdvisorError
from advisor.formats.plan import AccountPlan, OAuthPlatform, ServerSetting
from advisor.models import Protocol, Security


class AppleExportError(AdvisorError):
    """The plan cannot be written as a configuration profile; ``str()`` says why."""


# uuid5(NAMESPACE_DNS, "mobileconfig.mail-setup-advisor.invalid"), frozen here:
# changing it would give every re-exported profile new identities.
UUID_NAMESPACE: Final = uuid.UUID("5c30b6da-9680-5545-b743-26cb16bf33c1")
IDENTIFIER_TAG: Final = "mail-setup-advisor"

MAIL_PAYLOAD: Final = "com.apple.mail.managed"
EAS_PAYLOAD: Final = "com.apple.eas.account"
GOOGLE_PAYLOAD: Final = "com.apple.google-oauth"
CALDAV_PAYLOAD: Final = "com.apple.caldav.account"
CARDDAV_PAYLOAD: Final = "com.apple.carddav.account"
M365_EAS_HOST: Final = "outlook.office365.com"
_TARGET_IPHONE_IPAD: Final = 1  # TopLevel.yaml TargetDeviceType: 1 = iPhone/iPad/iPod touch

_ACCOUNT_TYPES: Final = {Protocol.IMAP: "EmailTypeIMAP", Protocol.POP3: "EmailTypePOP"}
# Mozilla words -> the EmailAuth* range of com.apple.mail.managed. Mozilla's
# "password-encrypted" is CRAM-MD5/DIGEST-MD5 (Thunderbird's "encrypted
# password"). What Apple cannot name (OAuth2, GSSAPI, TLS-client-cert) falls
# back to a password; the descriptions tell the user (OAuth2) - see the module
# docstring.
_AUTH: Final = {
    "password-cleartext": "EmailAuthPassword",
    "password-encrypted": "EmailAuthCRAMMD5",
    "NTLM": "EmailAuthNTLM",
    "none": "EmailAuthNone",
    "client-IP-address": "EmailAuthNone",
}
_FALLBACK_AUTH: Final = "EmailAuthPassword"
_NO_PASSWORD: Final = frozenset({"EmailAuthNone"})
# Apple's "Use SSL" for our security: true for STARTTLS too (module docstring).
USE_SSL: Final = {Security.SSL: True, Security.STARTTLS: True, Security.PLAIN: False}


def payload_uuid(email: str, kind: str) -> str:
    """The stable ``PayloadUUID`` of payload ``kind`` in the profile for ``email``."""
    return str(uuid.uuid5(UUID_NAMESPACE, f"{kind}\n{email.strip().lower()}")).upper()


def profile_kind(plan: AccountPlan) -> str | None:
    """The payload type a profile for ``plan`` carries, or None when no profile can sign in."""
    if plan.protocol == "exchange" or plan.oauth_platform is OAuthPlatform.MICROSOFT:
        return EAS_PAYLOAD
    if plan.oauth_platform is OAuthPlatform.GOOGLE:
        return GOOGLE_PAYLOAD
    if plan.oauth and not _takes_password(plan):
        return None
    return MAIL_PAYLOAD


def _takes_password(plan: AccountPlan) -> bool:
    servers = [s for s in (plan.incoming, plan.outgoing) if s is not None]
    return bool(servers) and all(
        s.auth != "OAuth2" or any(a != "OAuth2" for a in s.also_auth) for s in servers
    )


_PAYLOAD_SUFFIX: Final = {EAS_PAYLOAD: "eas", GOOGLE_PAYLOAD: "google", MAIL_PAYLOAD: "mail"}


def render_mobileconfig(plan: AccountPlan, *, organization: str = "Mail Setup Advisor") -> bytes:
    """An unsigned ``.mobileconfig`` (XML plist) with one Mail, Google or Exchange payload.

    Raises :class:`AppleExportError` for an OAuth2-only provider that is
    neither Google nor Microsoft: no payload can sign in there.
    """
    payload_type = profile_kind(plan)
    if payload_type is None:
        raise AppleExportError(
            f"{_provider(plan)} signs in only with OAuth2, which no configuration profile can"
            " carry for this provider: add the account in Settings > Mail > Accounts instead"
        )
    if payload_type == EAS_PAYLOAD:
        content = _eas_payload(plan)
    elif payload_type == GOOGLE_PAYLOAD:
        content = _google_payload(plan)
    else:
        content = _mail_payload(plan)
    profile_uuid = payload_uuid(plan.email, "Configuration")
    identifier = _identifier(plan, profile_uuid)
    oauth_note = _oauth_note(plan) if payload_type == MAIL_PAYLOAD else ""
    kind = {"imap": "IMAP", "pop3": "POP", "exchange": "Exchange"}.get(plan.protocol, "mail")
    if payload_type == EAS_PAYLOAD:
        kind = "Exchange"
    elif payload_type == GOOGLE_PAYLOAD:
        kind = "Google"
    content.update(
        {
            "PayloadVersion": 1,
            "PayloadIdentifier": f"{identifier}.{_PAYLOAD_SUFFIX[payload_type]}",
            "PayloadUUID": payload_uuid(plan.email, str(content["PayloadType"])),
            "PayloadDisplayName": _clean(f"{_provider(plan)} ({kind})"),
            "PayloadDescription": _clean(f"The {kind} account {plan.email}.{oauth_note}"),
            "PayloadOrganization": _clean(organization),
        }
    )
    contents = [content]
    if payload_type == MAIL_PAYLOAD:
        # Calendars and contacts beside the mail, same user name, no password.
        for dav in _dav_payloads(plan):
            dav.update(
                {
                    "PayloadVersion": 1,
                    "PayloadIdentifier": f"{identifier}.{dav['PayloadType'].split('.')[2]}",
                    "PayloadUUID": payload_uuid(plan.email, str(dav["PayloadType"])),
                    "PayloadOrganization": _clean(organization),
                }
            )
            contents.append(dav)
    profile: dict[str, Any] = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": identifier,
        "PayloadUUID": profile_uuid,
        "PayloadDisplayName": _clean(f"{_provider(plan)} - {plan.email}"),
        "PayloadDescription": _clean(
            f"Sets up the {kind} account {plan.email} in Mail. It holds no password:"
            f" {_credential_step(plan)}{oauth_note}"
        ),
        "PayloadOrganization": _clean(organization),
        "PayloadContent": contents,
    }
    if payload_type != MAIL_PAYLOAD:  # macOS: "n/a" for both payloads
        profile["TargetDeviceType"] = _TARGET_IPHONE_IPAD
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True)


def parse_mobileconfig(data: bytes) -> dict[str, Any]:
    """The profile as a dictionary (``plistlib.loads``); for tests and round trips."""
    loaded = plistlib.loads(data)
    if not isinstance(loaded, dict):
        raise AppleExportError("not a configuration profile: the plist is not a dictionary")
    return loaded


def _mail_payload(plan: AccountPlan) -> dict[str, Any]:
    incoming, outgoing = plan.incoming, plan.outgoing
    if incoming is None or outgoing is None or incoming.protocol not in _ACCOUNT_TYPES:
        raise AppleExportError(
            f"the {plan.protocol.upper()} plan for {plan.email} names no incoming or no outgoing"
            " server"
        )
    payload: dict[str, Any] = {
        "PayloadType": MAIL_PAYLOAD,
        "EmailAccountType": _ACCOUNT_TYPES[incoming.protocol],
        "EmailAccountDescription": _clean(_provider(plan)),
        "EmailAddress": plan.email,
        **_server_keys("Incoming", incoming),
        **_server_keys("Outgoing", outgoing),
        # "prompts the user only once for the password" (interactive installs):
        # true when one login serves both servers.
        "OutgoingPasswordSameAsIncomingPassword": (
            incoming.username == outgoing.username
            and _auth(incoming) not in _NO_PASSWORD
            and _auth(outgoing) not in _NO_PASSWORD
        ),
        "PreventMove": False,
        "PreventAppSheet": False,
        "SMIMEEnabled": False,
    }
    if name := _clean(plan.full_name).strip():
        payload["EmailAccountName"] = name  # "The system displays this name in sent messages."
    return payload


def _dav_payloads(plan: AccountPlan) -> list[dict[str, Any]]:
    """``com.apple.caldav.account`` / ``com.apple.carddav.account`` (Apple's
    device-management schema: ``CalDAVHostName``, ``CalDAVPort``, ``CalDAVUseSSL``,
    ``CalDAVPrincipalURL``, ``CalDAVUsername``, ``CalDAVAccountDescription``; the
    same with ``CardDAV``). No ``...Password``: the device asks for it."""
    out = []
    username = _clean(plan.incoming.username) if plan.incoming is not None else ""
    for prefix, payload_type, url in (
        ("CalDAV", CALDAV_PAYLOAD, plan.caldav_url),
        ("CardDAV", CARDDAV_PAYLOAD, plan.carddav_url),
    ):
        if not url:
            continue
        parts = urlsplit(url)
        keys: dict[str, Any] = {
            "PayloadType": payload_type,
            "PayloadDisplayName": _clean(f"{_provider(plan)} ({prefix})"),
            f"{prefix}AccountDescription": _clean(_provider(plan)),
            f"{prefix}HostName": parts.hostname or "",
            f"{prefix}Port": parts.port or 443,
            f"{prefix}UseSSL": True,
        }
        if parts.path not in ("", "/"):
            keys[f"{prefix}PrincipalURL"] = url
        if username:
            keys[f"{prefix}Username"] = username
        out.append(keys)
    return out


def _server_keys(side: str, server: ServerSetting) -> dict[str, Any]:
    keys: dict[str, Any] = {
        f"{side}MailServerHostName": server.hostname,
        f"{side}MailServerPortNumber": server.port,
        f"{side}MailServerUseSSL": USE_SSL[server.security],
        f"{side}MailServerAuthentication": _auth(server),
    }
    if (username := _clean(server.username)) and _auth(server) not in _NO_PASSWORD:
        # Without it the device asks for the user name while installing.
        keys[f"{side}MailServerUsername"] = username
    return keys


def _auth(server: ServerSetting) -> str:
    return _AUTH.get(server.auth, _FALLBACK_AUTH)


def _google_payload(plan: AccountPlan) -> dict[str, Any]:
    """com.apple.google-oauth: "the payload never contains credentials"."""
    payload: dict[str, Any] = {
        "PayloadType": GOOGLE_PAYLOAD,
        "EmailAddress": plan.email,
        "AccountDescription": _clean(_provider(plan)),
    }
    if name := _clean(plan.full_name).strip():
        payload["AccountName"] = name  # "This name appears in sent messages."
    return payload


def _eas_payload(plan: AccountPlan) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "PayloadType": EAS_PAYLOAD,
        "EmailAddress": plan.email,
        # "Required for noninteractive installations": the address, which is
        # the sign-in name for Microsoft 365 and, as the UPN, for most
        # on-premises servers. (The plan has no separate Exchange login name.)
        "UserName": plan.email,
        "PreventMove": False,
        "PreventAppSheet": False,
    }
    host, ssl = _eas_host(plan)
    if host is not None:
        payload["Host"] = host
        payload["SSL"] = ssl
    if _is_m365(plan):
        # "If true, enables OAuth for authentication. If enabled, don't specify
        # a password." (iOS 12+): Exchange Online refuses Basic authentication.
        payload["OAuth"] = True
    return payload


def _eas_host(plan: AccountPlan) -> tuple[str | None, bool]:
    """The ActiveSync host and whether it speaks https; Microsoft 365 has one host."""
    ex = plan.exchange
    if _is_m365(plan):
        return M365_EAS_HOST, True
    if ex is None:
        return None, True
    for url in (ex.activesync_url, ex.ews_url):
        try:
            parts = urlsplit(url or "")
        except ValueError:
            continue
        if parts.hostname:
            return parts.hostname, parts.scheme.lower() != "http"
    return ex.server, True


def _is_m365(plan: AccountPlan) -> bool:
    """Exchange Online: Microsoft 365, and Outlook.com, whose mailboxes live there too."""
    ex = plan.exchange
    return (
        plan.on_microsoft365
        or plan.oauth_platform is OAuthPlatform.MICROSOFT
        or (ex is not None and ex.hosted == "microsoft365")
    )


def _credential_step(plan: AccountPlan) -> str:
    if profile_kind(plan) == GOOGLE_PAYLOAD:
        return "you sign in on Google's page shortly after installing."
    if profile_kind(plan) == EAS_PAYLOAD and _is_m365(plan):
        return "you sign in on Microsoft's page when the account is added."
    return "you are asked for it while installing."


def _oauth_note(plan: AccountPlan) -> str:
    servers = [s for s in (plan.incoming, plan.outgoing) if s is not None]
    if plan.protocol == "exchange" or not any(s.auth == "OAuth2" for s in servers):
        return ""
    return (
        " This provider signs in with OAuth2, which Apple's Mail payload cannot do: enter an"
        " app password (not your usual password) when asked, or instead add the account in"
        " Settings > Mail > Accounts > Add Account."
    )


def _identifier(plan: AccountPlan, profile_uuid: str) -> str:
    labels = [label for label in plan.domain.lower().split(".") if label]
    reverse = ".".join(reversed(labels)) or "invalid"
    return f"{reverse}.{IDENTIFIER_TAG}.{profile_uuid}"


def _provider(plan: AccountPlan) -> str:
    return plan.provider_name.strip() or plan.domain


# What an XML 1.0 document may contain (§2.2 Char); plistlib refuses the rest.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    """Text plistlib can write: characters XML 1.0 cannot carry are dropped."""
    return _NOT_XML_CHAR.sub("", text)
