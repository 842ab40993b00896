"""A thin wrapper around the project's pinned CDK CLI, aimed at a local AWS emulator.

It runs ``node_modules/.bin/cdk`` with an environment (usually :meth:`MotoServer.subprocess_env`),
captures or streams its output, raises :class:`CdkError` with the output's tail on failure, and
after each deployment compares the deployed templates with the resources the emulator actually
created, so resource types moto's CloudFormation silently skips are *reported*, never hidden.

Example:
    >>> with MotoServer() as moto:                              # doctest: +SKIP
    ...     cdk = CdkCli(moto.subprocess_env())
    ...     cdk.bootstrap(f"aws://{moto.account_id}/{moto.region}")
    ...     cdk.deploy()
    ...     assert cdk.diff().no_differences
    ...     print(cdk.skipped)
    ...     cdk.destroy()
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

#: The repository root: ``cdk.json`` and ``node_modules`` live there.
PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Quiet the CLI's Node.js/jsii/version/telemetry notices (same values as the Makefile).
CDK_QUIET_ENV = {
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "CDK_DISABLE_VERSION_CHECK": "1",
    "CDK_DISABLE_CLI_TELEMETRY": "true",
    # No colours: the output is parsed and shown in logs.
    "FORCE_COLOR": "0",
    "NO_COLOR": "1",
}

def cdk_binary() -> Path:
    """Return the project's pinned CDK CLI: ``node_modules/.bin/cdk`` (installed by ``make setup``)."""
    return PROJECT_ROOT / "node_modules" / ".bin" / "cdk"


_SYNTHESIZING = frozenset({"synth", "bootstrap", "deploy", "diff", "destroy"})
_DIFF_COUNT_RE = re.compile(r"Number of stacks with differences:\s*(\d+)")
_ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class CdkError(RuntimeError):
    """A CDK CLI command failed.

    Attributes:
        result: The failed command's :class:`CdkResult`.
    """

    def __init__(self, result: CdkResult, tail_chars: int = 4000) -> None:
        self.result = result
        super().__init__(
            f"`cdk {' '.join(result.args)}` exited with {result.returncode} after "
            f"{result.duration_s:.1f} s:\n{result.output[-tail_chars:]}"
        )


@dataclass(frozen=True)
class CdkResult:
    """One CDK CLI run.

    Attributes:
        args: The arguments after ``cdk``.
        returncode: The exit status.
        output: stdout and stderr, interleaved, ANSI codes removed.
        duration_s: Wall-clock seconds.
    """

    args: tuple[str, ...]
    returncode: int
    output: str
    duration_s: float


@dataclass(frozen=True)
class DiffResult:
    """The outcome of ``cdk diff``.

    Attributes:
        stacks_with_differences: What the CLI printed as "Number of stacks with differences".
        result: The underlying run.
    """

    stacks_with_differences: int
    result: CdkResult

    @property
    def no_differences(self) -> bool:
        """Whether every stack matches its deployed template."""
        return self.stacks_with_differences == 0


@dataclass(frozen=True)
class SkippedResource:
    """A template resource the emulator did not create.

    Attributes:
        stack: The stack name.
        logical_id: The resource's logical id.
        resource_type: Its CloudFormation type.
        reason: ``"unsupported by moto's CloudFormation"`` or ``"not created (Condition)"`` …
    """

    stack: str
    logical_id: str
    resource_type: str
    reason: str

    def __str__(self) -> str:
        return f"{self.stack}/{self.logical_id} ({self.resource_type}): {self.reason}"


@dataclass(frozen=True)
class DeployResult:
    """The outcome of ``cdk deploy``.

    Attributes:
        stacks: The deployed stack names.
        outputs: ``{stack: {OutputKey: OutputValue}}`` from ``--outputs-file``.
        skipped: Resources in the deployed templates that the emulator did not create.
        result: The underlying run.
    """

    stacks: tuple[str, ...]
    outputs: dict[str, dict[str, str]]
    skipped: tuple[SkippedResource, ...]
    result: CdkResult


