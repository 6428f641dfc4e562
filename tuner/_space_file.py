"""Reading a space file's bytes: a regular file of bounded size, checked before anything is read.

A FIFO or a device (`/dev/zero`) would make a plain read wait forever or fill memory, and PyYAML
takes seconds per hundred kilobytes, so the file is opened without blocking, checked with
`fstat` (the file opened, not its name looked up again), and read up to `MAX_BYTES` only.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from trainables.lr.errors import ConfigError, Problem

#: largest space file read (the examples are under 3 KB)
MAX_BYTES = 64 * 1024

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def read_text(path: str | Path) -> str:
    """The text of the space file at `path`; `ConfigError(source=path)` when it is not a regular
    UTF-8 file of at most `MAX_BYTES` bytes."""
    source = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as error:
        raise _refused(source, f"cannot be read ({error.strerror})", "check the path") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = _KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
            raise _refused(source, f"is {kind}, not a regular file", "give a YAML file")
        data = b"" if info.st_size > MAX_BYTES else _read_at_most(fd, MAX_BYTES + 1)
    except OSError as error:
        raise _refused(source, f"cannot be read ({error.strerror})", "check the file") from None
    finally:
        os.close(fd)
    if max(info.st_size, len(data)) > MAX_BYTES:
        size = max(info.st_size, len(data))
        message = f"is {size} bytes, more than a space file may be ({MAX_BYTES} bytes)"
        raise _refused(source, message, "a space file holds settings only: write data elsewhere")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        message = f"is not UTF-8 text (byte {error.start}: {error.reason})"
        raise _refused(source, message, "save it as UTF-8 YAML") from None


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks, size = [], 0
    while size < limit:
        chunk = os.read(fd, limit - size)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _refused(source: str, message: str, fix: str) -> ConfigError:
    return ConfigError([Problem("", message, fix)], source)
