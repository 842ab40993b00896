"""What runs under a SageMaker instance type: its accelerators, in one table.

Three parts of the project need to know what an ``ml.*`` instance type carries, and read it here:

* the constructs: is a type a GPU type, how many GPUs does it have (GPU utilization runs to
  100 x the GPU count; multi-model endpoints on GPU take single-GPU types only), and is a name a
  type SageMaker hosting knows at all;
* the tuning profile: a profile measured on an H100 must not size an ml.g4dn fleet (a T4)
  without the user saying how to translate;
* the TensorRT stage: an engine is built for one GPU architecture (compute capability).

Sources:

* the instance types SageMaker hosting accepts: botocore's service model for ``sagemaker``
  (shape ``ProductionVariantInstanceType``), read at run time so a botocore upgrade adds types;
* accelerators per family and size: Amazon EC2 "Accelerated computing instance specifications"
  (https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html), checked on 2026-12-01 against
  the sagemaker SDK's own ``image_uri_config/instance_gpu_info.json`` where that lists the type
  (tests/test_build_hardware.py compares the two). That file has no g6/g6e/p5e/Inferentia rows and lists
  ``ml.g5n.xlarge`` (a typo for g5.xlarge), which is why it is not the table itself;
* compute capabilities: NVIDIA's CUDA GPU list (https://developer.nvidia.com/cuda-gpus);
* Inferentia: AWS Neuron "Inferentia Architecture" (four NeuronCore-v1 and 8 GiB device memory per
  chip; https://awsdocs-neuron.readthedocs-hosted.com/en/latest/general/arch/neuron-hardware/inferentia.html),
  "Amazon EC2 Inf1 Architecture" (1/1/4/16 chips for inf1.xlarge/2xlarge/6xlarge/24xlarge; .../inf1-arch.html)
  and "Inferentia2 Architecture" (two NeuronCore-v2 and 32 GiB HBM per chip, up to twelve chips;
  .../inferentia2.html), with the Inf2 sizes (1/1/6/12 chips for inf2.xlarge/8xlarge/24xlarge/48xlarge) from
  https://aws.amazon.com/ec2/instance-types/inf2/, checked on 2026-12-02.

Families whose accelerator this table does not know (newer types such as ml.g7) are reported as
``known=False`` rather than guessed: callers then refuse to size or build for them without an
explicit statement from the user.

Imports nothing heavy: ``cdk synth`` and the profile loader use it.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass

# `ml.<family>.<size>`: family = series letters + generation digits + attribute letters, with an
# optional `-suffix` (p6-b200).
INSTANCE_TYPE_PATTERN = re.compile(
    r"^ml\.(?P<family>(?P<series>[a-z]+)(?P<generation>\d+)(?P<attributes>[a-z]*)(?:-[a-z0-9]+)?)"
    r"\.(?P<size>[0-9a-z]+)$"
)


@dataclass(frozen=True)
class AcceleratorModel:
    """One accelerator model.

    Attributes:
        name: The canonical name, e.g. ``"NVIDIA T4"``, ``"AWS Inferentia2"``.
        kind: ``"gpu"``, ``"inferentia"`` or ``"trainium"``.
        memory_gib: Memory per device, in GiB.
        compute_capability: CUDA compute capability (``"7.5"``) of a GPU; None otherwise. A
            TensorRT engine runs only on the capability it was built for.
        aliases: Lower-case substrings that identify it in ``nvidia-smi`` names
            (``"NVIDIA H100 80GB HBM3"``).
        neuron_cores: NeuronCores per device of an Inferentia chip (4 NeuronCore-v1 on Inferentia,
            2 NeuronCore-v2 on Inferentia2); None otherwise. ``NEURON_RT_NUM_CORES`` and
            ``NEURON_RT_VISIBLE_CORES`` count these.
    """

    name: str
    kind: str
    memory_gib: float
    compute_capability: str | None = None
    aliases: tuple[str, ...] = ()
    neuron_cores: int | None = None


T4 = AcceleratorModel("NVIDIA T4", "gpu", 16, "7.5", ("t4",))
A10G = AcceleratorModel("NVIDIA A10G", "gpu", 24, "8.6", ("a10g",))
L4 = AcceleratorModel("NVIDIA L4", "gpu", 24, "8.9", ("l4",))
L40S = AcceleratorModel("NVIDIA L40S", "gpu", 48, "8.9", ("l40s",))
K80 = AcceleratorModel("NVIDIA K80", "gpu", 12, "3.7", ("k80",))
V100 = AcceleratorModel("NVIDIA V100", "gpu", 16, "7.0", ("v100",))
V100_32 = AcceleratorModel("NVIDIA V100 32GB", "gpu", 32, "7.0", ("v100-sxm2-32gb", "v100 32gb"))
A100_40 = AcceleratorModel("NVIDIA A100 40GB", "gpu", 40, "8.0", ("a100-sxm4-40gb", "a100 40gb"))
A100_80 = AcceleratorModel("NVIDIA A100 80GB", "gpu", 80, "8.0", ("a100-sxm4-80gb", "a100 80gb"))
H100 = AcceleratorModel("NVIDIA H100", "gpu", 80, "9.0", ("h100",))
H200 = AcceleratorModel("NVIDIA H200", "gpu", 141, "9.0", ("h200",))
INFERENTIA = AcceleratorModel("AWS Inferentia", "inferentia", 8, neuron_cores=4)
INFERENTIA2 = AcceleratorModel("AWS Inferentia2", "inferentia", 32, neuron_cores=2)
TRAINIUM = AcceleratorModel("AWS Trainium", "trainium", 32)
TRAINIUM2 = AcceleratorModel("AWS Trainium2", "trainium", 96)

ACCELERATOR_MODELS: tuple[AcceleratorModel, ...] = (
    T4, A10G, L4, L40S, K80, V100, V100_32, A100_40, A100_80, H100, H200,
    INFERENTIA, INFERENTIA2, TRAINIUM, TRAINIUM2,
)  # fmt: skip

# family -> (accelerator, {size: count}, count for any other size of the family)
_FAMILIES: dict[str, tuple[AcceleratorModel, dict[str, int], int]] = {
    "g4dn": (T4, {"12xlarge": 4}, 1),
    "g5": (A10G, {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8}, 1),
    "g6": (L4, {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8}, 1),
    "g6e": (L40S, {"12xlarge": 4, "24xlarge": 4, "48xlarge": 8}, 1),
    "gr6": (L4, {}, 1),
    "p2": (K80, {"8xlarge": 8, "16xlarge": 16}, 1),
    "p3": (V100, {"8xlarge": 4, "16xlarge": 8}, 1),
    "p3dn": (V100_32, {}, 8),
    "p4d": (A100_40, {}, 8),
    "p4de": (A100_80, {}, 8),
    "p5": (H100, {"4xlarge": 1}, 8),
    "p5e": (H200, {}, 8),
    "p5en": (H200, {}, 8),
    "inf1": (INFERENTIA, {"6xlarge": 4, "24xlarge": 16}, 1),
    "inf2": (INFERENTIA2, {"24xlarge": 6, "48xlarge": 12}, 1),
    "trn1": (TRAINIUM, {"32xlarge": 16}, 1),
    "trn1n": (TRAINIUM, {}, 16),
    "trn2": (TRAINIUM2, {}, 16),
}

# Series that carry accelerators even where this table does not know the model (g7, p6-b300 …).
_ACCELERATED_SERIES = {"g": "gpu", "gr": "gpu", "p": "gpu", "inf": "inferentia", "trn": "trainium", "dl": "gaudi"}


@dataclass(frozen=True)
class InstanceHardware:
    """The accelerators of one instance type.

    Attributes:
        instance_type: The SageMaker instance type.
        kind: ``"cpu"`` (no accelerator), ``"gpu"``, ``"inferentia"``, ``"trainium"`` or ``"gaudi"``.
        accelerator: The accelerator model; None for CPU types and for types this table does not know.
        count: Accelerators per instance; 0 for CPU types; None when unknown.
    """

    instance_type: str
    kind: str
    accelerator: AcceleratorModel | None
    count: int | None

    @property
    def known(self) -> bool:
        """Whether the accelerator (or its absence) is known; False for e.g. ml.g7 types."""
        return self.kind == "cpu" or (self.accelerator is not None and self.count is not None)

    @property
    def neuron_cores(self) -> int | None:
        """NeuronCores per instance of an Inferentia type (ml.inf2.24xlarge: 6 x 2 = 12); None otherwise."""
        if self.accelerator is None or self.accelerator.neuron_cores is None or self.count is None:
            return None
        return self.count * self.accelerator.neuron_cores

    @property
    def accelerator_memory_gib(self) -> float | None:
        """Accelerator memory per instance in GiB (devices x memory each); None when unknown, 0 for CPU types."""
        if self.kind == "cpu":
            return 0
        if self.accelerator is None or self.count is None:
            return None
        return self.count * self.accelerator.memory_gib

    def describe(self) -> str:
        """``"1 x NVIDIA T4"``, ``"CPU only"`` or ``"GPU (model unknown to this project)"``."""
        if self.kind == "cpu":
            return "CPU only"
        if self.accelerator is None or self.count is None:
            return f"{self.kind.upper()} (model unknown to this project)"
        return f"{self.count} x {self.accelerator.name}"


def parse_instance_type(name: str) -> re.Match[str] | None:
    """Return the regex match of an ``ml.<family>.<size>`` name, or None."""
    return INSTANCE_TYPE_PATTERN.match(name)


def hardware_of(instance_type: str) -> InstanceHardware:
    """Return what ``instance_type`` carries.

    Raises:
        ValueError: ``instance_type`` is not of the form ``ml.<family>.<size>``.
    """
    match = parse_instance_type(instance_type)
    if match is None:
        raise ValueError(f"{instance_type!r} is not a SageMaker instance type like 'ml.g4dn.xlarge'")
    family, size, series = match.group("family"), match.group("size"), match.group("series")
    if family in _FAMILIES:
        model, counts, default = _FAMILIES[family]
        return InstanceHardware(instance_type, model.kind, model, counts.get(size, default))
    kind = _ACCELERATED_SERIES.get(series)
    if kind is None:
        return InstanceHardware(instance_type, "cpu", None, 0)
    return InstanceHardware(instance_type, kind, None, None)


def accelerator_named(text: str) -> AcceleratorModel | None:
    """Return the accelerator a free-text name refers to (``"NVIDIA H100 80GB HBM3"`` → H100).

    The longest matching alias wins, so "A100-SXM4-80GB" is the 80 GB part, not the 40 GB one.
    """
    lowered = text.lower()
    best: tuple[int, AcceleratorModel] | None = None
    for model in ACCELERATOR_MODELS:
        for alias in (model.name.lower(), *model.aliases):
            if _contains_word(lowered, alias) and (best is None or len(alias) > best[0]):
                best = (len(alias), model)
    return None if best is None else best[1]


def _contains_word(text: str, word: str) -> bool:
    return re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", text) is not None


def families_with(model: AcceleratorModel) -> tuple[str, ...]:
    """Return the instance families whose accelerator is ``model`` (H100 → ``("p5",)``)."""
    return tuple(family for family, (m, _, _) in _FAMILIES.items() if m == model)


def hosting_types_with(model: AcceleratorModel) -> tuple[str, ...]:
    """Return the hosting instance types that carry ``model`` (H100 → ml.p5.48xlarge, ml.p5.4xlarge)."""
    families = set(families_with(model))
    out = []
    for name in hosting_instance_types():
        match = parse_instance_type(name)
        if match is not None and match.group("family") in families:
            out.append(name)
    return tuple(out)


@functools.cache
def hosting_instance_types() -> tuple[str, ...]:
    """Return every instance type SageMaker hosting accepts, from botocore's service model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return tuple(model.shape_for("ProductionVariantInstanceType").enum)


@functools.cache
def processing_instance_types() -> tuple[str, ...]:
    """Return every instance type SageMaker Processing accepts (``ProcessingInstanceType``), from botocore.

    A smaller list than hosting's: no ml.p4d, ml.p4de, ml.p5e or ml.p5en, only ml.p5.4xlarge of p5.
    """
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return tuple(model.shape_for("ProcessingInstanceType").enum)


def near_instance_types(name: str, limit: int = 3) -> list[str]:
    """Return the hosting instance types closest to ``name`` (for "did you mean" messages)."""
    return difflib.get_close_matches(name, hosting_instance_types(), n=limit, cutoff=0.6)
