"""Outlook for Windows: the Autodiscover answer file, its ``.reg``, the PRF, and the steps.

Pure renderers: values from :mod:`advisor.formats.plan` in, text or bytes out.
Nothing here holds or writes a password: every file leaves it to Outlook to
ask for it on the first connection.

Classic Outlook (2016, 2019, 2021, 2024, Microsoft 365 Apps) takes three files:

* :func:`render_autodiscover` - a POX Autodiscover *response* (MS-OXDSCLI
  §2.2.4), the document an Exchange server would answer. Read from disk when the
  registry names it (below), it configures the account exactly as written.
* :func:`render_reg` / :func:`render_reg_bytes` - the ``.reg`` file that tells
  Outlook to read that answer file first ("Outlook 2016 implementation of
  Autodiscover", support.microsoft.com/help/3211279, "local data preference").
* :func:`render_prf` / :func:`render_prf_bytes` - a profile file for
  ``outlook.exe /importprf`` (Office Resource Kit, "Customize Outlook profiles
  by using an Outlook Profile (PRF) file"), IMAP and POP3 only: Microsoft does
  not support PRF files for Exchange accounts since Outlook 2016 (the Exchange
  server name they need is a per-mailbox GUID), so for Exchange
  :func:`outlook_exchange_steps` gives the few clicks instead.

New Outlook for Windows reads none of these files and cannot add on-premises
Exchange at all: :func:`new_outlook_steps`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from advisor.errors import AdvisorError
from advisor.formats.autodiscover import RESPONSE_SCHEMA
from advisor.formats.plan import AccountPlan, DomainConfig, ExchangeSetting, ServerSetting
from advisor.models import Protocol, Security


class OutlookExportError(AdvisorError):
    """The plan cannot be written in the asked Outlook format; ``str()`` says why."""


# --------------------------------------------------------------------- vocabulary

# MS-OXDSCLI §2.2.4: the outer namespace is the generic Autodiscover response
# schema, the inner one the Outlook schema. Both are ``http://``: Microsoft's
# web pages print ``https://``, which real servers never send (REFERENCE §2).
RESPONSE_NAMESPACE: Final = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
OUTLOOK_RESPONSE_SCHEMA: Final = RESPONSE_SCHEMA

# Where Exchange Online answers Autodiscover: the "explicit Office 365 endpoint"
# Outlook 2016+ calls directly (KB 3211279, the Office 365 "direct connect"
# step, switched off by ExcludeExplicitO365Endpoint). A redirect to it is
# where autodiscover.<domain> of a Microsoft 365 domain leads anyway.
M365_AUTODISCOVER_URL: Final = "https://autodiscover-s.outlook.com/autodiscover/autodiscover.xml"

_POX_TYPES: Final = {Protocol.IMAP: "IMAP", Protocol.POP3: "POP3", Protocol.SMTP: "SMTP"}

# MS-OXDSCLI §2.2.4.1.1.2.6: <Encryption> (None|SSL|TLS|Auto) overrides <SSL>,
# and TLS is STARTTLS. <SSL> is written too, for readers that predate
# <Encryption> (Outlook 2007): "on" for STARTTLS as well, so such a reader tries
# implicit TLS and fails, rather than log in without encryption.
_POX_SECURITY: Final = {
    Security.SSL: ("on", "SSL"),
    Security.STARTTLS: ("on", "TLS"),
    Security.PLAIN: ("off", "None"),
}

# Mozilla authentication words -> what Outlook can express. SPA ("Secure
# Password Authentication") is Outlook's name for NTLM/Kerberos.
_NO_AUTH: Final = frozenset({"none", "client-IP-address"})
_SPA_AUTH: Final = frozenset({"NTLM", "GSSAPI"})


# --------------------------------------------------------------------- Autodiscover


def render_autodiscover(plan_or_domain: AccountPlan | DomainConfig) -> str:
    """A POX Autodiscover response (MS-OXDSCLI §2.2.4) for a person or a whole domain.

    * IMAP/POP3 person: the incoming then the outgoing server, with the
      person's ``LoginName``.
    * Domain (:class:`DomainConfig`): every server in preference order, with
      **no** ``LoginName``. POX has no placeholders (unlike Mozilla's
      ``%EMAILADDRESS%``), and a domain file serves every user: without
      ``LoginName`` Outlook, like Thunderbird (``ExchangeAutoDiscover.sys.mjs``:
      ``username || "%EMAILADDRESS%"``), signs in with the address the user
      typed. When the servers want another user name (``%EMAILLOCALPART%``), a
      comment in the file says so: the user must correct it when Outlook asks.
    * Exchange person: a redirect, or settings. A static file cannot carry what
      Outlook 2016+ needs to open an Exchange mailbox (the per-mailbox
      ``EXCH`` server GUID, the MAPI/HTTP URLs), which only the server's own
      Autodiscover answers; so the file sends Outlook straight there with
      ``Action=redirectUrl`` when that URL is known - for Microsoft 365 it is
      :data:`M365_AUTODISCOVER_URL`. Otherwise it states what is known: an
      ``EXPR`` (Outlook Anywhere) protocol with ``Server``, ``SSL``, ``EwsUrl``
      and ``ASUrl``.

    ``ASUrl`` is the *Availability* service URL (MS-OXDSCLI, "ASUrl (POX)":
    "the best endpoint instance of Exchange Availability Web Services"), which
    Exchange serves at the EWS URL; it is not ActiveSync, which the Outlook
    schema cannot express (ActiveSync has its own "mobilesync" schema).

    Text is XML-escaped; characters XML 1.0 cannot carry (C0 controls other
    than tab/LF/CR, lone surrogates, U+FFFE/U+FFFF) are dropped. Same input,
    same bytes.
    """
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        f'<Autodiscover xmlns="{RESPONSE_NAMESPACE}">',
    ]
    lines.append(f'  <Response xmlns="{OUTLOOK_RESPONSE_SCHEMA}">')
    if isinstance(plan_or_domain, DomainConfig):
        lines += _domain_account(plan_or_domain)
    else:
        lines += _plan_user(plan_or_domain)
        if plan_or_domain.protocol == "exchange":
            lines += _exchange_account(plan_or_domain)
        else:
            lines += _mail_account(plan_or_domain)
    lines += ["  </Response>", "</Autodiscover>", ""]
    return "\n".join(lines)


def _plan_user(plan: AccountPlan) -> list[str]:
    out = ["    <User>"]
    if plan.full_name.strip():
        out.append(_elem(6, "DisplayName", plan.full_name))
    out += [_elem(6, "AutoDiscoverSMTPAddress", plan.email), "    </User>"]
    return out


def _mail_account(plan: AccountPlan) -> list[str]:
    if plan.incoming is None or plan.outgoing is None:
        raise OutlookExportError(
            f"the {plan.protocol.upper()} plan for {plan.email} names no incoming or no outgoing"
            " server"
        )
    out = _account_head("settings")
    out += _protocol(plan.incoming, login=plan.incoming.username or None)
    out += _protocol(
        plan.outgoing,
        login=plan.outgoing.username or None,
        pop_auth=_same_login(plan.incoming, plan.outgoing),
    )
    return [*out, "    </Account>"]


def _domain_account(config: DomainConfig) -> list[str]:
    if not config.incoming or not config.outgoing:
        raise OutlookExportError(
            f"the domain {config.domain} has no incoming or no outgoing server"
        )
    out: list[str] = []
    others = sorted({s.username for s in (*config.incoming, *config.outgoing)} - {"%EMAILADDRESS%"})
    if others:
        # Comments must not hold "--" or user data: a fixed text per case.
        wanted = (
            "only the part of the address before the @"
            if others == ["%EMAILLOCALPART%"]
            else "a user name other than the e-mail address"
        )
        out.append(
            f"    <!-- No LoginName: POX has no placeholders, so Outlook signs in with the"
            f" address. These servers want {wanted}: correct it when Outlook asks. -->"
        )
    out += _account_head("settings")
    first_in = config.incoming[0]
    for server in config.incoming:
        out += _protocol(server, login=None)
    for server in config.outgoing:
        out += _protocol(server, login=None, pop_auth=_same_login(first_in, server))
    return [*out, "    </Account>"]


def _exchange_account(plan: AccountPlan) -> list[str]:
    ex = plan.exchange or ExchangeSetting()
    redirect = _exchange_redirect(plan, ex)
    if redirect is not None:
        return [
            *_account_head("redirectUrl"),
            _elem(6, "RedirectUrl", redirect),
            "    </Account>",
        ]
    host = ex.server or _url_host(ex.ews_url) or _url_host(ex.activesync_url)
    if host is None:
        raise OutlookExportError(
            f"no Exchange server is known for {plan.email}: nothing to write in an Autodiscover"
            " file (let Outlook find it: File > Add Account)"
        )
    out = [*_account_head("settings"), "      <Protocol>", _elem(8, "Type", "EXPR")]
    out.append(_elem(8, "Server", host))
    if ex.ews_url:
        out += [_elem(8, "ASUrl", ex.ews_url), _elem(8, "EwsUrl", ex.ews_url)]
    out += [_elem(8, "SSL", "on"), "      </Protocol>", "    </Account>"]
    return out


def _exchange_redirect(plan: AccountPlan, ex: ExchangeSetting) -> str | None:
    if is_microsoft365(plan):
        return M365_AUTODISCOVER_URL
    url = ex.autodiscover_url
    # A client follows a redirectUrl to https only (REFERENCE §2: https after
    # the redirect GET, certificate checked on every hop): an http URL (the
    # redirect-GET candidate) is no answer to hand Outlook.
    if url and urlsplit(url).scheme.lower() == "https" and urlsplit(url).hostname:
        return url
    return None


def _account_head(action: str) -> list[str]:
    return [
        "    <Account>",
        _elem(6, "AccountType", "email"),
        _elem(6, "Action", action),
    ]


def _protocol(server: ServerSetting, *, login: str | None, pop_auth: bool = False) -> list[str]:
    """One ``<Protocol>``, children in the order of MS-OXDSCLI's Protocol syntax."""
    ssl, encryption = _POX_SECURITY[server.security]
    needs_auth = server.auth not in _NO_AUTH
    out = [
        "      <Protocol>",
        _elem(8, "Type", _POX_TYPES[server.protocol]),
        _elem(8, "Server", server.hostname),
        _elem(8, "Port", str(server.port)),
    ]
    if login is not None:
        out.append(_elem(8, "LoginName", login))
    out += [
        _elem(8, "DomainRequired", "off"),
        _elem(8, "SPA", _on(server.auth in _SPA_AUTH)),
        _elem(8, "SSL", ssl),
        _elem(8, "Encryption", encryption),
        _elem(8, "AuthRequired", _on(needs_auth)),
    ]
    if server.protocol is Protocol.SMTP and needs_auth:
        # "Use same settings as my incoming mail server" (UsePOPAuth, MS-OXDSCLI).
        out.append(_elem(8, "UsePOPAuth", _on(pop_auth)))
    out.append("      </Protocol>")
    return out


