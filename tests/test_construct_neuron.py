"""Inferentia: instance hardware, NeuronImage from the SDK data, NeuronRuntime, NeuronModel and the target refusal."""

from __future__ import annotations

import dataclasses

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template

from model_build import hardware
from model_build.neuron_target import neuron_target_problems
from serving_constructs import (
    InstanceType,
    ModelArtifact,
    NeuronImage,
    NeuronModel,
    NeuronRuntime,
    ProductionVariant,
    PropsError,
    RealtimeEndpoint,
)
from serving_constructs.neuron import neuron_versions

INF2 = {"target": "inf2", "neuron_sdk_version": "2.26.0", "batch_size": 1, "sequence_length": 128}
INF1 = {"target": "inf1", "neuron_sdk_version": "1.19.2", "batch_size": 1, "sequence_length": 128}


@pytest.mark.parametrize(
    ("name", "devices", "cores", "memory"),
    [
        # AWS Neuron architecture pages: Inferentia = 4 NeuronCore-v1 + 8 GiB; Inferentia2 = 2 NeuronCore-v2 + 32 GiB.
        ("ml.inf1.xlarge", 1, 4, 8),
        ("ml.inf1.2xlarge", 1, 4, 8),
        ("ml.inf1.6xlarge", 4, 16, 32),
        ("ml.inf1.24xlarge", 16, 64, 128),
        ("ml.inf2.xlarge", 1, 2, 32),
        ("ml.inf2.8xlarge", 1, 2, 32),
        ("ml.inf2.24xlarge", 6, 12, 192),
        ("ml.inf2.48xlarge", 12, 24, 384),
    ],
)
def test_inferentia_types_carry_their_neuron_cores_and_memory(name, devices, cores, memory):
    hw = hardware.hardware_of(name)
    assert (hw.kind, hw.count, hw.neuron_cores, hw.accelerator_memory_gib) == (
        "inferentia",
        devices,
        cores,
        memory,
    )
    # botocore's hosting enum lists every size, and InstanceType takes them
    assert name in hardware.hosting_instance_types()
    instance_type = InstanceType.of(name)
    assert (instance_type.neuron_cores, instance_type.is_gpu, instance_type.gpu_count) == (cores, False, 0)


def test_gpu_and_cpu_types_have_no_neuron_cores():
    assert InstanceType.ML_G5_XLARGE.neuron_cores is None
    assert InstanceType.ML_C5_XLARGE.neuron_cores is None


def test_neuron_target_problems_pass_the_matching_family_and_say_what_to_rebuild_otherwise():
    assert neuron_target_problems(INF2, instance_type="ml.inf2.24xlarge") == []
    assert neuron_target_problems(INF1, instance_type="ml.inf1.xlarge") == []
    (on_inf1,) = neuron_target_problems(INF2, instance_type="ml.inf1.xlarge")
    assert "compiled for inf2 (torch-neuronx, Neuron SDK 2.26.0)" in on_inf1
    assert "rebuild it with target='inf1' (torch-neuron)" in on_inf1
    (on_inf2,) = neuron_target_problems(INF1, instance_type="ml.inf2.xlarge")
    assert "rebuild it with target='inf2' (torch-neuronx)" in on_inf2
    (on_gpu,) = neuron_target_problems(INF2, instance_type="ml.g5.xlarge")
    assert "runs only on ml.inf2.* instance types, not on ml.g5.xlarge (gpu)" in on_gpu
    (on_cpu,) = neuron_target_problems(INF1, instance_type="ml.c5.xlarge")
    assert "not on ml.c5.xlarge (cpu)" in on_cpu
    (bad,) = neuron_target_problems({"target": "trn1"}, instance_type="ml.inf2.xlarge")
    assert "target 'trn1'" in bad


def test_neuron_image_versions_come_from_the_sdk_image_data():
    from sagemaker.core import image_uris

    # inf2: the SDK's PyTorch + torch-neuronx inference DLC (huggingface-neuronx); inf1: inferentia-pytorch.
    inf2 = image_uris.config_for_framework("huggingface-neuronx")["inference"]["versions"]
    assert set(neuron_versions("inf2")) == set(inf2)
    assert set(neuron_versions("inf1")) == set(
        image_uris.config_for_framework("inferentia-pytorch")["versions"]
    )


@pytest.fixture(scope="module")
def inf2_template() -> dict:
    stack = Stack(App(), "Inf2")

    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    model = NeuronModel(
        stack,
        "Model",
        artifact=ModelArtifact.from_bucket(bucket, "bert/model.tar.gz", model_name="bert"),
        runtime=NeuronRuntime(visible_cores=range(0, 2), multi_instance_shared_weights=True),
        neuron_manifest=INF2,
    )
    RealtimeEndpoint(
        stack,
        "Endpoint",
        variants=[
            ProductionVariant(
                model=model, instance_type=InstanceType.ML_INF2_XLARGE, initial_instance_count=2
            )
        ],
    )
    return Template.from_stack(stack).to_json()


