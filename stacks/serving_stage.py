"""ServingStage: the app's serving stacks, composed again inside one CDK Pipelines stage (staging, production)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import DefaultStackSynthesizer, Environment, Stack, Stage, Token
from aws_cdk.region_info import RegionInfo

from constructs import Construct
from serving_constructs import PropsError
from stacks.pipeline_smoke import add_smoke_test_access
from stacks.plans import StackPlan


class ServingStage(Stage):
    """The same serving stacks as the app (one per :class:`~stacks.plans.StackPlan`), in the stage's environment.

    Each stack takes the stage's account and region (the plan's own ``env`` is dropped), and its
    CloudFormation stack name is ``<stage id>-<stack id>`` (e.g. ``Staging-TritonRealtime-bert-tiny``),
    so a staging and a production copy can live in one account. The models are not built here:
    the app builds every plan's models once before composing (``stacks.plans.build_models``), so the
    stacks of every stage take the same archives (the same asset hashes) from the build cache.

    Args:
        scope: the pipeline stack.
        construct_id: the stage id, which prefixes its stack names (``"Staging"``, ``"Production"``).
        plans: the stacks to compose, in order (``app.stack_plans``).
        env: the stage's account and region. Defaults to none: the pipeline stack's environment.
        smoke_test_account: the account whose smoke test steps may assume each stack's smoke-test
            role (``stacks.pipeline_smoke.add_smoke_test_access``): the pipeline's. Defaults to none:
            the stack's own account.
        **kwargs: further ``Stage`` props.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        plans: Sequence[StackPlan],
        env: Environment | None = None,
        smoke_test_account: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, env=env, **kwargs)
        if not plans:
            raise PropsError(f"Invalid ServingStage props: plans must name at least one stack (got {list(plans)!r})")
        self._serving_stacks = [
            plan.compose(self, env=None, synthesizer=_synthesizer(self.region)) for plan in plans
        ]
        for stack in self._serving_stacks:
            add_smoke_test_access(stack, trusted_account=smoke_test_account)

    @property
    def serving_stacks(self) -> list[Stack]:
        """The stage's serving stacks, in plan order."""
        return list(self._serving_stacks)


def _synthesizer(region: str | None) -> DefaultStackSynthesizer:
    """Return CDK's default synthesizer, with the execution role's partition written out when the region is known.

    The pipeline's deploy actions name the stage's CloudFormation execution role in their
    configuration; with ``${AWS::Partition}`` that is an ``Fn::Join``, which CodePipeline's action
    schema (cfn-lint E3703) does not take. The region fixes the partition (``aws``, ``aws-cn``,
    ``aws-us-gov``), so the ARN can be a plain string. It is the bootstrap's role all the same.
    """
    partition = None if region is None or Token.is_unresolved(region) else RegionInfo.get(region).partition
    if partition is None:
        return DefaultStackSynthesizer()

    return DefaultStackSynthesizer(
        cloud_formation_execution_role=DefaultStackSynthesizer.DEFAULT_CLOUDFORMATION_ROLE_ARN.replace(
            "${AWS::Partition}", partition
        )
    )
