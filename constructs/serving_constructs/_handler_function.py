"""The one Python Lambda function per stack behind a custom resource: its role, log group and code.

``ModelPrefix``'s archive copier (``handlers/model_copy``) and the scaling release
(``handlers/scaling_release``) each run as one function per stack, shared by every resource of
that kind in the stack. What they share is here: a log group kept three months, a role that may
write to that log group only (no ``AWSLambdaBasicExecutionRole``), and the function itself
(Python 3.14 on arm64). The code of every function is the whole ``handlers/`` folder, one asset:
the handler is ``<folder>.index.handler``, and ``handlers/_cfn_response.py`` at its root answers
CloudFormation for all of them. Each kind adds its own statements to
:attr:`StackHandlerFunction.role`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from aws_cdk import Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from constructs import Construct
from serving_constructs._nag import acknowledge, flattened

HANDLERS_DIR = Path(__file__).resolve().parent / "handlers"
"""The handlers' code, one asset: a sub-folder per function (``<folder>/index.py``) and the shared
``_cfn_response.py``."""

_Self = TypeVar("_Self", bound="StackHandlerFunction")


class StackHandlerFunction(Construct):
    """A custom resource's Lambda function, once per stack (see the module docstring).

    Args:
        scope: the stack (use :meth:`of`, which creates it once per stack).
        id: the construct id.
        handler: the handler's folder under ``handlers/`` (``"model_copy"``): the function runs
            ``model_copy.index.handler``.
        role_description: the role's description.
        function_description: the function's description.
        timeout: the function's timeout.
        memory_size: its memory, in MiB.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        handler: str,
        role_description: str,
        function_description: str,
        timeout: Duration,
        memory_size: int,
    ) -> None:
        super().__init__(scope, id)
        self.log_group = logs.LogGroup(self, "LogGroup", retention=logs.RetentionDays.THREE_MONTHS)
        self.role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description=role_description
        )
        # Explicit log permissions on this log group only (no AWSLambdaBasicExecutionRole).
        self.log_group.grant_write(self.role)
        acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::{flattened(self.role, self.log_group.log_group_arn)}]",
            "Log streams are created by Lambda with generated names; the grant is confined to the function's "
            "own log group.",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler=f"{handler}.index.handler",
            # One asset for every handler: they share _cfn_response.py at its root.
            code=lambda_.Code.from_asset(str(HANDLERS_DIR), exclude=["__pycache__", "*.pyc"]),
            timeout=timeout,
            memory_size=memory_size,
            role=self.role,
            log_group=self.log_group,
            description=function_description,
        )
        # aws-cdk's Function writes DependsOn its role (so the role's policies exist first) next to
        # the Role GetAtt; cfn-lint's W3005 calls the Role entry redundant. The DependsOn is CDK's.
        cfn_function = self.function.node.default_child
        assert isinstance(cfn_function, lambda_.CfnFunction)
        cfn_function.add_metadata("cfn-lint", {"config": {"ignore_checks": ["W3005"]}})

    @classmethod
    def once_per_stack(cls: type[_Self], scope: Construct, id: str) -> _Self:
        """Return the stack's function of this kind under ``id``, creating it on first use."""
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(id)
        if isinstance(existing, cls):
            return existing
        return cls(stack, id)  # type: ignore[call-arg]  # the kinds' constructors take (scope, id)
