"""Stack plans: which stack class, id and props an app (or a pipeline stage) composes, and their models.

``app.py`` turns CDK context into plans (``stack_plans``); the app composes them at its top level,
and :class:`stacks.serving_stage.ServingStage` composes the same plans in each pipeline stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Stack

from constructs import Construct
from model_build.spec import ModelSpec
from stacks.async_stack import AsyncInferenceStack
from stacks.multi_model_stack import MultiModelInferenceStack
from stacks.realtime_stack import RealtimeInferenceStack

#: The stack classes the app composes; each says which models it builds (``planned_specs``).
StackClass = type[RealtimeInferenceStack] | type[AsyncInferenceStack] | type[MultiModelInferenceStack]


@dataclass(frozen=True)
class StackPlan:
    """One stack the app will compose: its class, id and props (the same props plan and build it).

    Attributes:
        stack_class: The stack's class.
        stack_id: The stack id (and CloudFormation stack name at the app's top level).
        props: The constructor's keyword props.
    """

    stack_class: StackClass
    stack_id: str
    props: Mapping[str, Any]

    def planned_specs(self) -> tuple[ModelSpec, ...]:
        """Return the models the stack builds (its class's ``planned_specs`` with these props); nothing is built."""
        return self.stack_class.planned_specs(**self.props)

    def compose(self, scope: Construct, **overrides: Any) -> Stack:
        """Add the stack to ``scope`` (its models are built, or taken from the build cache, here).

        Args:
            scope: the app, or a ``Stage``.
            **overrides: props that replace the plan's (a stage passes ``env=None`` so that its
                stacks take the stage's environment).
        """
        return self.stack_class(scope, self.stack_id, **{**self.props, **overrides})


def planned_specs(plans: Sequence[StackPlan]) -> list[ModelSpec]:
    """Return every model the stacks of ``plans`` build, each once (by inputs hash), in stack order."""
    unique: dict[str, ModelSpec] = {}
    for plan in plans:
        for spec in plan.planned_specs():
            unique.setdefault(spec.inputs_hash(), spec)
    return list(unique.values())


def build_models(specs: Sequence[ModelSpec]) -> None:
    """Build (or take from the build cache) every model at once: misses side by side on every core.

    ``build_many`` keys its results by model name, so two different builds of one name (e.g. a model
    served real-time with seed 000's tuning and asynchronously as declared) go in separate rounds.

    Raises:
        model_build.user_errors.UserError: a model failed to build (named, with its error).
    """
    from model_build.parallel import build_many

    rounds: list[dict[str, ModelSpec]] = []
    for spec in specs:
        batch = next((batch for batch in rounds if spec.name not in batch), None)
        if batch is None:
            batch = {}
            rounds.append(batch)
        batch[spec.name] = spec
    for batch in rounds:
        build_many(list(batch.values()))
