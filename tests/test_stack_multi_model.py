"""MultiModelInferenceStack: seed 001's system on the resnet-tiny set (builds it once; cached afterwards)."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Annotations, Match, Template

from model_build.engine_target import tensorrt_version_of_triton
from model_build.examples import get_example
from model_build.tensorrt import BuildEnvironment, GpuInfo, TensorRTUnavailableError
from serving_constructs import defaults
from stacks.multi_model_stack import (
    ONNX_TARGET,
    TENSORRT_TARGET,
    TORCHSCRIPT_TARGET,
    MultiModelInferenceStack,
    engine_build_problem,
    multi_model_stack_id,
    retarget_engine,
)

# What this machine offers for an engine build: no TensorRT, no GPU, no Docker daemon (probed once).
NOWHERE = BuildEnvironment(tensorrt_version=None, gpus=(), docker_problem="no Docker daemon answers")


@pytest.fixture(scope="module")
def stack() -> MultiModelInferenceStack:
    return MultiModelInferenceStack(
        App(), multi_model_stack_id("resnet-tiny"), models="resnet-tiny", build_environment=NOWHERE
    )


@pytest.fixture(scope="module")
def template(stack) -> Template:
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def rehearsal_stack() -> MultiModelInferenceStack:
    return MultiModelInferenceStack(App(), "Rehearsal", models="resnet-tiny", tensorrt="rehearsal")


def test_stack_id_is_named_after_the_model_set():
    assert multi_model_stack_id() == "TritonMultiModel-resnet50"
    assert multi_model_stack_id("resnet-tiny") == "TritonMultiModel-resnet-tiny"


def test_stack_serves_the_prefix_in_multi_model_mode_on_two_g4dn_4xlarge(template):
    # THEN one MultiModel-mode model reads seed 001's prefix, behind seed 001's endpoint config
    template.resource_count_is("AWS::SageMaker::Model", 1)
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": Match.object_like(
                {
                    "Mode": "MultiModel",
                    "ModelDataUrl": {
                        "Fn::Join": ["", ["s3://", {"Ref": Match.string_like_regexp("ModelPrefixBucket")}, "/resnet-mme-gpu/"]]
                    },
                }
            )
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like(
                    {"InstanceType": "ml.g4dn.4xlarge", "InitialInstanceCount": 2, "VariantName": "AllTraffic"}
                )
            ]
        },
    )


def test_stack_copies_each_archive_to_its_target_model_key(stack, template):
    # GIVEN no TensorRT here (tensorrt="auto") THEN the TorchScript and ONNX archives land at stable keys
    copies = template.find_resources("Custom::ModelArchive")
    keys = sorted(c["Properties"]["DestinationKey"] for c in copies.values())
    assert keys == ["resnet-mme-gpu/resnet_onnx_v0.tar.gz", "resnet-mme-gpu/resnet_pt_v0.tar.gz"]
    assert stack.endpoint.target_models == (ONNX_TARGET, TORCHSCRIPT_TARGET)
    # ... and both hold a model folder of the same name, told apart only by TargetModel (as in seed 001)
    assert [a.model_names for a in stack.model_prefix.artifacts.values()] == [("resnet",), ("resnet",)]
    assert stack.archives[TORCHSCRIPT_TARGET].backend == "pytorch"


def test_stack_scales_on_gpu_utilization_as_seed_001(template):
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {"MinCapacity": 1, "MaxCapacity": 5, "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"},
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "TargetValue": 60,
                    "ScaleInCooldown": 600,
                    "ScaleOutCooldown": 200,
                    "CustomizedMetricSpecification": Match.object_like(
                        {
                            "MetricName": "GPUUtilization",
                            "Namespace": "/aws/sagemaker/Endpoints",
                            "Statistic": "Average",
                            "Dimensions": Match.array_with(
                                [
                                    {"Name": "EndpointName", "Value": Match.any_value()},
                                    {"Name": "VariantName", "Value": "AllTraffic"},
                                ]
                            ),
                        }
                    ),
                }
            ),
        },
    )


def test_stack_warns_why_the_engine_is_left_out_and_how_to_include_it(stack):
    # GIVEN no TensorRT, GPU or Docker here WHEN tensorrt="auto" THEN one warning says what is missing and the fix
    Annotations.from_stack(stack).has_warning(
        "*",
        Match.string_like_regexp(
            r"resnet_trt_v0\.tar\.gz .*resnet-tiny-trt, for ml\.g4dn\.4xlarge.* is left out of this endpoint: "
            r"TensorRT is not available here.*no NVIDIA GPU.*-c mme_tensorrt=on.*-c mme_tensorrt=rehearsal"
        ),
    )


def test_stack_outputs_what_a_client_needs(template):
    outputs = template.find_outputs("*")
    assert {"EndpointName", "EndpointConfigName", "ModelDataUrl", "TargetModels"} <= set(outputs)
    assert outputs["TargetModels"]["Value"] == f"{ONNX_TARGET},{TORCHSCRIPT_TARGET}"


def test_stack_template_passes_cfn_lint(template, cfn_lint_errors):
    assert cfn_lint_errors(template.to_json()) == []


def test_stack_has_no_unacknowledged_nag_findings(nag_violations, tmp_path):
    app = App(outdir=str(tmp_path))
    MultiModelInferenceStack(app, "Nag", models="resnet-tiny", tensorrt="off")
    assert nag_violations(app) == []


def test_rehearsal_puts_the_onnx_twin_in_the_tensorrt_slot_with_a_loud_warning(rehearsal_stack):
    # GIVEN tensorrt="rehearsal" THEN the TensorRT slot holds the ONNX twin, and the stack says so
    assert rehearsal_stack.endpoint.target_models == (ONNX_TARGET, TORCHSCRIPT_TARGET, TENSORRT_TARGET)
    assert rehearsal_stack.archives[TENSORRT_TARGET].name == "resnet-tiny-onnx"
    Annotations.from_stack(rehearsal_stack).has_warning(
        "*",
        Match.string_like_regexp(
            r"REHEARSAL SUBSTITUTE, NOT A TENSORRT ENGINE: resnet_trt_v0\.tar\.gz holds resnet-tiny-onnx"
        ),
    )
    Annotations.from_stack(rehearsal_stack).has_no_warning("*", Match.string_like_regexp("is left out"))


def test_tensorrt_off_leaves_the_slot_out_without_a_warning(tmp_path):
    stack = MultiModelInferenceStack(App(outdir=str(tmp_path)), "Off", models="resnet-tiny", tensorrt="off")
    assert TENSORRT_TARGET not in stack.endpoint.target_models
    Annotations.from_stack(stack).has_no_warning("*", Match.string_like_regexp("resnet_trt_v0"))


def test_tensorrt_on_fails_before_any_build_when_the_engine_cannot_be_built(tmp_path):
    # GIVEN an empty build cache and nowhere to build an engine WHEN tensorrt="on"
    cache = tmp_path / "cache"
    with pytest.raises(TensorRTUnavailableError, match=r"no NVIDIA GPU.*python -m model_build build --example resnet-tiny-trt"):
        MultiModelInferenceStack(
            App(), "On", models="resnet-tiny", tensorrt="on", cache_dir=cache, build_environment=NOWHERE
        )
    # THEN nothing was built
    assert not cache.exists() or not any(cache.iterdir())


def test_engine_is_pinned_to_the_endpoint_instance_type_and_triton_image():
    # GIVEN seed 001's engine spec WHEN the endpoint runs on ml.g5.xlarge
    spec = get_example("resnet-tiny-trt")
    moved = retarget_engine(spec, instance_type="ml.g5.xlarge", triton_version=defaults.triton_version())
    # THEN the engine target follows (A10G), and the build is another one
    assert moved.tensorrt_target is not None and moved.tensorrt_target.gpu_name == "NVIDIA A10G"
    assert (spec.tensorrt_target.instance_type, moved.tensorrt_target.instance_type) == ("ml.g4dn.4xlarge", "ml.g5.xlarge")
    assert moved.inputs_hash() != spec.inputs_hash()


def test_engine_build_problem_accepts_a_machine_with_the_target_gpu_and_tensorrt(tmp_path: Path):
    spec = get_example("resnet-tiny-trt")
    wanted = tensorrt_version_of_triton(spec.tensorrt_target.triton_version)
    t4 = GpuInfo("NVIDIA T4", "7.5")
    # GIVEN a T4 with the image's TensorRT THEN the engine can be built here (auto includes it)
    here = BuildEnvironment(tensorrt_version=wanted, gpus=(t4,), docker_problem=None)
    assert engine_build_problem(spec, cache_dir=tmp_path, environment=here) is None
    # GIVEN an A10G instead THEN the problem names the GPU the target needs
    a10g = BuildEnvironment(tensorrt_version=wanted, gpus=(GpuInfo("NVIDIA A10G", "8.6"),), docker_problem=None)
    problem = engine_build_problem(spec, cache_dir=tmp_path, environment=a10g)
    assert problem is not None and "the target needs NVIDIA T4 (compute capability 7.5)" in problem


def test_engine_build_problem_names_the_command_for_the_retargeted_engine(tmp_path: Path):
    # GIVEN the engine retargeted to ml.g5.xlarge, and nowhere to build it here
    moved = retarget_engine(
        get_example("resnet-tiny-trt"), instance_type="ml.g5.xlarge", triton_version=defaults.triton_version()
    )
    problem = engine_build_problem(moved, cache_dir=tmp_path, environment=NOWHERE)
    # THEN the command to run elsewhere builds that engine, not the example's (built for ml.g4dn.4xlarge)
    assert problem is not None and "NVIDIA A10G" in problem
    assert "retarget_engine(get_example('resnet-tiny-trt'), instance_type='ml.g5.xlarge'" in problem
    assert "--example resnet-tiny-trt" not in problem
