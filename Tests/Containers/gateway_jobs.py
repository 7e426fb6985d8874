#!/usr/bin/env python3
"""Runs jobs through a VMP3 gateway as a user would, for the container test (run.sh).

Registers a user, logs in, uploads each VIDEO, waits until every job has succeeded and downloads
each MP3 into OUT-DIR as JOB-ID.mp3. Prints the job ids, one a line. Any other outcome (a refused
request, a failed job, a job still unfinished after --timeout seconds) exits 1 with one line
saying what happened.

Usage: gateway_jobs.py GATEWAY-URL OUT-DIR VIDEO... [--timeout SECONDS]
"""
import argparse
import json
import secrets
import sys
import time
import urllib.error
import urllib.request


def request(method, url, body=None, token=None, content_type=None):
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if content_type:
        headers["Content-Type"] = content_type
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def expect(what, status, body, wanted):
    if status not in wanted:
        sys.exit(f"gateway_jobs: {what} answered {status}: {body[:300].decode(errors='replace')}")
    return json.loads(body) if body else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("gateway")
    parser.add_argument("out")
    parser.add_argument("videos", nargs="+")
    parser.add_argument("--timeout", type=float, default=180)
    args = parser.parse_args()
    base = args.gateway.rstrip("/")

    credentials = json.dumps({"email": f"compose-{secrets.token_hex(4)}@example.com",
                              "password": "a long passphrase for the container test"}).encode()
    status, body = request("POST", f"{base}/v1/auth/register", credentials, content_type="application/json")
    expect("register", status, body, (200, 201))
    status, body = request("POST", f"{base}/v1/auth/login", credentials, content_type="application/json")
    token = expect("login", status, body, (200,))["access_token"]

    jobs = []
    for path in args.videos:
        with open(path, "rb") as file:
            video = file.read()
        status, body = request("POST", f"{base}/v1/jobs?bitrate=128", video, token, "application/octet-stream")
        jobs.append(expect("upload", status, body, (200, 201, 202))["id"])

    deadline = time.monotonic() + args.timeout
    pending = set(jobs)
    while pending:
        for job in sorted(pending):
            status, body = request("GET", f"{base}/v1/jobs/{job}", token=token)
            state = expect(f"job {job}", status, body, (200,))
            if state["status"] == "succeeded":
                pending.discard(job)
            elif state["status"] not in ("queued", "running"):
                sys.exit(f"gateway_jobs: job {job} ended {state['status']}: {json.dumps(state.get('failure'))}")
        if pending and time.monotonic() > deadline:
            sys.exit(f"gateway_jobs: {len(pending)} of {len(jobs)} jobs unfinished after {args.timeout:.0f} s")
        if pending:
            time.sleep(0.5)

    for job in jobs:
        status, body = request("GET", f"{base}/v1/jobs/{job}/download", token=token)
        if status != 200:
            sys.exit(f"gateway_jobs: download of {job} answered {status}")
        with open(f"{args.out}/{job}.mp3", "wb") as file:
            file.write(body)
        print(job)


if __name__ == "__main__":
    main()