def _same_login(incoming: ServerSetting, outgoing: ServerSetting) -> bool:
    return (
        incoming.username == outgoing.username
        and incoming.auth not in _NO_AUTH
        and outgoing.auth not in _NO_AUTH
    )


def is_microsoft365(plan: AccountPlan) -> bool:
    """The mailbox is in Exchange Online (by the domain's signals or the Exchange facts)."""
    return plan.on_microsoft365 or (
        plan.exchange is not None and plan.exchange.hosted == "microsoft365"
    )


def _on(flag: bool) -> str:
    return "on" if flag else "off"


# XML 1.0 §2.2 Char: what a document may contain at all.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str) -> str:
    """``value`` as XML character data: escaped, and without characters XML cannot hold.

    A carriage return is written ``&#13;`` so that it survives the parser's
    end-of-line normalisation.
    """
    return escape(_NOT_XML_CHAR.sub("", value), {"\r": "&#13;"})


def _elem(indent: int, name: str, value: str) -> str:
    return f"{' ' * indent}<{name}>{xml_text(value)}</{name}>"


def _url_host(url: str | None) -> str | None:
    if not url:
        return None
    try:
        return urlsplit(url).hostname or None
    except ValueError:
        return None


# --------------------------------------------------------------------- .reg

AUTODISCOVER_KEY: Final = r"HKEY_CURRENT_USER\Software\Microsoft\Office\16.0\Outlook\AutoDiscover"
REG_HEADER: Final = "Windows Registry Editor Version 5.00"
_REG_HIVES: Final = (
    "HKEY_CURRENT_USER",
    "HKEY_LOCAL_MACHINE",
    "HKEY_CLASSES_ROOT",
    "HKEY_USERS",
    "HKEY_CURRENT_CONFIG",
)


