#!/usr/bin/env python3
"""Services benchmark: the four services on RabbitMQ, Redis and S3 (moto) on loopback.

    for p in vmp3-auth vmp3-gateway vmp3-converter vmp3-transport-bench; do swift build -c release --product $p; done
    python3 Benchmarks/services_benchmark.py [--upload-mb 500] [--upload-runs 3] [--jobs 100] [--concurrency 10]

Prints, in one run:
- uploads of one large body, alternated --upload-runs times, medians: through the gateway (sent
  with sendfile, Benchmarks/http_upload.py: curl cannot send faster than about 240 MB/s here; the
  gateway streams it into S3), with `S3ObjectStore` alone
  (`vmp3-transport-bench s3-upload`) and with boto3 (same 8 MiB parts, 2 at once), all to the
  same S3 server; the ratios gateway / S3ObjectStore and S3ObjectStore / boto3; the gateway's
  peak memory (VmHWM) before and after;
- the latency of short jobs (a 5-second clip) from the start of the upload to the `succeeded`
  event, one at a time and then CONCURRENCY at a time: p50 and p95 of the whole, and of the
  overhead beyond the conversion itself (the whole minus the converter's own `convert_ms`);
- where that time goes, from the services' own logs: the gateway's "job submitted" line and the
  converter's "succeeded" line carry each stage's time (`JobTimings`); medians per stage.
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

from http_upload import upload as stream_upload
from test_servers import deployment_environment, ensure_services, start_service, stop_services

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / ".build" / "release"

BOTO3_UPLOAD = r"""
import json, sys, time, uuid, boto3
from boto3.s3.transfer import TransferConfig
endpoint, bucket, path = sys.argv[1:4]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench-secret")
key = "baseline/" + uuid.uuid4().hex
start = time.perf_counter()
s3.upload_file(path, bucket, key, Config=TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=2))
seconds = time.perf_counter() - start
s3.delete_object(Bucket=bucket, Key=key)
print(json.dumps({"seconds": seconds}))
"""


def peak_rss(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def request(method, url, body=None, headers=None, timeout=600):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return response.read()


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


def output_of(command):
    """The standard output of `command`; exits with its output if it fails."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(map(str, command[:3]))} ... failed: {result.stderr}{result.stdout}")
    return result.stdout


def stage_times(log_path, message):
    """{job id: {stage: milliseconds}} from the log lines ending in `message`."""
    stages = {}
    for line in Path(log_path).read_text(errors="replace").splitlines():
        if not line.rstrip().endswith(message):
            continue
        fields = dict(re.findall(r"(\w+)=(\S+)", line))
        if "job_id" in fields:
            stages[fields["job_id"]] = {name[:-3]: float(value) for name, value in fields.items() if name.endswith("_ms")}
    return stages


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * len(ordered))) - 1))]


def run_jobs(base, token, clip, count, concurrency):
    """Uploads `count` clips, `concurrency` at a time; returns [(job id, whole seconds)]."""
    def one_job(_):
        start = time.perf_counter()
        job = stream_upload(base, token, clip)["id"]
        wait_succeeded(base, token, job)
        return job, time.perf_counter() - start

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(one_job, range(count)))


GATEWAY_STAGES = ["admit", "upload", "record", "publish"]
CONVERTER_STAGES = ["claim", "fetch", "convert", "store", "record"]
AFTER_STAGES = ["cleanup", "cache", "outcome", "ack"]


