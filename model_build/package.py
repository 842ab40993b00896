"""Stage: a byte-reproducible ``model.tar.gz`` of a model repository.

SageMaker extracts the archive into ``/opt/ml/model``, so the model folder sits at the top
level: ``/opt/ml/model/<name>/config.pbtxt``. The same repository content always gives the
same archive bytes — whatever the files' mtimes, owners or permissions on disk — so the
archive digest is stable across machines and rebuilds:

* entries sorted by path, directories before their contents;
* mtime 0, uid/gid 0, empty uname/gname, modes 0755 (dirs) / 0644 (files);
* GNU tar format (no PAX headers carrying atime/ctime);
* gzip header with mtime 0 and no file name.
"""

from __future__ import annotations

import gzip
import hashlib
import tarfile
from dataclasses import dataclass
from pathlib import Path

# Level 6 is gzip's default speed/size balance; float weights barely compress either way.
COMPRESS_LEVEL = 6


@dataclass(frozen=True)
class PackageResult:
    """The written archive.

    Attributes:
        path: The ``.tar.gz`` file.
        size_bytes: Its size.
        sha256: Hex digest of its bytes.
    """

    path: Path
    size_bytes: int
    sha256: str


def package_repository(repository_root: Path, archive_path: Path) -> PackageResult:
    """Archive every model folder under ``repository_root`` into ``archive_path``.

    Args:
        repository_root: Folder that contains ``<name>/config.pbtxt`` etc.
        archive_path: Output file; its parent is created if missing.
    """
    archive_path.parent.mkdir(parents=True, exist_ok=True)
    paths = sorted(p.relative_to(repository_root).as_posix() for p in repository_root.rglob("*"))
    with (
        archive_path.open("wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=COMPRESS_LEVEL) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        for rel in paths:
            path = repository_root / rel
            info = tarfile.TarInfo(rel)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if path.is_dir():
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif path.is_file():
                info.size = path.stat().st_size
                info.mode = 0o644
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                raise ValueError(
                    f"{path} is neither a regular file nor a folder; repositories hold files only"
                )
    return PackageResult(
        path=archive_path, size_bytes=archive_path.stat().st_size, sha256=file_sha256(archive_path)
    )


def file_sha256(path: Path) -> str:
    """Return the sha256 hex digest of a file, read in chunks (the one file digest of the project)."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
