"""``make pipeline-rehearsal``: the CI/CD pipeline's stages, in order, against the emulator and the local data plane.

The run is driven by the pipeline object itself: the app is built with the pipeline context (the
``pipeline`` context key, ``stacks.pipeline_stack.ServingPipelineStack``), and the rehearsal walks its
``pipelines.CodePipeline``: ``.waves`` → ``.stages`` → ``.pre`` / ``.stack_steps`` / ``.post``, and runs
each step the way CodePipeline would, here:

1. **synth**: the app with the pipeline context, synthesized into a cloud assembly of its own (the
   synth step's ``cdk synth``; its ``make setup`` and ``make test-fast`` are printed, not run: the
   rehearsal needs ``make setup`` already, and the suite is ``make test``'s);
2. per stage, in the pipeline's order:
   - its ``pre`` steps: ``ConfirmPermissionsBroadening`` runs what its CodeBuild project runs,
     ``cdk diff -a <assembly> --security-only --fail '<stage>/*'``, against the emulator (a first
     deployment broadens permissions, so it asks for the approval, as in AWS); a
     ``ManualApprovalStep`` is granted here automatically and its comment printed;
   - **deploy**: the stage's stacks from the assembly into the emulator (``cdk deploy``, direct
     CloudFormation calls; the pipeline uses change sets, which moto's server handles without the
     outputs the next steps read);
   - the **smoke test**: each stack's ``post`` step's own ``.commands``, run as shell in the
     repository root with the step's ``env`` and its ``env_from_cfn_outputs`` filled from the
     deployed stack's outputs, with AWS pointed at the emulator and the SageMaker runtime at the
     local data plane (real Triton);
3. a smoke test that fails stops the promotion: the next stage is not deployed, and the run ends
   with the stage, the stack, the endpoint, what failed and what to do (exit status 1).

``--broken-model`` (or ``make pipeline-rehearsal BROKEN=1``) deploys a real-time model that is
broken for real (``rehearsal/broken_model``: its Triton config accepts inputs its graph cannot
reshape): it builds, deploys and loads, and the staging smoke test stops it.

What does not run here (moto has no CodePipeline or CodeBuild): the pipeline stack itself, the
Source/UpdatePipeline/Assets stages (``cdk deploy`` publishes the assets), the CodeBuild
environments (each command runs on this machine), cross-account roles (one emulated account).

Usage::

    python -m rehearsal.pipeline [--broken-model] [--model bert-tiny] [--async-model pegasus-tiny|none]
                                 [--mme-models resnet-tiny|none] [--port 0]
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_build.user_errors import UserError, run_cli
from rehearsal.cli_args import Parser, Stopped, check_port_free, port, stop_on_signals

PROG = "python -m rehearsal.pipeline"
#: The broken model's spec file (``--broken-model``); ``rehearsal/broken_model/window_net.py`` says why it is broken.
BROKEN_MODEL = Path(__file__).resolve().parent / "broken_model" / "window.toml"
#: The environment variable ``make pipeline-rehearsal BROKEN=1`` sets.
BROKEN_ENV = "PIPELINE_BROKEN_MODEL"
#: Model choices the run accepts for the optional stacks (``none`` leaves the stack out).
ASYNC_MODELS = ("pegasus-tiny", "none")
MME_MODEL_SETS = ("resnet-tiny", "none")
#: How long one smoke-test command may run.
SMOKE_TIMEOUT_S = 600.0


class PipelineFailure(RuntimeError):
    """The rehearsal itself failed (not the pipeline's gate): the message says where and why."""


class PromotionStopped(RuntimeError):
    """A smoke test failed: the pipeline stops before the next stage (the message says what to do)."""


# --------------------------------------------------------------------------- the pipeline's plan


@dataclass(frozen=True)
class ShellCommands:
    """A ``ShellStep`` / ``CodeBuildStep`` of the pipeline, as data.

    Attributes:
        step_id: The step's id.
        kind: Its class name.
        install_commands: Its ``install_commands``.
        commands: Its ``commands``.
        env: Its ``env``.
        env_from_outputs: Variable → (the producing stack's name, its output key), from ``env_from_cfn_outputs``.
    """

    step_id: str
    kind: str
    install_commands: tuple[str, ...]
    commands: tuple[str, ...]
    env: Mapping[str, str]
    env_from_outputs: Mapping[str, tuple[str, str]]


@dataclass(frozen=True)
class GateStep:
    """A step that is not shell: ``ConfirmPermissionsBroadening`` or a ``ManualApprovalStep``.

    Attributes:
        step_id: The step's id.
        kind: ``"permissions"`` or ``"approval"``.
        comment: The approval's comment.
    """

    step_id: str
    kind: str
    comment: str = ""


Step = ShellCommands | GateStep


@dataclass(frozen=True)
class StackPlan:
    """One stack a stage deploys: its CloudFormation name, its path in the assembly, its steps."""

    name: str
    path: str
    pre: tuple[Step, ...]
    post: tuple[Step, ...]


@dataclass(frozen=True)
class StagePlan:
    """One stage of the pipeline: its name, its construct path, its steps and stacks, in order."""

    name: str
    path: str
    pre: tuple[Step, ...]
    stacks: tuple[StackPlan, ...]
    post: tuple[Step, ...]


@dataclass(frozen=True)
class PipelinePlan:
    """The pipeline, walked: its synth step and its stages in order."""

    synth: ShellCommands
    stages: tuple[StagePlan, ...]


def _step(step: Any, stacks: Sequence[Any]) -> Step:
    """Describe one pipeline step (``stacks``: the stage's ``StackDeployment``s, which produce the outputs)."""
    from aws_cdk import pipelines

    if isinstance(step, pipelines.ManualApprovalStep):
        return GateStep(step.id, "approval", step.comment or "")
    if isinstance(step, pipelines.ConfirmPermissionsBroadening):
        return GateStep(step.id, "permissions")
    if isinstance(step, pipelines.ShellStep):  # CodeBuildStep is a ShellStep
        outputs: dict[str, tuple[str, str]] = {}
        for variable, reference in sorted(step.env_from_cfn_outputs.items()):
            producers = [s.stack_name for s in stacks if reference.is_produced_by(s)]
            if len(producers) != 1:
                raise PipelineFailure(
                    f"step {step.id}: env_from_cfn_outputs[{variable!r}] reads output {reference.output_name} of "
                    f"{reference.stack_description}, which no stack of its stage deploys"
                )
            outputs[variable] = (producers[0], reference.output_name)
        return ShellCommands(
            step.id,
            type(step).__name__,
            tuple(step.install_commands),
            tuple(step.commands),
            dict(step.env),
            outputs,
        )
    raise PipelineFailure(
        f"step {step.id} is a {type(step).__name__}, which the local rehearsal does not know how to run "
        "(it runs ShellStep, CodeBuildStep, ConfirmPermissionsBroadening and ManualApprovalStep)"
    )


def plan_of(pipeline: Any) -> PipelinePlan:
    """Walk a ``pipelines.CodePipeline``: its synth step and every wave's stages, steps and stacks, in order.

    Raises:
        PipelineFailure: A step of a kind the rehearsal cannot run, or an output no stack of its stage deploys.
    """
    synth = _step(pipeline.synth, [])
    if not isinstance(synth, ShellCommands):
        raise PipelineFailure(f"the pipeline's synth step is a {synth.kind} step, not a shell step")
    stages = []
    for wave in pipeline.waves:
        if wave.pre or wave.post:
            raise PipelineFailure(f"wave {wave.id} has steps of its own, which the local rehearsal does not run")
        for stage in wave.stages:
            deployments = list(stage.stacks)
            by_name = {s.stack_name: s for s in deployments}
            steps_of = {s.stack.stack_name: s for s in stage.stack_steps}
            stacks = tuple(
                StackPlan(
                    name=d.stack_name,
                    path=d.construct_path,
                    pre=tuple(_step(s, deployments) for s in (steps_of[d.stack_name].pre or []))
                    if d.stack_name in steps_of
                    else (),
                    post=tuple(_step(s, deployments) for s in (steps_of[d.stack_name].post or []))
                    if d.stack_name in steps_of
                    else (),
                )
                for d in _dependency_order(deployments, by_name)
            )
            path = stacks[0].path.rsplit("/", 1)[0] if stacks else stage.stage_name
            stages.append(
                StagePlan(
                    name=stage.stage_name,
                    path=path,
                    pre=tuple(_step(s, deployments) for s in stage.pre),
                    stacks=stacks,
                    post=tuple(_step(s, deployments) for s in stage.post),
                )
            )
    return PipelinePlan(synth, tuple(stages))


def _dependency_order(deployments: Sequence[Any], by_name: Mapping[str, Any]) -> list[Any]:
    """Return the stage's stacks with each after the stacks it depends on (as CodePipeline orders them)."""
    ordered: list[Any] = []

    def visit(deployment: Any) -> None:
        if deployment in ordered:
            return
        for dependency in deployment.stack_dependencies:
            if dependency.stack_name in by_name:
                visit(by_name[dependency.stack_name])
        ordered.append(deployment)

    for deployment in deployments:
        visit(deployment)
    return ordered


def find_pipeline(app: Any) -> Any:
    """Return the ``pipelines.CodePipeline`` of the app's pipeline stack (the one stack with a ``.pipeline``)."""
    from aws_cdk import pipelines

    found = [
        child.pipeline
        for child in app.node.children
        if isinstance(getattr(child, "pipeline", None), pipelines.CodePipeline)
    ]
    if len(found) != 1:
        raise PipelineFailure(
            f"the app built with the pipeline context holds {len(found)} pipeline stacks (expected one); "
            f"its stacks: {', '.join(c.node.id for c in app.node.children)}"
        )
    return found[0]


# ------------------------------------------------------------------------------- the options


@dataclass(frozen=True)
class PipelineOptions:
    """The checked command line.

    Attributes:
        model: The real-time model passed to the app (``-c model=``).
        async_model: ``-c async_model=`` (``none`` leaves the asynchronous stack out).
        mme_models: ``-c mme_models=`` (``none`` leaves the multi-model stack out).
        broken: Whether the real-time model is the deliberately broken one.
        port: The data plane's port (0: a free one).
    """

    model: str
    async_model: str = "none"
    mme_models: str = "none"
    broken: bool = False
    port: int = 0


def _parser() -> Parser:
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--broken-model",
        action="store_true",
        help="deploy the deliberately broken real-time model (rehearsal/broken_model): the staging smoke test "
        f"stops the promotion (default: ${BROKEN_ENV}=1, else off)",
    )
    parser.add_argument(
        "--model",
        default="bert-tiny",
        help="the real-time stack's model: a built-in example name or a model spec file (default: bert-tiny)",
    )
    parser.add_argument(
        "--async-model",
        choices=ASYNC_MODELS,
        default=ASYNC_MODELS[0],
        help="the asynchronous stack's model, or none to leave it out (default: pegasus-tiny)",
    )
    parser.add_argument(
        "--mme-models",
        choices=MME_MODEL_SETS,
        default=MME_MODEL_SETS[0],
        help="the multi-model stack's model set, or none to leave it out (default: resnet-tiny)",
    )
    parser.add_argument("--port", type=port, default=0, help="data plane port (default: a free port)")
    return parser


