"""SageMaker hosting instance types: the name check, the NVMe storage rule, and their accelerators.

What an instance carries (GPU or not, how many GPUs) comes from :mod:`model_build.hardware`, the
project's one table of instance hardware; this module adds only the hosting-specific rule for
local NVMe storage and whether SageMaker hosting knows a name at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from aws_cdk import Token

from model_build import hardware
from model_build.hardware import InstanceHardware
from serving_constructs._validation import PropsError, given

# Families with local NVMe instance storage although their name carries no "d" attribute.
# Source: SageMaker Developer Guide, "Host instance storage volumes"
# (https://docs.aws.amazon.com/sagemaker/latest/dg/host-instance-storage.html), and the
# CreateEndpointConfig API reference for KmsKeyId: "You can't request a KmsKeyId when using an
# instance type with local storage ... the call to CreateEndpointConfig fails." The "d" families
# (g4dn, p3dn, p4d, p4de, m5d, c5d, r5d, m6id, ...) are covered by the attribute rule below.
_NVME_FAMILIES_WITHOUT_D = frozenset({"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"})


@dataclass(frozen=True)
class InstanceType:
    """A SageMaker hosting instance type such as ``ml.g4dn.xlarge``.

    Use :meth:`of` or a constant (``InstanceType.ML_G4DN_XLARGE``); ``InstanceType(name)`` checks
    the same. Names are checked for the ``ml.<family>.<size>`` shape; unresolved tokens are passed
    through unchecked. A well-formed
    name that SageMaker hosting does not list (botocore's ``ProductionVariantInstanceType``) is
    not an error here: the endpoint warns about it, naming the nearest known types, because new
    types can appear before the installed botocore knows them.

    Attributes:
        name: the SageMaker instance type name, e.g. ``"ml.g4dn.xlarge"``.
    """

    name: str

    ML_G4DN_XLARGE: ClassVar[InstanceType]
    ML_G4DN_2XLARGE: ClassVar[InstanceType]
    ML_G4DN_12XLARGE: ClassVar[InstanceType]
    ML_G5_XLARGE: ClassVar[InstanceType]
    ML_G5_2XLARGE: ClassVar[InstanceType]
    ML_G5_12XLARGE: ClassVar[InstanceType]
    ML_G6_XLARGE: ClassVar[InstanceType]
    ML_G6E_XLARGE: ClassVar[InstanceType]
    ML_P4D_24XLARGE: ClassVar[InstanceType]
    ML_C5_XLARGE: ClassVar[InstanceType]
    ML_C6I_XLARGE: ClassVar[InstanceType]
    ML_M5_XLARGE: ClassVar[InstanceType]
    ML_M5D_XLARGE: ClassVar[InstanceType]
    ML_INF1_XLARGE: ClassVar[InstanceType]
    ML_INF1_6XLARGE: ClassVar[InstanceType]
    ML_INF2_XLARGE: ClassVar[InstanceType]
    ML_INF2_8XLARGE: ClassVar[InstanceType]
    ML_INF2_24XLARGE: ClassVar[InstanceType]
    ML_INF2_48XLARGE: ClassVar[InstanceType]

    def __post_init__(self) -> None:
        name = self.name
        if not isinstance(name, str):
            fix = (
                "pass the InstanceType itself"
                if isinstance(name, InstanceType)
                else "use InstanceType.of('ml.g4dn.xlarge')"
            )
            raise PropsError(
                f"Invalid instance type {given(name)}: InstanceType.of takes the type's name as a str — {fix}"
            )
        if not Token.is_unresolved(name) and hardware.parse_instance_type(name) is None:
            # Near matches of the name as meant: spaces, capitals or the missing "ml." are common slips.
            meant = name.strip().lower()
            near = hardware.near_instance_types(meant if meant.startswith("ml.") else f"ml.{meant}")
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise PropsError(
                f"Invalid instance type {name!r}: expected a SageMaker hosting type like 'ml.g4dn.xlarge'{hint}"
            )

    @classmethod
    def of(cls, name: str) -> InstanceType:
        """Return the instance type called ``name``.

        Raises:
            PropsError: ``name`` is not a str of the form ``ml.<family>.<size>``.
        """
        return cls(name)

    @property
    def resolved(self) -> bool:
        """Whether the name is known at synth (False for an unresolved token)."""
        return not Token.is_unresolved(self.name)

    @property
    def family(self) -> str | None:
        """The instance family (``"g4dn"`` for ``ml.g4dn.xlarge``); None for an unresolved token."""
        match = hardware.parse_instance_type(self.name)
        return match.group("family") if match else None

    @property
    def hardware(self) -> InstanceHardware | None:
        """What the type carries (accelerator model and count); None for an unresolved token."""
        return hardware.hardware_of(self.name) if hardware.parse_instance_type(self.name) else None

    @property
    def is_gpu(self) -> bool:
        """Whether the type carries NVIDIA GPUs (False for an unresolved token)."""
        hw = self.hardware
        return hw is not None and hw.kind == "gpu"

    @property
    def gpu_count(self) -> int | None:
        """GPUs per instance: 0 for CPU and Inferentia types; None when unknown (token, new family)."""
        hw = self.hardware
        if hw is None:
            return None
        return hw.count if hw.kind == "gpu" else 0

    @property
    def neuron_cores(self) -> int | None:
        """NeuronCores per instance of an ml.inf1/ml.inf2 type; None otherwise (and for a token)."""
        hw = self.hardware
        return None if hw is None else hw.neuron_cores

    @property
    def has_nvme_instance_storage(self) -> bool:
        """Whether the type has local NVMe storage (SageMaker then rejects a volume KMS key and size).

        False for an unresolved token (unknown at synth).
        """
        match = hardware.parse_instance_type(self.name)
        if match is None:
            return False
        return "d" in match.group("attributes") or match.group("family") in _NVME_FAMILIES_WITHOUT_D

    @property
    def known_to_sagemaker_hosting(self) -> bool:
        """Whether botocore's SageMaker model lists the type for hosting (True for a token)."""
        return not self.resolved or self.name in hardware.hosting_instance_types()

    def near_matches(self) -> list[str]:
        """Return the hosting instance types closest to this name (for "did you mean")."""
        return hardware.near_instance_types(self.name)

    def __str__(self) -> str:
        return self.name


InstanceType.ML_G4DN_XLARGE = InstanceType("ml.g4dn.xlarge")
InstanceType.ML_G4DN_2XLARGE = InstanceType("ml.g4dn.2xlarge")
InstanceType.ML_G4DN_12XLARGE = InstanceType("ml.g4dn.12xlarge")
InstanceType.ML_G5_XLARGE = InstanceType("ml.g5.xlarge")
InstanceType.ML_G5_2XLARGE = InstanceType("ml.g5.2xlarge")
InstanceType.ML_G5_12XLARGE = InstanceType("ml.g5.12xlarge")
InstanceType.ML_G6_XLARGE = InstanceType("ml.g6.xlarge")
InstanceType.ML_G6E_XLARGE = InstanceType("ml.g6e.xlarge")
InstanceType.ML_P4D_24XLARGE = InstanceType("ml.p4d.24xlarge")
InstanceType.ML_C5_XLARGE = InstanceType("ml.c5.xlarge")
InstanceType.ML_C6I_XLARGE = InstanceType("ml.c6i.xlarge")
InstanceType.ML_M5_XLARGE = InstanceType("ml.m5.xlarge")
InstanceType.ML_M5D_XLARGE = InstanceType("ml.m5d.xlarge")
InstanceType.ML_INF1_XLARGE = InstanceType("ml.inf1.xlarge")
InstanceType.ML_INF1_6XLARGE = InstanceType("ml.inf1.6xlarge")
InstanceType.ML_INF2_XLARGE = InstanceType("ml.inf2.xlarge")
InstanceType.ML_INF2_8XLARGE = InstanceType("ml.inf2.8xlarge")
InstanceType.ML_INF2_24XLARGE = InstanceType("ml.inf2.24xlarge")
InstanceType.ML_INF2_48XLARGE = InstanceType("ml.inf2.48xlarge")
