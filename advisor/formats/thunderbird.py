"""Thunderbird's two import formats: autoconfig XML and a profile ``user.js``.

Both renderers are pure: values in, text out, deterministic (golden-tested).

**Autoconfig** (:func:`render_autoconfig`): a ``clientConfig version="1.1"``
document for Thunderbird's ``<installdir>/isp/`` folder, or for a domain admin
to host at ``https://autoconfig.D/mail/config-v1.1.xml``. It follows the
structure of the IETF draft's RELAX NG schema (benbucksch/autoconfig-spec
``autoconfig.rng``) and what Thunderbird's reader accepts (comm-central
``mail/components/accountcreation/modules/readFromXML.sys.mjs``):

* ``<oAuth2>`` is a child of ``<clientConfig>``: the schema does not allow it
  inside ``<emailProvider>``. Thunderbird itself ignores it (it signs in with
  OAuth2 only to hosts on its built-in ``OAuth2Providers`` list); it is for the
  draft's clients.
* ``socketType`` and ``authentication`` are written in Thunderbird's exact
  spelling (``SSL``, ``STARTTLS``, ``plain``; ``OAuth2``): its
  ``Sanitizer.translate`` compares case-sensitively.
* Thunderbird has no element for "never delete POP3 mail by age": with
  ``pop3_keep_days=None`` the file omits ``daysToLeaveMessagesOnServer`` and
  Thunderbird applies its own default (14 days); ``user.js`` can say "keep".
* Every value is XML-escaped (host and display names come from servers on the
  network). Characters XML 1.0 cannot carry at all (most C0 controls, lone
  surrogates, U+FFFE/U+FFFF) become U+FFFD, so the output is always
  well-formed. Values are otherwise written as given: ``advisor lint`` judges
  them.

**user.js** (:func:`render_user_js`): one IMAP or POP3 account with its
identity and SMTP server, as Thunderbird's ``CreateInBackend.sys.mjs`` would
store it. Pref names: ``mailnews/mailnews.js`` and ``nsMsgIdentity.cpp``
(``useremail``, ``fullName``, ``smtpServer``, ``valid``), the SMTP server's
``SmtpServer.sys.mjs`` (``try_ssl``, ``authMethod``, ``username``, ``type``) and
``OutgoingServerService.sys.mjs`` (``mail.smtpservers``,
``mail.smtp.defaultserver``). Numbers: :data:`SOCKET_TYPE_PREF` and
:data:`AUTH_METHOD_PREF`. Not written, on purpose:

* no Local Folders account: at start-up Thunderbird creates it when an IMAP or
  POP3 account exists and ``mail.accountmanager.localfoldersserver`` is unset
  (``mail/base/content/messenger.js`` ``verifyExistingAccounts()``);
* no Sent/Drafts/Templates folder URIs: ``nsMsgIdentity::getOrCreateFolder``
  finds or creates them on the account's own server when the prefs are empty;
* never a password: Thunderbird asks at the first connection.

Thunderbird re-applies ``user.js`` at every start, so the file is meant for a
new profile, started once, after which the file is deleted (its header says
so): kept, it would reset later changes and hide accounts added afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from advisor.formats.plan import AccountPlan, DomainConfig, OAuth2Setting, ServerSetting
from advisor.models import Protocol, Security

# --- vocabulary tables -----------------------------------------------------------

# <socketType> (wiki ConfigFileFormat; readFromXML.sys.mjs maps exactly these).
SOCKET_TYPE_XML: Final[Mapping[Security, str]] = {
    Security.SSL: "SSL",
    Security.STARTTLS: "STARTTLS",
    Security.PLAIN: "plain",
}

# nsMsgSocketType, comm-central mailnews/base/public/MailNewsTypes2.idl:
# plain = 0, alwaysSTARTTLS = 2, SSL = 3 (1, trySTARTTLS, was removed).
# mail.server.*.socketType and mail.smtpserver.*.try_ssl use the same numbers.
SOCKET_TYPE_PREF: Final[Mapping[Security, int]] = {
    Security.PLAIN: 0,
    Security.STARTTLS: 2,
    Security.SSL: 3,
}

# nsMsgAuthMethod, comm-central mailnews/base/public/MailNewsTypes2.idl:
# none = 1, old = 2, passwordCleartext = 3, passwordEncrypted = 4, GSSAPI = 5,
# NTLM = 6, External = 7 (TLS client certificate), secure = 8 (migration only),
# anything = 9, OAuth2 = 10. client-IP-address maps to none as readFromXML does
# for outgoing servers ("inside ISP or corp network").
AUTH_METHOD_PREF: Final[Mapping[str, int]] = {
    "none": 1,
    "client-IP-address": 1,
    "password-cleartext": 3,
    "password-encrypted": 4,
    "GSSAPI": 5,
    "NTLM": 6,
    "TLS-client-cert": 7,
    "OAuth2": 10,
}

# Mozilla vocabulary written into <authentication> (advisor.formats.plan);
# "SASL <MECH>" is the draft's form for one named mechanism.
_XML_AUTH = frozenset(AUTH_METHOD_PREF)
_SASL_AUTH = re.compile(r"SASL [A-Z0-9_-]{1,20}")

_INCOMING = (Protocol.IMAP, Protocol.POP3)

# Placeholders Thunderbird fills in a clientConfig, never in prefs.
_PLACEHOLDER = re.compile(r"%(?:EMAILADDRESS|EMAILLOCALPART|EMAILDOMAIN|REALNAME)%")


# --- autoconfig XML ----------------------------------------------------------------

# XML 1.0 §2.2 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
# In attributes, whitespace characters are escaped too: a parser would
# normalise a literal tab or newline to a space (XML 1.0 §3.3.3).
_ATTR_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "\t": "&#9;",
        "\n": "&#10;",
        "\r": "&#13;",
    }
)


def _xml_text(value: str) -> str:
    return _NOT_XML_CHAR.sub("\ufffd", value).translate(_TEXT_ESCAPES)


def _xml_attr(value: str) -> str:
    return _NOT_XML_CHAR.sub("\ufffd", value).translate(_ATTR_ESCAPES)


class _Xml:
    """A tiny indenting writer: elements in the order they are written."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.depth = 0

    def open(self, name: str, **attrs: str) -> None:
        self.lines.append(f"{'  ' * self.depth}<{name}{_attributes(attrs)}>")
        self.depth += 1

    def close(self, name: str) -> None:
        self.depth -= 1
        self.lines.append(f"{'  ' * self.depth}</{name}>")

    def leaf(self, name: str, text: str, **attrs: str) -> None:
        self.lines.append(
            f"{'  ' * self.depth}<{name}{_attributes(attrs)}>{_xml_text(text)}</{name}>"
        )

    def empty(self, name: str, **attrs: str) -> None:
        self.lines.append(f"{'  ' * self.depth}<{name}{_attributes(attrs)}/>")


