"""Locations of termchat's files.

The platformdirs user directories are the default. `TERMCHAT_HOME` (or the
`--data-dir` option, which sets it) moves every directory under one folder,
so tests and portable installs never touch the user's real files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "termchat"
HOME_ENV = "TERMCHAT_HOME"


@dataclass(frozen=True)
class Paths:
    """The four directories termchat writes to."""

    config_dir: Path
    data_dir: Path
    cache_dir: Path
    log_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def database_file(self) -> Path:
        return self.data_dir / "termchat.db"

    @property
    def log_file(self) -> Path:
        return self.log_dir / "termchat.log"


def resolve_paths(home: str | os.PathLike[str] | None = None) -> Paths:
    """Return the directories, from `home`, then `TERMCHAT_HOME`, then platformdirs.

    Nothing is created here; callers create a directory when they first write to it.
    """
    root = home if home is not None else os.environ.get(HOME_ENV)
    if root:
        base = Path(root).expanduser().resolve()
        return Paths(
            config_dir=base / "config",
            data_dir=base,
            cache_dir=base / "cache",
            log_dir=base / "logs",
        )
    return Paths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME)),
        data_dir=Path(platformdirs.user_data_dir(APP_NAME)),
        cache_dir=Path(platformdirs.user_cache_dir(APP_NAME)),
        log_dir=Path(platformdirs.user_log_dir(APP_NAME)),
    )