def test_neuron_model_renders_the_inf2_dlc_from_a_region_mapping_and_the_runtime_env(inf2_template):
    template = Template.from_json(inf2_template)
    version = neuron_versions("inf2")[-1]
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": {
                "Environment": {
                    "NEURON_RT_VISIBLE_CORES": "0-1",
                    "NEURON_RT_MULTI_INSTANCE_SHARED_WEIGHTS": "1",
                    "SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "bert",
                },
                "Image": {
                    "Fn::Join": [
                        "",
                        Match.array_with([
                            {"Fn::FindInMap": [Match.string_like_regexp("^NeuronImageAccountsinf2"), {"Ref": "AWS::Region"}, "account"]},
                            Match.string_like_regexp(
                                rf"/huggingface-pytorch-inference-neuronx:.*transformers{version}-neuronx-py3\d+-sdk"
                            ),
                        ]),
                    ]
                },
            }
        },
    )  # fmt: skip
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"InstanceType": "ml.inf2.xlarge"})]},
    )
    # the account table is the SDK's, and an agnostic stack refuses a deploy elsewhere before creating anything
    (mapping,) = inf2_template["Mappings"].values()
    assert mapping["us-east-1"] == {"account": "763104351884"}
    (rule,) = [r for name, r in inf2_template["Rules"].items() if name.startswith("NeuronImageRegions")]
    assert "us-east-1" in rule["Assertions"][0]["Assert"]["Fn::Contains"][0]


def test_inf1_image_and_pinned_region():

    stack = Stack(App(), "Inf1", env=Environment(region="eu-west-1"))
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    model = NeuronModel(
        stack,
        "Model",
        artifact=ModelArtifact.from_bucket(bucket, "m.tar.gz", model_name="m"),
        neuron_manifest=INF1,
    )
    endpoint = RealtimeEndpoint(
        stack, "Endpoint",
        variants=[ProductionVariant(model=model, instance_type=InstanceType.ML_INF1_XLARGE, initial_instance_count=2)],
    )  # fmt: skip
    assert model.neuron_image.target == "inf1"
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {"PrimaryContainer": {"Image": {"Fn::Join": ["", Match.array_with([Match.string_like_regexp("/sagemaker-neo-pytorch:")])]}}},
    )  # fmt: skip
    assert template.to_json().get("Rules", {}).keys() <= {
        "CheckBootstrapVersion"
    }  # pinned region: checked at synth
    # the existing Inf1 guardrail warning fires for the Neuron variant
    Annotations.from_stack(stack).has_warning(
        f"/Inf1/{endpoint.node.id}", Match.string_like_regexp("SageMaker ignores deployment guardrails")
    )


def test_dlc_refused_in_a_region_the_sdk_does_not_list():

    stack = Stack(App(), "Far", env=Environment(region="ap-southeast-3"))
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    with pytest.raises(
        PropsError, match=r"is not published in ap-southeast-3.*NeuronImage.from_ecr_repository"
    ):
        NeuronModel(stack, "Model", artifact=ModelArtifact.from_bucket(bucket, "m.tar.gz", model_name="m"))


def test_own_triton_python_backend_image_from_ecr_is_granted_pull():

    stack = Stack(App(), "Own")
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    repository = ecr.Repository.from_repository_name(stack, "Repo", "triton-neuronx")
    NeuronModel(
        stack, "Model", artifact=ModelArtifact.from_bucket(bucket, "m.tar.gz", model_name="m"),
        image=NeuronImage.from_ecr_repository(repository, "24.09-neuronx"),
        runtime=NeuronRuntime(num_cores=2),
    )  # fmt: skip
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {"PolicyDocument": {"Statement": Match.array_with([Match.object_like({"Action": Match.array_with(["ecr:BatchGetImage"])})])}},
    )  # fmt: skip
    template.has_resource_properties(
        "AWS::SageMaker::Model", {"PrimaryContainer": Match.object_like({"Environment": Match.object_like({"NEURON_RT_NUM_CORES": "2"})})}
    )  # fmt: skip


# --- the artifact's own neuron.json (ModelArtifact.neuron_manifests) --------------------------------
# The archives hold the manifest model_build's compile stage writes (NeuronManifest.of + write_neuron_manifest,
# via the neuron_archive fixture) and no compiled model: the Neuron SDK is not installable here.


