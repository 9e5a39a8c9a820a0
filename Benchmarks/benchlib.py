"""Helpers shared by the benchmark drivers in Benchmarks/*/: where things live, building the
release products, running WeightsBench, timing, and writing a driver's RESULTS.md.

The drivers run as scripts (`python3 Benchmarks/core/run.py`), so each puts this directory on
sys.path before importing this module.
"""
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS = os.path.join(ROOT, "Benchmarks")
# $WEIGHTS_SCRATCH_PATH: the build directory to build in and run from (SwiftPM's --scratch-path).
SCRATCH = os.environ.get("WEIGHTS_SCRATCH_PATH", os.path.join(ROOT, ".build"))
RELEASE = os.path.join(SCRATCH, "release")
BENCH = os.path.join(RELEASE, "WeightsBench")
WEIGHTS = os.path.join(RELEASE, "weights")
MODELS = os.environ.get("WEIGHTS_MODELS", os.path.expanduser("~/.cache/weights/models"))
GiB = 1 << 30


def work_dir(name):
    """Where a benchmark keeps its inputs and outputs: .bench/<name>, ignored by git."""
    return os.path.join(ROOT, ".bench", name)


def model_dir():
    """all-MiniLM-L6-v2's directory, found as the package finds it: $WEIGHTS_MODEL_DIR, else
    under $WEIGHTS_MODELS (default ~/.cache/weights/models)."""
    return os.environ.get("WEIGHTS_MODEL_DIR") or os.path.join(MODELS, "all-MiniLM-L6-v2")


def build(*products):
    """Builds each product in release mode, one `swift build` per product. The build log goes
    to stderr so that stdout carries only the report."""
    for product in products:
        subprocess.run(["swift", "build", "-c", "release", "--scratch-path", SCRATCH, "--product", product],
                       cwd=ROOT, check=True, stdout=sys.stderr)


def run_bench(mode, *args, repeat=None, env=None):
    """Runs `WeightsBench <mode> <args> [--repeat N]` and returns the JSON object it prints on
    its last line (timings are under "seconds")."""
    command = [BENCH, mode, *args]
    if repeat is not None:
        command += ["--repeat", str(repeat)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_seconds(mode, *args, repeat=None, env=None):
    """The list of timings, in seconds, of one `run_bench` call."""
    return run_bench(mode, *args, repeat=repeat, env=env)["seconds"]


def time_calls(body, repeat):
    """Calls `body` `repeat` times and returns each call's wall time in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        body()
        times.append(time.perf_counter() - start)
    return times


def time_command(command, capture=False):
    """Runs `command` (it must succeed) and returns its wall time in seconds, process start-up
    included, with its stdout as text when `capture` is set (else None, and the output goes
    to the terminal)."""
    start = time.perf_counter()
    out = subprocess.run(command, check=True, capture_output=capture, text=capture).stdout
    return time.perf_counter() - start, out


def read_through(path):
    """Reads the whole file once, so that the runs after find it in the page cache."""
    with open(path, "rb") as f:
        while f.read(64 << 20):
            pass


def fsync_file(path):
    """Waits until the file's data is on disk: what the anchors add to match Weights' durable
    (fsync'd) writes."""
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)


def publish(lines, name=None, append=False):
    """Prints the report and, when `name` is given, writes it to Benchmarks/<name>/RESULTS.md
    (or appends it there)."""
    text = "\n".join(lines) + "\n"
    if name is not None:
        with open(os.path.join(BENCHMARKS, name, "RESULTS.md"), "a" if append else "w") as f:
            f.write(text)
    print(text)
