#!/usr/bin/env python3
"""Transport benchmark: VMP3Transport's backends against real servers on loopback, each beside a
baseline client doing the same work in the same run.

    python3 Benchmarks/transport_benchmark.py [--messages 5000] [--jobs 2000] [--object-mb 200]

Needs the release build of the Swift half (`swift build -c release --product vmp3-transport-bench`).
Uses the servers of `scripts/services.sh` if VMP3_TEST_* variables say where they are; otherwise
starts them and stops them at the end.

| what | VMP3 | baseline |
|---|---|---|
| RabbitMQ publish + confirm, one at a time | AMQPMessageQueue.publish | pika, confirm_delivery |
| RabbitMQ consume + ack, prefetch 100 | AMQPMessageQueue.subscribe | pika basic_consume |
| Redis job store: create, get, claim, progress, succeed | RedisJobStore | redis-benchmark SET (one round trip) |
| S3 upload / download of a file, 8 MiB parts, 2 at once | S3ObjectStore | boto3 with the same part size and concurrency |

S3 rows are the medians of --s3-runs runs of each, alternating.

Peak memory (max RSS from wait4) of each S3 run, for a small, the 200 MB and a 500 MB object,
shows whether memory grows with the object.
"""
import argparse
import json
import os
import statistics
import resource  # noqa: F401  (os.wait4 returns a resource.struct_rusage)
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

from test_servers import ensure_services, stop_services

ROOT = Path(__file__).resolve().parent.parent



def run_peak(command):
    """Runs `command`; returns (its standard output, its peak RSS in bytes, from wait4). Output
    goes through files, so that a chatty child cannot fill a pipe and stall. Exits on failure."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"{' '.join(map(str, command[:3]))} ... failed:\n{err.read().decode(errors='replace')}")
        return out.read().decode(), usage.ru_maxrss * 1024


def swift_bench(binary, *arguments):
    """Runs the Swift half; returns its measurements and its peak RSS in bytes."""
    stdout, peak = run_peak([binary, *map(str, arguments)])
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")], peak


def python_child(code, *arguments):
    """Runs `code` in a new Python; returns its JSON output and its peak RSS in bytes."""
    stdout, peak = run_peak([sys.executable, "-c", code, *map(str, arguments)])
    return json.loads(stdout), peak


PIKA = r"""
import json, sys, time, uuid, pika
url, count = sys.argv[1], int(sys.argv[2])
connection = pika.BlockingConnection(pika.URLParameters(url))
channel = connection.channel()
queue = "baseline." + uuid.uuid4().hex[:8]
channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
channel.confirm_delivery()
body = json.dumps({"jobID": str(uuid.uuid4()), "attempt": 1}).encode()
start = time.perf_counter()
for _ in range(count):
    channel.basic_publish("", queue, body, properties=pika.BasicProperties(delivery_mode=2), mandatory=True)
published = time.perf_counter() - start
channel.basic_qos(prefetch_count=100)
received = 0
start = time.perf_counter()
for method, _, _ in channel.consume(queue):
    channel.basic_ack(method.delivery_tag)
    received += 1
    if received == count:
        break
