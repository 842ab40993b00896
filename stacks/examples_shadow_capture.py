"""A shadow test with data capture: a candidate model gets a copy of live traffic, both models' traffic is captured.

Copy this stack to compare a new model version on production traffic before shifting any traffic
to it. The production variant answers every request; SageMaker sends a copy of each request to
the shadow variant and discards its answers (its metrics carry ``VariantName=Shadow``, so the two
latencies and error rates compare side by side in CloudWatch). Data capture writes a sample of the
requests and answers of both variants to S3 as JSON Lines, encrypted with a customer-managed key,
under ``<prefix>/<endpoint>/<variant>/<yyyy>/<mm>/<dd>/<hh>/``: the input of a Model Monitor job or
an offline comparison of the two models' answers.

When the candidate wins, promote it: make it the production variant's model and drop
``shadow_variants`` (one deploy; the endpoint updates in place).
"""

from __future__ import annotations

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from model_build.spec import ModelSpec
from serving_constructs import (
    DataCapture,
    InstanceType,
    ModelArtifact,
    ProductionVariant,
    RealtimeEndpoint,
    TritonModel,
)


class ShadowCaptureStack(Stack):
    """A real-time endpoint: production model, shadow candidate, KMS-encrypted data capture.

    Args:
        scope: the parent construct.
        id: the stack id.
        models_bucket_name: the bucket holding both model archives. Defaults to ``"models-bucket"``.
        production_key: the production model's ``model.tar.gz`` key. Defaults to ``"bert/v1/model.tar.gz"``.
        candidate_key: the candidate (shadow) model's archive key. Defaults to ``"bert/v2/model.tar.gz"``.
        instance_type: the instance type of both variants (a shadow runs on its own instances).
            Defaults to ``ml.g4dn.xlarge`` (seed 000's T4, the project's default GPU type, and one the
            local rehearsal's emulator accepts).
        sampling_percentage: the share of requests captured, 0-100. Defaults to 20.
        **kwargs: further ``Stack`` props (``env``, ``description``, ...).
    """

    @staticmethod
    def planned_specs(**props: object) -> tuple[ModelSpec, ...]:
        """Return the models the stack builds: none (its model data is not built by ``model_build``)."""
        return ()

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        models_bucket_name: str = "models-bucket",
        production_key: str = "bert/v1/model.tar.gz",
        candidate_key: str = "bert/v2/model.tar.gz",
        instance_type: InstanceType | None = None,
        sampling_percentage: int = 20,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        instance = InstanceType.of("ml.g4dn.xlarge") if instance_type is None else instance_type
        models = s3.Bucket.from_bucket_name(self, "ModelsBucket", models_bucket_name)
        production = TritonModel(
            self,
            "ProductionModel",
            artifact=ModelArtifact.from_bucket(models, production_key, model_name="bert"),
        )
        candidate = TritonModel(
            self,
            "CandidateModel",
            artifact=ModelArtifact.from_bucket(models, candidate_key, model_name="bert"),
        )
        self.capture_key = kms.Key(
            self, "CaptureKey", enable_key_rotation=True, description="Encrypts the endpoint's captured data"
        )
        self.endpoint = RealtimeEndpoint(
            self,
            "Endpoint",
            variants=[
                ProductionVariant(
                    model=production,
                    variant_name="Production",
                    instance_type=instance,
                    initial_instance_count=2,
                )
            ],
            shadow_variants=[
                ProductionVariant(
                    model=candidate, variant_name="Shadow", instance_type=instance, initial_instance_count=2
                )
            ],
            data_capture=DataCapture(
                sampling_percentage=sampling_percentage,
                kms_key=self.capture_key,
                json_content_types=["application/json"],
            ),
        )
        self.endpoint.auto_scale_instance_count(
            "Production", min_capacity=2, max_capacity=4
        ).scale_on_invocations("Invocations", invocations_per_instance_per_minute=500)
        assert self.endpoint.data_capture_bucket is not None
        CfnOutput(self, "EndpointName", value=self.endpoint.endpoint_name)
        CfnOutput(self, "CaptureBucket", value=self.endpoint.data_capture_bucket.bucket_name)
