#!/usr/bin/env python3
"""Signs a request with botocore at a fixed time, for comparison with VMP3's SigV4Signer.

Reads JSON on stdin: {"method", "url", "headers", "region", "service",
"access_key", "secret_key", "timestamp" (YYYYMMDDTHHMMSSZ), "body" (optional),
"presign_expires" (optional)}. botocore hashes the body itself, as S3 requests sign it.
Prints JSON: {"authorization"} or {"url"}.
"""
import datetime
import json
import sys
from unittest import mock

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

spec = json.load(sys.stdin)
now = datetime.datetime.strptime(spec["timestamp"], "%Y%m%dT%H%M%SZ")
credentials = Credentials(spec["access_key"], spec["secret_key"])
request = AWSRequest(method=spec["method"], url=spec["url"], headers=dict(spec.get("headers", {})),
                     data=spec.get("body", "").encode())
with mock.patch("botocore.auth.get_current_datetime", return_value=now):
    if "presign_expires" in spec:
        S3SigV4QueryAuth(credentials, spec["service"], spec["region"], expires=spec["presign_expires"]).add_auth(request)
        print(json.dumps({"url": request.url}))
    else:
        S3SigV4Auth(credentials, spec["service"], spec["region"]).add_auth(request)
        print(json.dumps({"authorization": request.headers["Authorization"]}))
