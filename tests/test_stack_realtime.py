"""RealtimeInferenceStack: the seed 000 composition (builds bert-tiny once; cached afterwards)."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest
from aws_cdk import App
from aws_cdk.assertions import Annotations, Match, Template

from model_build.examples import get_example
from model_build.profile import ProfileError
from model_build.spec import DynamicBatching
from stacks.realtime_stack import (
    DEFAULT_INVOCATIONS_PER_INSTANCE,
    RealtimeInferenceStack,
    seed_tuned_spec,
    tuned_spec,
)


@pytest.fixture(scope="module")
def stack() -> RealtimeInferenceStack:
    return RealtimeInferenceStack(App(), "Realtime", initial_instance_count=2, min_capacity=2, max_capacity=5)


@pytest.fixture(scope="module")
def template(stack) -> Template:
    return Template.from_stack(stack)


def test_seed_tuned_spec_applies_dynamic_batching_and_two_instances_per_gpu():
    # GIVEN the neutral example  WHEN tuned
    spec = seed_tuned_spec(get_example("bert-large"))

    # THEN seed 000's best configuration, other options untouched
    assert spec.triton.dynamic_batching == DynamicBatching(
        preferred_batch_sizes=(16,), max_queue_delay_microseconds=100
    )
    assert spec.triton.instance_count == 2
    assert spec.triton.instance_kind == "KIND_GPU"
    assert spec.triton.max_batch_size == get_example("bert-large").triton.max_batch_size
    assert spec.name == "bert-large"


def test_seed_tuned_spec_on_cpu_uses_kind_cpu():
    assert seed_tuned_spec(get_example("bert-tiny"), gpu=False).triton.instance_kind == "KIND_CPU"


def test_default_invocations_target_is_seed_figure_times_safety_factor():
    # seed 000, pt-ig-db on ml.g4dn.xlarge: 892 invocations/min/instance; x 0.7, rounded down.
    assert DEFAULT_INVOCATIONS_PER_INSTANCE == 624


def test_stack_composes_model_config_endpoint_and_scaling(template):
    for resource_type in (
        "AWS::SageMaker::Model",
        "AWS::SageMaker::EndpointConfig",
        "AWS::SageMaker::Endpoint",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        "Custom::ScalingRelease",  # two: before the endpoint's update, and before its delete
        "AWS::Lambda::Function",  # the scaling release's handler
    ):
        template.resource_count_is(resource_type, 2 if resource_type == "Custom::ScalingRelease" else 1)
    # two roles: the model's execution role and the scaling release handler's
    template.resource_count_is("AWS::IAM::Role", 2)
    template.has_resource_properties(
        "AWS::IAM::Role",
        {"AssumeRolePolicyDocument": Match.object_like({"Statement": [Match.object_like({"Principal": {"Service": "sagemaker.amazonaws.com"}})]})},
    )
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like({"InstanceType": "ml.g4dn.xlarge", "InitialInstanceCount": 2})
            ]
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 2, "MaxCapacity": 5}
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {"TargetTrackingScalingPolicyConfiguration": Match.object_like({"TargetValue": 624})},
    )


def test_stack_serves_the_built_model_by_name(template):
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": Match.object_like(
                {"Environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "bert-tiny"}}
            )
        },
    )


def test_stack_model_asset_is_keyed_by_the_spec_inputs_hash(template):
    # GIVEN the spec the stack builds
    inputs_hash = seed_tuned_spec(get_example("bert-tiny")).inputs_hash()

    # THEN the artifact's S3 key derives from that hash alone (CDK stores a custom asset hash
    # as sha256(custom hash)), so the endpoint changes exactly when the model's inputs change
    key = hashlib.sha256(inputs_hash.encode()).hexdigest()
    model = next(iter(template.find_resources("AWS::SageMaker::Model").values()))
    assert f"/{key}.gz" in json.dumps(model["Properties"]["PrimaryContainer"]["ModelDataUrl"])


def test_stack_outputs_endpoint_config_and_model_names(template):
    outputs = template.to_json()["Outputs"]
    assert set(outputs) >= {"EndpointName", "EndpointConfigName", "ModelName", "TritonModelName"}
    template.has_output(
        "EndpointName", {"Value": {"Fn::GetAtt": [Match.string_like_regexp("^Endpoint"), "EndpointName"]}}
    )


def test_stack_template_passes_cfn_lint(template, cfn_lint_errors):
    assert cfn_lint_errors(template.to_json()) == []


def test_stack_refuses_bad_instance_type():
    with pytest.raises(ValueError, match="Invalid instance type 'g4dn'"):
        RealtimeInferenceStack(App(), "Bad", instance_type="g4dn")


@pytest.fixture
def seed_like_profile(make_profile):
    """A profile with seed_tuned_spec's Triton settings for bert-tiny, so the build is a cache hit."""

    def make(**overrides):
        seed_like = {
            "max_batch_size": get_example("bert-tiny").triton.max_batch_size,
            "preferred_batch_sizes": (16,),
            "initial_instance_count": 3,
            "invocations_per_instance_target": 1500,
            "target_invocations_per_minute": 4500,
            "measured": dataclasses.replace(
                make_profile().measured, throughput_rps=36.0, invocations_per_minute=2160.0
            ),
        }
        return make_profile(**{**seed_like, **overrides})

    return make


