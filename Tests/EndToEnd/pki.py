"""Throw-away PKI for the end-to-end tests, made with the ``openssl`` command line tool.

The real GigaChat hosts chain to a CA that no public trust store carries (the Russian Trusted Root CA),
so the daemon has to be told about extra CAs through GIGACHAT_CA_BUNDLE_FILE. The tests mirror that:
the fake API presents a certificate from a CA made here, and only the daemon that is given ``ca.pem``
trusts it. Two deliberately bad certificates let the TLS failure modes be tested too:

* ``untrusted``: a server certificate with the right names, from a second CA nobody is told about;
* ``wronghost``: from the trusted CA, but for ``wrong.example`` only, so host name checks must fail.

Keys are EC P-256 so that making the whole set takes a fraction of a second.
"""

from __future__ import annotations

import os
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TestPKI", "make_test_pki"]

# Generous validity: the suite must not start failing because a cached directory got old.
_DAYS = "3650"


@dataclass(frozen=True)
class TestPKI:
    """Paths of everything ``make_test_pki`` produced (all PEM)."""

    __test__ = False  # not a pytest test class, despite the name

    directory: Path
    ca_cert: Path  # the trusted test CA: give this to GIGACHAT_CA_BUNDLE_FILE
    ca_key: Path
    server_cert: Path  # SAN IP:127.0.0.1, DNS:localhost, signed by ca_cert
    server_key: Path
    untrusted_ca_cert: Path  # a second CA that is never handed to the daemon
    untrusted_server_cert: Path  # right names, signed by untrusted_ca_cert
    untrusted_server_key: Path
    wronghost_cert: Path  # signed by ca_cert, SAN DNS:wrong.example only
    wronghost_key: Path

    def server_pair(self, which: str = "good") -> tuple[Path, Path]:
        """(certificate, key) for the fake API: "good", "untrusted" or "wronghost"."""
        pairs = {
            "good": (self.server_cert, self.server_key),
            "untrusted": (self.untrusted_server_cert, self.untrusted_server_key),
            "wronghost": (self.wronghost_cert, self.wronghost_key),
        }
        try:
            return pairs[which]
        except KeyError:
            raise ValueError(f"unknown certificate {which!r}; use one of {sorted(pairs)}") from None


_lock = threading.Lock()
_cache: dict[Path, TestPKI] = {}


def _paths(directory: Path) -> TestPKI:
    d = directory
    return TestPKI(
        directory=d,
        ca_cert=d / "ca.pem",
        ca_key=d / "ca.key",
        server_cert=d / "server.pem",
        server_key=d / "server.key",
        untrusted_ca_cert=d / "untrusted-ca.pem",
        untrusted_server_cert=d / "untrusted-server.pem",
        untrusted_server_key=d / "untrusted-server.key",
        wronghost_cert=d / "wronghost.pem",
        wronghost_key=d / "wronghost.key",
    )


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        ["openssl", *args], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")


def _make_ca(d: Path, name: str, cn: str) -> None:
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", _DAYS, "-subj", f"/CN={cn}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash",
        cwd=d,
    )


def _make_leaf(d: Path, name: str, ca: str, cn: str, san: str) -> None:
    # Leaf extensions are spelled out in full: modern verifiers (OpenSSL 3 strict mode, rustls-like
    # stacks) reject leaves without an authority key id or with CA:TRUE, and we want the *only*
    # reason a bad certificate fails to be the one a test is about.
    ext = d / f"{name}.ext"
    ext.write_text(
        f"subjectAltName={san}\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
    )
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}",
        cwd=d,
    )
    _openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
        "-CAcreateserial", "-out", f"{name}.pem", "-days", _DAYS, "-extfile", ext.name,
        cwd=d,
    )
    (d / f"{name}.csr").unlink()
    ext.unlink()


def make_test_pki(directory: str | os.PathLike[str]) -> TestPKI:
    """Create (or reuse) the test PKI in ``directory`` and return its paths.

    Reuse is keyed on the directory: within one process the result is memoised, and a directory that
    already holds every file (a standalone fake restarted with the same --certdir) is taken as is.
    """
    d = Path(directory).resolve()
    with _lock:
        if d in _cache:
            return _cache[d]
        pki = _paths(d)
        files = [
            pki.ca_cert, pki.ca_key, pki.server_cert, pki.server_key, pki.untrusted_ca_cert,
            pki.untrusted_server_cert, pki.untrusted_server_key, pki.wronghost_cert, pki.wronghost_key,
        ]
        if not all(f.exists() for f in files):
            d.mkdir(parents=True, exist_ok=True)
            _make_ca(d, "ca", "gigachatd test CA")
            _make_leaf(d, "server", "ca", "localhost", "IP:127.0.0.1,DNS:localhost")
            _make_ca(d, "untrusted-ca", "gigachatd untrusted test CA")
            _make_leaf(d, "untrusted-server", "untrusted-ca", "localhost", "IP:127.0.0.1,DNS:localhost")
            _make_leaf(d, "wronghost", "ca", "wrong.example", "DNS:wrong.example")
            for key in (pki.ca_key, pki.server_key, pki.untrusted_server_key, pki.wronghost_key):
                key.chmod(0o600)
        _cache[d] = pki
        return pki


if __name__ == "__main__":
    import sys

    target = sys.argv[1] if len(sys.argv) > 1 else "test-pki"
    made = make_test_pki(target)
    print(made.directory)
