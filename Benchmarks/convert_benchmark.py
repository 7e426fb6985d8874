#!/usr/bin/env python3
"""Conversion benchmark: `vmp3 convert` against the `ffmpeg` CLI, in one run, on the same inputs.

Makes (once, cached in .benchmarks/) a 1-minute and a 10-minute 720p H.264 + AAC video and a
1-hour one at 360p (the audio is made the same way; a smaller picture keeps the file at 1 GB),
converts each with `vmp3 convert` (its default: segments encoded on the free cores, in the
conversion child `vmp3-convert-child`), with `vmp3 convert --threads 1` (one encoder) and with
the ffmpeg CLI at the same settings, several times, alternating, and prints the median wall time,
the peak memory and each vmp3 row's speed against ffmpeg's (ffmpeg's median time / vmp3's). One
more run of each, sampled, splits the peak into anonymous memory (the tool's own) and pages of
files (its code and libraries', shared with other processes). Memory is the tool's processes
together: `vmp3` and its child, summed at each sample. The three lengths show that memory does
not grow with the input's length.

For the inputs up to 10 minutes it also measures the machine's ceiling for encoding on every core
(needs the `lame` CLI, Debian's `lame` package): the input's audio as a WAV encoded by one `lame`
process, against the same audio cut into one part a core, each part encoded by a `lame` process
of its own, all at once. That is the best any tool splitting LAME's work can do here: no overlap,
no joins, no decoding. The `lame ×N parts` row's speed is that ceiling (one `lame`'s median time
over the parts' run); the `× ceiling` column is how much of it each vmp3 row gets.

    swift build -c release --static-swift-stdlib --product vmp3
    swift build -c release --static-swift-stdlib --product vmp3-convert-child
    python3 Benchmarks/convert_benchmark.py [--runs 5] [--hour-runs 3] [--no-hour] [--vmp3 .build/release/vmp3]
"""
import argparse
import os
import resource  # noqa: F401  (os.wait4 returns a resource.struct_rusage)
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".benchmarks"


def make_video(minutes: int) -> Path:
    size, rate = ("1280x720", 25) if minutes <= 10 else ("640x360", 10)
    path = CACHE / f"{minutes}min-{size.split('x')[1]}p.mp4"
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
         "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={rate}:duration={seconds}",
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


def descendants(pid: int) -> set[int]:
    """`pid` and every process below it, from the parent ids in /proc/*/stat."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    family, changed = {pid}, True
    while changed:
        changed = False
        for child, parent in parents.items():
            if parent in family and child not in family:
                family.add(child)
                changed = True
    return family


def sample_memory(command: list[str]) -> tuple[int, int, int]:
    """Runs `command` once more, reading /proc/PID/status of it and its descendants every 3 ms;
    returns the most resident memory (VmRSS), anonymous memory (RssAnon) and pages of files
    (RssFile: executables and libraries) seen at once in the tree, each summed over its
    processes, in bytes. A run of its own, so the sampling never slows a timed run."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peaks = {"VmRSS:": 0, "RssAnon:": 0, "RssFile:": 0}
    while process.poll() is None:
        sums = dict.fromkeys(peaks, 0)
        for pid in descendants(process.pid):
            try:
                with open(f"/proc/{pid}/status") as status:
                    for line in status:
                        field = line.split(None, 1)[0]
                        if field in sums:
                            sums[field] += int(line.split()[1]) * 1024
            except (FileNotFoundError, ProcessLookupError, ValueError):
                pass
        peaks = {field: max(peaks[field], sums[field]) for field in peaks}
        time.sleep(0.003)
    return peaks["VmRSS:"], peaks["RssAnon:"], peaks["RssFile:"]


