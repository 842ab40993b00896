"""CDK constructs for serving NVIDIA Triton models on Amazon SageMaker.

Import as ``serving_constructs`` (the ``constructs/`` folder above is a plain container: a package
named ``constructs`` would shadow the library aws-cdk-lib imports).
"""

from serving_constructs._validation import PropsError
from serving_constructs.artifact import ModelArtifact
from serving_constructs.endpoint import EndpointBase, RealtimeEndpoint
from serving_constructs.image import TritonImage, triton_versions
from serving_constructs.instance_type import InstanceType
from serving_constructs.metrics import INSTANCE_NAMESPACE, INVOCATION_NAMESPACE
from serving_constructs.model import TritonModel
from serving_constructs.scaling import ScalableInstanceCount
from serving_constructs.variant import ProductionVariant

__all__ = [
    "INSTANCE_NAMESPACE",
    "INVOCATION_NAMESPACE",
    "EndpointBase",
    "InstanceType",
    "ModelArtifact",
    "ProductionVariant",
    "PropsError",
    "RealtimeEndpoint",
    "ScalableInstanceCount",
    "TritonImage",
    "TritonModel",
    "triton_versions",
]
