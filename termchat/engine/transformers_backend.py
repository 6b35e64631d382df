"""ChatBackend for transformers causal LMs: `model.generate` runs in a worker thread.

The worker pushes text deltas into a queue that `TransformersReplyStream`
reads. A stopping criterion receives every new token, decodes it, and ends
generation on cancel or on a stop marker.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from typing import Any

from termchat.engine.backend import ReplyStream
from termchat.engine.errors import GenerationError
from termchat.engine.prompt import BuiltPrompt, PromptBuilder
from termchat.engine.settings import GenerationSettings
from termchat.engine.streaming import IncrementalDecoder, ReplyTextFilter
from termchat.engine.tokenizer_traits import detect_tokenizer_traits
from termchat.engine.types import ChatMessage, ModelInfo, PromptPlan, Reply, ReplyMetadata, StopReason
from termchat.i18n import _

logger = logging.getLogger(__name__)

# torch.manual_seed sets a process-wide generator, so seeded replies run one
# at a time to stay reproducible.
_SEED_LOCK = threading.Lock()
# How long close() waits for the worker after cancelling it. One token of a
# large model on a slow CPU can take seconds.
JOIN_TIMEOUT_SECONDS = 30.0


class TransformersBackend:
    """A loaded transformers model and tokenizer that stream replies."""

    def __init__(self, model: Any, tokenizer: Any, info: ModelInfo) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.info = info
        self.traits = detect_tokenizer_traits(tokenizer)
        self.prompt_builder = PromptBuilder(tokenizer, info.context_size, self.traits)
        self.eos_token_ids = _eos_token_ids(model, tokenizer)
        separator_format = self.prompt_builder.separator_format
        if separator_format is not None:
            # The prompt ends each turn with the separator token, so a model
            # that writes one has ended its turn.
            self.eos_token_ids += [
                token_id for token_id in separator_format.separator_ids if token_id not in self.eos_token_ids
            ]
        self.pad_token_id = _pad_token_id(tokenizer, self.eos_token_ids)

    def plan(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> PromptPlan:
        return self.prompt_builder.build(messages, settings).plan

    def stream(
        self,
        messages: Sequence[ChatMessage],
        settings: GenerationSettings,
        cancel: threading.Event | None = None,
    ) -> TransformersReplyStream:
        prompt = self.prompt_builder.build(messages, settings)
        stream = TransformersReplyStream(self, prompt, settings, cancel if cancel is not None else threading.Event())
        stream.start()
        return stream

    def close(self) -> None:
        """Drop the model so its memory can be freed."""
        self.model = None
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:
            pass

    def generation_kwargs(self, prompt: BuiltPrompt, settings: GenerationSettings) -> dict[str, Any]:
        """Return the keyword arguments for `model.generate`, without the input tensors.

        A fresh GenerationConfig replaces the model's own, so a model default
        such as `temperature=0.6` cannot trigger a warning during greedy decoding.
        """
        from transformers import GenerationConfig

        assert prompt.plan.max_new_tokens is not None
        values: dict[str, Any] = {
            "max_new_tokens": prompt.plan.max_new_tokens,
            "eos_token_id": self.eos_token_ids or None,
            "pad_token_id": self.pad_token_id,
            "repetition_penalty": settings.repetition_penalty,
        }
        if settings.temperature == 0:
            values["do_sample"] = False
        else:
            values.update(
                do_sample=True,
                temperature=settings.temperature,
                top_k=settings.top_k,
                top_p=settings.top_p,
            )
        return {"generation_config": GenerationConfig(**values)}


def _make_stopping_criteria(stream: TransformersReplyStream) -> Any:
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    class StreamAndStop(StoppingCriteria):
        """Hand each new token to the stream, then stop on cancel or a stop marker.

        transformers 5.25 calls stopping criteria right after appending a token
        and before it calls a `streamer`, so tokens are taken here: a marker
        or a cancel then ends generation before another forward pass.
        """

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            stream.on_tokens([int(input_ids[0, -1])])
            done = stream.cancel.is_set() or stream.text_filter.marker_found
            return torch.full((input_ids.shape[0],), done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StreamAndStop()])


_END = object()


class TransformersReplyStream(ReplyStream):
    """Deltas of one reply, produced by a worker thread running `generate`."""

    def __init__(
        self,
        backend: TransformersBackend,
        prompt: BuiltPrompt,
        settings: GenerationSettings,
        cancel: threading.Event,
    ) -> None:
        self.plan = prompt.plan
        self.reply = None
        self.cancel = cancel
        self.text_filter = ReplyTextFilter(prompt.stop_markers)
        self._backend = backend
        self._prompt = prompt
        self._settings = settings
        self._decoder = IncrementalDecoder(backend.tokenizer, remove_spaces=backend.traits.inserts_spaces)
        self._queue: queue.Queue[Any] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="termchat-generate", daemon=True)
        self._text: list[str] = []
        self._error: BaseException | None = None
        self._started_at = 0.0
        self._first_delta_at: float | None = None
        self._first_token_at: float | None = None
        self._last_token_at: float | None = None
        self._last_token_id: int | None = None

    def start(self) -> None:
        self._started_at = time.perf_counter()
        self._thread.start()

    def __next__(self) -> str:
        while True:
            if self.reply is not None:
                raise StopIteration
            item = self._queue.get()
            if item is _END:
                self._thread.join()
                self._finish()
                if self._error is not None:
                    assert self.reply is not None
                    raise GenerationError(self.reply.metadata.error or "", reply=self.reply) from self._error
                raise StopIteration
            if item:
                self._text.append(item)
                return item

    def close(self) -> None:
        self.cancel.set()
        self._thread.join(JOIN_TIMEOUT_SECONDS)
        if self._thread.is_alive():
            logger.warning("generation thread still running %.0f s after cancel", JOIN_TIMEOUT_SECONDS)
        if self.reply is None:
            # Deltas still in the queue belong to the text of the reply.
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(item, str):
                    self._text.append(item)
            if not self._thread.is_alive():
                self._finish()

    # Worker thread -------------------------------------------------------

    def _run(self) -> None:
        try:
            self._generate()
        except BaseException as error:  # noqa: BLE001 - every failure must reach the consumer
            logger.exception("generation failed")
            self._error = error
        finally:
            tail = self._decoder.flush()
            self._push(self.text_filter.feed(tail) + self.text_filter.finish())
            self._queue.put(_END)

    def _generate(self) -> None:
        import torch

        backend = self._backend
        if backend.model is None:
            raise RuntimeError("the backend was closed; load the model again")
        device = backend.model.device
        input_ids = torch.tensor([self._prompt.input_ids], dtype=torch.long, device=device)
        kwargs = backend.generation_kwargs(self._prompt, self._settings)
        logger.info(
            "generation started: %d prompt tokens, max_new_tokens=%s, %d turns dropped",
            self.plan.tokens_in,
            self.plan.max_new_tokens,
            self.plan.turns_dropped,
        )
        with torch.inference_mode():
            if self._settings.seed is None:
                self._call_generate(input_ids, kwargs)
            else:
                with _SEED_LOCK:
                    torch.manual_seed(self._settings.seed)
                    self._call_generate(input_ids, kwargs)

    def _call_generate(self, input_ids: Any, kwargs: dict[str, Any]) -> None:
        import torch

        self._backend.model.generate(
            input_ids=input_ids,
            attention_mask=torch.ones_like(input_ids),
            stopping_criteria=_make_stopping_criteria(self),
            **kwargs,
        )

    def on_tokens(self, ids: list[int]) -> None:
        """Decode new token ids and queue the text that is safe to show."""
        now = time.perf_counter()
        if self._first_token_at is None:
            self._first_token_at = now
        self._last_token_at = now
        if ids:
            self._last_token_id = ids[-1]
        self._push(self.text_filter.feed(self._decoder.add(ids)))

    def _push(self, text: str) -> None:
        if text:
            if self._first_delta_at is None:
                self._first_delta_at = time.perf_counter()
            self._queue.put(text)

    # Result --------------------------------------------------------------

    def _finish(self) -> None:
        tokens_out = len(self._decoder.ids)
        error_text: str | None = None
        if self._error is not None:
            reason = StopReason.ERROR
            error_text = _("Generation failed: {error}. The log file has the details.").format(
                error=_one_line(self._error)
            )
        elif self.text_filter.marker_found:
            reason = StopReason.TURN_MARKER
        elif self.cancel.is_set():
            reason = StopReason.CANCELLED
        elif self._last_token_id is not None and self._last_token_id in self._backend.eos_token_ids:
            reason = StopReason.EOS
        elif self.plan.max_new_tokens is not None and tokens_out >= self.plan.max_new_tokens:
            reason = StopReason.LENGTH
        else:
            reason = StopReason.EOS

        metadata = ReplyMetadata.from_timings(
            self.plan,
            tokens_out=tokens_out,
            started=self._started_at,
            first_delta=self._first_delta_at,
            first_token=self._first_token_at,
            last_token=self._last_token_at,
            stop_reason=reason,
            error=error_text,
        )
        self.reply = Reply(text="".join(self._text), metadata=metadata)
        logger.info("generation stopped: %s, %d tokens out", reason, tokens_out)


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _eos_token_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: list[int] = []
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.append(configured)
    elif isinstance(configured, (list, tuple)):
        ids.extend(int(value) for value in configured)
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def _pad_token_id(tokenizer: Any, eos_token_ids: list[int]) -> int | None:
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    return eos_token_ids[0] if eos_token_ids else None
