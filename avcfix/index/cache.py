"""The policy index cache: one SQLite file per set of inputs, in the user's cache.

A cache file is named ``KEY-DIGEST.sqlite``:

- ``KEY`` is the SHA-256 of every input's bytes (the binary policy, its
  file_contexts, ``.local``, ``.subs``, the run-time context files and
  policy.xml) plus the schema version and the builder's own source, so a
  changed policy, or a new avcfix, never reads an old index (stale);
- ``DIGEST`` is the SHA-256 of the file itself, checked on every open, so a
  truncated, overwritten or bit-flipped file is never trusted (corrupt).

A file is built under a temporary name in the same directory, fsynced, and
renamed into place: readers see a whole file or none. A stale or corrupt file
is removed and rebuilt. When the cache directory cannot be created or
written, the index is built in memory for this run only.

policy.xml's boolean descriptions are parsed once per policy.xml (it does not
change when the policy does) and kept next to the index files as
``booldesc-SHA256.json`` (:func:`descriptions`).

The directory is ``$AVCFIX_CACHE_DIR`` when set, else
``$XDG_CACHE_HOME/avcfix/policy-index`` (``~/.cache`` when XDG_CACHE_HOME is
unset or not absolute). ``AVCFIX_INDEX_CACHE=off`` always builds in memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from avcfix.cachedir import cache_dir as shared_cache_dir
from avcfix.errors import PolicyError
from avcfix.index import build as builder

#: Cache files kept per directory (the least recently used are removed).
KEEP_FILES = 8

_SUFFIX = ".sqlite"


@dataclass
class Opened:
    """An open index and how it was obtained."""

    db: sqlite3.Connection
    #: "cache" (read from a valid file), "built" (built and saved), "memory"
    #: (built, not saved).
    source: str
    path: Path | None = None
    #: Why an existing file was not used ("stale", "corrupt: ...") or not saved.
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def cache_dir() -> Path:
    """Where index files live (see the module docstring; :func:`avcfix.cachedir.cache_dir`)."""
    return shared_cache_dir("policy-index")


def input_key(inputs: builder.Inputs) -> str:
    """The SHA-256 naming everything an index is built from."""
    h = hashlib.sha256()
    h.update(f"avcfix-policy-index schema={builder.SCHEMA_VERSION}\n".encode())
    h.update(Path(builder.__file__).read_bytes())
    for role, path in inputs.files():
        h.update(f"\n{role}\n".encode())
        try:
            data = path.read_bytes()
        except OSError as exc:
            if role == "policy":
                raise PolicyError(f"cannot read binary policy {path}: {exc.strerror or exc}") from exc
            h.update(b"<absent>")
            continue
        h.update(str(len(data)).encode() + b"\n")
        h.update(data)
    return h.hexdigest()


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:32]


def open_index(inputs: builder.Inputs, *, use_cache: bool | None = None) -> Opened:
    """The index for ``inputs``: from the cache when a valid file is there,
    else built (and saved when the cache is writable)."""
    start = time.monotonic()
    if use_cache is None:
        use_cache = os.environ.get("AVCFIX_INDEX_CACHE", "").lower() not in ("off", "0", "no")
    if not inputs.policy.is_file():
        raise PolicyError(f"policy file not found or not a file: {inputs.policy}")
    key = input_key(inputs)
    notes: list[str] = []
    if use_cache:
        directory = cache_dir()
        found = _read_valid(directory, key, notes)
        if found is not None:
            db, path = found
            return Opened(db, "cache", path, notes, time.monotonic() - start)
        try:
            db, path = _build_file(directory, key, inputs)
        except OSError as exc:
            notes.append(f"cache not writable ({directory}: {exc.strerror or exc}); index kept in memory")
        else:
            return Opened(db, "built", path, notes, time.monotonic() - start)
    db = sqlite3.connect(":memory:")
    _fill(db, key, inputs, use_cache=use_cache)
    return Opened(db, "memory", None, notes, time.monotonic() - start)


def _read_valid(directory: Path, key: str, notes: list[str]) -> tuple[sqlite3.Connection, Path] | None:
    try:
        candidates = sorted(directory.glob(f"{key}-*{_SUFFIX}"))
    except OSError:
        return None
    for path in candidates:
        problem = _check(path, key)
        if problem is None:
            db = _connect_ro(path)
            with contextlib.suppress(OSError):
                os.utime(path)  # least recently used pruning
            return db, path
        notes.append(f"{path.name}: {problem}; rebuilt")
        with contextlib.suppress(OSError):
            path.unlink()
    return None


def _check(path: Path, key: str) -> str | None:
    """``None`` when ``path`` is a whole, current index for ``key``; else what is wrong."""
    digest = path.name[len(key) + 1:-len(_SUFFIX)]
    try:
        if file_digest(path) != digest:
            return "corrupt (its checksum does not match its name)"
        db = _connect_ro(path)
    except (OSError, sqlite3.Error) as exc:
        return f"corrupt ({exc})"
    try:
        meta = dict(db.execute("SELECT k, v FROM meta").fetchall())
    except sqlite3.Error as exc:
        return f"corrupt ({exc})"
    finally:
        db.close()
    if meta.get("schema") != str(builder.SCHEMA_VERSION) or meta.get("key") != key:
        return "stale (built for other inputs or another schema)"
    if meta.get("complete") != "1":
        return "corrupt (incomplete)"
    return None


def _connect_ro(path: Path) -> sqlite3.Connection:
    uri = "file:" + _quote(str(path)) + "?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True, check_same_thread=False)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _fill(db: sqlite3.Connection, key: str, inputs: builder.Inputs, use_cache: bool = False) -> None:
    builder.create(db)
    meta = {"schema": str(builder.SCHEMA_VERSION), "key": key, "policy": str(inputs.policy),
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    try:
        builder.build(db, inputs, meta, descriptions=lambda data: descriptions(data, use_cache=use_cache))
    except PolicyError:
        raise
    except Exception as exc:  # setools raises many kinds for a bad policy file
        raise PolicyError(f"cannot read binary policy {inputs.policy}: {exc}") from exc
    db.execute("INSERT INTO meta VALUES ('complete', '1')")
    db.commit()


def _build_file(directory: Path, key: str, inputs: builder.Inputs) -> tuple[sqlite3.Connection, Path]:
    """Build into a temporary file in ``directory``, then rename it into place."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{key[:16]}-", suffix=".tmp", dir=directory)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        db = sqlite3.connect(tmp_name)
        try:
            db.execute("PRAGMA journal_mode = OFF")
            db.execute("PRAGMA synchronous = OFF")
            _fill(db, key, inputs, use_cache=True)  # a fresh file, written once: no VACUUM
        finally:
            db.close()
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        final = directory / f"{key}-{file_digest(tmp)}{_SUFFIX}"
        os.chmod(tmp, 0o644)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    _prune(directory, keep=final)
    return _connect_ro(final), final


