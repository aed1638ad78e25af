"""A static file server on 127.0.0.1 for tests that need a registry to
misbehave in ways real registries will not: serve other bytes than the
metadata promises, or serve a large file slowly so a download can be killed
mid-way. Logs one line per request ("GET /path") to --log, flushed at once.

usage: fixture_server.py --root DIR --port-file FILE --log FILE [--rate BYTES_PER_SEC] [--slow-requests N] [--stall-after BYTES]
"""

import argparse
import http.server
import os
import time
import urllib.parse

parser = argparse.ArgumentParser()
parser.add_argument("--root", required=True)
parser.add_argument("--port-file", required=True)
parser.add_argument("--log", required=True)
parser.add_argument("--rate", type=int, default=0, help="throttle file bodies to this many bytes/s")
parser.add_argument("--slow-requests", type=int, default=1 << 30, help="throttle only the first N file requests")
parser.add_argument("--stall-after", type=int, default=-1, help="send this many body bytes, then nothing (for timeouts)")
args = parser.parse_args()
log = open(args.log, "a", buffering=1)
served = {"count": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def do_GET(self):
        log.write(f"GET {self.path}\n")
        path = os.path.join(args.root, urllib.parse.unquote(self.path.split("?")[0]).lstrip("/"))
        if not os.path.isfile(path):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if body[:1] == b"{" else "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        served["count"] += 1
        if args.stall_after >= 0:
            self.wfile.write(body[: args.stall_after])
            self.wfile.flush()
            time.sleep(3600)
        elif args.rate and served["count"] <= args.slow_requests:
            chunk = max(1, args.rate // 20)
            for start in range(0, len(body), chunk):
                self.wfile.write(body[start : start + chunk])
                self.wfile.flush()
                time.sleep(0.05)
        else:
            self.wfile.write(body)


class Server(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client killed mid-download (the point of some tests) is not news


server = Server(("127.0.0.1", 0), Handler)
tmp = args.port_file + ".tmp"
with open(tmp, "w") as f:
    f.write(str(server.server_address[1]))
os.rename(tmp, args.port_file)
server.serve_forever()
