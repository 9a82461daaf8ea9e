"""Writing files the way every ``kflow`` output is written: atomically, with ordinary permissions.

A temporary file in the target's folder receives the content and then replaces the target with
``os.replace``, so a reader (or an interrupted run) never sees half a file. ``tempfile.mkstemp``
creates its file with mode 0600; before the rename the file gets the mode a plain ``open(path, "w")``
would have given it (0666 less the process umask, typically 0644), so reports stay readable by
whoever may read the folder.

>>> import pathlib, stat, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> write_atomically(folder / "a.txt", "hello\\n")
>>> (folder / "a.txt").read_text(), stat.S_IMODE((folder / "a.txt").stat().st_mode) == default_mode()
('hello\\n', True)
>>> sorted(p.name for p in folder.iterdir())        # no temporary file left behind
['a.txt']
"""
from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from pathlib import Path

_UMASK_LOCK = threading.Lock()


def default_mode() -> int:
    """The permission bits ``open(path, "w")`` gives a new file here: 0o666 less the current umask."""
    with _UMASK_LOCK:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_target(path: Path):
    """Yield a temporary path next to ``path``; on normal exit it gets ordinary permissions and replaces
    ``path`` (``os.replace``), on any exception it is removed and ``path`` is left as it was."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` (UTF-8, ``\\n`` line ends) to ``path`` atomically, with ordinary permissions."""
    with atomic_target(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
