"""Sign-in per provider class, in every output (issue 14, point 1).

Each class gets ``advisor export --offline`` (the catalogue answers, no
network) in English and French, and every file is read back with an
independent reader: Mozilla's autoconfig parser, the prefs parser, plistlib.
The real Thunderbird reads the OAuth2 ``user.js`` in tests/thunderbird.

* Gmail: OAuth2 first, a password (app password) after it; Apple gets the
  ``com.apple.google-oauth`` payload; Outlook classic gets no file (its own
  "Add account" opens Google's page).
* Microsoft 365 and Outlook.com: OAuth2 only; Apple gets Exchange ActiveSync
  with ``OAuth`` true; Outlook classic gets no file (Autodiscover does it).
* Yahoo (OAuth2 or an app password): a password profile that says "app password".
* iCloud (app-specific password, no OAuth2), GMX (plain password, switch IMAP on).
* An OAuth2-only provider that is neither Google nor Microsoft: no Apple profile.
"""

from __future__ import annotations

import json
import plistlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from advisor.export import account_plan
from advisor.formats.mozilla import parse_client_config
from advisor.formats.plan import OAuthPlatform
from advisor.formats.thunderbird import parse_user_js
from advisor.report import from_json
from tests.test_discovery import run_cli
from tests.test_export import report, server

OAUTH_METHOD = 10  # nsMsgAuthMethod.OAuth2 (comm-central MailNewsTypes2.idl)
PASSWORD_METHOD = 3  # nsMsgAuthMethod.passwordCleartext


@dataclass(frozen=True)
class Case:
    address: str
    auth: tuple[str, ...]  # <authentication> elements of each server, in order
    apple: str | None  # payload type, None: no profile
    outlook_files: bool
    sign_in_en: str
    sign_in_fr: str
    also: tuple[str, ...] = ()  # more text the README says (English)


OAUTH_EN = "Sign-in: your provider's sign-in page (OAuth2)."
OAUTH_FR = "Connexion : la page de connexion de votre fournisseur (OAuth2)."
CASES = {
    "gmail": Case(
        "jane@gmail.com",
        ("OAuth2", "password-cleartext"),
        "com.apple.google-oauth",
        False,
        OAUTH_EN,
        OAUTH_FR,
        (
            "https://myaccount.google.com/apppasswords",
            "You need to enable IMAP access",  # the catalogue's "enable" text
            "opens Google's sign-in page (OAuth2)",
        ),
    ),
    "outlook.com": Case(
        "jane@outlook.com",
        ("OAuth2",),
        "com.apple.eas.account",
        False,
        OAUTH_EN,
        OAUTH_FR,
        ("not even an app password", "opens Microsoft's sign-in page (OAuth2)"),
    ),
    "yahoo": Case(
        "jane@yahoo.com",
        ("OAuth2", "password-cleartext"),
        "com.apple.mail.managed",
        True,
        OAUTH_EN,
        OAUTH_FR,
        ("https://login.yahoo.com/account/security/app-passwords",),
    ),
    "icloud": Case(
        "jane@icloud.com",
        ("password-cleartext",),
        "com.apple.mail.managed",
        True,
        "Sign-in: an app password from your provider, not your usual password.",
        "Connexion : un mot de passe d'application créé chez votre fournisseur",
        ("https://account.apple.com/",),
    ),
    "gmx": Case(
        "jane@gmx.net",
        ("password-cleartext",),
        "com.apple.mail.managed",
        True,
        "Sign-in: your password, typed when the mail program asks for it.",
        "Connexion : votre mot de passe, saisi quand le logiciel de messagerie le demande.",
        ("https://hilfe.gmx.net/pop-imap/einschalten.html",),
    ),
}