def _attributes(attrs: Mapping[str, str]) -> str:
    return "".join(f' {name}="{_xml_attr(value)}"' for name, value in attrs.items())


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def _check_server(server: ServerSetting, allowed: Iterable[Protocol], side: str) -> None:
    if server.protocol not in allowed:
        raise ValueError(f"{side} server {server.hostname!r} has protocol {server.protocol}")
    if not 1 <= server.port <= 65535:
        raise ValueError(f"{side} server {server.hostname!r} has port {server.port}")
    for auth in (server.auth, *server.also_auth):
        if auth not in _XML_AUTH and not _SASL_AUTH.fullmatch(auth):
            raise ValueError(f"{side} server {server.hostname!r}: unknown authentication {auth!r}")


def render_autoconfig(config: DomainConfig) -> str:
    """The ``clientConfig version="1.1"`` document for ``config``, servers in its order.

    Raises :class:`ValueError` for what no file can express (no incoming or
    no outgoing server, a server of the wrong protocol, a port outside
    1-65535, an authentication word outside the Mozilla vocabulary).
    """
    if not config.incoming or not config.outgoing:
        # readFromXML: "Need proper <incomingServer>/<outgoingServer> in XML file".
        raise ValueError("an autoconfig file needs at least one incoming and one outgoing server")
    for server in config.incoming:
        _check_server(server, _INCOMING, "incoming")
    for server in config.outgoing:
        _check_server(server, (Protocol.SMTP,), "outgoing")

    xml = _Xml()
    xml.open("clientConfig", version="1.1")
    xml.open("emailProvider", id=config.provider_id)
    xml.leaf("domain", config.domain)
    xml.leaf("displayName", config.display_name or config.domain)
    xml.leaf("displayShortName", config.short_name or config.display_name or config.domain)
    for server in config.incoming:
        _server_xml(xml, "incomingServer", server, config)
    for server in config.outgoing:
        _server_xml(xml, "outgoingServer", server, config)
    if config.documentation_url:
        xml.empty("documentation", url=config.documentation_url)
    xml.close("emailProvider")
    if config.oauth2 is not None:
        _oauth2_xml(xml, config.oauth2)
    xml.close("clientConfig")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + "\n".join(xml.lines) + "\n"


