"""Provider facts that change the advice, with the dates the vendors published.

Kept as data in one place so the report, the recommendation and the exported
README files say the same thing. Sources: Microsoft's "Deprecation of Basic
authentication in Exchange Online" and "Basic authentication for SMTP AUTH"
announcements; Google Workspace's "Less secure apps" retirement notice;
Microsoft's "New Outlook for Windows" account-support page.
"""

from __future__ import annotations

MICROSOFT365_OAUTH = (
    "Microsoft 365 (Exchange Online) turned Basic authentication off for EWS, ActiveSync,"
    " IMAP and POP in October 2022; IMAP, POP and SMTP clients must sign in with OAuth2"
    " (XOAUTH2) - app passwords do not help"
)
MICROSOFT365_SMTP = (
    "Exchange Online disables SMTP AUTH with Basic authentication by default for existing"
    " tenants from the end of December 2026 (admins may re-enable it for now)"
)
MICROSOFT365_DIRECT_CONNECT = (
    'Outlook 2016 and later ask Microsoft 365 first ("direct connect"), whatever DNS says'
)
GOOGLE_OAUTH = (
    "Google Workspace and Gmail accept IMAP, POP and SMTP only with OAuth2 or an app password"
    " (which needs 2-step verification) since September 2024"
)
NEW_OUTLOOK_ON_PREMISES = (
    "the new Outlook for Windows cannot add on-premises Exchange accounts, ignores PRF and"
    " registry settings, and syncs IMAP mail through Microsoft's cloud: use classic Outlook"
)


def notes_for(hosted_by: str | None, exchange_hosted: str | None) -> tuple[str, ...]:
    """The facts to tell a user of this provider."""
    notes: list[str] = []
    if hosted_by == "microsoft365" or exchange_hosted == "microsoft365":
        notes += [MICROSOFT365_OAUTH, MICROSOFT365_SMTP, MICROSOFT365_DIRECT_CONNECT]
    if hosted_by == "google":
        notes.append(GOOGLE_OAUTH)
    if exchange_hosted == "on-premises":
        notes.append(NEW_OUTLOOK_ON_PREMISES)
    return tuple(notes)


def requires_oauth2(hosted_by: str | None, exchange_hosted: str | None) -> bool:
    """Password (Basic) logins to IMAP/POP/SMTP are refused by this provider."""
    return hosted_by == "microsoft365" or exchange_hosted == "microsoft365"
