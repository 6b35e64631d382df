"""Keep library warnings and progress bars off the terminal.

transformers adds its own stderr handler to its logger when first used, and
both transformers and huggingface_hub draw tqdm bars. termchat's log file
(see termchat.log) receives these records instead.
"""

from __future__ import annotations

import logging

_configured = False


def quiet_libraries() -> None:
    """Route transformers and huggingface_hub output to logging; safe to call again."""
    global _configured
    if _configured:
        return

    import transformers.utils.logging as transformers_logging
    from huggingface_hub.utils import disable_progress_bars

    transformers_logging.disable_default_handler()
    transformers_logging.enable_propagation()
    transformers_logging.disable_progress_bar()
    disable_progress_bars()

    # Without any handler, Python's last-resort handler prints WARNING records
    # to stderr, even termchat's own when the engine is used as a library. A
    # NullHandler stops that, and records still propagate to the log file
    # handler when termchat.log.setup_logging has installed one.
    for name in ("termchat", "transformers", "huggingface_hub", "torch", "accelerate"):
        library_logger = logging.getLogger(name)
        library_logger.propagate = True
        if not any(isinstance(handler, logging.NullHandler) for handler in library_logger.handlers):
            library_logger.addHandler(logging.NullHandler())

    logging.captureWarnings(True)
    py_warnings = logging.getLogger("py.warnings")
    if not py_warnings.handlers:
        py_warnings.addHandler(logging.NullHandler())
    _configured = True
