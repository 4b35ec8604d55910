"""What a TLS session and its server certificate say, valid or not.

The standard library only decodes a certificate it has validated
(``getpeercert()`` is empty under ``CERT_NONE``), yet the most useful thing to
tell someone whose server fails validation is *which* names the certificate
does cover and when it expired. So the leaf is always read in DER form and
decoded with ``cryptography.x509``, on a verified session and on the second
look a probe takes through :func:`inspection_context` after a failure.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import ssl

from cryptography import x509
from cryptography.x509.oid import NameOID

from advisor.models import CertificateFacts, TLSFacts

# OpenSSL verify codes (include/openssl/x509_vfy.h) that get their own wording.
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT = 2
X509_V_ERR_CERT_NOT_YET_VALID = 9
X509_V_ERR_CERT_HAS_EXPIRED = 10
X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT = 18
X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN = 19
X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY = 20
X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE = 21
X509_V_ERR_HOSTNAME_MISMATCH = 62

_UNKNOWN_ISSUER = {
    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT,
    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
    X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE,
}
_SELF_SIGNED = {X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN}

# How many certificate names a one-line detail lists before "and N more".
NAMES_SHOWN = 4


def tls_facts(sock: ssl.SSLSocket, *, valid: bool, error: str | None = None) -> TLSFacts:
    """Version, cipher and leaf certificate of a TLS session whose handshake finished."""
    cipher = sock.cipher()
    der = sock.getpeercert(binary_form=True)
    return TLSFacts(
        version=sock.version() or "unknown",
        cipher=cipher[0] if cipher else "unknown",
        certificate=certificate_facts(der, valid=valid, error=error) if der else None,
    )


def certificate_facts(
    der: bytes, *, valid: bool, error: str | None = None
) -> CertificateFacts | None:
    """Decode a DER certificate; ``None`` if cryptography cannot parse it.

    OpenSSL accepted the certificate during the handshake, but cryptography is
    stricter about some encodings: an unparsable certificate is a fact about
    the server, not a bug of ours.
    """
    parsed = _parse_certificate(der)
    return None if parsed is None else CertificateFacts(*parsed, valid=valid, error=error)


@functools.lru_cache(maxsize=256)
def _parse_certificate(der: bytes) -> tuple[str, tuple[str, ...], str, str, str] | None:
    """Subject, names, issuer, validity: pure in the bytes, so a batch that meets one
    shared server's certificate for every domain (``advisor check --domains``,
    onboarding) decodes it once (about 5 ms of CPU each time otherwise)."""
    try:
        cert = x509.load_der_x509_certificate(der)
        return (
            cert.subject.rfc4514_string(),
            _names(cert),
            cert.issuer.rfc4514_string(),
            _iso(cert.not_valid_before_utc),
            _iso(cert.not_valid_after_utc),
        )
    except ValueError:
        return None


def inspection_context(like: ssl.SSLContext) -> ssl.SSLContext:
    """A context that completes a handshake whatever the certificate, to read it.

    Only ever used after a verifying handshake failed on the certificate, for
    a second connection that learns the capabilities and the certificate and
    never authenticates: RFC 8314 §5.3 asks mail clients to validate the
    certificate before trusting the session, and a probe sends nothing
    secret. The protocol versions are those of ``like``: that handshake got
    as far as the certificate, so the same ones suffice.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = like.minimum_version
    context.maximum_version = like.maximum_version
    return context


def verify_error(exc: ssl.SSLCertVerificationError) -> str:
    """OpenSSL's own words: 'certificate has expired', 'Hostname mismatch, ...'."""
    # getattr: only errors raised by the ssl module itself carry these attributes.
    message = getattr(exc, "verify_message", None) or getattr(exc, "reason", None) or str(exc)
    return str(message).rstrip(".")


def tls_error_reason(exc: ssl.SSLError) -> str:
    """'wrong version number' from '[SSL: WRONG_VERSION_NUMBER] wrong version number (...)'."""
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason).lower().replace("_", " ")
    text = str(exc.args[-1]) if exc.args else ""
    text = re.sub(r"^\[[^\]]*\]\s*", "", text.split(" (_ssl.c", 1)[0]).strip()
    return text or type(exc).__name__


def describe_invalid(
    hostname: str,
    exc: ssl.SSLCertVerificationError,
    certificate: CertificateFacts | None,
) -> str:
    """One line saying why the certificate failed and what it *is* valid for."""
    message = verify_error(exc)
    if certificate is None:
        return f"certificate not valid for {hostname}: {message}"
    names = _show(certificate.names)
    code = getattr(exc, "verify_code", None)
    if code == X509_V_ERR_HOSTNAME_MISMATCH:
        return f"certificate for {names}, not {hostname}"
    if code == X509_V_ERR_CERT_HAS_EXPIRED:
        return f"certificate for {names} expired on {certificate.not_after[:10]}"
    if code == X509_V_ERR_CERT_NOT_YET_VALID:
        return f"certificate for {names} not valid before {certificate.not_before[:10]}"
    if code in _SELF_SIGNED:
        return f"self-signed certificate for {names} ({message})"
    if code in _UNKNOWN_ISSUER:
        return f"certificate for {names} from an unknown authority: {certificate.issuer}"
    return f"certificate for {names} not valid: {message}"


def _names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = san.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        dns = []
    if not dns:
        # RFC 6125 §6.4.4: the CN counts only when there is no DNS name in the SAN.
        dns = [
            str(attribute.value)
            for attribute in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        ]
    return tuple(dict.fromkeys(dns))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _show(names: tuple[str, ...]) -> str:
    if not names:
        return "no name"
    shown = ", ".join(names[:NAMES_SHOWN])
    if len(names) > NAMES_SHOWN:
        shown += f" and {len(names) - NAMES_SHOWN} more"
    return shown
