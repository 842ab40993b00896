"""Stage: lay out a Triton model repository for one model.

Layout (what Triton and the SageMaker Triton container expect)::

    <root>/<name>/config.pbtxt
    <root>/<name>/1/model.onnx      (or model.plan for TensorRT)
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from model_build.triton_config import write_config

if TYPE_CHECKING:
    from tritonclient.grpc.model_config_pb2 import ModelConfig

MODEL_VERSION = "1"


@dataclass(frozen=True)
class RepositoryResult:
    """The written repository.

    Attributes:
        root: The repository root (contains the ``<name>`` folder).
        model_dir: ``<root>/<name>``.
        config_path: ``<root>/<name>/config.pbtxt``.
        model_path: ``<root>/<name>/1/<model file>``.
    """

    root: Path
    model_dir: Path
    config_path: Path
    model_path: Path


def write_repository(
    root: Path, config: ModelConfig, model_file: Path, *, model_filename: str
) -> RepositoryResult:
    """Write ``config.pbtxt`` and copy the model file into version folder 1.

    Args:
        root: Repository root; created if missing.
        config: The model config (its ``name`` is the folder name).
        model_file: The ONNX model or TensorRT engine to copy.
        model_filename: "model.onnx" or "model.plan" (Triton's default file names).
    """
    model_dir = root / config.name
    version_dir = model_dir / MODEL_VERSION
    version_dir.mkdir(parents=True, exist_ok=True)
    config_path = write_config(config, model_dir / "config.pbtxt")
    model_path = version_dir / model_filename
    shutil.copyfile(model_file, model_path)
    return RepositoryResult(root=root, model_dir=model_dir, config_path=config_path, model_path=model_path)