def preflight(argv: Sequence[str] | None) -> PipelineOptions:
    """Check every flag and prerequisite before anything starts.

    Raises:
        UserError: The first flag or prerequisite that is wrong, with its fix.
    """
    from model_build.examples import EXAMPLES
    from model_build.spec_file import resolve_model
    from rehearsal.cdk_cli import PROJECT_ROOT, cdk_binary
    from triton_runtime import server as triton

    args = _parser().parse_args(argv)
    broken = args.broken_model
    env_value = os.environ.get(BROKEN_ENV, "").strip()
    if env_value not in ("", "0", "1"):
        raise UserError(
            f"${BROKEN_ENV} (make pipeline-rehearsal BROKEN=...) must be 1 (deploy the broken model) or empty "
            f"(got {env_value!r}); e.g. make pipeline-rehearsal BROKEN=1"
        )
    broken = broken or env_value == "1"
    if broken and args.model != "bert-tiny":
        raise UserError(
            f"--broken-model replaces the real-time model, so --model {args.model} cannot go with it; drop one of them"
        )
    reference = str(BROKEN_MODEL) if broken else args.model
    try:
        resolve_model(reference)
    except UserError as error:
        raise UserError(f"--model: {error}") from None
    if reference not in EXAMPLES:
        reference = str(Path(reference).expanduser().resolve())
    check_port_free("--port", args.port)
    problems = []
    if not cdk_binary().is_file():
        problems.append(f"the CDK CLI is not installed ({cdk_binary()} is missing); run `make setup`")
    if not (PROJECT_ROOT / "app.py").is_file():
        problems.append(f"the CDK app {PROJECT_ROOT / 'app.py'} is missing; run from a full checkout")
    try:
        triton.locate()
    except triton.TritonNotInstalledError as error:
        problems.append(str(error))
    if problems:
        raise UserError("; ".join(problems))
    return PipelineOptions(
        model=reference,
        async_model=args.async_model,
        mme_models=args.mme_models,
        broken=broken,
        port=args.port,
    )


