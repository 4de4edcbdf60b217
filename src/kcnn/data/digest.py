"""Content digests of image files: the check behind "editing any file changes the cache key".

The cache key is built from each file's size, times and inode (`FolderScan.fingerprint`), which any
edit changes, except a second edit within the clock tick of a scanned one. The files changed that
recently (`FolderScan.racy_files`) are digested when a cache entry is written and checked on every
read. Digesting every file on every load would cost more than the cached load itself (reading
2,000 JPEGs of 33 kB: 0.2 s, against 0.04 s for the cached load).
"""

from __future__ import annotations

import hashlib
import os
import stat

#: The digest of a path that is not a readable regular file (decoding reports why).
UNREADABLE = "unreadable"


def file_digest(path: str) -> str:
    """BLAKE2b (128-bit) of the file's bytes, or `UNREADABLE` for anything but a readable regular file.

    Opened non-blocking and checked after opening, so a FIFO named ``x.png`` is never waited on.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return UNREADABLE
    with open(descriptor, "rb") as file:
        try:
            if not stat.S_ISREG(os.fstat(descriptor).st_mode):
                return UNREADABLE
            return hashlib.file_digest(file, lambda: hashlib.blake2b(digest_size=16)).hexdigest()
        except OSError:
            return UNREADABLE


def file_digests(paths: list[str]) -> list[str]:
    """`file_digest` of every path, in order.

    One thread: a thread pool was slower here (2,000 JPEGs: 0.42 s against 0.23 s), the work being
    mostly reading small files.
    """
    return [file_digest(path) for path in paths]