def render_reg(
    domain: str,
    xml_path: str,
    *,
    on_microsoft365: bool,
    exchange: bool,
    root_domain_is_website: bool = False,
) -> str:
    """The ``.reg`` text (CRLF lines) that makes classic Outlook read ``xml_path`` first.

    Values under :data:`AUTODISCOVER_KEY` (16.0 is Outlook 2016 and every later
    version), each from "Outlook 2016 implementation of Autodiscover"
    (support.microsoft.com/help/3211279), whose steps are named:

    * ``PreferLocalXML=1`` ("local data preference", the step right after the
      restart shortcut): read the local file before any lookup.
    * ``"<domain>"="<path>"``: the file for addresses at ``domain``. An IDN
      domain gets one value per spelling (punycode and Unicode): which one
      Outlook looks up depends on how the user typed the address.
    * ``ExcludeExplicitO365Endpoint=1`` when the domain is not on Microsoft 365
      (the Office 365 "direct connect" step): Outlook would otherwise ask
      Microsoft 365 first whatever DNS says - should the file ever be
      unreadable - and can land in the wrong place for a mailbox elsewhere.
    * ``ExcludeHttpsRootDomain=1`` only when the caller knows that
      ``https://<domain>/`` is a web site (``root_domain_is_website``; the
      "HTTPS root domain" step): such sites answer slowly, with HTML or a
      certificate warning.

    Deliberately left alone (conservative): ``ExcludeScpLookup`` (SCP lookup) -
    on a domain-joined PC the Active Directory SCP is the authoritative source for
    on-premises Exchange, and off a domain it fails at once;
    ``ExcludeHttpsAutoDiscoverDomain``, ``ExcludeHttpRedirect``,
    ``ExcludeSrvRecord`` and ``ExcludeLastKnownGoodUrl`` (the later steps) -
    they are the fallbacks if the file is ever unreadable, and with the file read
    first they cost nothing. ``exchange`` therefore changes nothing today; it
    is kept so that the policy can change in one place.

    Header: ``Windows Registry Editor Version 5.00`` is the Unicode format
    (``REGEDIT4`` is ANSI-only, for Windows 98/NT 4; KB 310516); write it with
    :func:`render_reg_bytes`. Strings escape ``\\`` and ``"`` as regedit does.
    """
    del exchange  # see the docstring: the same conservative set for every account type
    from advisor.address import normalise_domain

    ascii_name, unicode_name = normalise_domain(domain)
    if not xml_path or any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in xml_path):
        raise OutlookExportError(f"{xml_path!r} is not a file path the registry can hold")
    lines = [
        REG_HEADER,
        "",
        "; Classic Outlook (2016 and later): read the Autodiscover file below first for",
        "; addresses at this domain (support.microsoft.com/help/3211279). No password here.",
        f"[{AUTODISCOVER_KEY}]",
        '"PreferLocalXML"=dword:00000001',
    ]
    for name in dict.fromkeys((ascii_name, unicode_name)):
        lines.append(f"{_reg_string(name)}={_reg_string(xml_path)}")
    if not on_microsoft365:
        lines.append('"ExcludeExplicitO365Endpoint"=dword:00000001')
    if root_domain_is_website:
        lines.append('"ExcludeHttpsRootDomain"=dword:00000001')
    lines.append("")
    return "\r\n".join(lines) + "\r\n"