# -------------------------------------------------------------------------------- the stages


class Stages:
    """Prints one line per stage with its wall time, and the summary table at the end."""

    def __init__(self, out: Any = None) -> None:
        self.out = out if out is not None else sys.stdout
        self.timings: list[tuple[str, float, str]] = []

    def say(self, text: str = "") -> None:
        """Print an indented detail line."""
        print(f"      {text}" if text else "", file=self.out, flush=True)

    @contextlib.contextmanager
    def stage(self, title: str) -> Iterator[None]:
        """Time one stage; its line says ok, FAILED or stopped, with the seconds it took."""
        print(f"\n▶ {title} …", file=self.out, flush=True)
        started = time.monotonic()
        try:
            yield
        except Stopped as stopped:
            self._record(title, started, f"stopped by {signal.Signals(stopped.signum).name}")
            raise
        except BaseException:
            self._record(title, started, "FAILED")
            raise
        self._record(title, started, "ok")

    def skipped(self, title: str, why: str) -> None:
        """Record a stage the run did not reach."""
        print(f"\n▷ {title}: not run ({why})", file=self.out, flush=True)
        self.timings.append((title, 0.0, "not run"))

    def _record(self, title: str, started: float, verdict: str) -> None:
        elapsed = time.monotonic() - started
        self.timings.append((title, elapsed, verdict))
        print(f"■ {title}: {verdict}, {elapsed:.1f} s", file=self.out, flush=True)

    def summary(self) -> None:
        """Print every stage's wall time and verdict, and the total."""
        print("\nPipeline stages", file=self.out)
        print(f"  {'seconds':>8}  {'verdict':<10} stage", file=self.out)
        for title, elapsed, verdict in self.timings:
            print(f"  {elapsed:8.1f}  {verdict:<10} {title}", file=self.out)
        total = sum(s for _, s, _ in self.timings)
        print(f"  {total:8.1f}  {'':<10} total", file=self.out, flush=True)