def make_parts(video: Path, parts: int) -> tuple[Path, list[Path]]:
    """The video's audio as one WAV and as `parts` WAVs of equal length (cached beside the video)."""
    whole = video.with_suffix(".wav")
    if not whole.exists():
        partial = whole.with_suffix(".partial.wav")
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(video), "-vn",
                        "-c:a", "pcm_s16le", str(partial)], check=True)
        partial.rename(whole)
    seconds = float(subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(whole)],
        capture_output=True, text=True, check=True).stdout)
    paths = []
    for index in range(parts):
        path = video.with_name(f"{video.stem}.part{index + 1}of{parts}.wav")
        if not path.exists():
            partial = path.with_suffix(".partial.wav")
            subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(whole),
                            "-ss", f"{seconds * index / parts:.6f}", "-t", f"{seconds / parts:.6f}",
                            "-c:a", "pcm_s16le", str(partial)], check=True)
            partial.rename(path)
        paths.append(path)
    return whole, paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs of each tool per input (default 5)")
    parser.add_argument("--vmp3", default=str(ROOT / ".build/release/vmp3"), help="the vmp3 executable")
    parser.add_argument("--bitrate", type=int, default=192, help="CBR kbps for both tools (default 192)")
    parser.add_argument("--hour-runs", type=int, default=3, help="runs of each tool on the 1-hour input (default 3)")
    parser.add_argument("--no-hour", action="store_true", help="leave out the 1-hour input")
    args = parser.parse_args()
    child = Path(args.vmp3).with_name("vmp3-convert-child")
    if not (os.access(args.vmp3, os.X_OK) and os.access(child, os.X_OK)):
        sys.exit(f"{args.vmp3} or {child} not found: build both (see the usage above)")

    inputs = [(make_video(1), 60, args.runs), (make_video(10), 600, args.runs)]
    if not args.no_hour:
        inputs.append((make_video(60), 3600, args.hour_runs))
    ffmpeg_version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    print(f"# {ffmpeg_version}; {os.cpu_count()} cores; {args.runs} runs each; CBR {args.bitrate} kbps, 44.1 kHz stereo")
    cores = os.cpu_count() or 1
    lame = shutil.which("lame")
    if lame is None:
        print("# no `lame` CLI (apt-get install lame): the ceiling rows are left out")
    print(f"{'input':<18} {'tool':<20} {'median s':>9} {'min s':>7} {'max s':>7} {'peak RSS MB':>12} {'anon MB':>8} {'files MB':>9} {'× real time':>12} {'× ffmpeg':>9} {'× ceiling':>10}")
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "out.mp3"
        for video, duration, runs in inputs:
            common = [args.vmp3, "convert", str(video), "-o", str(out), "--force", "--quiet", "--bitrate", str(args.bitrate)]
            tools = {
                "vmp3 convert": common,
                "vmp3 --threads 1": common + ["--threads", "1"],
                "ffmpeg CLI": ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(video), "-vn",
                               "-c:a", "libmp3lame", "-b:a", f"{args.bitrate}k", str(out)],
            }
            if lame is not None and duration <= 600 and cores > 1:
                whole, parts = make_parts(video, cores)
                encode = [lame, "--quiet", "-b", str(args.bitrate)]
                tools["lame ×1 whole"] = encode + [str(whole), str(out)]
                # One shell waits for the parts' processes, so wait4 times them together.
                tools[f"lame ×{cores} parts"] = ["sh", "-c", " ".join(
                    f"{' '.join(encode)} '{part}' '{scratch}/part{index}.mp3' &" for index, part in enumerate(parts)) + " wait"]
            results: dict[str, list[tuple[float, int]]] = {name: [] for name in tools}
            measure(tools["vmp3 convert"])  # warm the page cache for all
            for _ in range(runs):
                for name, command in tools.items():  # alternate, so drift hits all alike
                    results[name].append(measure(command))
            # Where the peak is: anonymous memory (the tool's own) and pages of files (code,
            # shared with every other process that maps the same libraries).
            split = {name: sample_memory(command) for name, command in tools.items() if not name.startswith("lame")}
            medians = {name: statistics.median(t for t, _ in runs_) for name, runs_ in results.items()}
            # The ceiling: one lame over the parts at once, for the same audio.
            ceiling = medians["lame ×1 whole"] / medians[f"lame ×{cores} parts"] if "lame ×1 whole" in medians else None
            for name, runs_ in results.items():
                times = [t for t, _ in runs_]
                # wait4's is the largest process's peak (exact); the sample's, the tree's at once.
                peak = max(max(r for _, r in runs_), split[name][0] if name in split else 0)
                speed = f"{medians['ffmpeg CLI'] / medians[name]:>9.2f}" if name.startswith("vmp3") else " " * 9
                share = ""
                if ceiling is not None and name == "vmp3 convert":
                    share = f"{medians['ffmpeg CLI'] / medians[name] / ceiling:>10.2f}"
                elif ceiling is not None and name == f"lame ×{cores} parts":
                    share = f"{'ceiling ' + format(ceiling, '.2f'):>10}"
                anonymous, files = (f"{split[name][1] / 1e6:>8.1f}", f"{split[name][2] / 1e6:>9.1f}") if name in split else (" " * 8, " " * 9)
                print(f"{video.name:<18} {name:<20} {medians[name]:>9.2f} {min(times):>7.2f} {max(times):>7.2f} "
                      f"{peak / 1e6:>12.1f} {anonymous} {files} {duration / medians[name]:>12.0f} {speed} {share}")

if __name__ == "__main__":
    main()
