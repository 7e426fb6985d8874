#!/usr/bin/env python3
"""The tests' S3 server: moto's, with two things of S3's that moto does not do (moto 5.x).

- A presigned URL (X-Amz-Date and X-Amz-Expires in the query, or V2's Expires) used after its expiry is refused,
  as S3 refuses it: 403 AccessDenied "Request has expired".
- A GET or HEAD with response-content-disposition, response-content-type, … in the query is
  answered with those headers in place of the stored ones, as S3 answers a signed request.

Usage: s3-server.py -H 127.0.0.1 -p PORT
"""
import argparse
import calendar
import time
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple

OVERRIDES = {
    "response-content-disposition": "Content-Disposition",
    "response-content-type": "Content-Type",
    "response-cache-control": "Cache-Control",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-content-encoding": "Content-Encoding",
}

EXPIRED = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>"
)


def s3_behaviour(app):
    def middleware(environ, start_response):
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        date, expires = query.get("X-Amz-Date", [None])[0], query.get("X-Amz-Expires", [None])[0]
        deadline = None
        try:
            if date and expires:  # Signature V4
                deadline = calendar.timegm(time.strptime(date, "%Y%m%dT%H%M%SZ")) + int(expires)
            elif "Signature" in query and "Expires" in query:  # Signature V2: the deadline itself
                deadline = int(query["Expires"][0])
        except ValueError:
            deadline = 0
        if deadline is not None:
            if time.time() > deadline:
                start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(EXPIRED)))])
                return [EXPIRED]
        overrides = {
            header: query[name][0] for name, header in OVERRIDES.items() if name in query
        } if environ.get("REQUEST_METHOD") in ("GET", "HEAD") else {}
        if not overrides:
            return app(environ, start_response)

        def replacing(status, headers, exc_info=None):
            kept = [(name, value) for name, value in headers if name.lower() not in {h.lower() for h in overrides}]
            return start_response(status, kept + list(overrides.items()), exc_info)

        return app(environ, replacing)

    return middleware


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=19000)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, s3_behaviour(app), threaded=True)


if __name__ == "__main__":
    main()