def render_reg_bytes(
    domain: str,
    xml_path: str,
    *,
    on_microsoft365: bool,
    exchange: bool,
    root_domain_is_website: bool = False,
) -> bytes:
    """:func:`render_reg` as regedit writes it: UTF-16 LE with a byte-order mark.

    That is the only encoding in which a Version 5.00 file carries any path
    (``C:\\Users\\Zoë\\...``) intact; regedit reads an 8-bit file in the ANSI
    code page of the machine.
    """
    text = render_reg(
        domain,
        xml_path,
        on_microsoft365=on_microsoft365,
        exchange=exchange,
        root_domain_is_website=root_domain_is_website,
    )
    return codecs.BOM_UTF16_LE + text.encode("utf-16-le")


def _reg_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class RegFormatError(AdvisorError):
    """Text that is not a ``.reg`` file this module would write."""


_REG_VALUE = re.compile(r'("(?:[^"\\]|\\.)*"|@)=(.*)')
_REG_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_REG_DWORD = re.compile(r"dword:([0-9a-fA-F]{8})")


def parse_reg(text: str) -> dict[tuple[str, str], str | int]:
    """Read a ``.reg`` file strictly: ``{(key, value name): str | int}``.

    Accepted: the Version 5.00 header (a leading BOM is ignored), blank lines,
    ``;`` comments, ``[key]`` lines under a known hive, and ``"name"=`` or
    ``@=`` values of type string (``"..."``) or ``dword:XXXXXXXX``. Anything
    else - other types, deletions, a value before any key, a repeated value -
    raises :class:`RegFormatError`: this reads our own output back in tests.
    """
    lines = text.removeprefix("\ufeff").splitlines()
    if not lines or lines[0] != REG_HEADER:
        raise RegFormatError(f"the first line is not {REG_HEADER!r}")
    values: dict[tuple[str, str], str | int] = {}
    key: str | None = None
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        if line.startswith("["):
            if not line.endswith("]") or line.startswith("[-"):
                raise RegFormatError(f"line {number}: not a key line: {line!r}")
            key = line[1:-1]
            if key.split("\\", 1)[0] not in _REG_HIVES:
                raise RegFormatError(f"line {number}: unknown hive in {key!r}")
            continue
        match = _REG_VALUE.fullmatch(line)
        if match is None:
            raise RegFormatError(f"line {number}: not a value line: {line!r}")
        if key is None:
            raise RegFormatError(f"line {number}: a value before any [key]")
        raw_name, raw_value = match.groups()
        name = "" if raw_name == "@" else _reg_unescape(raw_name[1:-1])
        value: str | int
        if string := _REG_STRING.fullmatch(raw_value):
            value = _reg_unescape(string.group(1))
        elif dword := _REG_DWORD.fullmatch(raw_value):
            value = int(dword.group(1), 16)
        else:
            raise RegFormatError(f"line {number}: unsupported value {raw_value!r}")
        if (key, name) in values:
            raise RegFormatError(f"line {number}: {name!r} is set twice in {key!r}")
        values[(key, name)] = value
    return values