def report_jobs(title, results, gateway_log, converter_log):
    submitted = stage_times(gateway_log, "job submitted")
    converted = stage_times(converter_log, "succeeded")
    whole = [seconds * 1000 for _, seconds in results]
    overhead = [seconds * 1000 - converted[job]["convert"] for job, seconds in results]
    print(f"{title}: {len(results)} jobs, whole p50 {statistics.median(whole):.0f} ms, p95 {percentile(whole, 0.95):.0f} ms; "
          f"beyond the conversion p50 {statistics.median(overhead):.0f} ms, p95 {percentile(overhead, 0.95):.0f} ms")
    rows = []
    for stage in GATEWAY_STAGES:
        rows.append((f"gateway {stage}", [submitted[job].get(stage, 0) for job, _ in results]))
    # The converter's `queued` runs from the job's record to the message's arrival, so it holds the
    # gateway's record and publish: what is left of it is the broker's delivery.
    rows.append(("queue delivery", [max(0.0, converted[job].get("queued", 0) - submitted[job].get("record", 0) - submitted[job].get("publish", 0)) for job, _ in results]))
    for stage in CONVERTER_STAGES:
        rows.append((f"converter {stage}", [converted[job].get(stage, 0) for job, _ in results]))
    accounted = {job: sum(submitted[job].get(s, 0) for s in ["admit", "upload"]) + converted[job].get("queued", 0)
                 + sum(converted[job].get(s, 0) for s in CONVERTER_STAGES) for job, _ in results}
    rows.append(("event to the client, HTTP", [seconds * 1000 - accounted[job] for job, seconds in results]))
    for stage in AFTER_STAGES:
        rows.append((f"after: converter {stage}", [converted[job].get(stage, 0) for job, _ in results]))
    print(f"  {'stage (ms)':32} {'p50':>8} {'p95':>8}")
    for name, values in rows:
        print(f"  {name:32} {statistics.median(values):8.1f} {percentile(values, 0.95):8.1f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upload-mb", type=int, default=500)
    parser.add_argument("--upload-runs", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--sequential-jobs", type=int, default=30)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    for name in ("vmp3-auth", "vmp3-gateway", "vmp3-converter", "vmp3-transport-bench"):
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
            "VMP3_UPLOADS_PER_MINUTE": "100000", "VMP3_MAX_ACTIVE_JOBS": "100000", "VMP3_STORAGE_QUOTA_MB": "0",
        })

        auth, auth_url = start_service(RELEASE / "vmp3-auth", env)
        processes.append(auth)
        env["VMP3_AUTH_URL"] = auth_url
        # Info, so that each job's stage times are logged.
        logged = dict(env, VMP3_LOG_LEVEL="info")
        gateway_log, converter_log = work / "gateway.log", work / "converter.log"
        gateway, base = start_service(RELEASE / "vmp3-gateway", logged, stderr=gateway_log)
        converter, _ = start_service(RELEASE / "vmp3-converter", logged, stderr=converter_log)
        processes += [gateway, converter]

        credentials = json.dumps({"email": "bench@example.com", "password": "a long passphrase"}).encode()
        request("POST", f"{base}/v1/auth/register", credentials, {"Content-Type": "application/json"})
        token = json.loads(request("POST", f"{base}/v1/auth/login", credentials, {"Content-Type": "application/json"}))["access_token"]

        # 1. One large upload, three ways (not a video: only the upload is measured; its job fails
        #    quickly and its upload is deleted).
        big = work / "big.bin"
        with open(big, "wb") as file:
            for _ in range(args.upload_mb):
                file.write(os.urandom(1 << 20))
        idle_peak = peak_rss(gateway.pid)
        seconds = {"gateway": [], "S3ObjectStore": [], "boto3": []}
        endpoint = env["VMP3_TEST_S3_ENDPOINT"]
        for _ in range(args.upload_runs):
            start = time.perf_counter()
            stream_upload(base, token, big)
            seconds["gateway"].append(time.perf_counter() - start)
            out = output_of([str(RELEASE / "vmp3-transport-bench"), "s3-upload", endpoint, name, str(big)])
            seconds["S3ObjectStore"].append(json.loads(out.splitlines()[-1])["seconds"])
            out = output_of([sys.executable, "-c", BOTO3_UPLOAD, endpoint, name, str(big)])
            seconds["boto3"].append(json.loads(out.splitlines()[-1])["seconds"])
        upload_peak = peak_rss(gateway.pid)
        big.unlink()

        # 2. Short jobs: one at a time, then `concurrency` at a time.
        clip = work / "clip.mp4"
        subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                        "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=5",
                        "-f", "lavfi", "-i", "sine=frequency=440:duration=5",
                        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-shortest", str(clip)], check=True)
        run_jobs(base, token, clip, 3, 1)  # warm-up: connections, caches
        sequential = run_jobs(base, token, clip, args.sequential_jobs, 1)
        concurrent = run_jobs(base, token, clip, args.jobs, args.concurrency)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=60)
        if started:
            stop_services()

    mb = args.upload_mb * (1 << 20) / 1e6
    median = {way: statistics.median(values) for way, values in seconds.items()}
    print(f"upload of {args.upload_mb} MiB, median of {args.upload_runs} alternated runs:")
    for way in ("gateway", "S3ObjectStore", "boto3"):
        print(f"  {way:14} {mb / median[way]:8.1f} MB/s   (runs: {', '.join(f'{mb / s:.0f}' for s in seconds[way])})")
    print(f"  ratio gateway / S3ObjectStore: {median['S3ObjectStore'] / median['gateway']:.2f}; "
          f"S3ObjectStore / boto3: {median['boto3'] / median['S3ObjectStore']:.2f}; gateway / boto3: {median['boto3'] / median['gateway']:.2f}")
    print(f"gateway peak RSS: {idle_peak / 1e6:.1f} MB before the uploads, {upload_peak / 1e6:.1f} MB after")
    report_jobs("one at a time", sequential, gateway_log, converter_log)
    report_jobs(f"{args.concurrency} at once", concurrent, gateway_log, converter_log)


if __name__ == "__main__":
    main()
