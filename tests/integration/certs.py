"""Test certificates made with the `openssl` CLI at test time, in a folder the
caller owns (and removes). Shared by the integration tests that need TLS.

    cert, key = self_signed(d)                       # a server certificate for 127.0.0.1 / localhost
    ca = make_ca(d, "ca")                            # a CA to issue certificates from
    server = issue(d, ca, "server")                  # signed by it, for 127.0.0.1 / localhost
    client = issue(d, ca, "client", client=True)     # a client certificate
    key = encrypt_key(d, client[1], "passphrase")    # the key, encrypted (PKCS#8, AES-256)
    crl = revoke(d, ca, [server])                    # a CRL of `ca` listing `server`

Keys are RSA 2048, unencrypted unless encrypt_key; certificates and CRLs are
valid for one day."""
import os
import random
import subprocess

# The names a certificate for a test server on loopback carries.
LOOPBACK_NAMES = "IP:127.0.0.1,DNS:localhost"


def _openssl(*args):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0], r.stderr))


def self_signed(directory, name="cert", cn="localhost", names=LOOPBACK_NAMES):
    """A self-signed certificate (also usable as a CA: OpenSSL's default
    x509 extensions mark it CA:TRUE). Returns (cert path, key path)."""
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    args = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=" + cn]
    if names:
        args += ["-addext", "subjectAltName=" + names]
    _openssl(*args, "-keyout", key, "-out", cert)
    return cert, key


def make_ca(directory, name="ca"):
    """A CA certificate and key: (cert path, key path)."""
    return self_signed(directory, name, cn="Liandu test CA " + name, names=None)


def issue(directory, ca, name, names=LOOPBACK_NAMES, client=False):
    """A certificate signed by `ca` (from make_ca) for a server on `names`
    (subjectAltName entries), or with `client` one for TLS client
    authentication. Returns (cert path, key path)."""
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    csr = os.path.join(directory, name + ".csr")
    ext = os.path.join(directory, name + ".ext")
    _openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=" + name, "-keyout", key, "-out", csr)
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n")
        f.write("extendedKeyUsage=%s\n" % ("clientAuth" if client else "serverAuth"))
        if names and not client:
            f.write("subjectAltName=%s\n" % names)
    _openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-set_serial",
             str(random.randrange(1, 2**63)), "-days", "1", "-extfile", ext, "-out", cert)
    return cert, key


def encrypt_key(directory, key, passphrase, name=None):
    """`key` (a path) encrypted with `passphrase` (PKCS#8, AES-256), as a new
    file. Returns its path."""
    out = os.path.join(directory, name or os.path.basename(key) + ".enc")
    _openssl("pkey", "-in", key, "-aes256", "-passout", "pass:" + passphrase, "-out", out)
    return out


def revoke(directory, ca, revoked):
    """A CRL (PEM) issued by `ca` listing the certificates `revoked` (each a
    (cert, key) pair from issue), current for one day. Returns its path."""
    name = os.path.splitext(os.path.basename(ca[0]))[0]
    db = os.path.join(directory, name + "-crl-db")
    os.makedirs(db, exist_ok=True)
    conf = os.path.join(db, "ca.cnf")
    with open(conf, "w") as f:
        f.write("[ca]\ndefault_ca = test_ca\n[test_ca]\n"
                "database = %s\ncrlnumber = %s\ndefault_md = sha256\ndefault_crl_days = 1\n"
                % (os.path.join(db, "index.txt"), os.path.join(db, "crlnumber")))
    open(os.path.join(db, "index.txt"), "w").close()
    with open(os.path.join(db, "crlnumber"), "w") as f:
        f.write("01\n")
    for cert, _ in revoked:
        _openssl("ca", "-config", conf, "-keyfile", ca[1], "-cert", ca[0], "-revoke", cert)
    crl = os.path.join(directory, name + ".crl")
    _openssl("ca", "-config", conf, "-keyfile", ca[1], "-cert", ca[0], "-gencrl", "-out", crl)
    return crl
