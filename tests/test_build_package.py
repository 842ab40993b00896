"""model_build.package + model_build.repository: byte-reproducible model.tar.gz in SageMaker's layout."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

from model_build.package import package_repository
from model_build.repository import write_repository
from model_build.triton_config import parse_config


def _repository(root: Path, *, mtime: int, mode: int = 0o644) -> Path:
    """A repository written by the real stage, with the files' mtimes/modes then altered."""
    from tritonclient.grpc import model_config_pb2 as mc

    model = root.parent / f"{root.name}-model.onnx"
    model.write_bytes(bytes(range(256)) * 64)
    config = mc.ModelConfig(name="resnet", platform="onnxruntime_onnx", max_batch_size=128)
    write_repository(root, config, model, model_filename="model.onnx")
    for path in [root, *root.rglob("*")]:
        os.utime(path, (mtime, mtime))
        if path.is_file():
            path.chmod(mode)
    return root


def test_repository_layout_matches_triton(tmp_path: Path) -> None:
    # GIVEN a written repository
    root = _repository(tmp_path / "repo", mtime=1_000_000)
    # THEN it has <name>/config.pbtxt and <name>/1/model.onnx, and the config parses
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "resnet",
        "resnet/1",
        "resnet/1/model.onnx",
        "resnet/config.pbtxt",
    ]
    assert parse_config((root / "resnet" / "config.pbtxt").read_text()).max_batch_size == 128


def test_archive_is_byte_identical_across_folders_and_mtimes(tmp_path: Path) -> None:
    # GIVEN the same repository content written twice, with different mtimes and file modes
    first = _repository(tmp_path / "a", mtime=1_000_000, mode=0o600)
    second = _repository(tmp_path / "b", mtime=2_000_000_000, mode=0o664)
    # WHEN both are packaged into different folders
    one = package_repository(first, tmp_path / "out1" / "model.tar.gz")
    two = package_repository(second, tmp_path / "out2" / "model.tar.gz")
    # THEN the archives are byte-identical and the reported digest is the file's
    assert one.path.read_bytes() == two.path.read_bytes()
    assert one.sha256 == two.sha256 and one.size_bytes == one.path.stat().st_size


def test_archive_puts_model_folder_at_top_level_with_normalised_metadata(tmp_path: Path) -> None:
    # GIVEN a packaged repository
    archive = package_repository(_repository(tmp_path / "repo", mtime=123), tmp_path / "model.tar.gz").path
    # WHEN listed
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
    # THEN entries are sorted, at the top level (SageMaker extracts into /opt/ml/model),
    # and carry no owner, time or on-disk mode
    assert [m.name for m in members] == ["resnet", "resnet/1", "resnet/1/model.onnx", "resnet/config.pbtxt"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members} == {(0, 0, 0, "", "")}
    assert {m.name: oct(m.mode) for m in members if m.isfile()} == {
        "resnet/1/model.onnx": "0o644",
        "resnet/config.pbtxt": "0o644",
    }
    assert {oct(m.mode) for m in members if m.isdir()} == {"0o755"}


def test_archive_gzip_header_has_no_time_or_name(tmp_path: Path) -> None:
    archive = package_repository(_repository(tmp_path / "repo", mtime=123), tmp_path / "model.tar.gz").path
    header = archive.read_bytes()[:10]
    # THEN magic, deflate, no FNAME flag (bit 3) and MTIME == 0 (RFC 1952 layout)
    assert header[:3] == b"\x1f\x8b\x08"
    assert header[3] & 0x08 == 0
    assert header[4:8] == b"\x00\x00\x00\x00"
    # AND the payload is a tar that round-trips the model bytes
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(archive.read_bytes()))) as tar:
        member = tar.extractfile("resnet/1/model.onnx")
        assert member is not None and member.read() == bytes(range(256)) * 64