def _server_xml(xml: _Xml, element: str, server: ServerSetting, config: DomainConfig) -> None:
    xml.open(element, type=server.protocol.value)
    xml.leaf("hostname", server.hostname)
    xml.leaf("port", str(server.port))
    xml.leaf("socketType", SOCKET_TYPE_XML[server.security])
    # Element order is preference order: OAuth2 first, then a password method
    # where the provider also accepts one (an app password).
    for auth in dict.fromkeys((server.auth, *server.also_auth)):
        xml.leaf("authentication", auth)
    xml.leaf("username", server.username)
    if server.protocol is Protocol.POP3:
        xml.open("pop3")
        xml.leaf("leaveMessagesOnServer", _bool_text(config.pop3_leave_on_server))
        if config.pop3_leave_on_server and config.pop3_keep_days is not None:
            xml.leaf("daysToLeaveMessagesOnServer", str(config.pop3_keep_days))
        xml.leaf("downloadOnBiff", "true")
        xml.close("pop3")
    xml.close(element)


def _oauth2_xml(xml: _Xml, oauth2: OAuth2Setting) -> None:
    xml.open("oAuth2")
    xml.leaf("issuer", oauth2.issuer)
    xml.leaf("scope", oauth2.scope)
    xml.leaf("authURL", oauth2.auth_url)
    xml.leaf("tokenURL", oauth2.token_url)
    if oauth2.client_id:
        xml.leaf("clientID", oauth2.client_id)
    xml.close("oAuth2")


# --- user.js: writing ----------------------------------------------------------------

PrefValue = str | int | bool

_USER_JS_HEADER = """\
// Thunderbird user.js written by mail-setup-advisor: one mail account.
// Only for a NEW, empty profile (thunderbird -CreateProfile "name folder"): it
// sets the profile's whole account list, so in a profile in use it would hide
// the other accounts. Put this file in the new profile folder, start Thunderbird
// once, then delete this file: Thunderbird applies user.js at every start.
// No password is stored here: Thunderbird asks for it at the first connection.
"""

# Printable ASCII other than the quote and the backslash stays as is; everything
# else is a \\uXXXX escape (modules/libpref/parser/src/lib.rs accepts \\" \\' \\\\
# \\n \\r \\xNN \\uNNNN and surrogate pairs; it refuses \\u0000 and \\x00).
_JS_PLAIN = re.compile(r"[ !#-\[\]-~]*")


