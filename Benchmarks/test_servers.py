"""The servers of scripts/services.sh, for the benchmarks that need them."""
import os
import subprocess
from pathlib import Path

SERVICES = Path(__file__).resolve().parent.parent / "scripts" / "services.sh"


def ensure_services():
    """The VMP3_TEST_* variables, starting the servers if none are running. Returns (env, started)."""
    if os.environ.get("VMP3_TEST_AMQP_URL"):
        return dict(os.environ), False
    subprocess.run(["bash", str(SERVICES), "start"], check=True)
    exports = subprocess.run(["bash", str(SERVICES), "env"], check=True, capture_output=True, text=True).stdout
    env = dict(os.environ)
    for line in exports.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        env[name] = value
    return env, True


def stop_services():
    subprocess.run(["bash", str(SERVICES), "stop"], check=False)


def deployment_environment(env, name, work):
    """The variables of a deployment of the services on those servers, under `name` (its own
    bucket, queues and keys) with its files in `work`. Creates the bucket."""
    env = dict(env)
    env.update({
        "VMP3_STORAGE": f"s3://{name}?endpoint={env['VMP3_TEST_S3_ENDPOINT']}&region=us-east-1",
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret",
        "VMP3_QUEUE": f"{env['VMP3_TEST_AMQP_URL']}?prefix={name}.", "VMP3_STORE": f"{env['VMP3_TEST_REDIS_URL']}?prefix={name}:",
        "VMP3_DATA_DIR": str(work), "VMP3_HTTP_ADDRESS": "127.0.0.1:0", "VMP3_LOG_LEVEL": "warning",
        # The benchmarks upload one file again and again to measure conversions, not cache hits.
        "VMP3_CONVERSION_CACHE": "off",
    })
    import boto3
    s3 = boto3.client("s3", endpoint_url=env["VMP3_TEST_S3_ENDPOINT"], region_name="us-east-1",
                      aws_access_key_id="bench", aws_secret_access_key="bench-secret")
    s3.create_bucket(Bucket=name)
    return env, s3


def start_service(binary, env, stderr=None):
    """Starts a service executable; returns (process, its http:// address) once it listens. Its
    standard error (the log) goes to the file `stderr` if given, else nowhere."""
    import re
    import sys
    import threading
    log = open(stderr, "w") if stderr else subprocess.DEVNULL
    process = subprocess.Popen([str(binary)], env=env, stdout=subprocess.PIPE, stderr=log, text=True)
    line = process.stdout.readline()
    match = re.search(r"listening on (http://[0-9.]+:[0-9]+)", line)
    if not match:
        sys.exit(f"{Path(binary).name} did not start: {line}")
    # Keep reading, so that a service that prints more never blocks on a full pipe.
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, match.group(1)