def _prune(directory: Path, keep: Path) -> None:
    """Remove all but the KEEP_FILES most recently used index files."""
    with contextlib.suppress(OSError):
        files = sorted((p for p in directory.glob(f"*{_SUFFIX}") if p != keep),
                       key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[KEEP_FILES - 1:]:
            with contextlib.suppress(OSError):
                old.unlink()


#: Boolean descriptions parsed from policy.xml, by the SHA-256 of its bytes (this process).
_DESCRIPTIONS: dict[str, dict[str, str]] = {}
#: ``booldesc-SHA256.json`` files kept in the cache directory.
KEEP_DESCRIPTIONS = 4
_DESC_PREFIX, _DESC_SUFFIX = "booldesc-", ".json"


def descriptions(data: bytes, *, use_cache: bool = True) -> dict[str, str]:
    """policy.xml's boolean descriptions (:func:`avcfix.explain.booldesc.parse_descriptions`),
    parsed once per policy.xml: policy.xml does not change when the policy does
    (an install, a boolean), so each index rebuilt after one reuses them.

    Kept in this process and, with ``use_cache``, in the cache directory as
    ``booldesc-SHA256.json`` (SHA-256 of policy.xml's bytes), written
    atomically; a file that does not read back as a name -> text mapping is
    parsed again and replaced. A cache that cannot be written is no error."""
    digest = hashlib.sha256(data).hexdigest()
    found = _DESCRIPTIONS.get(digest)
    if found is not None:
        return found
    path = cache_dir() / f"{_DESC_PREFIX}{digest}{_DESC_SUFFIX}" if use_cache else None
    if path is not None:
        found = _read_descriptions(path)
    if found is None:
        from avcfix.explain.booldesc import parse_descriptions

        found = parse_descriptions(data)
        if path is not None:
            _write_descriptions(path, found)
    _DESCRIPTIONS.clear()  # one policy.xml at a time
    _DESCRIPTIONS[digest] = found
    return found


def _read_descriptions(path: Path) -> dict[str, str] | None:
    import json

    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return None
    return value


def _write_descriptions(path: Path, found: dict[str, str]) -> None:
    import json

    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".booldesc-", suffix=".tmp", dir=path.parent)
        tmp = Path(name)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(found, f, sort_keys=True)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        tmp = None
        old = sorted((p for p in path.parent.glob(f"{_DESC_PREFIX}*{_DESC_SUFFIX}") if p != path),
                     key=lambda p: p.stat().st_mtime, reverse=True)
        for stale in old[KEEP_DESCRIPTIONS - 1:]:
            stale.unlink()
    except OSError:
        pass
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def temporary_cache(directory: Path) -> Iterator[None]:
    """Point the cache at ``directory`` for a block (tests, benchmarks)."""
    saved = os.environ.get("AVCFIX_CACHE_DIR")
    os.environ["AVCFIX_CACHE_DIR"] = str(directory)
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("AVCFIX_CACHE_DIR", None)
        else:
            os.environ["AVCFIX_CACHE_DIR"] = saved
