"""A client that uploads a file to the HTTP API at the speed of the wire, for the benchmarks.

curl (`-T` or `--data-binary @file`) tops out near 240 MB/s on this machine's loopback, even to a
server that only discards the bytes, and Python's http.client sends a file 8 KiB at a time: either
would measure the client. This one writes the request head, then the file with sendfile(2)
(1.6 GB/s to the same discarding server).
"""
import json
import os
import socket
from urllib.parse import urlparse


def upload(base, token, path, query=""):
    """POSTs the file at `path` to BASE/v1/jobs; returns the job (the JSON answer). Raises on a
    status of 300 or more."""
    url = urlparse(base)
    size = os.path.getsize(path)
    with socket.create_connection((url.hostname, url.port)) as connection:
        connection.sendall((
            f"POST /v1/jobs{query} HTTP/1.1\r\nHost: {url.netloc}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n"
        ).encode())
        with open(path, "rb") as file:
            connection.sendfile(file)
        answer = bytearray()
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = bytes(answer).partition(b"\r\n\r\n")
    status = int(head.split()[1])
    if status >= 300:
        raise RuntimeError(f"upload answered {status}: {body[:300]!r}")
    return json.loads(body)
