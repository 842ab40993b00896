"""The documented defaults agree with ``serving_constructs.defaults``: docs/constructs.md and the docstrings.

A default changed in ``defaults.py`` but not where users read it (the prop's docstring, the docs'
Defaults table) fails here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from serving_constructs import (
    EndpointResource,
    MultiModelEndpoint,
    ProductionVariant,
    ServerlessProductionVariant,
    TritonImage,
    TritonModel,
    defaults,
)
from serving_constructs.scaling import ScalableInstanceCount

DOCS = Path(__file__).resolve().parents[1] / "docs" / "constructs.md"


def _defaults_table() -> dict[str, str]:
    """Return the docs' Defaults table as prop -> default cell."""
    section = DOCS.read_text().split("\n## Defaults\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:3] for line in section.splitlines() if line.startswith("| ")]
    return {prop.strip(): default.strip() for prop, default in rows[1:]}  # rows[0] is the header


def _doc(obj: object) -> str:
    """Return a docstring with its line breaks and indentation folded into single spaces."""
    return " ".join((obj.__doc__ or "").split())


@pytest.mark.parametrize(
    ("prop", "value"),
    [
        ("`TritonImage.for_region(version)`", f"`{defaults.triton_version()}`"),
        ("`ProductionVariant.instance_type`", f"`{defaults.instance_type_name()}`"),
        ("`initial_instance_count`", str(defaults.initial_instance_count())),
        ("`variant_name`", f"`{defaults.variant_name()}`"),
        ("`initial_variant_weight`", str(defaults.initial_variant_weight())),
        ("`TritonModel.network_isolation`", f"`{defaults.network_isolation()}`"),
        ("`from_endpoint_attributes(variant_names)`", f'`["{defaults.variant_name()}"]`'),
        (
            "scale-in / scale-out cooldown",
            f"{defaults.scale_in_cooldown_seconds()} s / {defaults.scale_out_cooldown_seconds()} s",
        ),
        ("`MultiModelEndpoint.instance_type`", f"`{defaults.multi_model_instance_type_name()}`"),
        ("`MultiModelEndpoint.initial_instance_count`", str(defaults.multi_model_initial_instance_count())),
        (
            "`MultiModelEndpoint.scale_on_gpu_utilization` target",
            f"{defaults.multi_model_gpu_utilization_target():g}",
        ),
        (
            "multi-model `min_capacity` / `max_capacity`",
            f"{defaults.multi_model_min_capacity()} / {defaults.multi_model_max_capacity()}",
        ),
        (
            "multi-model scale-in / scale-out cooldown",
            f"{defaults.multi_model_scale_in_cooldown_seconds()} s / "
            f"{defaults.multi_model_scale_out_cooldown_seconds()} s",
        ),
    ],
)
def test_docs_defaults_table_agrees_with_the_defaults_module(prop, value):
    # GIVEN the docs' Defaults table  WHEN a prop's row is read  THEN it names the module's default
    assert _defaults_table()[prop].startswith(value)


@pytest.mark.parametrize(
    ("documented", "text"),
    [
        (ProductionVariant, f"instance_type: the instance type, e.g. ``InstanceType.of(\"ml.g5.xlarge\")``. "
         f"Defaults to ``{defaults.instance_type_name()}``"),
        (ProductionVariant, f'Defaults to ``"{defaults.variant_name()}"``'),
        (ProductionVariant, f">= 1. Defaults to {defaults.initial_instance_count()}."),
        (ProductionVariant, f">= 0. Defaults to {defaults.initial_variant_weight()}."),
        (ServerlessProductionVariant, f'Defaults to ``"{defaults.variant_name()}"``'),
        (ServerlessProductionVariant, f"traffic weight. Defaults to {defaults.initial_variant_weight()}."),
        (TritonImage.for_region, f"Defaults to :func:`serving_constructs.defaults.triton_version` "
         f"({defaults.triton_version()})"),
        (TritonModel, f"Defaults to :func:`serving_constructs.defaults.network_isolation` "
         f"({defaults.network_isolation()})"),
        (EndpointResource.from_endpoint_attributes, f'(``"{defaults.variant_name()}"``)'),
        *[
            (method, f"scale_in_cooldown: wait after a scale-in. Defaults to {defaults.scale_in_cooldown_seconds()} s.")
            for method in (
                ScalableInstanceCount.scale_on_invocations,
                ScalableInstanceCount.scale_on_gpu_utilization,
                ScalableInstanceCount.scale_to_track_metric,
            )
        ],
        (MultiModelEndpoint, f"Defaults to :func:`serving_constructs.defaults.multi_model_instance_type_name` "
         f"(``{defaults.multi_model_instance_type_name()}``"),
        (MultiModelEndpoint, f"Defaults to :func:`serving_constructs.defaults.multi_model_initial_instance_count` "
         f"({defaults.multi_model_initial_instance_count()})."),
        (MultiModelEndpoint.scale_on_gpu_utilization,
         f"Defaults to :func:`serving_constructs.defaults.multi_model_gpu_utilization_target` "
         f"({defaults.multi_model_gpu_utilization_target():g})."),
        (MultiModelEndpoint.scale_on_gpu_utilization,
         f"Defaults to :func:`serving_constructs.defaults.multi_model_min_capacity` ({defaults.multi_model_min_capacity()})."),
        (MultiModelEndpoint.scale_on_gpu_utilization,
         f"Defaults to :func:`serving_constructs.defaults.multi_model_max_capacity` ({defaults.multi_model_max_capacity()})."),
        *[
            (method, f"scale_in_cooldown: wait after a scale-in. Defaults to "
             f"{defaults.multi_model_scale_in_cooldown_seconds()} s (seed 001).")
            for method in (MultiModelEndpoint.scale_on_gpu_utilization, MultiModelEndpoint.scale_on_invocations)
        ],
        *[
            (method, f"scale_out_cooldown: wait after a scale-out. Defaults to "
             f"{defaults.multi_model_scale_out_cooldown_seconds()} s (seed 001).")
            for method in (MultiModelEndpoint.scale_on_gpu_utilization, MultiModelEndpoint.scale_on_invocations)
        ],
        (MultiModelEndpoint.scale_on_invocations,
         f"min_capacity: the fewest instances, >= 1. Defaults to {defaults.multi_model_min_capacity()} (seed 001)."),
        (MultiModelEndpoint.scale_on_invocations,
         f"max_capacity: the most instances. Defaults to {defaults.multi_model_max_capacity()} (seed 001)."),
        *[
            (method, f"scale_out_cooldown: wait after a scale-out. Defaults to {defaults.scale_out_cooldown_seconds()} s.")
            for method in (
                ScalableInstanceCount.scale_on_invocations,
                ScalableInstanceCount.scale_on_gpu_utilization,
                ScalableInstanceCount.scale_to_track_metric,
            )
        ],
    ],
)  # fmt: skip
def test_prop_docstrings_agree_with_the_defaults_module(documented, text):
    # GIVEN a prop whose default lives in defaults.py  WHEN its docstring is read  THEN it says that default
    assert text in _doc(documented), f"{text!r} not in the docstring of {documented.__qualname__}"