def js_string(value: str) -> str:
    """``value`` as a double-quoted prefs-file string literal, pure ASCII.

    Non-ASCII text, control characters and U+2028/U+2029 (line terminators to
    JavaScript) become ``\\uXXXX`` escapes, astral characters surrogate pairs.
    U+0000 and lone surrogates cannot be stored in a pref (libpref refuses
    ``\\u0000``, and a lone surrogate is not Unicode text): they become U+FFFD.
    """
    out = ['"']
    i = 0
    while i < len(value):
        match = _JS_PLAIN.match(value, i)
        if match is not None and match.end() > i:
            out.append(match.group())
            i = match.end()
            continue
        char = value[i]
        i += 1
        if char == '"':
            out.append('\\"')
        elif char == "\\":
            out.append("\\\\")
        else:
            code = ord(char)
            if code == 0 or 0xD800 <= code <= 0xDFFF:
                code = 0xFFFD
            if code > 0xFFFF:
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
    out.append('"')
    return "".join(out)


def _js_value(value: PrefValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if not -(2**31) <= value < 2**31:
            raise ValueError(f"pref integer {value} outside the 32-bit range libpref accepts")
        return str(value)
    return js_string(value)


def _user_pref(name: str, value: PrefValue) -> str:
    return f"user_pref({js_string(name)}, {_js_value(value)});"


def thunderbird_supports(plan: AccountPlan) -> tuple[bool, str]:
    """Whether :func:`render_user_js` can write this account, and one line saying why."""
    if plan.protocol == "exchange":
        if plan.on_microsoft365:
            return (
                False,
                "Thunderbird gets no user.js for Exchange: for Microsoft 365 use IMAP with"
                " OAuth2 (--protocol imap), which Thunderbird supports; its built-in Exchange"
                " (EWS) account type (mail only, Release channel since November 2025) also works,"
                " but Microsoft retires EWS in Exchange Online from 1 October 2026.",
            )
        return (
            False,
            "Thunderbird gets no user.js for Exchange: choose --protocol imap or pop3 if the"
            " server offers them; otherwise add the account by hand with Thunderbird's built-in"
            " Exchange (EWS) account type (mail only, Release channel since November 2025) or,"
            " in older versions, the third-party Owl for Exchange add-on (as of early 2026).",
        )
    if plan.protocol not in ("imap", "pop3"):
        return False, f"Thunderbird: unknown protocol {plan.protocol!r} in the plan"
    if plan.incoming is None:
        return False, f"Thunderbird: the plan has no {plan.protocol.upper()} server"
    kind = plan.protocol.upper()
    if plan.incoming.auth == "OAuth2":
        return (
            True,
            f"Thunderbird: {kind} account with OAuth2 sign-in, which works only for providers"
            " on Thunderbird's built-in OAuth2 list (OAuth2Providers.sys.mjs)",
        )
    return True, f"Thunderbird: {kind} account, via user.js (new profile) or the isp/ file"


def _auth_pref(server: ServerSetting) -> int:
    try:
        return AUTH_METHOD_PREF[server.auth]
    except KeyError:
        raise ValueError(
            f"{server.hostname!r}: authentication {server.auth!r} has no Thunderbird authMethod"
        ) from None


def _concrete(text: str, what: str) -> str:
    if _PLACEHOLDER.search(text):
        raise ValueError(f"{what} {text!r} still holds a placeholder: prefs are never expanded")
    return text


@dataclass(frozen=True)
class _Keys:
    """The pref keys of one account: ``mail.account.<account>``, ``mail.server.<server>``..."""

    account: str
    server: str
    identity: str
    smtp: str


Section = tuple[str, list[tuple[str, PrefValue]]]


def _account_sections(plan: AccountPlan, keys: _Keys) -> list[Section]:
    """The prefs of the plan's account, identity and SMTP server under ``keys``,
    without the lists that name them (``mail.accountmanager.accounts``, ``mail.smtpservers``)."""
    ok, why = thunderbird_supports(plan)
    if not ok:
        raise ValueError(why)
    incoming = plan.incoming
    assert incoming is not None  # thunderbird_supports checked it
    if incoming.protocol.value != plan.protocol:
        raise ValueError(f"the plan says {plan.protocol} but its server is {incoming.protocol}")
    if not 1 <= incoming.port <= 65535:
        raise ValueError(f"incoming port {incoming.port} outside 1-65535")
    outgoing = plan.outgoing
    if outgoing is not None and (
        outgoing.protocol is not Protocol.SMTP or not 1 <= outgoing.port <= 65535
    ):
        raise ValueError(f"outgoing server {outgoing.hostname!r}: not an SMTP server on 1-65535")

    account = f"mail.account.{keys.account}"
    server = f"mail.server.{keys.server}"
    identity = f"mail.identity.{keys.identity}"
    smtp = f"mail.smtpserver.{keys.smtp}"
    sections: list[Section] = [
        (
            "Account",
            [(f"{account}.server", keys.server), (f"{account}.identities", keys.identity)],
        )
    ]
    incoming_prefs: list[tuple[str, PrefValue]] = [
        (f"{server}.type", incoming.protocol.value),
        (f"{server}.hostname", incoming.hostname),
        (f"{server}.port", incoming.port),
        (f"{server}.socketType", SOCKET_TYPE_PREF[incoming.security]),
        (f"{server}.userName", _concrete(incoming.username, "incoming user name")),
        (f"{server}.authMethod", _auth_pref(incoming)),
        # CreateInBackend: prettyName is the address; the account is valid.
        (f"{server}.name", plan.email),
        (f"{server}.valid", True),
        (f"{server}.login_at_startup", True),
    ]
    if incoming.protocol is Protocol.POP3:
        keep = plan.pop3_leave_on_server
        incoming_prefs += [
            (f"{server}.leave_on_server", keep),
            (f"{server}.delete_by_age_from_server", keep and plan.pop3_keep_days is not None),
        ]
        if keep and plan.pop3_keep_days is not None:
            incoming_prefs.append((f"{server}.num_days_to_leave_on_server", plan.pop3_keep_days))
        incoming_prefs.append((f"{server}.download_on_biff", True))
    sections.append((f"Incoming server ({incoming.protocol.value.upper()})", incoming_prefs))

    identity_prefs: list[tuple[str, PrefValue]] = [
        (f"{identity}.useremail", plan.email),
        (f"{identity}.fullName", plan.full_name),
    ]
    if outgoing is not None:
        identity_prefs.append((f"{identity}.smtpServer", keys.smtp))
    identity_prefs.append((f"{identity}.valid", True))
    sections.append(("Identity", identity_prefs))

    if outgoing is not None:
        smtp_prefs: list[tuple[str, PrefValue]] = [
            (f"{smtp}.type", "smtp"),
            (f"{smtp}.description", plan.provider_name),
            (f"{smtp}.hostname", outgoing.hostname),
            (f"{smtp}.port", outgoing.port),
            (f"{smtp}.try_ssl", SOCKET_TYPE_PREF[outgoing.security]),
            (f"{smtp}.authMethod", _auth_pref(outgoing)),
        ]
        # CreateInBackend sets a user name only when the method needs one.
        if AUTH_METHOD_PREF[outgoing.auth] != AUTH_METHOD_PREF["none"]:
            smtp_prefs.append(
                (f"{smtp}.username", _concrete(outgoing.username, "outgoing user name"))
            )
        sections.append(("Outgoing server (SMTP)", smtp_prefs))

    return sections


def render_user_js(plan: AccountPlan) -> str:
    """A ``user.js`` creating the plan's IMAP or POP3 account, identity and SMTP server.

    Raises :class:`ValueError` for an Exchange plan (see
    :func:`thunderbird_supports`) and for values no pref can hold.
    """
    keys = _Keys("account1", "server1", "id1", "smtp1")
    account_list: list[tuple[str, PrefValue]] = [
        ("mail.accountmanager.accounts", keys.account),
        ("mail.accountmanager.defaultaccount", keys.account),
    ]
    sections: list[Section] = [("Account list", account_list), *_account_sections(plan, keys)]
    if plan.outgoing is not None:
        smtp_list: list[tuple[str, PrefValue]] = [
            ("mail.smtpservers", keys.smtp),
            ("mail.smtp.defaultserver", keys.smtp),
        ]
        sections.append(("Outgoing server list", smtp_list))

    lines = [_USER_JS_HEADER]
    for title, prefs in sections:
        lines.append(f"// {title}")
        lines.extend(_user_pref(name, value) for name, value in prefs)
        lines.append("")
    return "\n".join(lines)


# --- enterprise AutoConfig: add the account to profiles that already exist -------------

# Thunderbird's enterprise AutoConfig (the same as Firefox's, modules/libpref and
# extensions/pref/autoconfig in mozilla-central): a default-prefs file in
# <installdir>/defaults/pref/ names a script in <installdir>/ that Thunderbird runs
# at every start, for every profile, with getPref()/pref()/defaultPref()/lockPref()
# from prefcalls.js. Its first line is skipped, so it must be a comment;
# obscure_value 0 means the script is plain text (not byte-shifted).
AUTOCONFIG_CFG_NAME: Final = "mozilla.cfg"
AUTOCONFIG_JS = f"""\
// Mail Setup Advisor: run {AUTOCONFIG_CFG_NAME} (Thunderbird AutoConfig) at every start.
pref("general.config.filename", "{AUTOCONFIG_CFG_NAME}");
pref("general.config.obscure_value", 0);
"""

_CFG_TEMPLATE = """\
// Mail Setup Advisor: adds the mail account {email} to every Thunderbird profile, once.
// Install: this file in the Thunderbird installation folder, autoconfig.js in its
// defaults/pref/ folder. Thunderbird runs it at every start, for every profile of
// every user of the machine. It touches nothing else: the account gets keys of its
// own (derived from the address), it is appended to the account and SMTP server
// lists only when it is not there yet, and never again once it was added (the
// person may have removed it). No password is stored here.
(function () {{
  "use strict";
  var ACCOUNT = {account}, SERVER = {server}, IDENTITY = {identity}, SMTP = {smtp};
  var DONE = {done};
  var PREFS = [
{prefs}
  ];

  function list(name) {{
    var value = getPref(name);
    if (typeof value != "string") {{
      return [];
    }}
    return value.split(",").map(function (key) {{ return key.trim(); }})
      .filter(function (key) {{ return key.length > 0; }});
  }}

  function append(name, key) {{
    var keys = list(name);
    if (keys.indexOf(key) < 0) {{
      keys.push(key);
      pref(name, keys.join(","));
    }}
  }}

  function addAccount() {{
    if (getPref(DONE) === true || list("mail.accountmanager.accounts").indexOf(ACCOUNT) >= 0) {{
      return;
    }}
    for (var i = 0; i < PREFS.length; i++) {{
      pref(PREFS[i][0], PREFS[i][1]);
    }}
{smtp_list}    append("mail.accountmanager.accounts", ACCOUNT);
    pref(DONE, true);
  }}

  // The profile's own prefs (prefs.js) must be read before the lists are
  // extended: wait for "profile-after-change", before any window or account
  // is loaded. A sandboxed AutoConfig (general.config.sandbox_enabled) has no
  // Services: there the prefs are already read when this file runs.
  var done = false;
  function once() {{
    if (!done) {{
      done = true;
      addAccount();
    }}
  }}
  if (typeof Services == "object") {{
    Services.obs.addObserver({{ observe: once }}, "profile-after-change");
  }} else {{
    once();
  }}
}})();
"""


def account_keys(email: str) -> _Keys:
    """Pref keys of the account for ``email`` that no other account has: Thunderbird
    numbers its own (account1, server2...), ours carry a hash of the address."""
    import hashlib

    digest = hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:12]
    tag = f"msa{digest}"
    return _Keys(f"account_{tag}", f"server_{tag}", f"id_{tag}", f"smtp_{tag}")