@pytest.fixture(scope="module")
def neuron_archives(tmp_path_factory: pytest.TempPathFactory, neuron_archive) -> dict[str, ModelArtifact]:
    folder = tmp_path_factory.mktemp("neuron")
    return {target: ModelArtifact.from_asset(neuron_archive(folder, target)) for target in ("inf1", "inf2")}


def _served_on(artifact: ModelArtifact, instance_type: str, **props) -> NeuronModel:
    stack = Stack(App(), "FromArchive")
    model = NeuronModel(stack, "Model", artifact=artifact, **props)
    RealtimeEndpoint(
        stack, "Endpoint",
        variants=[ProductionVariant(model=model, instance_type=InstanceType.of(instance_type), initial_instance_count=2)],
    )  # fmt: skip
    return model


def test_the_archive_carries_its_manifest_and_the_model_checks_the_target_without_a_prop(neuron_archives):
    # GIVEN an archive whose bert/neuron.json says inf2  WHEN a NeuronModel serves it with no neuron_manifest prop
    (manifest,) = neuron_archives["inf2"].neuron_manifests.values()
    assert (manifest.target, manifest.neuron_sdk_version, manifest.batch_size) == ("inf2", "2.21.0", 4)
    model = _served_on(neuron_archives["inf2"], "ml.inf2.xlarge")
    # THEN the model took the archive's manifest, and the inf2 image by default
    assert model.neuron_manifest is not None and model.neuron_manifest["target"] == "inf2"
    assert model.neuron_image.target == "inf2"
    # AND an inf1 build gets the inf1 image by default
    assert _served_on(neuron_archives["inf1"], "ml.inf1.xlarge").neuron_image.target == "inf1"


@pytest.mark.parametrize(
    ("target", "instance_type", "needles"),
    [
        ("inf2", "ml.inf1.xlarge", ["compiled for inf2 (torch-neuronx, Neuron SDK 2.21.0)",
                                    "NeuronTarget(target='inf1', batch_size=4, sequence_length=128)"]),
        ("inf2", "ml.g5.xlarge", ["runs only on ml.inf2.* instance types, not on ml.g5.xlarge (gpu)"]),
        ("inf1", "ml.inf2.xlarge", ["compiled for inf1 (torch-neuron, Neuron SDK 1.19.2)", "rebuild it with target='inf2'"]),
    ],
)  # fmt: skip
def test_an_artifact_compiled_for_another_target_is_refused_saying_what_to_rebuild(
    neuron_archives, target, instance_type, needles
):
    # GIVEN the archive's own manifest (no prop)  WHEN a variant places the model on another family
    with pytest.raises(PropsError) as error:
        _served_on(neuron_archives[target], instance_type)
    # THEN the endpoint refuses it, naming the variant's model and what to rebuild
    message = str(error.value)
    assert f"variants[0].model: the artifact was compiled for {target}" in message
    assert all(needle in message for needle in needles), message


def test_the_prop_overrides_the_archives_manifest_with_a_warning(neuron_archives):
    model = _served_on(neuron_archives["inf2"], "ml.inf1.xlarge", neuron_manifest=INF1)
    assert model.neuron_manifest == INF1 and model.neuron_image.target == "inf1"
    Annotations.from_stack(Stack.of(model)).has_warning(
        "/FromArchive/Model", Match.string_like_regexp("artifact's bert/neuron.json says 'inf2'; the prop wins.*neuronManifestOverridden")
    )


def test_a_build_of_another_backend_is_refused_before_building(tmp_path):
    from model_build.examples import get_example

    stack = Stack(App(), "NotNeuron")
    with pytest.raises(PropsError, match=r"holds no bert-tiny/neuron.json, so model 'bert-tiny' is not a Neuron build"):
        NeuronModel(stack, "Model", artifact=ModelArtifact.from_build(get_example("bert-tiny"), cache_dir=tmp_path))
    assert list(tmp_path.iterdir()) == []  # nothing was built


def test_a_neuron_build_is_read_from_the_build_which_stops_here_without_the_sdk(tmp_path):
    from model_build.examples import get_example
    from model_build.neuron import NeuronTarget, NeuronUnavailableError, neuron_sdk_version

    if neuron_sdk_version("inf2") is not None:
        pytest.skip("torch-neuronx is installed here (an Inferentia machine): the build would compile")
    spec = dataclasses.replace(
        get_example("bert-tiny"), backend="neuron", neuron_target=NeuronTarget(target="inf2", sequence_length=128)
    )
    # from_build of a Neuron spec reads the neuron.json its build writes: here the build stops before any work
    with pytest.raises(NeuronUnavailableError, match=r"torch_neuronx is not installed here"):
        NeuronModel(Stack(App(), "Built"), "Model", artifact=ModelArtifact.from_build(spec, cache_dir=tmp_path))
