"""The build cache: one folder per inputs hash, written atomically.

Layout::

    <cache>/<hash>/model.tar.gz
    <cache>/<hash>/manifest.json            written last: its presence marks a complete entry
    <cache>/<hash>/repository/<name>/...
    <cache>/<hash>.lock                     fcntl lock held while <hash> is being built
    <cache>/.tmp-<hash>-<random>/           an entry under construction

An entry is built in a temp folder inside the cache folder (same file system) and published
with one ``os.rename``, so readers see either nothing or a complete entry. The lock makes a
second concurrent build of the same hash wait and then reuse the first one's entry. A temp
folder left by an interrupted build is never read as a hit; the next build of that hash,
holding the lock, knows no one else is writing it and deletes it.

The cache folder is, in order: the ``cache_dir`` argument, ``$MODEL_BUILD_CACHE_DIR``, or
``.model-build-cache/`` in the current directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

CACHE_ENV_VAR = "MODEL_BUILD_CACHE_DIR"
DEFAULT_CACHE_DIR = ".model-build-cache"
MANIFEST_NAME = "manifest.json"
ARCHIVE_NAME = "model.tar.gz"
REPOSITORY_NAME = "repository"
TEMP_PREFIX = ".tmp-"


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None = None, *, base: Path | None = None) -> Path:
    """Return the cache folder: the argument, else ``$MODEL_BUILD_CACHE_DIR``, else ``.model-build-cache``.

    Args:
        cache_dir: The folder. Defaults to ``$MODEL_BUILD_CACHE_DIR``, else ``.model-build-cache``.
        base: The folder a relative path is taken from, for a caller that runs elsewhere than the
            build (the rehearsal finds the cache of the CDK app, which runs in the project root).
            Defaults to the current directory (a relative path given is returned as given).
    """
    if cache_dir is None:
        cache_dir = os.environ.get(CACHE_ENV_VAR) or None
    if cache_dir is None:
        return (Path.cwd() if base is None else base) / DEFAULT_CACHE_DIR
    path = Path(cache_dir)
    return base / path if base is not None and not path.is_absolute() else path


def cache_dir_problem(cache_dir: str | os.PathLike[str] | None = None, *, flag: str = "cache_dir") -> str | None:
    """Return why the cache folder cannot be used (a file, not writable); None when it can.

    Args:
        cache_dir: As given to :func:`resolve_cache_dir`.
        flag: What names an explicit ``cache_dir`` in the message (``--cache-dir`` for the CLI).
    """
    from model_build.user_errors import writable_folder_problem

    if cache_dir is not None:
        label = flag
    elif os.environ.get(CACHE_ENV_VAR):
        label = f"${CACHE_ENV_VAR}"
    else:
        label = f"the default cache folder (./{DEFAULT_CACHE_DIR}; set ${CACHE_ENV_VAR} or pass a cache folder)"
    return writable_folder_problem(resolve_cache_dir(cache_dir), label)


def entry_dir(cache_dir: Path, inputs_hash: str) -> Path:
    """Return where the entry for a hash lives (complete or not)."""
    return cache_dir / inputs_hash


def lookup(cache_dir: Path, inputs_hash: str) -> Path | None:
    """Return the entry folder if a complete entry exists, else None."""
    entry = entry_dir(cache_dir, inputs_hash)
    if (entry / MANIFEST_NAME).is_file() and (entry / ARCHIVE_NAME).is_file():
        return entry
    return None


class EntryBuilder:
    """A temp folder to build one entry in; :meth:`publish` renames it into place."""

    def __init__(self, cache_dir: Path, inputs_hash: str, temp_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.inputs_hash = inputs_hash
        self.temp_dir = temp_dir
        self.published: Path | None = None

    def publish(self) -> Path:
        """Move the finished temp folder to ``<cache>/<hash>`` and return that path.

        Raises:
            RuntimeError: The manifest (written last) is missing, so the entry is incomplete.
        """
        if not (self.temp_dir / MANIFEST_NAME).is_file():
            raise RuntimeError(f"refusing to publish {self.temp_dir}: {MANIFEST_NAME} was not written")
        final = entry_dir(self.cache_dir, self.inputs_hash)
        if final.exists():
            # An incomplete folder at the final name (e.g. copied in by hand) is not a hit
            # (lookup failed) and we hold the lock, so it can go.
            shutil.rmtree(final)
        os.rename(self.temp_dir, final)
        self.published = final
        return final


@contextlib.contextmanager
def entry_lock(cache_dir: Path, inputs_hash: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<cache>/<hash>.lock`` (blocking).

    The kernel drops the lock when the process dies, so a killed build never blocks others.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / f"{inputs_hash}.lock").open("a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def building(cache_dir: Path, inputs_hash: str) -> Iterator[EntryBuilder | Path]:
    """Lock the hash and yield either the existing entry (a Path) or an :class:`EntryBuilder`.

    The caller checks the type: a Path means another process finished the entry while this
    one waited for the lock. With a builder, the caller writes the entry into
    ``builder.temp_dir`` and calls ``builder.publish()``; if the block raises or never
    publishes, the temp folder is removed and nothing is left behind.
    """
    with entry_lock(cache_dir, inputs_hash):
        existing = lookup(cache_dir, inputs_hash)
        if existing is not None:
            yield existing
            return
        clean_stale_temp_dirs(cache_dir, inputs_hash)
        temp_dir = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{inputs_hash}-", dir=cache_dir))
        # mkdtemp creates 0700; entries are shared read-only artifacts (CDK staging copies them).
        temp_dir.chmod(0o755)
        builder = EntryBuilder(cache_dir, inputs_hash, temp_dir)
        try:
            yield builder
        finally:
            if builder.published is None:
                shutil.rmtree(temp_dir, ignore_errors=True)


def clean_stale_temp_dirs(cache_dir: Path, inputs_hash: str) -> list[Path]:
    """Remove temp folders of a hash left by interrupted builds; call with the lock held."""
    removed = []
    for stale in cache_dir.glob(f"{TEMP_PREFIX}{inputs_hash}-*"):
        shutil.rmtree(stale, ignore_errors=True)
        removed.append(stale)
    return removed