@dataclass
class Services:
    """The emulator and the data plane the run uses (started by it, or given by the caller)."""

    moto: Any
    plane: Any
    bootstrapped: bool = False

    def shell_env(self) -> dict[str, str]:
        """Return the environment of a step's commands: AWS is the emulator, the SageMaker runtime the data plane."""
        from rehearsal.cdk_cli import PROJECT_ROOT

        env = self.moto.subprocess_env()
        env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = self.plane.endpoint_url
        # The step's `python` is the project's: CodeBuild's image has what `make setup` installed.
        env["PATH"] = os.pathsep.join([str(PROJECT_ROOT / ".venv" / "bin"), env.get("PATH", "")])
        env["PYTHONUNBUFFERED"] = "1"
        return env


@dataclass
class StageRun:
    """What one stage deployed."""

    outputs: dict[str, dict[str, str]] = field(default_factory=dict)


def pipeline_context(options: PipelineOptions, moto: Any) -> dict[str, str]:
    """Return the app's context for the run: the pipeline, its stages in the emulator's account, the models.

    The pipeline's source is a CodeCommit repository name (nothing is fetched: the working tree is the
    source); the pipeline, Staging and Production are the emulator's one account and region.
    """
    return {
        "pipeline": "true",
        "pipeline_source": "codecommit:triton-serving@main",
        "account": moto.account_id,
        "region": moto.region,
        "model": options.model,
        "async_model": options.async_model,
        "mme_models": options.mme_models,
        # What the synth step passes without the TensorRT engine step (pipeline_tensorrt=off): the ONNX path.
        "mme_tensorrt": "off",
    }