def _reg_unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


# --------------------------------------------------------------------- PRF

# Office Resource Kit, PRF file sections 1-7 ("Customize Outlook profiles by
# using an Outlook Profile (PRF) file"; the OCT-generated template). Section 7
# maps each [Account1] key to the MAPI property the account manager stores,
# documented in the Outlook Auxiliary Reference (Account Management API,
# PROP_* pages); only the keys written here are mapped.
_PRF_ACCOUNT_LIST: Final = {Protocol.IMAP: "IMAP_I_Mail", Protocol.POP3: "I_Mail"}
_PRF_ACCOUNT_TYPE: Final = {Protocol.IMAP: "IMAP", Protocol.POP3: "POP3"}
_PRF_MAPPING: Final = {
    "AccountName": "PT_UNICODE,0x0002",  # PROP_ACCT_NAME
    "DisplayName": "PT_UNICODE,0x000B",  # PROP_ACCT_USER_DISPLAY_NAME
    "EmailAddress": "PT_UNICODE,0x000C",  # PROP_ACCT_USER_EMAIL_ADDR
    "Server": "PT_UNICODE,0x0100",  # PROP_INET_SERVER
    "UserName": "PT_UNICODE,0x0101",  # PROP_INET_USER
    "Port": "PT_LONG,0x0104",  # PROP_INET_PORT
    "UseSSL": "PT_LONG,0x0105",  # PROP_INET_SSL
    "UseSPA": "PT_LONG,0x0108",  # PROP_INET_USE_SPA
    "SMTPServer": "PT_UNICODE,0x0200",  # PROP_SMTP_SERVER
    "SMTPPort": "PT_LONG,0x0201",  # PROP_SMTP_PORT
    "SMTPUseAuth": "PT_LONG,0x0203",  # PROP_SMTP_USE_AUTH
    "SMTPUserName": "PT_UNICODE,0x0204",  # PROP_SMTP_USER
    "SMTPUseSPA": "PT_LONG,0x0207",  # PROP_SMTP_USE_SPA
    "SMTPAuthMethod": "PT_LONG,0x0208",  # PROP_SMTP_AUTH_METHOD
    "SMTPSecureConnection": "PT_LONG,0x020A",  # PROP_SMTP_SECURE_CONNECTION
    "ConnectionType": "PT_LONG,0x000F",
    "LeaveOnServer": "PT_LONG,0x1000",  # PROP_POP_LEAVE_ON_SERVER
}