@dataclass
class CdkCli:
    """Runs the pinned CDK CLI with a fixed environment.

    Args:
        env: The complete environment for the CLI (credentials, ``AWS_ENDPOINT_URL``, region).
            :data:`CDK_QUIET_ENV` is merged over it.
        app_dir: The directory holding ``cdk.json``. Defaults to the repository root.
        cdk_bin: The CLI executable. Defaults to ``<repository>/node_modules/.bin/cdk``.
        output_dir: The cloud assembly directory (``--output``). Defaults to
            ``<app_dir>/cdk.out``; give a separate one so parallel runs do not share it.
        stream: Where to echo the CLI's output live (e.g. ``sys.stdout``). Defaults to no echo.
        timeout_s: The limit for one command. Defaults to 15 minutes.
        context: Context values given to every command that synthesizes the app
            (``--context key=value``, after ``cdk.json``'s). Defaults to none.

    Attributes:
        skipped: Every :class:`SkippedResource` found by :meth:`bootstrap` and :meth:`deploy`.
        history: Every :class:`CdkResult`, in order.
    """

    env: Mapping[str, str]
    app_dir: Path = PROJECT_ROOT
    cdk_bin: Path | None = None
    output_dir: Path | None = None
    stream: TextIO | None = None
    timeout_s: float = 900.0
    context: Mapping[str, str] = field(default_factory=dict)
    skipped: list[SkippedResource] = field(default_factory=list)
    history: list[CdkResult] = field(default_factory=list)

    def run(self, *args: str, check: bool = True, ok_codes: Sequence[int] = (0,)) -> CdkResult:
        """Run ``cdk ARGS``.

        Args:
            *args: The CLI arguments.
            check: Raise :class:`CdkError` when the exit status is not in ``ok_codes``.
            ok_codes: Exit statuses that count as success.

        Returns:
            The run's :class:`CdkResult`.

        Raises:
            CdkError: If ``check`` and the command failed.
        """
        cdk_bin = self.cdk_bin if self.cdk_bin is not None else cdk_binary()
        argv = [str(cdk_bin), *args]
        # Every command that may synthesize the app writes its assembly to output_dir (bootstrap
        # synthesizes it too, to list environments). With --app <assembly dir> nothing is
        # synthesized, and the CLI refuses --output next to it.
        if self.output_dir is not None and args and args[0] in _SYNTHESIZING and "--app" not in args:
            argv += ["--output", str(self.output_dir)]
        if self.context and args and args[0] in _SYNTHESIZING and "--app" not in args:
            argv += [arg for key, value in sorted(self.context.items()) for arg in ("--context", f"{key}={value}")]
        env = {**self.env, **CDK_QUIET_ENV}
        started = time.monotonic()
        proc = subprocess.Popen(
            argv,
            cwd=self.app_dir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            errors="replace",
            # A process group of its own: stopping it stops what it started too (the Python app,
            # asset builds), and a terminal's Ctrl-C reaches only the caller, which decides.
            start_new_session=True,
        )
        lines: list[str] = []
        assert proc.stdout is not None
        # A watchdog, because a CLI stuck on a dead endpoint retries for many minutes silently.
        watchdog = threading.Timer(self.timeout_s, _kill_group, (proc,))
        watchdog.start()
        try:
            for line in proc.stdout:
                clean = _ANSI_RE.sub("", line)
                lines.append(clean)
                if self.stream is not None:
                    self.stream.write(clean)
                    self.stream.flush()
            returncode = proc.wait()
        except BaseException:
            _kill_group(proc)
            raise
        finally:
            watchdog.cancel()
        result = CdkResult(tuple(args), returncode, "".join(lines), time.monotonic() - started)
        self.history.append(result)
        if check and returncode not in ok_codes:
            raise CdkError(result)
        return result

    # -- commands ---------------------------------------------------------------------------

    def synth(self, extra_args: Sequence[str] = ()) -> CdkResult:
        """``cdk synth --quiet``: writes the cloud assembly (and builds model assets) only."""
        return self.run("synth", "--quiet", *extra_args)

    def bootstrap(self, environment: str, *, from_assembly: bool = False) -> CdkResult:
        """``cdk bootstrap ENVIRONMENT`` (e.g. ``aws://123456789012/us-east-1``).

        The CLI synthesizes the app to list its environments even when one is named; that goes
        to ``output_dir`` like every other command (never to the project's ``cdk.out``).
        Records what the emulator skipped of the bootstrap template in :attr:`skipped`.

        Args:
            environment: The environment to bootstrap.
            from_assembly: Read the last synthesized cloud assembly (``--app DIR``) instead of
                synthesizing the app again. Defaults to False.
        """
        app_args = ("--app", str(self.assembly_dir)) if from_assembly else ()
        result = self.run("bootstrap", environment, *app_args)
        self.skipped.extend(self.find_skipped_resources("CDKToolkit"))
        return result

    def deploy(
        self,
        *stacks: str,
        method: str = "direct",
        from_assembly: bool = False,
        extra_args: Sequence[str] = (),
    ) -> DeployResult:
        """``cdk deploy --require-approval never`` for ``stacks`` (default ``--all``).

        Args:
            *stacks: Stack names or patterns. Defaults to all stacks.
            method: ``--method``. Defaults to ``direct`` (CreateStack/UpdateStack) because moto's
                change-set path drops stack Outputs (``ExecuteChangeSet`` never rebuilds its output
                map) and so would leave ``--outputs-file`` empty; pass ``change-set`` for AWS's
                default path.
            from_assembly: Deploy the cloud assembly the last :meth:`synth` wrote (``--app DIR``)
                instead of synthesizing the app again. Defaults to False.
            extra_args: More CLI arguments.

        Returns:
            The stacks, their outputs and what the emulator skipped.
        """
        out_dir = self.assembly_dir
        outputs_file = out_dir.parent / f"{out_dir.name}.outputs.json"
        targets = list(stacks) if stacks else ["--all"]
        app_args = ["--app", str(out_dir)] if from_assembly else []
        result = self.run(
            "deploy",
            *targets,
            *app_args,
            "--require-approval",
            "never",
            "--method",
            method,
            "--outputs-file",
            str(outputs_file),
            *extra_args,
        )
        outputs: dict[str, dict[str, str]] = (
            json.loads(outputs_file.read_text()) if outputs_file.exists() else {}
        )
        names = tuple(self.stack_names()) if not stacks else tuple(stacks)
        skipped: list[SkippedResource] = []
        for name in names:
            skipped.extend(self.find_skipped_resources(name))
        self.skipped.extend(skipped)
        return DeployResult(names, outputs, tuple(skipped), result)

    def diff(
        self,
        *stacks: str,
        method: str = "template",
        from_assembly: bool = False,
        extra_args: Sequence[str] = (),
    ) -> DiffResult:
        """``cdk diff --fail`` and the number of stacks with differences.

        Args:
            *stacks: Stack names. Defaults to all stacks.
            method: ``--method``. Defaults to ``template``: a change-set diff fails against moto
                (its ``DeleteChangeSet`` raises) and the CLI falls back to the template diff anyway,
                after retrying.
            from_assembly: Compare the cloud assembly the last synthesis wrote (``--app DIR``)
                instead of synthesizing the app again (which costs as long as :meth:`synth`).
                Defaults to False.
            extra_args: More CLI arguments (``--context key=value`` …).

        Returns:
            The parsed result; the exit status (``--fail``: 1 when there are differences) and the
            printed count must agree, otherwise :class:`CdkError` is raised.
        """
        app_args = ("--app", str(self.assembly_dir)) if from_assembly else ()
        result = self.run("diff", *stacks, *app_args, "--fail", "--method", method, *extra_args, ok_codes=(0, 1))
        match = _DIFF_COUNT_RE.search(result.output)
        if match is None:
            raise CdkError(result)
        count = int(match.group(1))
        if (count == 0) != (result.returncode == 0):
            # Exit status 1 with a zero count is a CLI error, not a difference.
            raise CdkError(result)
        return DiffResult(count, result)

    def destroy(self, *stacks: str, from_assembly: bool = False, extra_args: Sequence[str] = ()) -> CdkResult:
        """``cdk destroy --force`` for ``stacks`` (default ``--all``).

        Args:
            *stacks: Stack names. Defaults to all stacks.
            from_assembly: Use the last synthesized cloud assembly (``--app DIR``) instead of
                synthesizing the app again. Defaults to False.
            extra_args: More CLI arguments.
        """
        app_args = ("--app", str(self.assembly_dir)) if from_assembly else ()
        return self.run("destroy", *(stacks or ("--all",)), *app_args, "--force", *extra_args)

    # -- helpers ----------------------------------------------------------------------------

    @property
    def assembly_dir(self) -> Path:
        """The cloud assembly directory the CLI writes (``output_dir`` or ``<app_dir>/cdk.out``)."""
        return self.output_dir if self.output_dir is not None else self.app_dir / "cdk.out"

    def stack_names(self) -> list[str]:
        """Return the CloudFormation stack names in the last synthesized cloud assembly."""
        manifest = json.loads((self.assembly_dir / "manifest.json").read_text())
        # The artifact id is the stack name unless the stack sets an explicit stackName.
        return [
            artifact.get("properties", {}).get("stackName", artifact_id)
            for artifact_id, artifact in manifest.get("artifacts", {}).items()
            if artifact.get("type") == "aws:cloudformation:stack"
        ]

    def _cloudformation(self) -> Any:
        import boto3  # the CLI wrapper itself needs no boto3; only the post-deploy check does

        return boto3.client(
            "cloudformation",
            endpoint_url=self.env.get("AWS_ENDPOINT_URL"),
            region_name=self.env.get("AWS_REGION", self.env.get("AWS_DEFAULT_REGION", "us-east-1")),
            aws_access_key_id=self.env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=self.env.get("AWS_SECRET_ACCESS_KEY"),
        )

    def find_skipped_resources(self, stack_name: str) -> list[SkippedResource]:
        """Compare a deployed stack's template with the resources the emulator created.

        moto's CloudFormation logs a warning and moves on for types it does not implement; the
        stack still reaches ``CREATE_COMPLETE``. This finds those resources from the API alone
        (``GetTemplate`` vs ``ListStackResources``), so no log parsing is needed.

        Args:
            stack_name: The stack to inspect.

        Returns:
            One entry per template resource without a created counterpart.
        """
        from moto.cloudformation.parsing import get_model_map  # what moto's CFN can create

        cfn = self._cloudformation()
        body = cfn.get_template(StackName=stack_name)["TemplateBody"]
        template = body if isinstance(body, dict) else _load_template(body)
        created = {
            summary["LogicalResourceId"]
            for page in cfn.get_paginator("list_stack_resources").paginate(StackName=stack_name)
            for summary in page["StackResourceSummaries"]
            if summary.get("LogicalResourceId")
        }
        supported = get_model_map()
        skipped = []
        for logical_id, resource in template.get("Resources", {}).items():
            if logical_id in created:
                continue
            rtype = resource.get("Type", "?")
            if rtype == "AWS::CDK::Metadata":
                reason = "unsupported by moto's CloudFormation (CDK's own version report; harmless)"
            elif rtype not in supported and not rtype.startswith("Custom::"):
                reason = "unsupported by moto's CloudFormation (skipped with a warning)"
            elif "Condition" in resource:
                reason = f"not created (Condition {resource['Condition']})"
            else:
                reason = "not created by the emulator"
            skipped.append(SkippedResource(stack_name, logical_id, rtype, reason))
        return skipped


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """Stop a CLI run and everything it started (its own process group): SIGTERM, then SIGKILL."""
    import os
    import signal

    for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait_s)
            break
        except subprocess.TimeoutExpired:
            continue
    # Children that outlived the leader (the app, an asset build) are in the same group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _load_template(body: str) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = json.loads(body)
        return loaded
    except json.JSONDecodeError:
        # The bootstrap template is YAML with CloudFormation short-form tags (!Ref, !Sub …).
        import yaml  # PyYAML comes with moto[server] (and cfn-lint)

        class _CfnLoader(yaml.SafeLoader):
            pass

        def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
            if isinstance(node, yaml.ScalarNode):
                return loader.construct_scalar(node)
            if isinstance(node, yaml.SequenceNode):
                return loader.construct_sequence(node)
            return loader.construct_mapping(node)  # type: ignore[arg-type]

        _CfnLoader.add_multi_constructor("!", _tag)
        result: dict[str, Any] = yaml.load(body, Loader=_CfnLoader)  # a SafeLoader subclass
        return result


def main(argv: Sequence[str] | None = None) -> int:
    """Run one CDK CLI command against a fresh moto server (for poking by hand)."""
    from rehearsal.moto_server import MotoServer

    args = list(sys.argv[1:] if argv is None else argv)
    with MotoServer() as moto:
        cli = CdkCli(moto.subprocess_env(), stream=sys.stdout)
        cli.bootstrap(f"aws://{moto.account_id}/{moto.region}")
        cli.run(*(args or ["deploy", "--all", "--require-approval", "never", "--method", "direct"]))
        for item in cli.skipped:
            print(f"skipped: {item}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
