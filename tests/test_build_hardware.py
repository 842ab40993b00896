"""model_build.hardware: the accelerator table, against the sagemaker SDK's own list of GPU instance types."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

from model_build.hardware import hardware_of

# Rows of the SDK's list that are not instance types (see model_build.hardware's docstring).
SDK_TYPOS = {"ml.g5n.xlarge"}


def test_hardware_table_agrees_with_the_sagemaker_sdks_gpu_list() -> None:
    # GIVEN the GPU count and memory the sagemaker SDK lists for each hosting type, in every region
    # (found through the distribution's files: importing sagemaker.core would take seconds)
    sdk = importlib.metadata.distribution("sagemaker-core")
    listing = Path(str(sdk.locate_file("sagemaker/core/image_uri_config/instance_gpu_info.json"))).read_text()
    rows = {
        (instance_type, info["Count"], info["TotalGpuMemoryInMiB"])
        for types in json.loads(listing).values()
        for instance_type, info in types.items()
        if instance_type not in SDK_TYPOS
    }
    assert len({row[0] for row in rows}) >= 20
    # WHEN each type is looked up in the project's table
    for instance_type, count, total_mib in sorted(rows):
        hardware = hardware_of(instance_type)
        # THEN it has the SDK's GPU count, and a GPU's memory within 10% of the table's (the SDK lists
        # the driver-visible memory for some types: 22888 MiB per A10G on ml.g5.48xlarge)
        assert hardware.accelerator is not None and hardware.count == count, (instance_type, hardware.describe())
        per_gpu_gib = total_mib / count / 1024
        assert abs(per_gpu_gib - hardware.accelerator.memory_gib) <= 0.1 * hardware.accelerator.memory_gib, (
            instance_type,
            per_gpu_gib,
            hardware.accelerator,
        )
