"""ModelPrefix deployed through the real CDK CLI into the emulator: a 1 GiB archive, a no-op redeploy, removal.

One emulator, one bootstrap and one small app for the module: a stack with a ModelPrefix of two
archives, a small local one (a CDK asset) and a 1 GiB one already in S3 (``from_bucket``; a valid
gzip tar stored at compresslevel 0, uploaded by the test: as a CDK asset the CLI would also hash,
stage and upload the gigabyte, which is the CLI's work, not ModelPrefix's, and costs minutes here).
The tests deploy, redeploy unchanged, remove an archive and destroy, in order. The copy function
runs for real in the emulator (``rehearsal.moto_extensions``); its log lines count the copies.
"""

from __future__ import annotations

import io
import json
import sys
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from rehearsal.cdk_cli import CdkCli
from rehearsal.moto_server import MotoServer

pytestmark = pytest.mark.slow

GiB = 1024**3
LARGE_MEMBER = GiB
STACK = "ModelPrefixRehearsal"
APP = """
import os, sys
from pathlib import Path
from aws_cdk import App, CfnOutput, Environment, Stack
from aws_cdk.aws_s3 import Bucket
from serving_constructs import ModelArtifact, ModelPrefix

app = App()
folder = Path(app.node.try_get_context("archive_dir"))
stack = Stack(app, "ModelPrefixRehearsal",
              env=Environment(account=os.environ["CDK_DEFAULT_ACCOUNT"], region=os.environ["CDK_DEFAULT_REGION"]))
models = ModelPrefix(stack, "Models", prefix="mme/")
source = Bucket.from_bucket_name(stack, "Source", "source-archives")
for name in app.node.try_get_context("archives").split(","):
    artifact = (ModelArtifact.from_bucket(source, "large.tar.gz") if name == "large"
                else ModelArtifact.from_asset(folder / f"{name}.tar.gz"))
    models.add_archive(f"{name}_v0.tar.gz", artifact)
CfnOutput(stack, "Bucket", value=models.bucket.bucket_name)
app.synth()
"""


class _Zeros(io.RawIOBase):
    """``size`` zero bytes, read in chunks (the member's data; nothing this big is held in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n

    def readable(self) -> bool:
        return True


def _archive(path: Path, model: str, data_size: int) -> Path:
    config = f'name: "{model}"\nbackend: "python"\n'.encode()
    with tarfile.open(path, "w:gz", compresslevel=0) as tar:
        for name, size, data in (("config.pbtxt", len(config), io.BytesIO(config)),
                                 ("1/model.bin", data_size, _Zeros(data_size))):  # fmt: skip
            info = tarfile.TarInfo(f"{model}/{name}")
            info.size = size
            tar.addfile(info, data)
    return path


@dataclass
class Deployed:
    moto: MotoServer
    cdk: CdkCli
    s3: Any
    sizes: dict[str, int]
    state: dict[str, Any]

    def deploy(self, *names: str) -> str:
        result = self.cdk.deploy(extra_args=("--context", f"archives={','.join(names)}"))
        return result.outputs[STACK]["Bucket"]

    def head(self, key: str) -> dict[str, Any] | None:
        try:
            return dict(self.s3.head_object(Bucket=self.state["bucket"], Key=key))
        except self.s3.exceptions.ClientError:
            return None

    def copies(self) -> int:
        """How many copies the function has finished (its log lines in the emulator's log)."""
        return self.moto.log_path.read_text(errors="replace").count("copied ")


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    folder = tmp_path_factory.mktemp("model_prefix_app")
    (folder / "app.py").write_text(APP)
    (folder / "cdk.json").write_text(
        json.dumps(
            {"app": f"{sys.executable} app.py", "context": {"archive_dir": str(folder), "archives": "small"}}
        )
    )
    archives = {
        "small": _archive(folder / "small.tar.gz", "small", 1024),
        "large": _archive(folder / "large.tar.gz", "large", LARGE_MEMBER),
    }
    sizes = {name: path.stat().st_size for name, path in archives.items()}
    with MotoServer(log_path=folder / "moto.log") as moto:
        s3 = boto3.client("s3", **moto.boto3_kwargs())
        s3.create_bucket(Bucket="source-archives")
        s3.upload_file(str(archives["large"]), "source-archives", "large.tar.gz")
        archives["large"].unlink()  # the bytes live in the emulator now
        # Bootstrapped from a folder without an app, as `cdk bootstrap aws://ACCOUNT/REGION` runs
        # anywhere: inside the app the CLI would synthesize it first, only to list its environments.
        outside = tmp_path_factory.mktemp("no_app")
        CdkCli(moto.subprocess_env(), app_dir=outside, output_dir=outside / "cdk.out").bootstrap(
            f"aws://{moto.account_id}/{moto.region}"
        )
        cdk = CdkCli(moto.subprocess_env(), app_dir=folder, output_dir=folder / "cdk.out")
        yield Deployed(moto, cdk, s3, sizes, {})


def test_model_prefix_deploy_puts_both_archives_at_their_stable_keys(deployed: Deployed) -> None:
    # WHEN the app with a tiny and a 1 GiB archive is deployed
    deployed.state["bucket"] = deployed.deploy("small", "large")
    # THEN both archives are at the keys the app chose, byte for byte as large as the local files
    for name in ("small", "large"):
        head = deployed.head(f"mme/{name}_v0.tar.gz")
        assert head is not None, f"mme/{name}_v0.tar.gz is missing"
        assert head["ContentLength"] == deployed.sizes[name]
        if name == "large":  # copied in 256 MiB parts (UploadPartCopy): a 5-part multipart ETag
            assert head["ETag"].strip('"').endswith("-5"), head["ETag"]
        deployed.state[name] = (head["ETag"], head["LastModified"])
    assert deployed.sizes["large"] > GiB
    assert deployed.copies() == 2


def test_model_prefix_redeploy_unchanged_copies_nothing(deployed: Deployed) -> None:
    # GIVEN the deployed app; WHEN it is deployed again unchanged
    deployed.deploy("small", "large")
    # THEN no copy ran and both objects are the same objects (ETag and LastModified)
    assert deployed.copies() == 2
    for name in ("small", "large"):
        head = deployed.head(f"mme/{name}_v0.tar.gz")
        assert head is not None and (head["ETag"], head["LastModified"]) == deployed.state[name]


def test_model_prefix_removed_archive_leaves_the_prefix_and_a_hand_copied_one_stays(
    deployed: Deployed,
) -> None:
    # GIVEN an archive a person copied into the prefix ("add a model by copying it")
    deployed.s3.put_object(Bucket=deployed.state["bucket"], Key="mme/by_hand.tar.gz", Body=b"by hand")
    # WHEN the large archive is removed from the app and the app deployed
    deployed.deploy("small")
    # THEN its key is gone, the hand-copied one and the unchanged small one are untouched
    assert deployed.head("mme/large_v0.tar.gz") is None
    assert deployed.head("mme/by_hand.tar.gz") is not None
    small = deployed.head("mme/small_v0.tar.gz")
    assert small is not None and (small["ETag"], small["LastModified"]) == deployed.state["small"]
    assert deployed.copies() == 2


def test_model_prefix_destroy_removes_what_the_app_copied_only(deployed: Deployed) -> None:
    # WHEN the stack is destroyed (from the cloud assembly the last deploy synthesized)
    deployed.cdk.destroy(from_assembly=True)
    # THEN the app's archive is gone, the hand-copied one stays in the retained bucket
    assert deployed.head("mme/small_v0.tar.gz") is None
    assert deployed.head("mme/by_hand.tar.gz") is not None