def render_mozilla_cfg(plan: AccountPlan) -> str:
    """The AutoConfig script that appends the plan's account to a profile when absent.

    Same values as :func:`render_user_js`, under :func:`account_keys`; the
    account list, the SMTP server list and the default account are only ever
    appended to, never replaced. Raises :class:`ValueError` as
    :func:`render_user_js` does.
    """
    keys = account_keys(plan.email)
    prefs = [pref for _title, section in _account_sections(plan, keys) for pref in section]
    lines = ",\n".join(f"    [{js_string(name)}, {_js_value(value)}]" for name, value in prefs)
    smtp_list = ""
    if plan.outgoing is not None:
        smtp_list = '    append("mail.smtpservers", SMTP);\n'
    return _CFG_TEMPLATE.format(
        email=_comment_text(plan.email),
        account=js_string(keys.account),
        server=js_string(keys.server),
        identity=js_string(keys.identity),
        smtp=js_string(keys.smtp),
        done=js_string(f"mail.setupadvisor.{keys.account}.added"),
        prefs=lines,
        smtp_list=smtp_list,
    )


def _comment_text(text: str) -> str:
    """``text`` for a // comment: printable ASCII only, so nothing can end the comment."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)


# --- user.js: reading ----------------------------------------------------------------

_STRING = r'"(?:[^"\\\n\r]|\\.)*"|\'(?:[^\'\\\n\r]|\\.)*\''
_PREF_LINE = re.compile(
    rf"\s*user_pref\s*\(\s*(?P<name>{_STRING})\s*,\s*"
    rf"(?P<value>{_STRING}|true|false|[+-]?[0-9]+)\s*\)\s*;\s*"
)
_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|x([0-9A-Fa-f]{2})|(.))", re.DOTALL)
_SIMPLE_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "r": "\r"}


def _unquote(literal: str, line_no: int) -> str:
    """A prefs-file string literal's value, with libpref's escape rules."""

    def fail(why: str) -> ValueError:
        return ValueError(f"line {line_no}: {why}")

    body = literal[1:-1]
    units: list[int] = []  # UTF-16 code units, to pair surrogates as libpref does
    pos = 0
    for match in _ESCAPE.finditer(body):
        units.extend(_utf16(body[pos : match.start()]))
        pos = match.end()
        hex4, hex2, simple = match.groups()
        if hex4 is not None:
            value = int(hex4, 16)
            if value == 0:
                raise fail("\\u0000 is not allowed")
            units.append(value)
        elif hex2 is not None:
            value = int(hex2, 16)
            if value == 0:
                raise fail("\\x00 is not allowed")
            if value > 0x7F:
                # libpref copies \xNN as a raw byte into UTF-8 text: only ASCII is well-defined.
                raise fail(f"\\x{hex2} is a raw byte, not a character")
            units.append(value)
        elif simple in _SIMPLE_ESCAPES:
            units.extend(_utf16(_SIMPLE_ESCAPES[simple]))
        else:
            raise fail(f"unexpected escape \\{simple}")
    units.extend(_utf16(body[pos:]))
    try:
        return b"".join(u.to_bytes(2, "little") for u in units).decode("utf-16-le")
    except UnicodeDecodeError:
        raise fail("unpaired surrogate in \\u escapes") from None


def _utf16(text: str) -> list[int]:
    data = text.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(data[i : i + 2], "little") for i in range(0, len(data), 2)]


def parse_user_js(text: str) -> dict[str, PrefValue]:
    """The prefs of a ``user.js`` made of ``user_pref("name", value);`` lines.

    Strict: blank lines and ``//`` comment lines are allowed, anything else
    (another statement, a string spanning lines, a repeated name, an integer
    outside 32 bits, a NUL) raises :class:`ValueError` naming the line.
    """
    prefs: dict[str, PrefValue] = {}
    for line_no, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip(" \t\r")
        if not stripped or stripped.startswith("//"):
            continue
        if "\0" in line:  # libpref reads a NUL byte as the end of the file
            raise ValueError(f"line {line_no}: NUL character")
        match = _PREF_LINE.fullmatch(line.rstrip("\r"))
        if match is None:
            raise ValueError(f'line {line_no}: not a user_pref("name", value); line')
        name = _unquote(match.group("name"), line_no)
        raw = match.group("value")
        value: PrefValue
        if raw[0] in "\"'":
            value = _unquote(raw, line_no)
        elif raw in ("true", "false"):
            value = raw == "true"
        else:
            value = int(raw)
            if not -(2**31) <= value < 2**31:
                raise ValueError(f"line {line_no}: integer {raw} outside 32 bits")
        if name in prefs:
            raise ValueError(f"line {line_no}: pref {name!r} is set twice")
        prefs[name] = value
    return prefs


# --- the account graph -----------------------------------------------------------------


def _keys(prefs: Mapping[str, PrefValue], name: str, problems: list[str]) -> list[str]:
    """A comma-separated key list pref; a non-string value is a problem."""
    value = prefs.get(name)
    if value is None:
        return []
    if not isinstance(value, str):
        problems.append(f"{name} is not a string")
        return []
    keys = [k.strip() for k in value.split(",") if k.strip()]
    for key in sorted({k for k in keys if keys.count(k) > 1}):
        problems.append(f"{name} lists {key!r} twice")
    return keys


def _text_pref(prefs: Mapping[str, PrefValue], name: str, problems: list[str]) -> str | None:
    value = prefs.get(name)
    if value is None:
        problems.append(f"{name} is not defined")
        return None
    if not isinstance(value, str) or not value:
        problems.append(f"{name} is not a non-empty string")
        return None
    return value


def check_account_graph(prefs: Mapping[str, PrefValue]) -> list[str]:
    """Problems in the account → server / identity → SMTP server graph; empty if consistent.

    Checks what Thunderbird's account manager follows at start-up: every listed
    account names a defined server and defined identities, the default account
    is listed, every identity's SMTP server and the default SMTP server are
    listed in ``mail.smtpservers`` and defined, no server belongs to two accounts.
    """
    problems: list[str] = []
    accounts = _keys(prefs, "mail.accountmanager.accounts", problems)
    if not accounts:
        problems.append("mail.accountmanager.accounts lists no account")
    default = prefs.get("mail.accountmanager.defaultaccount")
    if default is None:
        problems.append("mail.accountmanager.defaultaccount is not set")
    elif default not in accounts:
        problems.append(f"mail.accountmanager.defaultaccount {default!r} is not a listed account")

    smtp_keys = _keys(prefs, "mail.smtpservers", problems)
    for key in smtp_keys:
        _text_pref(prefs, f"mail.smtpserver.{key}.hostname", problems)
    default_smtp = prefs.get("mail.smtp.defaultserver")
    if default_smtp is not None and default_smtp not in smtp_keys:
        problems.append(f"mail.smtp.defaultserver {default_smtp!r} is not in mail.smtpservers")

    owners: dict[str, str] = {}
    for account in accounts:
        server = _text_pref(prefs, f"mail.account.{account}.server", problems)
        if server is not None:
            if server in owners:
                problems.append(f"server {server!r} belongs to {owners[server]!r} and {account!r}")
            owners[server] = account
            server_type = _text_pref(prefs, f"mail.server.{server}.type", problems)
            if server_type != "none":  # Local Folders has no host
                _text_pref(prefs, f"mail.server.{server}.hostname", problems)
        identities = _keys(prefs, f"mail.account.{account}.identities", problems)
        if (
            not identities
            and server is not None
            and prefs.get(f"mail.server.{server}.type")
            in (
                "imap",
                "pop3",
            )
        ):
            problems.append(f"mail account {account!r} has no identity")
        for ident in identities:
            _text_pref(prefs, f"mail.identity.{ident}.useremail", problems)
            smtp_key = prefs.get(f"mail.identity.{ident}.smtpServer")
            if smtp_key is not None and smtp_key not in smtp_keys:
                problems.append(
                    f"mail.identity.{ident}.smtpServer {smtp_key!r} is not in mail.smtpservers"
                )
    local = prefs.get("mail.accountmanager.localfoldersserver")
    if local is not None and not isinstance(prefs.get(f"mail.server.{local}.type"), str):
        problems.append(f"mail.accountmanager.localfoldersserver {local!r} is not a defined server")
    return problems
