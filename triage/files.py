"""Writing a file atomically: a temporary file beside it, then a rename, so no reader sees half a file.

:func:`atomic_write` gives the new file the mode a plain ``open`` would (the umask applies) or, when it
replaces a file, that file's mode: exports shared in a team folder and logs rewritten in place keep the
permissions their readers expect (``tempfile.mkstemp`` would leave every file readable by its owner only).
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

_ATTEMPTS = 100  # fresh random names tried before giving up (a clash is already unlikely at the first)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a new file beside ``path`` (same suffix, so writers that go by it still can),
    then move it over ``path``; on any error the temporary file is removed and ``path`` is left as it was."""
    for _ in range(_ATTEMPTS):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}{path.suffix}")
        try:
            # O_EXCL: never another process's file; 0o666: the kernel applies the umask, as for open().
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"{path.parent}: no free temporary name for {path.name} after {_ATTEMPTS} tries")
    try:
        write(tmp)
        try:
            os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))  # a replaced file keeps its permissions
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