# PROP_SMTP_SECURE_CONNECTION: ENCRYPT_CONN_NO_SECURITY 0, _SSL 1, _TLS 2,
# _AUTO 3 (Account Management API constants). TLS is STARTTLS, as in Outlook's
# "Use the following type of encrypted connection" list.
SMTP_SECURE_CONNECTION: Final = {Security.PLAIN: 0, Security.SSL: 1, Security.STARTTLS: 2}
# PROP_INET_SSL (IMAPUseSSL/POP3UseSSL) is documented only as "zero: no SSL,
# otherwise SSL". Since Outlook 2010 the incoming server has the same
# None/SSL/TLS/Auto list as SMTP, so STARTTLS is written 2 (ENCRYPT_CONN_TLS).
# If a build reads the value as a plain boolean, 2 still means "encrypt": the
# account then tries implicit TLS and fails - it never logs in unencrypted.
# 0 is written only for a server the plan says is plain.
INCOMING_USE_SSL: Final = SMTP_SECURE_CONNECTION

# PROP_SMTP_AUTH_METHOD: SMTP_AUTH_SAME_AS_POP 0, SMTP_AUTH_USER_PASS 1.
_SMTP_AUTH_SAME_AS_INCOMING: Final = 0
_SMTP_AUTH_USER_PASS: Final = 1

# PROP_POP_LEAVE_ON_SERVER flags (Account Management API constants):
# LEAVE_ON_SERVER 0x1, REMOVE_AFTER 0x2 (with the days in the high word,
# SET_REMOVE_AFTER_DAYS(d) = d << 16), REMOVE_ON_NUKE 0x4 (not used: deleting
# a message in Outlook should not silently delete it on the server too).
LEAVE_ON_SERVER: Final = 0x1
REMOVE_AFTER: Final = 0x2
_MAX_KEEP_DAYS: Final = 0xFFFF  # the high word


def leave_on_server_value(leave: bool, keep_days: int | None) -> int:
    """The PRF ``LeaveOnServer`` value: 0 (download and delete), 0x1, or 0x3 + days."""
    if not leave:
        return 0
    if keep_days is None:
        return LEAVE_ON_SERVER
    if not 1 <= keep_days <= _MAX_KEEP_DAYS:
        raise OutlookExportError(f"keep {keep_days} days on the server: expected 1 to 65535")
    return LEAVE_ON_SERVER | REMOVE_AFTER | (keep_days << 16)