def synthesize(context: Mapping[str, str], outdir: Path) -> tuple[Any, Path]:
    """Build the app (app.py, the composition root) with ``context`` and synthesize it into ``outdir``.

    Returns:
        The app's ``pipelines.CodePipeline`` and the cloud assembly directory.
    """
    import aws_cdk as cdk

    import app as app_module  # app.py: the same composition `cdk synth` runs

    app = cdk.App(outdir=str(outdir), context=dict(context))
    try:
        app_module.build_app(app)
        pipeline = find_pipeline(app)
        app.synth()
    except RuntimeError as error:  # jsii's errors (a failed validation, cdk-nag's included) are RuntimeErrors
        report = outdir / "validation-report.json"
        where = f"; the findings: {report}" if report.is_file() else ""
        raise PipelineFailure(f"synth failed: {str(error)[-2000:]}{where}") from None
    return pipeline, outdir


def run(
    options: PipelineOptions,
    *,
    out: Any = None,
    services: Services | None = None,
    synthesize_app: Callable[[Mapping[str, str], Path], tuple[Any, Path]] = synthesize,
) -> int:
    """Run the pipeline's stages in order; returns the exit status (0: every stage passed).

    Args:
        options: The checked command line (:func:`preflight`).
        out: Where to print. Defaults to stdout.
        services: A running emulator and data plane to use (tests share one). Defaults to starting both.
        synthesize_app: Builds and synthesizes the app with a context. Defaults to :func:`synthesize`.

    Raises:
        PromotionStopped: A smoke test failed; the later stages were not deployed.
        PipelineFailure: The rehearsal itself failed.
    """
    from rehearsal.cdk_cli import CdkCli

    stages = Stages(out)
    say = stages.say
    with contextlib.ExitStack() as stack:
        guard = stack.enter_context(stop_on_signals(notice=say))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rehearsal-pipeline-")))
        status = 0
        try:
            if services is None:
                services = _start_services(stack, stages, options, work)
            moto = services.moto
            cdk = CdkCli(moto.subprocess_env(), output_dir=work / "cdk.out")
            context = pipeline_context(options, moto)

            with stages.stage("synth: the app with the pipeline context (the synth step's cdk synth)"):
                plan, assembly = _synth(synthesize_app, context, cdk.assembly_dir, say)
            if not services.bootstrapped:
                with stages.stage(f"cdk bootstrap aws://{moto.account_id}/{moto.region} (once per account)"):
                    _bootstrap(moto, work)
                services.bootstrapped = True

            for index, stage in enumerate(plan.stages):
                try:
                    _run_stage(stage, stages, cdk, assembly, services)
                except PromotionStopped:
                    for later in plan.stages[index + 1 :]:
                        stages.skipped(f"deploy {later.name}", f"the {stage.name} smoke test stopped the promotion")
                    raise
        except Stopped as stopped:
            status = stopped.exit_status
            say(f"{signal.Signals(stopped.signum).name}: stopping everything the run started")
        finally:
            guard.stopping = True  # from here on a signal only prints a note: the teardown finishes
            try:
                stack.close()  # the data plane (and its Triton servers), moto, the work folder
            finally:
                stages.summary()
    return status


