#!/usr/bin/env python3
"""Sandbox benchmark: conversions in the confined child against in-process conversion and the
`ffmpeg` CLI, in one run, on the same inputs.

- Per-job overhead in a service: `vmp3-sandbox-bench` converts a 5-second clip `--clip-runs` times
  in one long-lived process each way, alternating: in process, in a child that was waiting (the
  services' default) and in a child started for the job; the overhead is the difference of the
  medians (p50) and of the 90th percentiles.
- Per-job overhead of the CLI: `vmp3 convert` against one conversion in process
  (`vmp3-sandbox-bench --convert-once`: a program that converts once with MediaConverter, the
  allocator set as `vmp3` sets it) on the same clip, a process each time (the CLI keeps no child
  waiting: it converts once).
- Long inputs (the 10-minute and 1-hour videos of convert_benchmark.py, cached in .benchmarks/):
  median wall time of `vmp3 convert` (a confined child), `vmp3 convert --no-sandbox` (an
  unconfined child), the in-process program and `ffmpeg`, each against in process; one sampled
  run of each for its peak memory, parent and child together (and the child alone): the most resident memory of the process and its descendants at once (RSS, which
  counts a shared library's pages once per process that maps them), and the most proportional
  memory (PSS, which divides each shared page among the processes that map it, so the tree's sum
  counts it once), read from /proc every 5 ms; then, as a service converts,
  `vmp3-sandbox-bench --long`: in process against a waiting child, `--service-runs` each,
  alternating, in one long-lived process.

    swift build -c release --static-swift-stdlib --product vmp3
    swift build -c release --static-swift-stdlib --product vmp3-convert-child
    swift build -c release --static-swift-stdlib --product vmp3-sandbox-bench
    python3 Benchmarks/sandbox_benchmark.py [--clip-runs 30] [--runs 3] [--service-runs 7] [--no-hour] [--vmp3 .build/release/vmp3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from convert_benchmark import CACHE, ROOT, descendants, make_video  # noqa: E402


def make_clip() -> Path:
    path = CACHE / "5s-720p.mp4"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=5",
                        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=5", "-ac", "2",
                        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-b:a", "160k", str(path)], check=True)
    return path


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def tree_peak(command: list[str]) -> tuple[int, int, int]:
    """Runs `command`, sampling the memory of it and its descendants every 5 ms; returns the
    largest sums seen of their RSS and of their PSS, and the largest RSS of the descendants alone
    (the conversion child), in bytes."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_rss = peak_pss = peak_descendants = 0
    while process.poll() is None:
        rss = pss = below = 0
        for pid in descendants(process.pid):
            try:
                with open(f"/proc/{pid}/smaps_rollup") as rollup:
                    for line in rollup:
                        if line.startswith("Rss:"):
                            rss += int(line.split()[1]) * 1024
                            if pid != process.pid:
                                below += int(line.split()[1]) * 1024
                        elif line.startswith("Pss:"):
                            pss += int(line.split()[1]) * 1024
            except (OSError, ValueError):
                pass
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        peak_descendants = max(peak_descendants, below)
        time.sleep(0.005)
    if process.returncode != 0:
        sys.exit(f"{' '.join(command)} failed")
    return peak_rss, peak_pss, peak_descendants


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vmp3", default=str(ROOT / ".build/release/vmp3"))
    parser.add_argument("--clip-runs", type=int, default=30, help="conversions of the 5 s clip each way (default 30)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each long input each way (default 3)")
    parser.add_argument("--service-runs", type=int, default=7,
                        help="runs of each long input each way in one process, as a service converts (default 7)")
    parser.add_argument("--no-hour", action="store_true", help="leave out the 1-hour input")
    args = parser.parse_args()
    child = Path(args.vmp3).with_name("vmp3-convert-child")
    bench = Path(args.vmp3).with_name("vmp3-sandbox-bench")
    if not all(os.access(program, os.X_OK) for program in (args.vmp3, child, bench)):
        sys.exit(f"build {args.vmp3}, {child} and {bench} first (see the usage above)")

    print(f"# {os.cpu_count()} cores; CBR 192 kbps")
    with tempfile.TemporaryDirectory() as scratch:
        out = str(Path(scratch) / "out.mp3")

        def vmp3(video: Path, confined: bool = True) -> list[str]:
            command = [args.vmp3, "convert", str(video), "-o", out, "--force", "--quiet", "--bitrate", "192"]
            return command if confined else command + ["--no-sandbox"]

        def in_process(video: Path) -> list[str]:
            return [str(bench), "--convert-once", str(video), out]

        clip = make_clip()
        lines = subprocess.run([str(bench), str(clip), str(args.clip_runs)], check=True, capture_output=True, text=True).stdout
        ways = {row["way"]: row for row in map(json.loads, lines.splitlines())}
        base = ways["in_process"]
        print(f"5 s clip in one process, {args.clip_runs} runs each: in process p50 {base['p50'] * 1000:.1f} ms")
        for way in ("sandbox_waiting_child", "sandbox_child_per_job"):
            row = ways[way]
            print(f"  {way}: p50 {row['p50'] * 1000:.1f} ms, overhead p50 {(row['p50'] - base['p50']) * 1000:.1f} ms, "
                  f"p90 {(row['p90'] - base['p90']) * 1000:.1f} ms")

        timed(vmp3(clip))
        timed(in_process(clip))
        inside, outside = [], []
        for _ in range(args.clip_runs):
            inside.append(timed(vmp3(clip)))
            outside.append(timed(in_process(clip)))
        print(f"5 s clip, vmp3 convert, {args.clip_runs} runs each: sandbox p50 {statistics.median(inside) * 1000:.1f} ms, "
              f"in process p50 {statistics.median(outside) * 1000:.1f} ms: overhead p50 "
              f"{(statistics.median(inside) - statistics.median(outside)) * 1000:.1f} ms, p90 "
              f"{(percentile(inside, 0.9) - percentile(outside, 0.9)) * 1000:.1f} ms")

        inputs = [(make_video(10), "10 min")] + ([] if args.no_hour else [(make_video(60), "1 hour")])
        print(f"{'input':<8} {'tool':<22} {'median s':>9} {'× in process':>13} {'peak RSS MB':>12} {'peak PSS MB':>12} {'child RSS MB':>13}")
        for video, name in inputs:
            tools = {
                "vmp3 (sandbox)": vmp3(video),
                "vmp3 --no-sandbox": vmp3(video, confined=False),
                "in process": in_process(video),
                "ffmpeg CLI": ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(video), "-vn",
                               "-c:a", "libmp3lame", "-b:a", "192k", out],
            }
            times = {tool: [] for tool in tools}
            for _ in range(args.runs):
                for tool, command in tools.items():
                    times[tool].append(timed(command))
            medians = {tool: statistics.median(values) for tool, values in times.items()}
            for tool, command in tools.items():
                ratio = medians[tool] / medians["in process"]
                rss, pss, child_rss = tree_peak(command)
                child = f"{child_rss / 1e6:.1f}" if child_rss else "-"
                print(f"{name:<8} {tool:<22} {medians[tool]:>9.2f} {ratio:>13.3f} {rss / 1e6:>12.1f} {pss / 1e6:>12.1f} {child:>13}")
            # As a service converts: one long-lived process, a child waiting for the job.
            lines = subprocess.run([str(bench), str(video), str(args.service_runs), "--long"], check=True, capture_output=True, text=True).stdout
            service = {row["way"]: row for row in map(json.loads, lines.splitlines())}
            inside, outside = service["sandbox_waiting_child"]["p50"], service["in_process"]["p50"]
            print(f"{name:<8} in one process, {args.service_runs} runs each: waiting child {inside:.2f} s, in process {outside:.2f} s: "
                  f"{inside / outside:.3f}× in process")


if __name__ == "__main__":
    main()