def test_tuned_spec_without_profile_is_the_seed_configuration():
    spec = get_example("bert-tiny")
    assert tuned_spec(spec) == seed_tuned_spec(spec)


def test_tuned_spec_applies_profile_and_instance_kind(seed_like_profile):
    # GIVEN a profile with other batching settings
    profile = seed_like_profile(preferred_batch_sizes=(4, 8), instance_count=3, max_batch_size=16)

    # WHEN
    spec = tuned_spec(get_example("bert-tiny"), profile=profile, gpu=False)

    # THEN
    assert spec.triton.dynamic_batching == DynamicBatching(
        preferred_batch_sizes=(4, 8), max_queue_delay_microseconds=100
    )
    assert (spec.triton.instance_count, spec.triton.max_batch_size, spec.triton.instance_kind) == (
        3,
        16,
        "KIND_CPU",
    )


def test_tuned_spec_refuses_profile_of_another_model(seed_like_profile):
    with pytest.raises(ProfileError, match=r"does not match ModelSpec\.name 'bert-large'"):
        tuned_spec(get_example("bert-large"), profile=seed_like_profile())


def test_stack_takes_count_and_target_from_profile(seed_like_profile):
    # GIVEN / WHEN
    stack = RealtimeInferenceStack(
        App(), "Tuned", profile=seed_like_profile(), min_capacity=2, max_capacity=6
    )

    # THEN
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like({"InstanceType": "ml.g4dn.xlarge", "InitialInstanceCount": 3})
            ]
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {"TargetTrackingScalingPolicyConfiguration": Match.object_like({"TargetValue": 1500})},
    )
    assert Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("tuning profile")) == []


def test_stack_refuses_a_profile_measured_on_another_accelerator(seed_like_profile):
    # GIVEN a profile measured on one T4 (ml.g4dn.xlarge)  WHEN the stack sizes ml.g5.xlarge (an A10G)
    with pytest.raises(ProfileError, match=r"measured on 1 x NVIDIA T4.*ml\.g5\.xlarge has 1 x NVIDIA A10G"):
        RealtimeInferenceStack(App(), "Tuned", profile=seed_like_profile(), instance_type="ml.g5.xlarge")


def test_stack_resizes_a_profile_for_another_size_of_the_same_accelerator(seed_like_profile):
    # GIVEN a profile measured on one T4  WHEN the stack sizes ml.g4dn.12xlarge (four T4s)
    profile = seed_like_profile()
    stack = RealtimeInferenceStack(App(), "Tuned", profile=profile, instance_type="ml.g4dn.12xlarge")

    # THEN the scaling target is the measured rate per GPU x 4 GPUs x the safety factor
    expected = profile.scaling_target(profile.measured.invocations_per_minute * 4, profile.safety_factor)
    Template.from_stack(stack).has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {"TargetTrackingScalingPolicyConfiguration": Match.object_like({"TargetValue": expected})},
    )