def _start_services(stack: contextlib.ExitStack, stages: Stages, options: PipelineOptions, work: Path) -> Services:
    from rehearsal.data_plane import LocalDataPlane
    from rehearsal.moto_server import MotoServer

    with stages.stage("start the emulator (moto) and the local data plane (Triton starts on the first request)"):
        moto = stack.enter_context(MotoServer(log_path=work / "moto.log"))
        plane = stack.enter_context(
            LocalDataPlane(moto.endpoint_url, port=options.port, work_dir=work / "data-plane")
        )
        stages.say(f"control plane {moto.endpoint_url}, runtime {plane.endpoint_url}")
    return Services(moto, plane)


def _bootstrap(moto: Any, work: Path) -> None:
    """``cdk bootstrap`` the emulator's account, run outside the project (so the CLI does not synthesize the app)."""
    from rehearsal.cdk_cli import CdkCli

    folder = work / "bootstrap"
    folder.mkdir(exist_ok=True)
    CdkCli(moto.subprocess_env(), app_dir=folder).run("bootstrap", f"aws://{moto.account_id}/{moto.region}")


def _synth(
    synthesize_app: Callable[[Mapping[str, str], Path], tuple[Any, Path]],
    context: Mapping[str, str],
    outdir: Path,
    say: Callable[[str], None],
) -> tuple[PipelinePlan, Path]:
    pipeline, assembly = synthesize_app(context, outdir)
    plan = plan_of(pipeline)
    say(f"the synth step ({plan.synth.kind} {plan.synth.step_id}) runs in CodeBuild:")
    for command in (*plan.synth.install_commands, *plan.synth.commands):
        say(f"  $ {command}")
    say("here: the app was built and synthesized with the run's context (its cdk synth); make setup is a")
    say("prerequisite of this run and make test-fast is make test's, so neither is repeated")
    say(f"context: {' '.join(f'{k}={v}' for k, v in sorted(context.items()))}")
    for stage in plan.stages:
        steps = [f"pre {_describe(s)}" for s in stage.pre]
        for stack_plan in stage.stacks:
            steps.append(f"deploy {stack_plan.name}")
            steps += [f"post {_describe(s)}" for s in stack_plan.post]
        steps += [f"post {_describe(s)}" for s in stage.post]
        say(f"stage {stage.name}: {' → '.join(steps)}")
    return plan, assembly


def _describe(step: Step) -> str:
    return f"{step.step_id} ({step.kind})"


def _run_stage(stage: StagePlan, stages: Stages, cdk: Any, assembly: Path, services: Services) -> None:
    for step in stage.pre:
        _run_gate_or_shell(step, stage, stages, cdk, assembly, services, None)
    with stages.stage(f"deploy {stage.name}: {', '.join(s.name for s in stage.stacks)}"):
        deployed = _deploy(stage, cdk, assembly, stages.say)
    for stack_plan in stage.stacks:
        for step in stack_plan.pre:
            _run_gate_or_shell(step, stage, stages, cdk, assembly, services, deployed)
    # In CodePipeline every stack's post steps run (side by side) and the stage fails if one failed:
    # here they run one after the other, and the stage stops the promotion after the last one.
    failed: list[str] = []
    for stack_plan in stage.stacks:
        for step in stack_plan.post:
            try:
                _run_gate_or_shell(step, stage, stages, cdk, assembly, services, deployed, stack_plan)
            except PromotionStopped as stopped:
                failed.append(str(stopped))
    if failed:
        raise PromotionStopped("\n\n".join(failed))
    for step in stage.post:
        _run_gate_or_shell(step, stage, stages, cdk, assembly, services, deployed)