consumed = time.perf_counter() - start
channel.cancel()
channel.queue_delete(queue)
connection.close()
print(json.dumps({"publish": count / published, "consume": count / consumed}))
"""

BOTO3 = r"""
import json, os, sys, time, uuid, boto3
from boto3.s3.transfer import TransferConfig
endpoint, path = sys.argv[1], sys.argv[2]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                  aws_access_key_id="bench", aws_secret_access_key="bench-secret")
bucket = "baseline-" + uuid.uuid4().hex[:8]
s3.create_bucket(Bucket=bucket)
config = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=2)
size = os.path.getsize(path)
start = time.perf_counter()
s3.upload_file(path, bucket, "object.bin", Config=config)
upload = time.perf_counter() - start
target = path + ".boto3"
start = time.perf_counter()
s3.download_file(bucket, "object.bin", target, Config=config)
download = time.perf_counter() - start
os.remove(target)
s3.delete_object(Bucket=bucket, Key="object.bin")
print(json.dumps({"upload": size / 1e6 / upload, "download": size / 1e6 / download}))
"""


def redis_benchmark(url, requests, concurrency):
    parsed = urllib.parse.urlparse(url)
    output = subprocess.run(
        ["redis-benchmark", "-h", parsed.hostname, "-p", str(parsed.port), "-c", str(concurrency), "-n", str(requests),
         "-t", "set", "--csv"],
        check=True, capture_output=True, text=True,
    ).stdout
    for line in output.splitlines():
        fields = [field.strip('"') for field in line.split(",")]
        if fields[0] == "SET":
            return float(fields[1])
    sys.exit(f"redis-benchmark printed no SET line:\n{output}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--object-mb", type=int, default=200)
    parser.add_argument("--small-object-mb", type=int, default=20)
    parser.add_argument("--large-object-mb", type=int, default=500, help="a third size, to show where memory levels off")
    parser.add_argument("--s3-runs", type=int, default=3, help="S3 runs of each size, alternating VMP3 and boto3; medians")
    parser.add_argument("--bench", default=str(ROOT / ".build" / "release" / "vmp3-transport-bench"))
    args = parser.parse_args()
    if not Path(args.bench).exists():
        sys.exit(f"{args.bench} is missing: swift build -c release --product vmp3-transport-bench")
    try:
        import pika  # noqa: F401
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "pika"], check=True)

    env, started = ensure_services()
    rows = []
    try:
        amqp, redis, s3 = env["VMP3_TEST_AMQP_URL"], env["VMP3_TEST_REDIS_URL"], env["VMP3_TEST_S3_ENDPOINT"]

        measurements, _ = swift_bench(args.bench, "amqp", amqp, args.messages)
        ours = {m["metric"]: m for m in measurements}
        baseline, _ = python_child(PIKA, amqp, args.messages)
        rows.append(("RabbitMQ publish+confirm, sequential (msg/s)", ours["amqp.publish_confirm.sequential"]["per_second"], baseline["publish"], "pika"))
        rows.append(("RabbitMQ publish+confirm, 16 tasks (msg/s)", ours["amqp.publish_confirm.concurrent"]["per_second"], baseline["publish"], "pika, sequential"))
        rows.append(("RabbitMQ consume+ack, prefetch 100 (msg/s)", ours["amqp.consume_ack"]["per_second"], baseline["consume"], "pika"))

        for concurrency in (1, 8):
            measurements, _ = swift_bench(args.bench, "redis", redis, args.jobs, concurrency)
            ours = measurements[0]["per_second"]
            rows.append((f"Redis job-store ops, {concurrency} at once (op/s)", ours, redis_benchmark(redis, 20000, concurrency), "redis-benchmark SET"))

        memory = []
        with tempfile.TemporaryDirectory(prefix="vmp3-bench-") as folder:
            for size in (args.small_object_mb, args.object_mb, args.large_object_mb):
                path = Path(folder) / f"object-{size}.bin"
                with open(path, "wb") as file:
                    for _ in range(size):
                        file.write(os.urandom(1 << 20))
                # Alternated, medians: the S3 server (moto) is shared, and its speed drifts.
                runs = {"upload": [], "download": [], "boto3 upload": [], "boto3 download": []}
                peak = baseline_peak = 0
                for _ in range(args.s3_runs):
                    measurements, run_peak = swift_bench(args.bench, "s3", s3, path)
                    ours = {m["metric"]: m for m in measurements}
                    runs["upload"].append(ours["s3.upload"]["mb_per_second"])
                    runs["download"].append(ours["s3.download"]["mb_per_second"])
                    baseline, run_baseline_peak = python_child(BOTO3, s3, path)
                    runs["boto3 upload"].append(baseline["upload"])
                    runs["boto3 download"].append(baseline["download"])
                    peak, baseline_peak = max(peak, run_peak), max(baseline_peak, run_baseline_peak)
                median = {name: statistics.median(values) for name, values in runs.items()}
                rows.append((f"S3 upload {size} MB (MB/s)", median["upload"], median["boto3 upload"], "boto3"))
                rows.append((f"S3 download {size} MB (MB/s)", median["download"], median["boto3 download"], "boto3"))
                memory.append((size, peak, baseline_peak))
                path.unlink()
    finally:
        if started:
            stop_services()

    print(f"{'measurement':52} {'VMP3':>10} {'baseline':>10} {'ratio':>6}  baseline")
    for name, ours, theirs, what in rows:
        print(f"{name:52} {ours:10.1f} {theirs:10.1f} {ours / theirs:6.2f}  {what}")
    print()
    print(f"{'S3 object':12} {'VMP3 peak RSS MB':>17} {'boto3 peak RSS MB':>18}")
    for size, peak, baseline_peak in memory:
        print(f"{str(size) + ' MB':12} {peak / 1e6:17.1f} {baseline_peak / 1e6:18.1f}")
    for (small, small_peak, _), (large, large_peak, _) in zip(memory, memory[1:]):
        print(f"VMP3 peak RSS from {small} MB to {large} MB: {(large_peak - small_peak) / 1e6:+.1f} MB")


if __name__ == "__main__":
    main()
