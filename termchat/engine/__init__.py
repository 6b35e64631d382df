"""Model loading, prompt building and streamed generation. Never imports Textual.

torch and transformers are imported only inside `load_backend`, so importing
this package stays fast.
"""

from termchat.engine.backend import ChatBackend, ModelSpec, ProgressCallback, ReplyStream
from termchat.engine.errors import EngineError, GenerationError, ModelLoadError, SettingsError
from termchat.engine.settings import GenerationSettings
from termchat.engine.types import (
    ChatMessage,
    LoadProgress,
    ModelInfo,
    PromptPlan,
    Reply,
    ReplyMetadata,
    StopReason,
)

__all__ = [
    "ChatBackend",
    "ChatMessage",
    "EngineError",
    "GenerationError",
    "GenerationSettings",
    "LoadProgress",
    "ModelInfo",
    "ModelLoadError",
    "ModelSpec",
    "ProgressCallback",
    "PromptPlan",
    "Reply",
    "ReplyMetadata",
    "ReplyStream",
    "SettingsError",
    "StopReason",
    "load_backend",
]


def load_backend(spec: ModelSpec, progress: ProgressCallback | None = None) -> ChatBackend:
    """Load the model `spec` names and return a backend ready to stream.

    Raises ModelLoadError with a one-line message naming the value and the fix.
    """
    from termchat.engine.loader import load_backend as _load

    return _load(spec, progress)