def _run_gate_or_shell(
    step: Step,
    stage: StagePlan,
    stages: Stages,
    cdk: Any,
    assembly: Path,
    services: Services,
    deployed: StageRun | None,
    stack_plan: StackPlan | None = None,
) -> None:
    say = stages.say
    if isinstance(step, GateStep) and step.kind == "permissions":
        with stages.stage(f"{stage.name}: {step.step_id} (cdk diff --security-only --fail '{stage.path}/*')"):
            _permissions_check(stage, cdk, assembly, say)
        return
    if isinstance(step, GateStep):
        with stages.stage(f"{stage.name}: {step.step_id} (manual approval, granted locally)"):
            say(f"comment: {step.comment}")
            say("granted automatically by the local rehearsal (in AWS a person approves in the console)")
        return
    where = f" of {stack_plan.name}" if stack_plan is not None else ""
    with stages.stage(f"{stage.name}: {step.step_id}{where} ({step.kind}: the step's own commands)"):
        _run_shell_step(step, stage, stack_plan, deployed, services, say)


def _deploy(stage: StagePlan, cdk: Any, assembly: Path, say: Callable[[str], None]) -> StageRun:
    """``cdk deploy`` the stage's stacks from the assembly (by their paths, in dependency order)."""
    outputs_file = assembly.parent / f"{stage.name}.outputs.json"
    result = cdk.run(
        "deploy",
        *(s.path for s in stage.stacks),
        "--app",
        str(assembly),
        "--require-approval",
        "never",
        "--method",
        "direct",
        "--outputs-file",
        str(outputs_file),
    )
    outputs: dict[str, dict[str, str]] = json.loads(outputs_file.read_text()) if outputs_file.exists() else {}
    say(f"cdk deploy {result.duration_s:.1f} s")
    for stack_plan in stage.stacks:
        for key, value in sorted(outputs.get(stack_plan.name, {}).items()):
            say(f"output {stack_plan.name}.{key} = {value}")
        for skipped in cdk.find_skipped_resources(stack_plan.name):
            say(f"emulator skipped: {skipped}")
    return StageRun(outputs)


def _permissions_check(stage: StagePlan, cdk: Any, assembly: Path, say: Callable[[str], None]) -> None:
    """Run what ``ConfirmPermissionsBroadening``'s CodeBuild project runs, against the emulator."""
    # --method template: a change-set diff fails against moto (its DeleteChangeSet raises) and the CLI
    # falls back to the template after retrying; the pipeline's own command leaves the default.
    result = cdk.run(
        "diff", "-a", str(assembly), "--security-only", "--fail", f"{stage.path}/*", "--method", "template", check=False
    )
    lines = [line.rstrip() for line in result.output.splitlines() if line.strip()]
    for line in lines[-40:]:
        say(f"| {line}")
    if result.returncode == 0:
        say("no security-impacting changes: the pipeline's check approves this itself")
    elif result.returncode == 1:
        say(
            "security-impacting changes (IAM statements, security groups): the pipeline stops here for a "
            "person to approve them (a first deployment always does); granted locally, like the approval"
        )
    else:
        raise PipelineFailure(
            f"cdk diff --security-only for stage {stage.name} failed (exit {result.returncode}):\n"
            + result.output[-2000:]
        )


