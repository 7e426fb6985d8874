#!/usr/bin/env python3
"""Services benchmark: the four services on RabbitMQ, Redis and S3 (moto) on loopback.

    for p in vmp3-auth vmp3-gateway vmp3-converter vmp3; do swift build -c release --product $p; done
    python3 Benchmarks/services_benchmark.py [--upload-mb 500] [--jobs 100] [--concurrency 10]

Prints, in one run:
- upload throughput through the gateway (streamed into S3) for one large body, beside boto3
  uploading the same file straight to the S3 server (the baseline), and the gateway's peak
  memory (VmHWM) before and after;
- job latency from the start of the upload to the `succeeded` event, minus the conversion
  time (`vmp3 convert` of the same clip, median of 5 runs), for JOBS short clips uploaded
  CONCURRENCY at a time: p50 and p95.
"""
import argparse
import concurrent.futures
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from test_servers import deployment_environment, ensure_services, start_service, stop_services

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / ".build" / "release"


def peak_rss(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def request(method, url, body=None, headers=None, timeout=600):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return response.read()


def upload(base, token, path, query=""):
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        body = request("POST", f"{base}/v1/jobs{query}", body=file,
                       headers={"Authorization": f"Bearer {token}", "Content-Length": str(size)})
    return json.loads(body)["id"]


def wait_succeeded(base, token, job):
    req = urllib.request.Request(f"{base}/v1/jobs/{job}/events", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=300) as stream:
        for raw in stream:
            line = raw.decode()
            if line.startswith("data: ") and '"status":"succeeded"' in line:
                return
            if line.startswith("data: ") and '"status":"failed"' in line:
                raise RuntimeError(f"job {job} failed: {line}")
    raise RuntimeError(f"job {job}: events ended without success")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upload-mb", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    for name in ("vmp3-auth", "vmp3-gateway", "vmp3-converter", "vmp3"):
        if not (RELEASE / name).exists():
            sys.exit(f"{RELEASE / name} is missing: see the usage above")

    env, started = ensure_services()
    processes = []
    try:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        work = Path(tempfile.mkdtemp(prefix="vmp3-services-bench-"))
        env, s3 = deployment_environment(env, name, work)
        env.update({
            "VMP3_MAX_UPLOAD_MB": str(args.upload_mb + 10),
            # The per-user limits must not turn this into a test of the limiter.
            "VMP3_UPLOADS_PER_MINUTE": "100000", "VMP3_MAX_ACTIVE_JOBS": "100000",
        })

        auth, auth_url = start_service(RELEASE / "vmp3-auth", env)
        processes.append(auth)
        env["VMP3_AUTH_URL"] = auth_url
        gateway, base = start_service(RELEASE / "vmp3-gateway", env)
        converter, _ = start_service(RELEASE / "vmp3-converter", env)
        processes += [gateway, converter]

        credentials = json.dumps({"email": "bench@example.com", "password": "a long passphrase"}).encode()
        request("POST", f"{base}/v1/auth/register", credentials, {"Content-Type": "application/json"})
        token = json.loads(request("POST", f"{base}/v1/auth/login", credentials, {"Content-Type": "application/json"}))["access_token"]

        # 1. One large upload (not a video: only the upload is measured; its job fails quickly).
        big = work / "big.bin"
        with open(big, "wb") as file:
            for _ in range(args.upload_mb):
                file.write(os.urandom(1 << 20))
        idle_peak = peak_rss(gateway.pid)
        start_time = time.perf_counter()
        upload(base, token, big)
        gateway_seconds = time.perf_counter() - start_time
        upload_peak = peak_rss(gateway.pid)
        from boto3.s3.transfer import TransferConfig
        start_time = time.perf_counter()
        s3.upload_file(str(big), name, "baseline.bin", Config=TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=2))
        boto_seconds = time.perf_counter() - start_time
        big.unlink()

        # 2. Latency of short jobs, beyond their conversion.
        clip = work / "clip.mp4"
        subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=5",
                        "-f", "lavfi", "-i", "sine=frequency=440:duration=5",
                        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(clip)], check=True)
        conversions = []
        for _ in range(5):
            t = time.perf_counter()
            subprocess.run([str(RELEASE / "vmp3"), "convert", str(clip), "-o", str(work / "clip.mp3"), "--force", "--quiet"], check=True)
            conversions.append(time.perf_counter() - t)
        conversion = statistics.median(conversions)

        def one_job(_):
            t = time.perf_counter()
            job = upload(base, token, clip)
            wait_succeeded(base, token, job)
            return time.perf_counter() - t

        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            latencies = sorted(pool.map(one_job, range(args.jobs)))
        beyond = [max(0.0, latency - conversion) for latency in latencies]
        p50 = statistics.median(beyond)
        p95 = beyond[min(len(beyond) - 1, int(round(0.95 * len(beyond))) - 1)]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
        if started:
            stop_services()

    mb = args.upload_mb * (1 << 20) / 1e6
    print(f"upload {args.upload_mb} MiB through the gateway: {mb / gateway_seconds:8.1f} MB/s")
    print(f"upload {args.upload_mb} MiB with boto3 to S3:     {mb / boto_seconds:8.1f} MB/s   ratio gateway/boto3: {boto_seconds / gateway_seconds:.2f}")
    print(f"gateway peak RSS: {idle_peak / 1e6:.1f} MB before the upload, {upload_peak / 1e6:.1f} MB after")
    print(f"conversion of the 5 s clip (vmp3 convert, median of 5): {conversion * 1000:.0f} ms")
    print(f"{args.jobs} jobs, {args.concurrency} at once: latency from upload to `succeeded` beyond the conversion: "
          f"p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms (whole: p50 {statistics.median(latencies) * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
