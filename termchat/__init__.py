"""termchat: chat with local causal language models in the terminal."""

__version__ = "0.1.0"

DEFAULT_MODEL = "gpt2"