def _run_shell_step(
    step: ShellCommands,
    stage: StagePlan,
    stack_plan: StackPlan | None,
    deployed: StageRun | None,
    services: Services,
    say: Callable[[str], None],
) -> None:
    """Run a shell step's commands in the repository root, as CodeBuild runs them (one shell, ``set -e``)."""
    from rehearsal.cdk_cli import PROJECT_ROOT

    env = services.shell_env()
    env.update(step.env)
    filled: dict[str, str] = {}
    for variable, (stack_name, output) in step.env_from_outputs.items():
        value = (deployed.outputs if deployed is not None else {}).get(stack_name, {}).get(output)
        if value is None:
            raise PipelineFailure(
                f"step {step.step_id}: env_from_cfn_outputs[{variable!r}] reads output {output} of stack {stack_name}, "
                "which the deployment did not report"
            )
        filled[variable] = value
    env.update(filled)
    for variable, value in sorted({**step.env, **filled}.items()):
        say(f"{variable}={value}")
    if step.install_commands:
        say(f"install_commands (not run: `make setup` installed them): {'; '.join(step.install_commands)}")
    script = "set -eu\n" + "\n".join(step.commands) + "\n"
    for command in step.commands:
        say(f"$ {command}")
    started = time.monotonic()
    proc = subprocess.Popen(
        ["bash", "-c", script],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        errors="replace",
        start_new_session=True,  # stopped with everything it started
    )
    lines: list[str] = []
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            lines.append(line.rstrip())
            say(f"| {line.rstrip()}")
            if time.monotonic() - started > SMOKE_TIMEOUT_S:
                raise PipelineFailure(f"step {step.step_id} ran longer than {SMOKE_TIMEOUT_S:.0f} s")
        code = proc.wait()
    except BaseException:
        _kill_group(proc)
        raise
    if code != 0:
        raise PromotionStopped(_stopped_message(step, stage, stack_plan, filled, lines, code))


def _kill_group(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _stopped_message(
    step: ShellCommands,
    stage: StagePlan,
    stack_plan: StackPlan | None,
    filled: Mapping[str, str],
    lines: Sequence[str],
    code: int,
) -> str:
    """Say which stage, stack and endpoint the failed step checked, what failed, and what to do."""
    endpoint = next((v for k, v in filled.items() if "ENDPOINT" in k and "CONFIG" not in k), None)
    failed = [line.strip() for line in lines if line.strip().startswith("FAIL")]
    if failed:
        todo = (
            "the endpoint deployed, but the check above failed on it: fix what it names (the model, its Triton "
            "config, the stack) and push; the pipeline runs again from the source"
        )
    elif code == 2:
        failed = [line for line in lines[-3:] if line.strip()]
        todo = "the step's command was refused as bad input: the pipeline definition (the step's commands) is wrong"
    else:
        failed = [line for line in lines[-5:] if line.strip()]
        todo = "read the step's output above, fix its cause and push; the pipeline runs again from the source"
    rerun = "; ".join(f"export {k}={shlex.quote(v)}" for k, v in sorted(filled.items()))
    return (
        f"stage {stage.name}, stack {stack_plan.name if stack_plan is not None else '(the stage)'}"
        + (f", endpoint {endpoint}" if endpoint else "")
        + f": the smoke test {step.step_id} failed (exit status {code}):\n  "
        + "\n  ".join(failed)
        + f"\nThe promotion stops here: the stages after {stage.name} were not deployed ({stage.name} keeps what "
        f"failed). What to do: {todo}. The same check by hand, against the deployed stack: "
        + f"{rerun}; {' && '.join(step.commands)}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Check every flag, then run the stages; exit status 1 when a stage fails or a smoke test stops the promotion."""
    from rehearsal.cdk_cli import CdkError

    options = preflight(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        return run(options)
    except CdkError as error:
        print(f"\nPIPELINE REHEARSAL FAILED: {error}", file=sys.stderr, flush=True)
        return 1
    except PromotionStopped as stopped:
        print(f"\nPROMOTION STOPPED: {stopped}", file=sys.stderr, flush=True)
        return 1
    except PipelineFailure as failure:
        print(f"\nPIPELINE REHEARSAL FAILED: {failure}", file=sys.stderr, flush=True)
        return 1


def cli(argv: Sequence[str] | None = None) -> int:
    """Run :func:`main` with bad input reported in one line (exit status 2), no traceback."""
    return run_cli(main, argv, prog=PROG)


if __name__ == "__main__":
    raise SystemExit(cli())
