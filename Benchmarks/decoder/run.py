#!/usr/bin/env python3
"""Gemma 3 270M Q4_K_M decoding: `weights generate` against llama.cpp (through
llama-cpp-python), on the same GGUF file, the same prompts and the same thread counts, in one
run, alternating, medians of several rounds. Writes Benchmarks/decoder/RESULTS.md.

    python3 Benchmarks/decoder/run.py [--runs 3] [--threads 1 2] [--llama-python /work/venv-llama/bin/python]

What is measured, each a separate process per engine and round:
- prompt processing, tokens/s, for prompts of exactly 128 and 512 tokens (BOS included; both
  tokenizers give the same ids), generating one token;
- generation, tokens/s, for 128 new tokens after the 128-token prompt (greedy, end of
  sequence ignored): each side's generation time covers 128 samplings and 127 forward passes;
- time to first token: the wall time of a whole process that loads the model, processes the
  128-token prompt and prints one token (start-up, loading and exit included);
- peak resident memory of each process (`/usr/bin/time -v`), the 128-token generation run.

llama.cpp runs through llama-cpp-python's `Llama` (n_ctx 1024, n_batch = n_ubatch = 512,
logits for the last position only), the prompt in one `eval` and each new token in another,
the next token the argmax of the last logits (numpy), as Weights' greedy sampler picks it.
Its process is a Python interpreter: its start-up and memory count in its numbers.

Needs: a release build of `weights` (built here unless --no-build), scripts/setup's Gemma
file, and llama-cpp-python in the interpreter given by --llama-python.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import benchlib  # noqa: E402

GEMMA = os.path.join(benchlib.MODELS, "gemma-3-270m", "gemma-3-270m-Q4_K_M.gguf")
NEW_TOKENS = 128

# The child llama.cpp process: argv = model, threads, prompt file, new tokens. Prints one JSON
# line with the same fields as `weights generate --json`.
LLAMA_CHILD = r"""
import json, sys, time
import numpy as np
import llama_cpp
from llama_cpp import Llama
model, threads, prompt_file, new = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
text = open(prompt_file, encoding="utf-8").read()
llm = Llama(model_path=model, n_ctx=1024, n_batch=512, n_ubatch=512, n_threads=threads,
            n_threads_batch=threads, logits_all=False, verbose=False)
tokens = llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
vocabulary = llm.n_vocab()
def last_logits():
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits_ith(llm.ctx, -1), shape=(vocabulary,))
start = time.perf_counter()
llm.eval(tokens)
prompt_end = time.perf_counter()
generated = []
while len(generated) < new:
    token = int(np.argmax(last_logits()))
    generated.append(token)
    if len(generated) == 1:
        sys.stdout.write(llm.detokenize([token]).decode("utf-8", "replace"))
        sys.stdout.flush()
    if len(generated) == new:
        break
    llm.eval([token])
end = time.perf_counter()
print()
print(json.dumps({"prompt_tokens": tokens, "tokens": generated, "timings": {
    "prompt_tokens_per_second": len(tokens) / (prompt_end - start),
    "generated_tokens_per_second": len(generated) / (end - prompt_end)}}))
