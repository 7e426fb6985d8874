#!/usr/bin/env python3
"""Conversion benchmark: `vmp3 convert` against the `ffmpeg` CLI, in one run, on the same inputs.

Makes (once, cached in .benchmarks/) a 10-minute and a 1-minute 720p H.264 + AAC video, converts
each with both tools at the same settings several times, alternating, and prints the median wall
time, the ratio, and the peak memory (max RSS) of each. The 1-minute input is there to show that
memory does not grow with the input's length.

    python3 Benchmarks/convert_benchmark.py [--runs 5] [--vmp3 .build/release/vmp3]
"""
import argparse
import os
import resource  # noqa: F401  (os.wait4 returns a resource.struct_rusage)
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".benchmarks"


def make_video(minutes: int) -> Path:
    path = CACHE / f"{minutes}min-720p.mp4"
    if path.exists():
        return path
    CACHE.mkdir(exist_ok=True)
    seconds = minutes * 60
    # Speech-like content: a tone that changes pitch every half second over pink noise,
    # so that LAME has real work to do (a steady sine is unrealistically cheap to encode).
    audio = (
        f"aevalsrc=exprs='0.3*sin(2*PI*(220+110*mod(floor(2*t),5))*t)+0.2*sin(2*PI*(330+55*mod(floor(3*t),7))*t)'"
        f":channel_layout=stereo:sample_rate=44100:duration={seconds}[tone];"
        f"anoisesrc=color=pink:amplitude=0.08:sample_rate=44100:duration={seconds},aformat=channel_layouts=stereo[noise];"
        f"[tone][noise]amix=inputs=2:normalize=0[a]"
    )
    partial = path.with_suffix(".partial.mp4")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=25:duration={seconds}",
         "-filter_complex", audio, "-map", "0:v", "-map", "[a]",
         "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-b:a", "160k", str(partial)],
        check=True,
    )
    partial.rename(path)
    return path


def measure(command: list[str]) -> tuple[float, int]:
    """Runs `command`; returns (wall seconds, peak RSS in bytes) of that child alone."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command)} failed:\n{stderr}")
    return elapsed, usage.ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each tool per input (default 5)")
    parser.add_argument("--vmp3", default=str(ROOT / ".build/release/vmp3"), help="the vmp3 executable")
    parser.add_argument("--bitrate", type=int, default=192, help="CBR kbps for both tools (default 192)")
    args = parser.parse_args()
    if not os.access(args.vmp3, os.X_OK):
        sys.exit(f"{args.vmp3} not found: build it with `swift build -c release --product vmp3`")

    inputs = [make_video(10), make_video(1)]
    ffmpeg_version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"# {ffmpeg_version}; {os.cpu_count()} cores; {args.runs} runs each; CBR {args.bitrate} kbps, 44.1 kHz stereo")
    print(f"{'input':<18} {'tool':<14} {'median s':>9} {'min s':>7} {'max s':>7} {'peak RSS MB':>12} {'× real time':>12}")
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out.mp3"
        for video in inputs:
            duration = 600 if video.name.startswith("10") else 60
            tools = {
                "vmp3 convert": [args.vmp3, "convert", str(video), "-o", str(out), "--force", "--quiet",
                                 "--bitrate", str(args.bitrate)],
                "ffmpeg CLI": ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(video), "-vn",
                               "-c:a", "libmp3lame", "-b:a", f"{args.bitrate}k", str(out)],
            }
            results: dict[str, list[tuple[float, int]]] = {name: [] for name in tools}
            measure(tools["vmp3 convert"])  # warm the page cache for both
            for _ in range(args.runs):
                for name, command in tools.items():  # alternate, so drift hits both alike
                    results[name].append(measure(command))
            medians = {}
            for name, runs in results.items():
                times = [t for t, _ in runs]
                peak = max(r for _, r in runs)
                medians[name] = statistics.median(times)
                print(f"{video.name:<18} {name:<14} {medians[name]:>9.2f} {min(times):>7.2f} {max(times):>7.2f} "
                      f"{peak / 1e6:>12.1f} {duration / medians[name]:>12.0f}")
            ratio = medians["vmp3 convert"] / medians["ffmpeg CLI"]
            print(f"{video.name:<18} ratio vmp3/ffmpeg (median wall time): {ratio:.2f}")


if __name__ == "__main__":
    main()