def export_offline(
    capsys: pytest.CaptureFixture[str], out: Path, address: str, lang: str
) -> dict[str, bytes]:
    code, _, stderr = run_cli(
        capsys, "export", address, "--offline", "--protocol", "imap", "--lang", lang,
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, stderr
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_output_says_the_truth_about_sign_in(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str
) -> None:
    case = CASES[name]
    domain = case.address.split("@")[1]
    files = export_offline(capsys, tmp_path / "en", case.address, "en")

    config = parse_client_config(files[f"thunderbird/{domain}.xml"])
    [provider] = config.providers
    for srv in (*provider.incoming, *provider.outgoing):
        assert srv.auth == case.auth, srv.hostname
    prefs = parse_user_js(files["thunderbird/user.js"].decode())
    method = OAUTH_METHOD if case.auth[0] == "OAuth2" else PASSWORD_METHOD
    assert prefs["mail.server.server1.authMethod"] == method
    assert prefs["mail.smtpserver.smtp1.authMethod"] == method

    profile_name = f"apple/{domain}.mobileconfig"
    if case.apple is None:
        assert profile_name not in files
    else:
        profile = plistlib.loads(files[profile_name])
        [payload] = profile["PayloadContent"]
        assert payload["PayloadType"] == case.apple
        assert not {
            k for k in payload if "Password" in k and k != "OutgoingPasswordSameAsIncomingPassword"
        }
    assert any(f.startswith("outlook/") for f in files) is case.outlook_files

    readme = " ".join(files["README.txt"].decode().split())
    assert case.sign_in_en in readme
    for text in case.also:
        assert text in readme
    if case.auth[0] == "OAuth2":
        assert "the mail client asks for it the first time" not in readme
    # Issue 14, point 2: user.js only in a new profile the steps create; AutoConfig for IT.
    assert "never for one you already use" in readme
    assert 'thunderbird -CreateProfile "mail-setup <folder>"' in readme
    assert "thunderbird/enterprise/" in readme

    french = export_offline(capsys, tmp_path / "fr", case.address, "fr")
    assert case.sign_in_fr in " ".join(french["README.txt"].decode().split())


def test_google_payload_carries_no_credentials(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, stderr = run_cli(
        capsys, "export", "jane@gmail.com", "--offline", "--protocol", "imap", "--client",
        "apple", "--name", "Jane Doe", "--out", str(tmp_path),
    )  # fmt: skip
    assert code == 0, stderr
    profile = plistlib.loads((tmp_path / "apple/gmail.com.mobileconfig").read_bytes())
    [payload] = profile["PayloadContent"]
    # Apple's com.apple.google-oauth.yaml: EmailAddress (required), AccountName,
    # AccountDescription; "the payload never contains credentials".
    assert set(payload) - {"PayloadType", "PayloadVersion", "PayloadIdentifier", "PayloadUUID",
                           "PayloadDisplayName", "PayloadDescription", "PayloadOrganization"} == {
        "EmailAddress", "AccountName", "AccountDescription"
    }  # fmt: skip
    assert payload["EmailAddress"] == "jane@gmail.com"
    assert payload["AccountName"] == "Jane Doe"
    assert profile["TargetDeviceType"] == 1  # macOS: n/a


def test_microsoft_365_imap_gets_exchange_with_oauth(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = report(
        provider={"id": "contoso.test", "name": "Contoso", "hosted_by": "microsoft365"},
        incoming=[server("imap", "outlook.office365.com", 993, "ssl")],
        outgoing=[server("smtp", "smtp.office365.com", 587, "starttls")],
    )
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(doc))
    out = tmp_path / "out"
    code, _, stderr = run_cli(
        capsys, "export", doc["address"], "--from-json", str(saved), "--protocol", "imap",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, stderr
    assert not (out / "outlook").exists()  # no PRF/registry password route
    profile = plistlib.loads((out / "apple/example.test.mobileconfig").read_bytes())
    [payload] = profile["PayloadContent"]
    assert payload["PayloadType"] == "com.apple.eas.account"
    assert (payload["Host"], payload["SSL"], payload["OAuth"]) == (
        "outlook.office365.com",
        True,
        True,
    )
    assert "Password" not in payload
    prefs = parse_user_js((out / "thunderbird/user.js").read_text())
    assert prefs["mail.server.server1.authMethod"] == OAUTH_METHOD
    readme = " ".join((out / "README.txt").read_text().split())
    assert OAUTH_EN in readme
    assert "opens Microsoft's sign-in page (OAuth2)" in readme


def _candidate(protocol: str, host: str, port: int, **extra: Any) -> dict[str, Any]:
    return server(protocol, host, port, "ssl", username="jane@example.test", **extra)


def test_servers_offering_only_oauth_mechanisms_mean_oauth2() -> None:
    doc = report(
        incoming=[_candidate("imap", "imap.example.test", 993, auth=["XOAUTH2", "OAUTHBEARER"])],
        outgoing=[_candidate("smtp", "smtp.example.test", 465, auth=["XOAUTH2"])],
    )
    plan = account_plan(from_json(doc), protocol="imap")
    assert plan.oauth_platform is OAuthPlatform.OTHER
    assert plan.incoming is not None
    assert plan.incoming.auth == "OAuth2"
    # The source stated a password method: not ruled out by the catalogue, so kept second.
    assert plan.incoming.also_auth == ("password-cleartext",)


def test_a_source_stating_only_oauth2_gets_no_apple_profile(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    doc = report(
        incoming=[_candidate("imap", "imap.example.test", 993, stated_auth=["OAuth2"])],
        outgoing=[_candidate("smtp", "smtp.example.test", 465, stated_auth=["OAuth2"])],
    )
    plan = account_plan(from_json(doc), protocol="imap")
    assert (plan.oauth_platform, plan.incoming and plan.incoming.also_auth) == (
        OAuthPlatform.OTHER,
        (),
    )
    saved = tmp_path / "report.json"
    saved.write_text(json.dumps(doc))
    out = tmp_path / "out"
    code, _, stderr = run_cli(
        capsys, "export", doc["address"], "--from-json", str(saved), "--protocol", "imap",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, stderr
    assert not (out / "apple").exists()  # a password profile could never sign in
    readme = " ".join((out / "README.txt").read_text().split())
    assert "No Apple profile: this provider signs in only with OAuth2" in readme


def test_a_password_provider_is_not_oauth() -> None:
    plan = account_plan(from_json(report()), protocol="imap")
    assert plan.oauth_platform is None
    assert plan.incoming is not None
    assert (plan.incoming.auth, plan.incoming.also_auth) == ("password-cleartext", ())