def render_prf(plan: AccountPlan) -> str:
    """A PRF for ``outlook.exe /importprf`` (classic Outlook), IMAP or POP3; CRLF lines.

    ``[General]`` appends to the default profile (``OverwriteProfile=Append``,
    ``ModifyDefaultProfileIfPresent=TRUE``) or creates one named "Outlook".
    No data-file service is listed: Outlook creates the account's own store,
    which is what an IMAP account needs and what lets a POP3 account bind to
    the default data file. No password key exists in the format.

    A plan whose sign-in is OAuth2 is written as a password account (PRF has
    no OAuth2 setting), with a comment: classic Outlook then opens the
    provider's sign-in window itself for the providers it knows (Microsoft,
    Google); elsewhere an app password is needed.
    """
    if plan.protocol == "exchange":
        raise OutlookExportError(
            "Outlook does not support PRF files for Exchange accounts since Outlook 2016:"
            " add the account with File > Add Account"
        )
    incoming, outgoing = plan.incoming, plan.outgoing
    if incoming is None or outgoing is None or incoming.protocol not in _PRF_ACCOUNT_LIST:
        raise OutlookExportError(
            f"the {plan.protocol.upper()} plan for {plan.email} names no incoming or no outgoing"
            " server"
        )
    kind = _PRF_ACCOUNT_TYPE[incoming.protocol]  # "IMAP" or "POP3": the key prefix
    account: list[tuple[str, str]] = [
        ("UniqueService", "No"),
        ("AccountName", plan.email),
        ("DisplayName", plan.full_name),
        ("EmailAddress", plan.email),
        (f"{kind}Server", incoming.hostname),
        (f"{kind}UserName", incoming.username),
        (f"{kind}UseSPA", _flag(incoming.auth in _SPA_AUTH)),
        (f"{kind}Port", str(incoming.port)),
        (f"{kind}UseSSL", str(INCOMING_USE_SSL[incoming.security])),
    ]
    if incoming.protocol is Protocol.POP3:
        leave = leave_on_server_value(plan.pop3_leave_on_server, plan.pop3_keep_days)
        account.append(("LeaveOnServer", f"0x{leave:X}"))
    smtp_auth = outgoing.auth not in _NO_AUTH
    account += [("SMTPServer", outgoing.hostname), ("SMTPUseAuth", _flag(smtp_auth))]
    if smtp_auth:
        if _same_login(incoming, outgoing):
            account.append(("SMTPAuthMethod", str(_SMTP_AUTH_SAME_AS_INCOMING)))
        else:
            account += [
                ("SMTPAuthMethod", str(_SMTP_AUTH_USER_PASS)),
                ("SMTPUserName", outgoing.username),
            ]
        account.append(("SMTPUseSPA", _flag(outgoing.auth in _SPA_AUTH)))
    account += [
        ("SMTPPort", str(outgoing.port)),
        ("SMTPSecureConnection", str(SMTP_SECURE_CONNECTION[outgoing.security])),
        ("ConnectionType", "0"),  # LAN, not dial-up
    ]
    # An empty value would blank Outlook's own default (DisplayName: Outlook
    # asks for "Your name"); ReplyEmailAddress is never written: replies go to
    # EmailAddress unless the user sets another address.
    account = [(key, value) for key, value in account if _prf_value(value)]

    section = _PRF_ACCOUNT_LIST[incoming.protocol]
    lines = [
        f"; Outlook profile file (PRF) for {_prf_value(plan.email)}: classic Outlook only.",
        '; Import it with: outlook.exe /importprf "<folder>\\<this file>.prf"',
        "; No password is stored: Outlook asks for it the first time it connects.",
    ]
    if "OAuth2" in (incoming.auth, outgoing.auth):
        lines += [
            "; This provider signs in with OAuth2, which a PRF cannot state: Outlook opens",
            "; the provider's sign-in window for Microsoft and Google accounts; for others",
            "; create an app password at the provider and enter it when Outlook asks.",
        ]
    lines += [
        "",
        "[General]",
        "Custom=1",
        "ProfileName=Outlook",
        "DefaultProfile=Yes",
        "OverwriteProfile=Append",
        "ModifyDefaultProfileIfPresent=TRUE",
        "",
        "[Service List]",
        "ServiceX=Microsoft Outlook Client",
        "",
        "[Internet Account List]",
        f"Account1={section}",
        "",
        "[Account1]",
        *(f"{key}={_prf_value(value)}" for key, value in account),
        "",
        "; Mapping for profile properties (section 6 of the Office template).",
        "[Microsoft Outlook Client]",
        "SectionGUID=0a0d020000000000c000000000000046",
        "",
        "; Mapping for internet account properties (section 7). Do not modify.",
        f"[{section}]",
        f"AccountType={_PRF_ACCOUNT_TYPE[incoming.protocol]}",
        *_prf_mapping(key for key, _ in account),
        "",
    ]
    return "\r\n".join(lines)


def render_prf_bytes(plan: AccountPlan) -> bytes:
    """:func:`render_prf` as UTF-16 LE with a byte-order mark.

    A PRF is an INI file; Windows' INI reader takes a UTF-16 file with a BOM as
    Unicode and any other file in the machine's ANSI code page, so this is the
    encoding in which a name like "Zoë" or "Jörg" arrives intact.
    """
    return codecs.BOM_UTF16_LE + render_prf(plan).encode("utf-16-le")


