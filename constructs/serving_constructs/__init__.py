"""CDK constructs for serving NVIDIA Triton models on Amazon SageMaker.

Import as ``serving_constructs`` (the ``constructs/`` folder above is a plain container: a package
named ``constructs`` would shadow the library aws-cdk-lib imports).
"""

from serving_constructs._validation import PropsError
from serving_constructs.alarms import RecommendedAlarms
from serving_constructs.artifact import Compression, ModelArtifact, ModelDataBinding, S3DataType
from serving_constructs.async_endpoint import AsyncEndpoint, IncludeInferenceResponseIn
from serving_constructs.container import ContainerDefinition, MultiContainerModel
from serving_constructs.container_image import ContainerImage
from serving_constructs.container_model import ContainerModel
from serving_constructs.data_capture import DataCapture
from serving_constructs.deployment import Capacity, CapacityUnit, DeploymentKind, DeploymentPolicy
from serving_constructs.endpoint import EndpointBase, EndpointResource, ImportedEndpoint, RealtimeEndpoint
from serving_constructs.image import TritonImage, triton_versions
from serving_constructs.instance_type import InstanceType
from serving_constructs.metrics import (
    INSTANCE_NAMESPACE,
    INVOCATION_NAMESPACE,
    METRICS,
    Dimensions,
    MetricSpec,
    ServingMode,
    unit_of,
)
from serving_constructs.model import TritonModel
from serving_constructs.model_prefix import ModelPrefix
from serving_constructs.monitoring import DEFAULT_LATENCY_TARGET_MS, EndpointMonitoring, ServingDashboard
from serving_constructs.multi_model import (
    MULTI_MODEL_GPU_INSTANCE_TYPES,
    ModelCacheSetting,
    MultiModelEndpoint,
    MultiModelTritonModel,
)
from serving_constructs.neuron import NeuronImage, NeuronModel, NeuronRuntime
from serving_constructs.scaling import (
    AsyncScalableInstanceCount,
    CapacityFloor,
    ScalableInstanceCount,
    ScaleOutFromZero,
)
from serving_constructs.serverless import (
    ScalableProvisionedConcurrency,
    ServerlessEndpoint,
    ServerlessFit,
    serverless_fit,
)
from serving_constructs.units import microseconds_to_milliseconds, milliseconds_to_microseconds
from serving_constructs.variant import ProductionVariant, ServerlessProductionVariant, VariantBase

__all__ = [
    "DEFAULT_LATENCY_TARGET_MS",
    "INSTANCE_NAMESPACE",
    "INVOCATION_NAMESPACE",
    "METRICS",
    "MULTI_MODEL_GPU_INSTANCE_TYPES",
    "AsyncEndpoint",
    "AsyncScalableInstanceCount",
    "Capacity",
    "CapacityFloor",
    "CapacityUnit",
    "Compression",
    "ContainerDefinition",
    "ContainerImage",
    "ContainerModel",
    "DataCapture",
    "DeploymentKind",
    "DeploymentPolicy",
    "Dimensions",
    "EndpointBase",
    "EndpointMonitoring",
    "EndpointResource",
    "ImportedEndpoint",
    "IncludeInferenceResponseIn",
    "InstanceType",
    "MetricSpec",
    "ModelArtifact",
    "ModelCacheSetting",
    "ModelDataBinding",
    "ModelPrefix",
    "MultiContainerModel",
    "MultiModelEndpoint",
    "MultiModelTritonModel",
    "NeuronImage",
    "NeuronModel",
    "NeuronRuntime",
    "ProductionVariant",
    "PropsError",
    "RealtimeEndpoint",
    "RecommendedAlarms",
    "S3DataType",
    "ScalableInstanceCount",
    "ScalableProvisionedConcurrency",
    "ScaleOutFromZero",
    "ServerlessEndpoint",
    "ServerlessFit",
    "ServerlessProductionVariant",
    "ServingDashboard",
    "ServingMode",
    "TritonImage",
    "TritonModel",
    "VariantBase",
    "microseconds_to_milliseconds",
    "milliseconds_to_microseconds",
    "serverless_fit",
    "triton_versions",
    "unit_of",
]
