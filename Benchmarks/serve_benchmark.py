#!/usr/bin/env python3
"""Embedded path benchmark: a job through `vmp3 serve` against `vmp3 convert` of the same file.

    swift build -c release --static-swift-stdlib --product vmp3-server
    swift build -c release --static-swift-stdlib --product vmp3
    python3 Benchmarks/serve_benchmark.py [--runs 3] [--input .benchmarks/10min-720p.mp4] [--baseline OTHER-VMP3]

Starts `vmp3 serve` on loopback with its data in a scratch folder (embedded backends: files and
SQLite, the conversion cache off), registers a user, and for each run uploads the input (streamed with
sendfile, Benchmarks/http_upload.py), then polls the job until it has succeeded; the time is from the upload's start to
`succeeded`. In the same invocation it times `vmp3 convert` of the same file with the same options
(CBR 192). Prints the medians and the overhead of the service (serve minus convert). With
`--baseline`, the same rows for another `vmp3` executable (e.g. one built before a change),
alternating with this one's.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from http_upload import upload

ROOT = Path(__file__).resolve().parent.parent


def call(method, url, body=None, token=None, content_type=None):
    headers = {"Content-Type": content_type} if content_type else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read() or b"null")


def start_serve(vmp3, data):
    env = dict(os.environ, VMP3_CONVERSION_CACHE="off", VMP3_PASSWORD_HASH_COST="ln=10,r=8,p=1",
               VMP3_EMAIL_ALLOWED_RECIPIENTS="@example.com", VMP3_STORAGE_QUOTA_MB="0")
    process = subprocess.Popen([vmp3, "serve", "--port", "0", "--data-dir", str(data), "--concurrency", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    deadline = time.monotonic() + 60
    for line in process.stdout:
        found = re.search(r"serving on (http://[0-9.]+:[0-9]+)", line)
        if found:
            return process, found.group(1)
        if time.monotonic() > deadline:
            break
    process.kill()
    sys.exit("vmp3 serve did not start")


def serve_once(base, token, video):
    start = time.perf_counter()
    job = upload(base, token, video, "?bitrate=192")["id"]
    uploaded = time.perf_counter() - start
    while True:
        state = call("GET", f"{base}/v1/jobs/{job}", token=token)
        if state["status"] == "succeeded":
            return time.perf_counter() - start, uploaded
        if state["status"] not in ("queued", "running"):
            sys.exit(f"job {job} ended {state['status']}: {state.get('failure')}")
        time.sleep(0.05)


def convert_once(vmp3, video, out):
    start = time.perf_counter()
    subprocess.run([vmp3, "convert", str(video), "-o", str(out), "--force", "--quiet", "--bitrate", "192"], check=True)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vmp3", default=str(ROOT / ".build/release/vmp3"))
    parser.add_argument("--baseline", help="another vmp3 executable to measure alongside")
    parser.add_argument("--input", default=str(ROOT / ".benchmarks/10min-720p.mp4"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not Path(args.input).exists():
        sys.exit(f"{args.input} not found: make it with Benchmarks/convert_benchmark.py")
    binaries = {"this build": args.vmp3}
    if args.baseline:
        binaries["baseline"] = args.baseline
    size = Path(args.input).stat().st_size / 1e6
    print(f"# {Path(args.input).name}, {size:.0f} MB; {args.runs} runs each; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as scratch:
        servers = {}
        for name, vmp3 in binaries.items():
            process, base = start_serve(vmp3, Path(scratch) / f"data-{len(servers)}")
            credentials = json.dumps({"email": f"bench{len(servers)}@example.com", "password": "a long passphrase for benchmarks"}).encode()
            call("POST", f"{base}/v1/auth/register", credentials, content_type="application/json")
            token = call("POST", f"{base}/v1/auth/login", credentials, content_type="application/json")["access_token"]
            servers[name] = (process, base, token)
        results = {name: {"serve": [], "upload": [], "convert": []} for name in binaries}
        try:
            for _ in range(args.runs):
                for name, vmp3 in binaries.items():
                    _, base, token = servers[name]
                    total, uploaded = serve_once(base, token, args.input)
                    results[name]["serve"].append(total)
                    results[name]["upload"].append(uploaded)
                    results[name]["convert"].append(convert_once(vmp3, args.input, Path(scratch) / "out.mp3"))
        finally:
            for process, _, _ in servers.values():
                process.terminate()
                process.wait(timeout=30)
    print(f"{'vmp3':<12} {'upload→succeeded s':>19} {'of which upload s':>18} {'vmp3 convert s':>15} {'overhead s':>11}")
    for name, rows in results.items():
        serve, upload, convert = (statistics.median(rows[k]) for k in ("serve", "upload", "convert"))
        print(f"{name:<12} {serve:>19.2f} {upload:>18.2f} {convert:>15.2f} {serve - convert:>11.2f}")


if __name__ == "__main__":
    main()
