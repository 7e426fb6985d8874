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
