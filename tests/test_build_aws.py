"""model_build.aws: the AWS names and runtime limits every layer checks against."""

from __future__ import annotations

import botocore.session
import pytest

from model_build.aws import INVOKE_ENDPOINT_MAX_BODY_BYTES, is_region


@pytest.mark.parametrize("name", ["us-east-1", "ap-southeast-3", "us-gov-west-1", "cn-north-1", "xx-central-12"])
def test_is_region_accepts_region_shaped_names(name: str) -> None:
    assert is_region(name)


@pytest.mark.parametrize("name", ["", "us-east", "US-EAST-1", "useast1", "us-east-1 ", "us_east_1", None, 1])
def test_is_region_refuses_anything_else(name: object) -> None:
    assert not is_region(name)


def test_is_region_accepts_every_region_botocore_knows_for_sagemaker() -> None:
    # GIVEN botocore's own list of SageMaker regions (all partitions)
    session = botocore.session.get_session()
    regions = [r for p in session.get_available_partitions() for r in session.get_available_regions("sagemaker", p)]
    # THEN every one is region-shaped
    assert regions and all(is_region(r) for r in regions), [r for r in regions if not is_region(r)]


def test_invoke_endpoint_limit_is_botocores_body_blob_max() -> None:
    model = botocore.session.get_session().get_service_model("sagemaker-runtime")
    assert model.shape_for("BodyBlob").metadata["max"] == INVOKE_ENDPOINT_MAX_BODY_BYTES
