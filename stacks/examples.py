"""The example stacks of the hosting options beyond one Triton container (issue 12), by name.

``cdk synth -c examples=serverless,byoc`` (or ``all``) adds them to the app next to the serving
stacks; each is a stack to copy and change (its module's docstring says how). This module is the one
list of them: the name a user passes, the stack id, the class and whether its model archives are
read from an existing bucket (``examples_bucket``) rather than built here.

===================  ==========================  =====================================================
name                 stack                       what it shows
===================  ==========================  =====================================================
``serverless``       ``ExampleServerless``       bert-tiny built for CPUs on a serverless endpoint
``shadow-capture``   ``ExampleShadowCapture``    a shadow variant and KMS-encrypted data capture
``multi-container``  ``ExampleMultiContainer``   a serial pipeline (preprocess → Triton) and direct
                                                 invocation (``TargetContainerHostname``)
``byoc``             ``ExampleByoc``             seed 004's nginx + gunicorn + Flask image, built from
                                                 ``examples/byoc`` (Docker where you deploy from)
``inferentia``       ``ExampleInferentia``       a Neuron-compiled model on ml.inf2 (seed 003)
===================  ==========================  =====================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Environment

from stacks.examples_byoc import ByocExampleStack
from stacks.examples_inferentia import InferentiaExampleStack
from stacks.examples_multi_container import MultiContainerExampleStack
from stacks.examples_serverless import ServerlessInferenceStack
from stacks.examples_shadow_capture import ShadowCaptureStack
from stacks.plans import StackPlan


@dataclass(frozen=True)
class Example:
    """One example stack: how ``-c examples=<name>`` composes it.

    Attributes:
        name: the name in the ``examples`` context key.
        stack_id: the stack id (and CloudFormation stack name).
        stack_class: the stack's class (in ``stacks/examples_*.py``).
        bucket_prop: the class's prop that takes ``examples_bucket`` (the bucket its archives are
            read from), or None when the example builds or writes its own model data.
        description: the stack's description.
        props: further props the app gives the stack (beyond its defaults).
    """

    name: str
    stack_id: str
    stack_class: Any
    bucket_prop: str | None
    description: str
    props: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def plan(self, *, bucket: str | None, env: Environment | None) -> StackPlan:
        """Return the stack's plan with its defaults, reading archives from ``bucket`` where it needs one."""
        props: dict[str, Any] = {**self.props, "env": env, "description": self.description}
        if self.bucket_prop is not None:
            props[self.bucket_prop] = bucket
        return StackPlan(self.stack_class, self.stack_id, props)


#: The examples, in the order the app composes them.
EXAMPLES: Mapping[str, Example] = {
    example.name: example
    for example in (
        Example(
            "serverless",
            "ExampleServerless",
            ServerlessInferenceStack,
            None,
            "Example: bert-tiny built for CPUs on a SageMaker serverless endpoint with provisioned concurrency",
            # One invocation kept warm (no cold start for the first caller), scaled up to max concurrency.
            {"provisioned_concurrency": 1},
        ),
        Example(
            "shadow-capture",
            "ExampleShadowCapture",
            ShadowCaptureStack,
            "models_bucket_name",
            "Example: a candidate model as a shadow variant, with KMS-encrypted data capture to S3",
        ),
        Example(
            "multi-container",
            "ExampleMultiContainer",
            MultiContainerExampleStack,
            "bucket_name",
            "Example: a serial inference pipeline (preprocess, then Triton) and a direct-invocation endpoint",
        ),
        Example(
            "byoc",
            "ExampleByoc",
            ByocExampleStack,
            None,
            "Example: seed 004's nginx + gunicorn + Flask container, built from examples/byoc, on a real-time endpoint",
        ),
        Example(
            "inferentia",
            "ExampleInferentia",
            InferentiaExampleStack,
            "bucket_name",
            "Example: a Neuron-compiled model on an autoscaled ml.inf2 real-time endpoint (seed 003)",
        ),
    )
}
