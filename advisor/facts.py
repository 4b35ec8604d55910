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


_FRENCH = {
    MICROSOFT365_OAUTH: (
        "Microsoft 365 (Exchange Online) a désactivé l'authentification simple pour EWS,"
        " ActiveSync, IMAP et POP en octobre 2022 : les logiciels IMAP, POP et SMTP doivent se"
        " connecter en OAuth2 (XOAUTH2) - les mots de passe d'application n'y changent rien"
    ),
    MICROSOFT365_SMTP: (
        "Exchange Online désactive par défaut l'envoi SMTP authentifié par simple mot de passe"
        " pour les organisations existantes à partir de fin décembre 2026 (les administrateurs"
        " peuvent encore le réactiver)"
    ),
    MICROSOFT365_DIRECT_CONNECT: (
        "Outlook 2016 et les versions suivantes interrogent d'abord Microsoft 365 (« direct"
        " connect »), quoi que dise le DNS"
    ),
    GOOGLE_OAUTH: (
        "Depuis septembre 2024, Google Workspace et Gmail n'acceptent IMAP, POP et SMTP qu'avec"
        " OAuth2 ou un mot de passe d'application (qui suppose la validation en deux étapes)"
    ),
    NEW_OUTLOOK_ON_PREMISES: (
        "le nouvel Outlook pour Windows ne sait pas ajouter un compte Exchange hébergé sur site,"
        " ignore les fichiers PRF et le registre, et synchronise l'IMAP via le cloud de"
        " Microsoft : utilisez l'Outlook classique"
    ),
}


def notes_for(
    hosted_by: str | None, exchange_hosted: str | None, *, lang: str = "en"
) -> tuple[str, ...]:
    """The facts to tell a user of this provider, in English or French."""
    notes: list[str] = []
    if hosted_by == "microsoft365" or exchange_hosted == "microsoft365":
        notes += [MICROSOFT365_OAUTH, MICROSOFT365_SMTP, MICROSOFT365_DIRECT_CONNECT]
    if hosted_by == "google":
        notes.append(GOOGLE_OAUTH)
    if exchange_hosted == "on-premises":
        notes.append(NEW_OUTLOOK_ON_PREMISES)
    if lang == "fr":
        return tuple(_FRENCH[n] for n in notes)
    return tuple(notes)


def requires_oauth2(hosted_by: str | None, exchange_hosted: str | None) -> bool:
    """Password (Basic) logins to IMAP/POP/SMTP are refused by this provider."""
    return hosted_by == "microsoft365" or exchange_hosted == "microsoft365"
