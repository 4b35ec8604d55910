"""README.txt of an export: how to import each file, and which client versions accept it.

English and French, written for the person (or the IT technician) at the
machine. The text is data here, next to nothing else, so translators find it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from advisor import facts

if TYPE_CHECKING:
    from advisor.export import ClientKind
    from advisor.formats.plan import AccountPlan

_TEXT = {
    "en": {
        "title": "Mail settings for {email} ({protocol}), made by Mail Setup Advisor",
        "nopass": "No file contains a password: the mail client asks for it the first time.",
        "servers": "Servers",
        "incoming": "Incoming: {proto} {host}, port {port}, {security}, user name {user}",
        "outgoing": "Outgoing: SMTP {host}, port {port}, {security}, user name {user}",
        "exchange": "Exchange: {what}",
        "pop3_keep": "POP3: mail is left on the server for {days} days after download.",
        "pop3_delete": "POP3: mail is removed from the server once downloaded (one backed-up computer).",
        "oauth": "Sign-in uses OAuth2: the client opens the provider's login page. Thunderbird, Outlook and Apple Mail can; the Apple profile cannot carry OAuth2 (add the account in Settings > Mail > Accounts instead); older clients that only know passwords cannot connect.",
        "tb": "Thunderbird (version 102 or later; Windows, macOS, Linux)",
        "tb_isp": (
            "thunderbird/{domain}.xml - settings for every address of {domain}. Copy it into the"
            " 'isp' folder of the Thunderbird installation (Windows: C:\\Program Files\\Mozilla"
            " Thunderbird\\isp\\, macOS: Thunderbird.app/Contents/Resources/isp/, Linux:"
            " /usr/lib/thunderbird/isp/ - create the folder if needed), then in Thunderbird choose"
            " Account Settings > Account Actions > Add Mail Account and type the address: the"
            " servers are filled in from this file."
        ),
        "tb_userjs": (
            "thunderbird/user.js - creates the account in a profile. Quit Thunderbird, copy the"
            " file into the profile folder (Help > Troubleshooting Information > Profile Folder >"
            " Open Folder), start Thunderbird: the account is there. Then delete user.js from the"
            " profile, or Thunderbird applies it again at every start."
        ),
        "tb_exchange": (
            "Thunderbird: no file for Exchange. Thunderbird 145 and later can add an Exchange"
            " account themselves (Add Mail Account, then choose Exchange); older versions need"
            " IMAP (if the server offers it) or an add-on such as Owl."
        ),
        "ol": "Outlook classic for Windows (Outlook 2016, 2019, 2021, 2024 and Microsoft 365 Apps)",
        "ol_xml": (
            "outlook/autodiscover-{domain}.xml and outlook/autodiscover-{domain}.reg - copy the"
            " .xml file to {folder}\\ (create the folder), then double-click the .reg file and"
            " accept: Outlook then reads these settings instead of searching the network. Add the"
            " account with File > Add Account and the address."
        ),
        "ol_prf": (
            "outlook/{domain}.prf - alternative for IT staff: run outlook.exe /importprf"
            ' "<path>\\{domain}.prf" to create the account in the default profile.'
        ),
        "ol_exchange": (
            "Exchange: in Outlook classic choose File > Add Account and type the address; the"
            " registry file keeps Outlook from trying slow or wrong Autodiscover locations."
        ),
        "newol": (
            "The new Outlook for Windows and Outlook on the web accept none of these files: open"
            " Settings > Accounts > Add account and type the address."
        ),
        "apple": "Apple Mail (macOS 10.14 or later) and iPhone/iPad (iOS 12 or later)",
        "apple_file": (
            "apple/{domain}.mobileconfig - on a Mac, double-click it, then open System Settings >"
            " Privacy & Security > Profiles and install it; on an iPhone or iPad, send it by"
            " AirDrop or e-mail, open it, then Settings > Profile Downloaded > Install. The"
            ' profile is not signed, so the device shows it as "Not Verified". The password is'
            " asked during the installation."
        ),
        "notes": "Good to know",
        "apple_eas": "For Exchange the profile works on iPhone and iPad only (ActiveSync payload); on a Mac add the account in System Settings > Internet Accounts > Microsoft Exchange.",
    },
    "fr": {
        "title": "Réglages de messagerie pour {email} ({protocol}), préparés par Mail Setup Advisor",
        "nopass": "Aucun fichier ne contient de mot de passe : le logiciel le demande à la première connexion.",
        "servers": "Serveurs",
        "incoming": "Réception : {proto} {host}, port {port}, {security}, identifiant {user}",
        "outgoing": "Envoi : SMTP {host}, port {port}, {security}, identifiant {user}",
        "exchange": "Exchange : {what}",
        "pop3_keep": "POP3 : le courrier reste {days} jours sur le serveur après téléchargement.",
        "pop3_delete": "POP3 : le courrier est retiré du serveur une fois téléchargé (un seul ordinateur, sauvegardé).",
        "oauth": "La connexion passe par OAuth2 : le logiciel ouvre la page de connexion du fournisseur. Thunderbird, Outlook et Apple Mail savent le faire ; le profil Apple ne peut pas porter OAuth2 (ajoutez plutôt le compte dans Réglages > Mail > Comptes) ; les logiciels plus anciens, qui ne connaissent que les mots de passe, ne pourront pas se connecter.",
        "tb": "Thunderbird (version 102 ou ultérieure ; Windows, macOS, Linux)",
        "tb_isp": (
            "thunderbird/{domain}.xml - les réglages de toutes les adresses de {domain}. Copiez-le"
            " dans le dossier « isp » de l'installation de Thunderbird (Windows : C:\\Program"
            " Files\\Mozilla Thunderbird\\isp\\, macOS : Thunderbird.app/Contents/Resources/isp/,"
            " Linux : /usr/lib/thunderbird/isp/ - créez-le au besoin), puis dans Thunderbird"
            " choisissez Paramètres des comptes > Gestion des comptes > Ajouter un compte de"
            " messagerie et saisissez l'adresse : les serveurs sont repris de ce fichier."
        ),
        "tb_userjs": (
            "thunderbird/user.js - crée le compte dans un profil. Quittez Thunderbird, copiez le"
            " fichier dans le dossier du profil (Aide > Informations de dépannage > Dossier du"
            " profil > Ouvrir le dossier), relancez Thunderbird : le compte est là. Supprimez"
            " ensuite user.js du profil, sinon Thunderbird l'applique à chaque démarrage."
        ),
        "tb_exchange": (
            "Thunderbird : pas de fichier pour Exchange. Thunderbird 145 et les versions"
            " suivantes savent ajouter eux-mêmes un compte Exchange (Ajouter un compte de"
            " messagerie, puis Exchange) ; les versions plus anciennes passent par IMAP (si le"
            " serveur le propose) ou par un module comme Owl."
        ),
        "ol": "Outlook classique pour Windows (Outlook 2016, 2019, 2021, 2024 et Microsoft 365 Apps)",
        "ol_xml": (
            "outlook/autodiscover-{domain}.xml et outlook/autodiscover-{domain}.reg - copiez le"
            " fichier .xml dans {folder}\\ (créez le dossier), puis double-cliquez sur le fichier"
            " .reg et acceptez : Outlook lit alors ces réglages au lieu de les chercher sur le"
            " réseau. Ajoutez le compte par Fichier > Ajouter un compte, avec l'adresse."
        ),
        "ol_prf": (
            "outlook/{domain}.prf - variante pour le service informatique : lancez outlook.exe"
            ' /importprf "<chemin>\\{domain}.prf" pour créer le compte dans le profil par défaut.'
        ),
        "ol_exchange": (
            "Exchange : dans l'Outlook classique, choisissez Fichier > Ajouter un compte et"
            " saisissez l'adresse ; le fichier de registre évite à Outlook des recherches"
            " Autodiscover lentes ou erronées."
        ),
        "newol": (
            "Le nouvel Outlook pour Windows et Outlook sur le web n'acceptent aucun de ces"
            " fichiers : ouvrez Paramètres > Comptes > Ajouter un compte et saisissez l'adresse."
        ),
        "apple": "Apple Mail (macOS 10.14 ou ultérieur) et iPhone/iPad (iOS 12 ou ultérieur)",
        "apple_file": (
            "apple/{domain}.mobileconfig - sur un Mac, double-cliquez dessus, puis ouvrez"
            " Réglages Système > Confidentialité et sécurité > Profils et installez-le ; sur un"
            " iPhone ou un iPad, envoyez-le par AirDrop ou par courriel, ouvrez-le, puis Réglages"
            " > Profil téléchargé > Installer. Le profil n'est pas signé : l'appareil l'affiche"
            " « Non vérifié ». Le mot de passe est demandé pendant l'installation."
        ),
        "notes": "Bon à savoir",
        "apple_eas": "Pour Exchange, le profil ne fonctionne que sur iPhone et iPad (compte ActiveSync) ; sur un Mac, ajoutez le compte dans Réglages Système > Comptes Internet > Microsoft Exchange.",
    },
}
_SECURITY = {
    "en": {"ssl": "SSL/TLS", "starttls": "STARTTLS", "plain": "no encryption"},
    "fr": {"ssl": "SSL/TLS", "starttls": "STARTTLS", "plain": "sans chiffrement"},
}


def readme(plan: AccountPlan, clients: Sequence[ClientKind], *, lang: str) -> str:
    from advisor.export import XML_FOLDER_WINDOWS, ClientKind

    t = _TEXT["fr" if lang == "fr" else "en"]
    sec = _SECURITY["fr" if lang == "fr" else "en"]
    names = {"imap": "IMAP", "pop3": "POP3", "exchange": "Exchange"}
    out = [t["title"].format(email=plan.email, protocol=names[plan.protocol]), ""]
    out += [t["nopass"], "", t["servers"]]
    if plan.incoming is not None:
        s = plan.incoming
        out.append(
            "  "
            + t["incoming"].format(
                proto=s.protocol.name,
                host=s.hostname,
                port=s.port,
                security=sec[s.security.value],
                user=s.username,
            )
        )
    if plan.outgoing is not None:
        s = plan.outgoing
        out.append(
            "  "
            + t["outgoing"].format(
                host=s.hostname, port=s.port, security=sec[s.security.value], user=s.username
            )
        )
    if plan.protocol == "exchange" and plan.exchange is not None:
        what = plan.exchange.ews_url or plan.exchange.activesync_url or plan.exchange.server or "?"
        out.append("  " + t["exchange"].format(what=what))
    if plan.protocol == "pop3":
        if plan.pop3_leave_on_server:
            out.append("  " + t["pop3_keep"].format(days=plan.pop3_keep_days or 14))
        else:
            out.append("  " + t["pop3_delete"])
    if any(s is not None and s.auth == "OAuth2" for s in (plan.incoming, plan.outgoing)):
        out.append("  " + t["oauth"])
    for kind in clients:
        out.append("")
        if kind is ClientKind.THUNDERBIRD:
            out.append(t["tb"])
            if plan.protocol == "exchange":
                out.append("  - " + t["tb_exchange"])
            else:
                out.append("  - " + t["tb_isp"].format(domain=plan.domain))
                out.append("  - " + t["tb_userjs"])
        elif kind is ClientKind.OUTLOOK:
            out.append(t["ol"])
            out.append("  - " + t["ol_xml"].format(domain=plan.domain, folder=XML_FOLDER_WINDOWS))
            if plan.protocol == "exchange":
                out.append("  - " + t["ol_exchange"])
            else:
                out.append("  - " + t["ol_prf"].format(domain=plan.domain))
            out.append("  - " + t["newol"])
        elif kind is ClientKind.APPLE:
            out.append(t["apple"])
            out.append("  - " + t["apple_file"].format(domain=plan.domain))
            if plan.protocol == "exchange":
                out.append("  - " + t["apple_eas"])
    hosted = "microsoft365" if plan.on_microsoft365 else None
    exchange_hosted = plan.exchange.hosted if plan.exchange is not None else None
    notes = facts.notes_for(hosted, exchange_hosted, lang="fr" if lang == "fr" else "en")
    if notes:
        out += ["", t["notes"]] + [f"  - {n}" for n in notes]
    return "\n".join(_wrap(line) for line in out) + "\n"


def _wrap(line: str, width: int = 78) -> str:
    """Wrap long lines for a plain-text README, keeping the list indentation."""
    import textwrap

    if len(line) <= width:
        return line
    indent = len(line) - len(line.lstrip(" -"))
    return textwrap.fill(line, width=width, subsequent_indent=" " * indent)
