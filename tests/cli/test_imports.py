"""Start-up stays light: no torch, transformers or Textual where they are not needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

HEAVY = ("torch", "transformers", "textual")


def imported_modules(code: str) -> set[str]:
    """Run `code` in a fresh interpreter and return the top-level modules it imported."""
    script = code + textwrap.dedent(
        """
        import json as _json, sys as _sys
        print(_json.dumps(sorted({name.split('.')[0] for name in _sys.modules})))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.getcwd() + os.pathsep + os.environ.get("PYTHONPATH", "")}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.mark.parametrize(
    "module",
    ["termchat.cli", "termchat.cli.ask", "termchat.cli.info", "termchat.engine", "termchat.engine.fake", "termchat.store"],
)
def test_import_stays_light(module):
    loaded = imported_modules(f"import {module}\n")

    for heavy in HEAVY:
        assert heavy not in loaded, f"importing {module} imported {heavy}"


def test_help_imports_no_heavy_module(tmp_path):
    code = textwrap.dedent(
        f"""
        import os, sys
        os.environ["TERMCHAT_HOME"] = {str(tmp_path)!r}
        from termchat.cli import main
        sys.argv = ["termchat", "--help"]
        try:
            main()
        except SystemExit as exit:
            assert exit.code in (0, None), exit.code
        """
    )
    loaded = imported_modules(code)

    for heavy in HEAVY:
        assert heavy not in loaded, f"termchat --help imported {heavy}"


def test_ask_help_imports_no_heavy_module(tmp_path):
    code = textwrap.dedent(
        f"""
        import os, sys
        os.environ["TERMCHAT_HOME"] = {str(tmp_path)!r}
        from termchat.cli import main
        sys.argv = ["termchat", "ask", "--help"]
        try:
            main()
        except SystemExit as exit:
            assert exit.code in (0, None), exit.code
        """
    )
    loaded = imported_modules(code)

    for heavy in HEAVY:
        assert heavy not in loaded, f"termchat ask --help imported {heavy}"


@pytest.mark.parametrize(
    "module",
    [
        "termchat.engine.loader",
        "termchat.engine.gguf_loader",
        "termchat.engine.transformers_backend",
        "termchat.engine.prompt",
        "termchat.store",
    ],
)
def test_engine_and_store_never_import_textual(module):
    loaded = imported_modules(f"import {module}\n")

    assert "textual" not in loaded
