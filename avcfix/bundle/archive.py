"""A deterministic ``.tar.gz``: same members, same bytes.

Members are sorted by name under one top directory, with a fixed mtime,
uid/gid 0, ``root`` owner names and mode 0644; the gzip header has no file
name and a zero mtime. The archive is written to a temporary file next to
the target and renamed, so a failed run leaves no half archive.
"""

from __future__ import annotations

import gzip
import io
import os
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from avcfix.errors import InputError

#: Directory every member sits in.
TOP_DIR = "avcfix-bundle"


def _info(name: str, size: int, mtime: int, directory: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 0 if directory else size
    info.mtime = mtime
    info.mode = 0o755 if directory else 0o644
    info.type = tarfile.DIRTYPE if directory else tarfile.REGTYPE
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def archive_bytes(members: Mapping[str, bytes], mtime: int = 0) -> bytes:
    """The ``.tar.gz`` bytes of ``members`` (``{name: content}``)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(_info(TOP_DIR, 0, mtime, directory=True))
        for name in sorted(members):
            data = members[name]
            tar.addfile(_info(f"{TOP_DIR}/{name}", len(data), mtime), io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def write_archive(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file + rename)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"cannot write {path}: directory {parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=parent)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