def _prf_mapping(keys: Iterable[str]) -> list[str]:
    out = []
    for key in keys:
        if key == "UniqueService":  # a directive of the importer, not a property
            continue
        generic = re.sub(r"^(IMAP|POP3)", "", key)
        out.append(f"{key}={_PRF_MAPPING[key if key in _PRF_MAPPING else generic]}")
    return out


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _prf_value(value: str) -> str:
    """One INI line: no line breaks, no edge spaces (INI readers strip them anyway)."""
    return " ".join(_NOT_XML_CHAR.sub("", value).splitlines()).strip()


# --------------------------------------------------------------------- steps


def outlook_exchange_steps(plan: AccountPlan) -> list[str]:
    """What to click in classic Outlook for an Exchange account (there is no PRF)."""
    if plan.protocol != "exchange":
        raise ValueError("outlook_exchange_steps() is for Exchange plans")
    m365 = is_microsoft365(plan)
    steps = []
    if not m365:
        steps.append(
            "Optional, makes the next steps quick and reliable: copy the Autodiscover file to the"
            " folder the .reg file names, then double-click the .reg file and confirm."
        )
    steps += [
        "Classic Outlook: File > Add Account (for a new profile: Control Panel > Mail >"
        " Show Profiles > Add).",
        f"Type {plan.email} and choose Connect: Outlook finds the server by itself (Autodiscover).",
    ]
    if m365:
        steps.append(
            "Sign in on the Microsoft page that opens, with your work or school account"
            " (and the second factor if your organisation uses one)."
        )
    else:
        steps.append(
            "When Windows asks, sign in with your network password; the user name is"
            f" {plan.email} or DOMAIN\\name, as your administrator says."
        )
        ews = plan.exchange.ews_url if plan.exchange else None
        if ews:
            steps.append(
                "If Outlook cannot find the server: Outlook 2016 and later has no manual Exchange"
                f" setup; give your administrator this Exchange Web Services address: {ews}"
            )
    steps.append("Restart Outlook when it asks, and let it download your mailbox.")
    return steps


def new_outlook_steps(plan: AccountPlan) -> list[str]:
    """What to click in new Outlook for Windows, which reads no PRF, .reg or XML file."""
    steps = [
        "New Outlook for Windows ignores the PRF, .reg and Autodiscover files: add the account"
        " by hand.",
        "Settings (gear icon) > Accounts > Email accounts > Add account.",
        f"Type {plan.email} and choose Continue.",
    ]
    if plan.protocol == "exchange":
        if is_microsoft365(plan):
            return [*steps, "Sign in on the Microsoft page that opens."]
        return [
            "New Outlook for Windows cannot add an on-premises Exchange mailbox: use classic"
            " Outlook, or Outlook on the web of your organisation.",
        ]
    incoming, outgoing = plan.incoming, plan.outgoing
    if incoming is None or outgoing is None:
        raise OutlookExportError(f"the plan for {plan.email} names no incoming or outgoing server")
    kind = _PRF_ACCOUNT_TYPE[incoming.protocol]
    steps += [
        f"If Outlook offers a provider sign-in, use it; otherwise choose {kind} and fill in:",
        f"  incoming: {incoming.hostname}, port {incoming.port}, {_security_words(incoming)},"
        f" user name {incoming.username or plan.email}",
        f"  outgoing (SMTP): {outgoing.hostname}, port {outgoing.port},"
        f" {_security_words(outgoing)}, user name {outgoing.username or plan.email}",
        "Enter your password (or an app password) when asked, then Continue.",
        f"Note: new Outlook syncs {kind} mail through Microsoft's cloud: your password and"
        " your mail pass through Microsoft's servers.",
    ]
    if kind == "POP3":
        steps.append("If POP is not offered in your version of new Outlook, use classic Outlook.")
    return steps


def _security_words(server: ServerSetting) -> str:
    return {
        Security.SSL: "encryption SSL/TLS",
        Security.STARTTLS: "encryption STARTTLS",
        Security.PLAIN: "no encryption",
    }[server.security]
