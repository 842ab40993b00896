"""Time ModelPrefix's copy of a 1 GiB archive in the emulator, next to uploading the same bytes.

The copy function's own code (``handlers/model_copy/index.py``: server-side ``UploadPartCopy`` in
256 MiB parts) runs against moto's server on loopback, as the deploy test runs it; the upload of
the same archive with boto3 (what ``cdk deploy`` pays for a new asset) is timed in the same run,
so the ratio says what the server-side copy costs next to moving the bytes. moto is not S3: the
absolute figures say nothing about AWS's copy rate.

    .venv/bin/python bench/bench_model_copy.py [--gib 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rehearsal.moto_server import MotoServer  # noqa: E402

HANDLER = ROOT / "constructs" / "serving_constructs" / "handlers" / "model_copy" / "index.py"


def _archive(path: Path, size: int) -> Path:
    """A valid gzip tar (stored, compresslevel 0) whose one member is ``size`` zero bytes."""

    class Zeros:
        def __init__(self, left: int) -> None:
            self.left = left

        def read(self, n: int = -1) -> bytes:
            n = self.left if n < 0 else min(n, self.left)
            self.left -= n
            return bytes(n)

    with tarfile.open(path, "w:gz", compresslevel=0) as tar:
        info = tarfile.TarInfo("large/1/model.bin")
        info.size = size
        tar.addfile(info, Zeros(size))  # type: ignore[arg-type]
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="the archive member's size in GiB (default 1)")
    args = parser.parse_args()
    if not args.gib > 0:
        parser.error(f"--gib must be > 0 (got {args.gib})")
    with tempfile.TemporaryDirectory(prefix="bench-model-copy-") as tmp, MotoServer() as moto:
        os.environ.update(moto.env())  # the handler's boto3 client reads AWS_ENDPOINT_URL
        spec = importlib.util.spec_from_file_location("model_copy_handler", HANDLER)
        assert spec is not None and spec.loader is not None
        handler = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(handler)
        archive = _archive(Path(tmp) / "large.tar.gz", int(args.gib * 1024**3))
        size = archive.stat().st_size
        s3 = boto3.client("s3", **moto.boto3_kwargs())
        for bucket in ("bench-assets", "bench-models"):
            s3.create_bucket(Bucket=bucket)
        start = time.perf_counter()
        s3.upload_file(str(archive), "bench-assets", "large.tar.gz")
        upload_s = time.perf_counter() - start
        props = {
            "SourceBucket": "bench-assets",
            "SourceKey": "large.tar.gz",
            "DestinationBucket": "bench-models",
            "DestinationKey": "models/large_v0.tar.gz",
        }
        start = time.perf_counter()
        handler._copy(props, owner="bench|Large", deadline=time.monotonic() + 900)
        copy_s = time.perf_counter() - start
        head = s3.head_object(Bucket="bench-models", Key="models/large_v0.tar.gz")
        assert head["ContentLength"] == size, (head["ContentLength"], size)
        load = os.getloadavg()
        print(f"archive {size:,} bytes ({args.gib:g} GiB member), moto on loopback, {os.cpu_count()} CPUs")
        print(f"upload with boto3 (what a new asset costs)   {upload_s:6.1f} s  {size / upload_s / 2**20:7.1f} MiB/s")
        print(f"ModelPrefix copy (server-side, the handler)  {copy_s:6.1f} s  {size / copy_s / 2**20:7.1f} MiB/s")
        print(f"copy / upload: {copy_s / upload_s:.2f}; destination ETag {head['ETag']} (parts after '-')")
        print(f"load average (1, 5, 15 min) at the end: {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}")


if __name__ == "__main__":
    main()
