#!/usr/bin/env python3
"""An HTTP proxy in front of the test S3 server that answers 500 to chosen requests.

    fault_proxy.py PORT UPSTREAM FAILURES [MATCH]

The first FAILURES requests whose path and query contain MATCH (default: every request) get
500 InternalError; all others are forwarded to UPSTREAM. PORT 0 takes a free port. Prints
"ready on port N" once listening, and
one line per request: "500 METHOD PATH" or "fwd METHOD PATH".
"""
import http.client
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

port, upstream, failures = int(sys.argv[1]), urlsplit(sys.argv[2]), int(sys.argv[3])
match = sys.argv[4] if len(sys.argv) > 4 else ""
lock = threading.Lock()
remaining = [failures]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_one(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with lock:
            fail = match in self.path and remaining[0] > 0
            if fail:
                remaining[0] -= 1
        if fail:
            print("500", self.command, self.path, flush=True)
            answer = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
            self.send_response(500)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            return
        print("fwd", self.command, self.path, flush=True)
        connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        headers["Host"] = upstream.netloc
        connection.request(self.command, self.path, body=body if (body or self.command in ("PUT", "POST")) else None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_one

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("ready on port", server.server_address[1], flush=True)
server.serve_forever()
