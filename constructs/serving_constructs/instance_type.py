"""SageMaker hosting instance types, and the one rule for which have local NVMe storage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from aws_cdk import Token

# `ml.<family>.<size>`, where family = series letters + generation digits + attribute letters
# (g4dn = g, 4, "dn"). The attribute "d" means local NVMe instance storage (EC2 naming).
_NAME = re.compile(
    r"^ml\.(?P<family>(?P<series>[a-z]+)(?P<generation>\d+)(?P<attributes>[a-z]*))\.(?P<size>[0-9a-z]+)$"
)

# Families with local NVMe instance storage although their name carries no "d" attribute.
# Source: SageMaker Developer Guide, "Host instance storage volumes"
# (https://docs.aws.amazon.com/sagemaker/latest/dg/host-instance-storage.html), and the
# CreateEndpointConfig API reference for KmsKeyId: "You can't request a KmsKeyId when using an
# instance type with local storage ... the call to CreateEndpointConfig fails." The "d" families
# (g4dn, p3dn, p4d, p4de, m5d, c5d, r5d, m6id, ...) are covered by the attribute rule below.
_NVME_FAMILIES_WITHOUT_D = frozenset({"g5", "g6", "g6e", "gr6", "p5", "p5e", "p5en", "trn1", "trn1n", "trn2"})

# Series whose every family carries NVIDIA GPUs (g4dn/g5/g6/g6e/gr6, p3/p4d/p5 ...).
_GPU_SERIES = frozenset({"g", "gr", "p"})


@dataclass(frozen=True)
class InstanceType:
    """A SageMaker hosting instance type such as ``ml.g4dn.xlarge``.

    Use :meth:`of` or a constant (``InstanceType.ML_G4DN_XLARGE``). Names are checked for the
    ``ml.<family>.<size>`` shape; unresolved tokens are passed through unchecked.

    Attributes:
        name: the SageMaker instance type name, e.g. ``"ml.g4dn.xlarge"``.
    """

    name: str

    ML_G4DN_XLARGE: ClassVar[InstanceType]
    ML_G4DN_2XLARGE: ClassVar[InstanceType]
    ML_G4DN_12XLARGE: ClassVar[InstanceType]
    ML_G5_XLARGE: ClassVar[InstanceType]
    ML_G5_2XLARGE: ClassVar[InstanceType]
    ML_G6_XLARGE: ClassVar[InstanceType]
    ML_G6E_XLARGE: ClassVar[InstanceType]
    ML_P4D_24XLARGE: ClassVar[InstanceType]
    ML_C5_XLARGE: ClassVar[InstanceType]
    ML_C6I_XLARGE: ClassVar[InstanceType]
    ML_M5_XLARGE: ClassVar[InstanceType]
    ML_M5D_XLARGE: ClassVar[InstanceType]

    @classmethod
    def of(cls, name: str) -> InstanceType:
        """Return the instance type called ``name``.

        Raises:
            ValueError: ``name`` is not of the form ``ml.<family>.<size>``.
        """
        if not Token.is_unresolved(name) and not _NAME.match(name):
            raise ValueError(
                f"Invalid instance type {name!r}: expected a SageMaker hosting type like 'ml.g4dn.xlarge'"
            )
        return cls(name)

    @property
    def family(self) -> str | None:
        """The instance family (``"g4dn"`` for ``ml.g4dn.xlarge``); None for an unresolved token."""
        match = _NAME.match(self.name)
        return match.group("family") if match else None

    @property
    def has_nvme_instance_storage(self) -> bool:
        """Whether the type has local NVMe storage (SageMaker then rejects a volume KMS key and size).

        False for an unresolved token (unknown at synth).
        """
        match = _NAME.match(self.name)
        if match is None:
            return False
        return "d" in match.group("attributes") or match.group("family") in _NVME_FAMILIES_WITHOUT_D

    @property
    def is_gpu(self) -> bool:
        """Whether the type carries NVIDIA GPUs (False for an unresolved token)."""
        match = _NAME.match(self.name)
        return match is not None and match.group("series") in _GPU_SERIES

    def __str__(self) -> str:
        return self.name


InstanceType.ML_G4DN_XLARGE = InstanceType("ml.g4dn.xlarge")
InstanceType.ML_G4DN_2XLARGE = InstanceType("ml.g4dn.2xlarge")
InstanceType.ML_G4DN_12XLARGE = InstanceType("ml.g4dn.12xlarge")
InstanceType.ML_G5_XLARGE = InstanceType("ml.g5.xlarge")
InstanceType.ML_G5_2XLARGE = InstanceType("ml.g5.2xlarge")
InstanceType.ML_G6_XLARGE = InstanceType("ml.g6.xlarge")
InstanceType.ML_G6E_XLARGE = InstanceType("ml.g6e.xlarge")
InstanceType.ML_P4D_24XLARGE = InstanceType("ml.p4d.24xlarge")
InstanceType.ML_C5_XLARGE = InstanceType("ml.c5.xlarge")
InstanceType.ML_C6I_XLARGE = InstanceType("ml.c6i.xlarge")
InstanceType.ML_M5_XLARGE = InstanceType("ml.m5.xlarge")
InstanceType.ML_M5D_XLARGE = InstanceType("ml.m5d.xlarge")
