"""TritonImage: the SageMaker Triton DLC per region, from the sagemaker SDK's data."""

from __future__ import annotations

import json
import re
from importlib import resources

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from serving_constructs import TritonImage, defaults, triton_versions


def _sdk_data() -> dict:
    # Read the JSON directly (not through our loader) so the test checks the loader too.
    text = (
        resources.files("sagemaker.core").joinpath("image_uri_config/sagemaker-tritonserver.json").read_text()
    )
    return json.loads(text)


def _bind(stack: Stack, image: TritonImage) -> str:
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    uri = image.bind(stack, role)
    # Put the URI in the template so Template can see what it renders to.
    from aws_cdk import CfnOutput

    CfnOutput(stack, "Uri", value=uri)
    return uri


def test_default_version_is_listed_in_sdk_data():
    # GIVEN the SDK data  THEN the pinned default is one of its versions
    assert defaults.triton_version() in _sdk_data()["versions"]
    assert defaults.triton_version() in triton_versions()


def test_for_region_renders_mapping_with_every_sdk_region(stack):
    # GIVEN the default DLC image
    # WHEN it is bound in an environment-agnostic stack
    _bind(stack, TritonImage.for_region())

    # THEN the template maps every region the SDK lists to its registry account
    version = defaults.triton_version()
    registries = _sdk_data()["versions"][version]["registries"]
    mappings = Template.from_stack(stack).to_json()["Mappings"]
    mapping = mappings["TritonImageAccounts" + version.replace(".", "")]
    assert mapping == {region: {"account": account} for region, account in registries.items()}


def test_for_region_uri_uses_find_in_map_on_region_and_url_suffix(stack):
    # GIVEN / WHEN
    _bind(stack, TritonImage.for_region("25.09"))

    # THEN the URI is <FindInMap account>.dkr.ecr.<region>.<url suffix>/sagemaker-tritonserver:25.09-py3
    Template.from_stack(stack).has_output(
        "Uri",
        {
            "Value": {
                "Fn::Join": [
                    "",
                    [
                        {"Fn::FindInMap": ["TritonImageAccounts2509", {"Ref": "AWS::Region"}, "account"]},
                        ".dkr.ecr.",
                        {"Ref": "AWS::Region"},
                        ".",
                        {"Ref": "AWS::URLSuffix"},
                        "/sagemaker-tritonserver:25.09-py3",
                    ],
                ]
            }
        },
    )


def test_for_region_dedupes_mapping_per_stack(stack):
    # GIVEN two models bound to the same version
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    TritonImage.for_region("24.09").bind(stack, role)
    TritonImage.for_region("24.09").bind(stack, role)
    TritonImage.for_region("25.09").bind(stack, role)

    # THEN one mapping per version
    from aws_cdk import CfnMapping

    mappings = [c.node.id for c in stack.node.children if isinstance(c, CfnMapping)]
    assert sorted(mappings) == ["TritonImageAccounts2409", "TritonImageAccounts2509"]


def test_for_region_unknown_version_lists_known_versions():
    # WHEN / THEN
    with pytest.raises(ValueError, match=r"Unknown SageMaker Triton DLC version '1\.0'.*24\.09.*25\.09"):
        TritonImage.for_region("1.0")


def test_for_region_refuses_region_where_version_is_not_published():
    # GIVEN a stack pinned to a China region, where 26.05 is not in the SDK data
    stack = Stack(App(), "Cn", env=Environment(region="cn-north-1"))
    assert "cn-north-1" not in _sdk_data()["versions"]["26.05"]["registries"]
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))

    # WHEN / THEN
    with pytest.raises(ValueError, match=r"not published in cn-north-1"):
        TritonImage.for_region("26.05").bind(stack, role)


def test_for_region_grants_nothing_on_the_role(stack):
    # GIVEN / WHEN an AWS-owned DLC image is bound
    _bind(stack, TritonImage.for_region())

    # THEN the role gets no ECR permissions (no policy at all)
    Template.from_stack(stack).resource_count_is("AWS::IAM::Policy", 0)


def test_from_ecr_repository_grants_pull_on_that_repository(stack):
    # GIVEN a BYO image
    repository = ecr.Repository.from_repository_name(stack, "Repo", "my-triton")

    # WHEN
    _bind(stack, TritonImage.from_ecr_repository(repository, "24.09-custom"))

    # THEN the role may pull from that repository only
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": [
                                    "ecr:BatchCheckLayerAvailability",
                                    "ecr:GetDownloadUrlForLayer",
                                    "ecr:BatchGetImage",
                                ],
                                "Resource": Match.object_like({"Fn::Join": Match.any_value()}),
                            }
                        )
                    ]
                )
            }
        },
    )
    uri = json.dumps(template.to_json()["Outputs"]["Uri"])
    assert "my-triton:24.09-custom" in uri


def test_from_uri_passes_uri_through(stack):
    # GIVEN / WHEN
    uri = _bind(stack, TritonImage.from_uri("123456789012.dkr.ecr.eu-west-1.amazonaws.com/triton:1"))

    # THEN
    assert uri == "123456789012.dkr.ecr.eu-west-1.amazonaws.com/triton:1"
    assert re.match(r"^\d{12}\.dkr\.ecr\.", uri)


def test_environment_agnostic_stack_refuses_unlisted_regions_with_a_template_rule(stack):
    # GIVEN the default DLC image in an environment-agnostic stack
    _bind(stack, TritonImage.for_region())

    # THEN a Rules assertion lets CloudFormation refuse a deploy in a region the DLC is not in,
    # naming the supported regions (no China, no GovCloud for 26.05)
    version = defaults.triton_version()
    regions = list(_sdk_data()["versions"][version]["registries"])
    rules = Template.from_stack(stack).to_json()["Rules"]
    assertion = rules["TritonImageRegions" + version.replace(".", "")]["Assertions"][0]
    assert assertion["Assert"] == {"Fn::Contains": [regions, {"Ref": "AWS::Region"}]}
    assert assertion["AssertDescription"].startswith(
        f"The SageMaker Triton DLC {version} is published only in af-south-1"
    )
    assert "TritonImage.from_ecr_repository" in assertion["AssertDescription"]
    assert not any(region.startswith(("cn-", "us-gov-")) for region in regions)


def test_region_rule_is_added_once_per_version(stack):
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    for version in ("25.09", "25.09", "26.05"):
        TritonImage.for_region(version).bind(stack, role)
    rules = [rule for rule in Template.from_stack(stack).to_json()["Rules"] if rule.startswith("TritonImage")]
    assert sorted(rules) == ["TritonImageRegions2509", "TritonImageRegions2605"]


def test_pinned_stack_in_a_listed_region_needs_no_region_rule():
    stack = Stack(App(), "Pinned", env=Environment(region="eu-west-1"))
    _bind(stack, TritonImage.for_region())
    rules = Template.from_stack(stack).to_json()["Rules"]
    assert [rule for rule in rules if rule.startswith("TritonImage")] == []


def test_region_rule_passes_cfn_lint(stack, cfn_lint_errors):
    # GIVEN the rule of an environment-agnostic stack  WHEN linted, also for regions the rule refuses
    _bind(stack, TritonImage.for_region())
    template = Template.from_stack(stack).to_json()

    # THEN
    assert cfn_lint_errors(template) == []
    assert cfn_lint_errors(template, regions=("cn-north-1", "us-gov-west-1")) == []
