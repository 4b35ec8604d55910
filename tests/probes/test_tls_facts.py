"""advisor.net.tls: certificate facts, valid or not, and the words for TLS failures."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from advisor.models import CertificateFacts
from advisor.net.tls import (
    NAMES_SHOWN,
    X509_V_ERR_CERT_HAS_EXPIRED,
    X509_V_ERR_CERT_NOT_YET_VALID,
    X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
    X509_V_ERR_HOSTNAME_MISMATCH,
    X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
    certificate_facts,
    describe_invalid,
    inspection_context,
    tls_error_reason,
    verify_error,
)
from tests.lab.ca import LabCA

NOT_BEFORE = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
NOT_AFTER = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC)


def der_of(*, cn: str | None, san: list[x509.GeneralName] | None) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example, Inc.")]
        + ([x509.NameAttribute(NameOID.COMMON_NAME, cn)] if cn else [])
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example CA")]))
        .public_key(key.public_key())
        .serial_number(1234)
        .not_valid_before(NOT_BEFORE)
        .not_valid_after(NOT_AFTER)
    )
    if san is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_facts_of_a_lab_certificate(lab_ca: LabCA) -> None:
    files = lab_ca.issue("imap.example.test", "mail.example.test", "127.0.0.9")
    pem = files.cert_pem.read_bytes()
    der = x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)
    facts = certificate_facts(der, valid=True)
    assert facts is not None
    assert facts.names == ("imap.example.test", "mail.example.test")  # DNS names only
    assert facts.valid is True
    assert facts.error is None
    assert facts.not_before == files.not_before.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert facts.not_after == files.not_after.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_subject_and_issuer_are_rfc4514_and_dates_iso8601_utc() -> None:
    facts = certificate_facts(
        der_of(cn="mail.example.test", san=[x509.DNSName("mail.example.test")]),
        valid=False,
        error="certificate has expired",
    )
    assert facts == CertificateFacts(
        subject="CN=mail.example.test,O=Example\\, Inc.",
        names=("mail.example.test",),
        issuer="CN=Example CA",
        not_before="2024-01-02T03:04:05Z",
        not_after="2025-01-02T03:04:05Z",
        valid=False,
        error="certificate has expired",
    )


@pytest.mark.parametrize(
    ("san", "names"),
    [
        (None, ("legacy.example.test",)),
        ([x509.IPAddress(ipaddress.ip_address("192.0.2.1"))], ("legacy.example.test",)),
        (
            [x509.DNSName("a.example.test"), x509.DNSName("a.example.test")],
            ("a.example.test",),
        ),
    ],
    ids=["no-san", "ip-only-san", "duplicate"],
)
def test_the_common_name_counts_only_without_dns_names(
    san: list[x509.GeneralName] | None, names: tuple[str, ...]
) -> None:
    facts = certificate_facts(der_of(cn="legacy.example.test", san=san), valid=False)
    assert facts is not None
    assert facts.names == names


def test_a_certificate_without_any_name() -> None:
    facts = certificate_facts(der_of(cn=None, san=None), valid=False)
    assert facts is not None
    assert facts.names == ()


def test_garbage_is_no_certificate() -> None:
    assert certificate_facts(b"\x30\x03\x02\x01\x00", valid=False) is None


def _verification_error(code: int, message: str) -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, f"[SSL: CERTIFICATE_VERIFY_FAILED] {message}")
    exc.verify_code = code
    exc.verify_message = message
    return exc


CERT = CertificateFacts(
    subject="CN=mail.other.test",
    names=("mail.other.test", "other.test"),
    issuer="CN=Some CA,O=Some",
    not_before="2024-01-02T03:04:05Z",
    not_after="2025-01-02T03:04:05Z",
    valid=False,
)


@pytest.mark.parametrize(
    ("code", "message", "detail"),
    [
        (
            X509_V_ERR_HOSTNAME_MISMATCH,
            "Hostname mismatch, certificate is not valid for 'imap.example.test'.",
            "certificate for mail.other.test, other.test, not imap.example.test",
        ),
        (
            X509_V_ERR_CERT_HAS_EXPIRED,
            "certificate has expired",
            "certificate for mail.other.test, other.test expired on 2025-01-02",
        ),
        (
            X509_V_ERR_CERT_NOT_YET_VALID,
            "certificate is not yet valid",
            "certificate for mail.other.test, other.test not valid before 2024-01-02",
        ),
        (
            X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
            "self-signed certificate",
            "self-signed certificate for mail.other.test, other.test (self-signed certificate)",
        ),
        (
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY,
            "unable to get local issuer certificate",
            "certificate for mail.other.test, other.test from an unknown authority: "
            "CN=Some CA,O=Some",
        ),
        (
            50,
            "application verification failure",
            "certificate for mail.other.test, other.test not valid: "
            "application verification failure",
        ),
    ],
)
def test_describe_invalid_names_what_the_certificate_is_for(
    code: int, message: str, detail: str
) -> None:
    exc = _verification_error(code, message)
    assert describe_invalid("imap.example.test", exc, CERT) == detail
    assert verify_error(exc) == message.rstrip(".")


def test_describe_invalid_without_the_certificate() -> None:
    exc = _verification_error(X509_V_ERR_CERT_HAS_EXPIRED, "certificate has expired")
    assert describe_invalid("imap.example.test", exc, None) == (
        "certificate not valid for imap.example.test: certificate has expired"
    )


def test_many_names_are_summed_up() -> None:
    names = tuple(f"host{i}.example.test" for i in range(NAMES_SHOWN + 3))
    cert = CertificateFacts("CN=x", names, "CN=ca", CERT.not_before, CERT.not_after, False)
    exc = _verification_error(X509_V_ERR_HOSTNAME_MISMATCH, "Hostname mismatch")
    assert describe_invalid("imap.example.test", exc, cert).endswith(
        f"host{NAMES_SHOWN - 1}.example.test and 3 more, not imap.example.test"
    )


def test_tls_error_reason() -> None:
    with_reason = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    with_reason.reason = "WRONG_VERSION_NUMBER"
    assert tls_error_reason(with_reason) == "wrong version number"
    bare = ssl.SSLError(1, "[SSL: UNSUPPORTED_PROTOCOL] unsupported protocol (_ssl.c:1006)")
    assert tls_error_reason(bare) == "unsupported protocol"
    assert tls_error_reason(ssl.SSLEOFError()) == "SSLEOFError"


def test_the_inspection_context_verifies_nothing_and_keeps_the_versions() -> None:
    strict = ssl.create_default_context()
    strict.minimum_version = ssl.TLSVersion.TLSv1_3
    context = inspection_context(strict)
    assert context.verify_mode is ssl.CERT_NONE
    assert context.check_hostname is False
    assert context.minimum_version is ssl.TLSVersion.TLSv1_3
    assert context.maximum_version is strict.maximum_version