"""


def peak_rss_mib(stderr):
    match = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stderr)
    return int(match.group(1)) / 1024 if match else float("nan")


def run_timed(command):
    """Runs `command` under /usr/bin/time -v: (wall seconds, stdout, peak RSS in MiB)."""
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{command[0]} failed:\n{done.stderr[-3000:]}")
    return wall, done.stdout, peak_rss_mib(done.stderr)


def last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def count_tokens(text):
    out = subprocess.run([benchlib.WEIGHTS, "tokenize", "--model", GEMMA, "--json", text],
                         check=True, capture_output=True, text=True).stdout
    return len(json.loads(out)["ids"])


def prompt_of(tokens):
    """A text of exactly `tokens` tokens (BOS included): a prefix of the reference passage's
    words, padded with ' a' (one token each)."""
    base = " ".join(WORDS)
    words = base.split()
    while len(words) < 4 * tokens:
        words += base.split()
    low, high = 1, len(words)
    while low < high:  # the longest prefix of at most `tokens` tokens
        middle = (low + high + 1) // 2
        if count_tokens(" ".join(words[:middle])) <= tokens:
            low = middle
        else:
            high = middle - 1
    text = " ".join(words[:low])
    while count_tokens(text) < tokens:
        text += " a"
    if count_tokens(text) != tokens:
        sys.exit(f"could not make a prompt of {tokens} tokens")
    return text


WORDS = """The history of the printing press begins long before Gutenberg. Craftsmen in China
carved whole pages into wooden blocks as early as the ninth century, and movable type made of
baked clay appeared there around 1040. In Europe, the combination of an oil-based ink, a
screw press adapted from wine making, and a hand mould that cast letters of metal in great
numbers changed how knowledge moved. Within fifty years of the first printed Bible, presses
were running in more than two hundred cities, and millions of books had been produced. Prices
fell, literacy spread, and scholars could compare identical copies of a text for the first
time, which made errors easier to find and arguments easier to check. Printers standardized
spelling and punctuation, published maps, calendars and pamphlets, and became a new kind of
merchant whose goods were ideas.""".split()


def median(values):
    return statistics.median(values)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--llama-python", default="/work/venv-llama/bin/python")
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--exact", action="store_true", help="Weights with binary32 activations (--exact)")
    args = parser.parse_args()
    if not os.path.exists(GEMMA):
        sys.exit(f"{GEMMA} is not installed: run scripts/setup")
    if not args.no_build:
        benchlib.build("weights")
    benchlib.read_through(GEMMA)
    work = benchlib.work_dir("decoder")
    os.makedirs(work, exist_ok=True)
    child = os.path.join(work, "llama_child.py")
    with open(child, "w") as f:
        f.write(LLAMA_CHILD)
    prompts = {}
    for length in (128, 512):
        path = os.path.join(work, f"prompt{length}.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(prompt_of(length))
        prompts[length] = path

    def weights_command(length, new, threads):
        text = open(prompts[length], encoding="utf-8").read()
        command = [benchlib.WEIGHTS, "generate", "--model", GEMMA, "--temperature", "0", "--ignore-eos",
                   "--max-tokens", str(new), "--threads", str(threads), "--json", text]
        return command + (["--exact"] if args.exact else [])

    def llama_command(length, new, threads):
        return [args.llama_python, child, GEMMA, str(threads), prompts[length], str(new)]

    engines = {"weights": weights_command, "llama.cpp": llama_command}
    # results[engine][threads][measure] = list of values
    results = {e: {t: {} for t in args.threads} for e in engines}
    ids = {}
    for round_ in range(args.runs):
        for threads in args.threads:
            for engine, command in (engines.items() if round_ % 2 == 0 else reversed(engines.items())):
                r = results[engine][threads]
                for length in (128, 512):
                    _, out, _ = run_timed(command(length, 1, threads))
                    answer = last_json(out)
                    ids.setdefault((engine, length), answer["prompt_tokens"])
                    r.setdefault(f"pp{length}", []).append(answer["timings"]["prompt_tokens_per_second"])
                wall, out, rss = run_timed(command(128, NEW_TOKENS, threads))
                answer = last_json(out)
                r.setdefault("tg", []).append(answer["timings"]["generated_tokens_per_second"])
                r.setdefault("rss", []).append(rss)
                wall, _, _ = run_timed(command(128, 1, threads))
                r.setdefault("ttft", []).append(wall)
                print(f"round {round_ + 1}, {engine}, {threads} thread(s): "
                      + ", ".join(f"{k} {v[-1]:.4g}" for k, v in r.items()), file=sys.stderr)
    for length in (128, 512):
        same = ids[("weights", length)] == ids[("llama.cpp", length)]
        print(f"{length}-token prompt: same ids in both: {same}", file=sys.stderr)

    rows = [("prompt processing, 128 tokens", "pp128", "tokens/s", True),
            ("prompt processing, 512 tokens", "pp512", "tokens/s", True),
            (f"generation, {NEW_TOKENS} tokens", "tg", "tokens/s", True),
            ("time to first token (process start to exit, 128-token prompt)", "ttft", "s", False),
            (f"peak RSS ({NEW_TOKENS}-token generation run)", "rss", "MiB", False)]
    flags = open("/proc/cpuinfo").read().split("flags", 2)[1].split("\n")[0].split()
    seen = [f for f in ("avx2", "avx512f", "avx512_vnni") if f in flags]
    verbose = subprocess.run([benchlib.WEIGHTS, "generate", "--model", GEMMA, "--max-tokens", "1", "--verbose", "Hi"],
                             capture_output=True, text=True).stderr
    kernels = verbose.split("kernels: ")[-1].strip() if "kernels: " in verbose else "?"
    # A kernel cap in the environment (WEIGHTS_MAX_ISA=avx2) changes what is measured: say so.
    cap = f"WEIGHTS_MAX_ISA={os.environ['WEIGHTS_MAX_ISA']} " if os.environ.get("WEIGHTS_MAX_ISA") else ""
    lines = [f"### Gemma 3 270M Q4_K_M: `weights generate{' --exact' if args.exact else ''}` vs llama.cpp",
             "",
             f"Command: `{cap}python3 Benchmarks/decoder/run.py --runs {args.runs}"
             + f" --threads {' '.join(map(str, args.threads))}{' --exact' if args.exact else ''}"
             + f" --llama-python {args.llama_python}`",
             "",
             "| measurement | threads | Weights | llama.cpp | ratio (≥ 1: Weights as fast or faster / smaller) "
             "| best run: Weights | best run: llama.cpp | ratio of best runs |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for label, key, unit, higher_is_better in rows:
        for threads in args.threads:
            ours = median(results["weights"][threads][key])
            theirs = median(results["llama.cpp"][threads][key])
            ratio = ours / theirs if higher_is_better else theirs / ours
            # On a shared machine other work only slows a run down: the best run is the
            # least disturbed one.
            best = max if higher_is_better else min
            ours_best = best(results["weights"][threads][key])
            theirs_best = best(results["llama.cpp"][threads][key])
            best_ratio = ours_best / theirs_best if higher_is_better else theirs_best / ours_best
            lines.append(f"| {label} | {threads} | {ours:.4g} {unit} | {theirs:.4g} {unit} | {ratio:.2f}× "
                         f"| {ours_best:.4g} {unit} | {theirs_best:.4g} {unit} | {best_ratio:.2f}× |")
    try:
        version = subprocess.run([args.llama_python, "-c", "import llama_cpp; print(llama_cpp.__version__)"],
                                 capture_output=True, text=True).stdout.strip()
    except OSError:
        version = "?"
    lines += ["", f"Medians of {args.runs} alternating rounds; llama-cpp-python {version}; "
              f"CPU flags: {', '.join(seen) or 'none of AVX2/AVX-512'}; Weights' kernels: {kernels}; "
              f"{os.cpu_count()} cores; load average at the end {os.getloadavg()[0]:.1f}. "
              "Each row is a separate process per engine and round."]
    benchlib.publish(lines, "decoder")


if __name__ == "__main__":
    main()
