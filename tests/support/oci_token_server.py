"""A Docker/OCI token server (the `auth: token` realm of distribution) on
127.0.0.1, so the bearer-token challenge flow runs against a real registry.
Grants anonymous tokens for the scopes asked, except repositories under
`private/`, which get HTTP 401. Logs one line per token request.

usage: oci_token_server.py --init DIR            writes DIR/root.pem and DIR/key.pem
       oci_token_server.py --dir DIR --port-file FILE --log FILE --issuer I --service S
"""

import argparse
import base64
import datetime
import http.server
import json
import os
import time
import urllib.parse
import uuid

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

parser = argparse.ArgumentParser()
parser.add_argument("--init")
parser.add_argument("--dir")
parser.add_argument("--port-file")
parser.add_argument("--log")
parser.add_argument("--issuer")
parser.add_argument("--service")
args = parser.parse_args()

if args.init:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mcpin test token issuer")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    with open(os.path.join(args.init, "key.pem"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(os.path.join(args.init, "root.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    raise SystemExit(0)

with open(os.path.join(args.dir, "key.pem"), "rb") as f:
    KEY = serialization.load_pem_private_key(f.read(), None)
with open(os.path.join(args.dir, "root.pem"), "rb") as f:
    CERT_DER = x509.load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)
log = open(args.log, "a", buffering=1)


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(scopes):
    now = int(time.time())
    access = []
    for scope in scopes:
        kind, name, actions = scope.split(":")
        access.append({"type": kind, "name": name, "actions": actions.split(",")})
    header = {"alg": "ES256", "typ": "JWT", "x5c": [base64.b64encode(CERT_DER).decode()]}
    claims = {"iss": args.issuer, "sub": "", "aud": args.service, "exp": now + 300, "nbf": now - 10,
              "iat": now, "jti": str(uuid.uuid4()), "access": access}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    r, s = decode_dss_signature(KEY.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        scopes = query.get("scope", [])
        log.write(f"token {' '.join(scopes)}\n")
        if any(scope.split(":")[1].startswith("private/") for scope in scopes):
            body, status = b'{"errors":[{"code":"UNAUTHORIZED"}]}', 401
        else:
            body, status = json.dumps({"token": token(scopes), "expires_in": 300}).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
tmp = args.port_file + ".tmp"
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]))
os.rename(tmp, args.port_file)
server.serve_forever()
