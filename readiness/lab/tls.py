"""Certificates for the lab's HTTPS sites, made when the lab is built (nothing downloaded).

Each site gets a self-signed certificate for its own name (a filter audit does not need
to trust it: it tells the site's certificate, which names the site, from a router's own
one, which does not). The key never leaves the lab's state folder.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from .state import write_private


def site_certificate(folder: Path, name: str,
                     also: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """(certificate, key) PEM files for `name` (and the names `also` hosted with it) in
    folder/tls, made once per lab."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    out = folder / "tls"
    out.mkdir(mode=0o700, exist_ok=True)
    cert_path, key_path = out / f"{name}.crt", out / f"{name}.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "readiness lab")])
    now = dt.datetime.now(dt.UTC)
    alts: list[x509.GeneralName] = []
    for each in (name, *also):
        try:
            alts.append(x509.IPAddress(ipaddress.ip_address(each)))
        except ValueError:
            alts.append(x509.DNSName(each))
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(alts), critical=False)
            .sign(key, hashes.SHA256()))
    write_private(key_path, key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode())
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path
