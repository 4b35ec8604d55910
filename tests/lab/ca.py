"""A throw-away certificate authority for the lab, writing PEM files into a folder.

``LabCA(folder)`` makes a root CA and an intermediate (trustme) and writes the root as
``folder/lab_ca.pem``: give that file to the product as ``--ca-file``.  ``issue(*names)``
writes a server certificate signed by the intermediate; servers send ``chain_pem`` (leaf
+ intermediate).  For an incomplete-chain server, serve
``dataclasses.replace(cert, chain_pem=cert.cert_pem)``.

Bad certificates: ``issue_expired``, ``issue_not_yet_valid``, ``issue_untrusted`` (another
CA) and ``issue_self_signed``.  A certificate for the wrong name is just
``issue("other.name")``.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["CertFiles", "LabCA"]


@dataclass(frozen=True)
class CertFiles:
    """PEM files of one server certificate.

    ``cert_pem``: the leaf certificate; ``key_pem``: its private key (unencrypted);
    ``chain_pem``: leaf followed by the intermediate CA (what servers send; not the root);
    ``combined_pem``: private key followed by the chain (one-file servers).
    """

    names: tuple[str, ...]
    cert_pem: Path
    key_pem: Path
    chain_pem: Path
    combined_pem: Path
    not_before: dt.datetime
    not_after: dt.datetime

    def server_context(self) -> ssl.SSLContext:
        """An ``ssl.SSLContext`` for a server presenting this certificate."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.chain_pem, self.key_pem)
        return ctx


def _slug(names: tuple[str, ...]) -> str:
    text = names[0] if names else "noname"
    return re.sub(r"[^A-Za-z0-9.-]+", "_", text)[:60]


class LabCA:
    """A trusted lab root CA (``ca_pem``) whose intermediate signs the certificates, plus
    an untrusted "other" CA (no intermediate), writing into ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        # Root (the file clients trust) -> intermediate (signs leaves), like real CAs:
        # servers send leaf + intermediate, clients must build the chain.
        self._root = trustme.CA(organization_name="Advisor Lab Root CA")
        self._ca = self._root.create_child_ca()
        self._other: trustme.CA | None = None
        self._lock = threading.Lock()
        self._counter = 0
        self.ca_pem: Path = self.folder / "lab_ca.pem"
        self._root.cert_pem.write_to_path(str(self.ca_pem))

    # ------------------------------------------------------------------ issuing
    def issue(
        self,
        *names: str,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
    ) -> CertFiles:
        """A certificate for ``names`` (DNS names, IP addresses, IDN in Unicode or
        punycode) signed by the trusted lab CA.  Default validity: now-1h .. now+1y."""
        return self._issue(self._ca, names, not_before, not_after, "cert")

    def issue_expired(self, *names: str) -> CertFiles:
        """Signed by the trusted CA, valid from 30 days ago until yesterday."""
        now = dt.datetime.now(dt.UTC)
        return self._issue(
            self._ca, names, now - dt.timedelta(days=30), now - dt.timedelta(days=1), "expired"
        )

    def issue_not_yet_valid(self, *names: str) -> CertFiles:
        """Signed by the trusted CA, valid from tomorrow on."""
        now = dt.datetime.now(dt.UTC)
        return self._issue(
            self._ca, names, now + dt.timedelta(days=1), now + dt.timedelta(days=30), "future"
        )

    def issue_untrusted(self, *names: str) -> CertFiles:
        """Signed by a *different* CA that clients given ``ca_pem`` do not trust (the
        server sends the leaf only: "unable to get local issuer certificate")."""
        with self._lock:
            if self._other is None:
                self._other = trustme.CA(organization_name="Untrusted Other CA")
            other = self._other
        return self._issue(other, names, None, None, "untrusted")

    def issue_self_signed(self, *names: str) -> CertFiles:
        """A self-signed leaf certificate (issuer == subject) for ``names``."""
        if not names:
            raise ValueError("issue_self_signed() needs at least one name")
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        not_before, not_after = now - dt.timedelta(hours=1), now + dt.timedelta(days=365)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _idna(names[0]))])
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([_san(n) for n in names]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        cert_bytes = cert.public_bytes(serialization.Encoding.PEM)
        key_bytes = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return self._write(
            names, "selfsigned", cert_bytes, key_bytes, cert_bytes, (not_before, not_after)
        )

    # ------------------------------------------------------------------ helpers
    def client_context(self) -> ssl.SSLContext:
        """A client ``ssl.SSLContext`` that trusts only the lab CA."""
        return ssl.create_default_context(cafile=str(self.ca_pem))

    def _issue(
        self,
        ca: trustme.CA,
        names: tuple[str, ...],
        not_before: dt.datetime | None,
        not_after: dt.datetime | None,
        kind: str,
    ) -> CertFiles:
        if not names:
            raise ValueError("issue() needs at least one name")
        now = dt.datetime.now(dt.UTC)
        nb = not_before or now - dt.timedelta(hours=1)
        na = not_after or now + dt.timedelta(days=365)
        leaf = ca.issue_cert(*names, not_before=nb, not_after=na)
        cert_bytes = leaf.cert_chain_pems[0].bytes()
        chain = b"".join(p.bytes() for p in leaf.cert_chain_pems)  # leaf + intermediates
        return self._write(names, kind, cert_bytes, leaf.private_key_pem.bytes(), chain, (nb, na))

    def _write(
        self,
        names: tuple[str, ...],
        kind: str,
        cert: bytes,
        key: bytes,
        chain: bytes,
        validity: tuple[dt.datetime, dt.datetime],
    ) -> CertFiles:
        with self._lock:
            self._counter += 1
            stem = f"{self._counter:03d}-{kind}-{_slug(names)}"
        cert_pem = self.folder / f"{stem}.crt.pem"
        key_pem = self.folder / f"{stem}.key.pem"
        chain_pem = self.folder / f"{stem}.chain.pem"
        combined_pem = self.folder / f"{stem}.combined.pem"
        cert_pem.write_bytes(cert)
        key_pem.write_bytes(key)
        key_pem.chmod(0o644)  # Dovecot reads it as root, aiosmtpd as us: no secret here
        chain_pem.write_bytes(chain)
        combined_pem.write_bytes(key + chain)
        return CertFiles(names, cert_pem, key_pem, chain_pem, combined_pem, *validity)


def _idna(name: str) -> str:
    try:
        return name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        return name


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(_idna(name))
