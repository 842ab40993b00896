"""``make demo``: deploy the CDK app into a local AWS emulator and call every serving mode with boto3.

Serving modes (``--mode``, or ``DEMO_MODE``; default ``all``): ``realtime`` (the ``--model`` stack,
seed 000's system), ``async`` (the ``--async-model`` stack, seed 002's system) and ``multi-model``
(the ``--mme-models`` stack, seed 001's system). Steps, each printed with its duration and totalled
per mode at the end:

1. start moto's server on localhost (the AWS control plane);
2. ``cdk synth``: the app builds the models (``model_build``: source → ONNX → Triton repository →
   ``model.tar.gz``, cached by input hash) and writes the cloud assembly;
3. ``cdk bootstrap`` and ``cdk deploy`` of the modes' stacks into the emulator (the real CDK CLI);
4. compare what was deployed with what the template asked for, field by field (Model,
   EndpointConfig, Endpoint), print every place where the emulator differs, check that
   ``ModelDataUrl`` holds the assembly's bytes, and read the endpoint with the SageMaker SDK v3;
5. list what the emulator skipped (resource types moto's CloudFormation does not implement);
6. ``cdk diff`` of the deployed stacks against the cloud assembly they came from (``--app``, no
   second synthesis): zero differences required;
7. start the local SageMaker runtime data plane (real Triton behind each variant);
8. real-time: ``invoke_endpoint`` with ordinary boto3 on inputs made from the model's tensor specs,
   compared with the model's own source (torch, or ONNX Runtime for an ONNX file);
9. asynchronous: register what moto's CloudFormation skipped (the scalable target) through the API,
   subscribe an SQS queue to both topics, upload inputs, ``invoke_endpoint_async``, wait for each
   notification, read the output and compare it with torch (cold and warm); a malformed input
   lands in the failure path with an error notification; the variant scales to zero when idle and
   a request arriving at zero (``HasBacklogWithoutCapacity`` = 1) starts it again and is served;
10. multi-model: ``invoke_endpoint`` with each ``TargetModel`` under the endpoint's S3 prefix, cold
    (downloaded and loaded on the first call) then warm, compared with torch, with what serves each
    archive locally; then one more archive uploaded to the prefix with no redeploy and invoked; then
    an unknown ``TargetModel`` and SageMaker's error for it; then memory pressure: the least recently
    used models unloaded, and one of them called again (a cache miss that loads it again);
11. the post-deploy check of each stack (:mod:`operations.check`, what a pipeline runs after
    ``cdk deploy``): the endpoint runs the config its stack deployed, is InService, and answers per
    variant, per TargetModel and through the asynchronous queue;
12. every metric the deployed dashboards and alarms reference is read back from the emulator's
    CloudWatch, where the data plane published what it observed (GPU metrics: not observable here);
13. tear down: ``cdk destroy``, stop every server.

``--keep`` leaves everything running until SIGINT (Ctrl-C), SIGTERM or SIGHUP, then tears down the
same way, started in the foreground or in the background (``&``).

Usage::

    python -m rehearsal.demo [--mode all|realtime|async|multi-model] [--model bert-tiny | --model path/to/model.toml]
                             [--async-model pegasus-tiny] [--mme-models resnet-tiny] [--keep] [--port 8080]
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_build.aws import parse_s3_uri
from model_build.package import file_sha256
from model_build.user_errors import UserError, run_cli
from rehearsal.cli_args import Parser, Stopped, check_port_free, count, port, seconds, stop_on_signals
from rehearsal.reference import (
    PAD_ID,
    ModelReference,
    build_cache_dir,
    find_build_manifest,
    kserve_outputs,
    kserve_request,
    tokenized_inputs,
)

__all__ = ["PAD_ID", "DemoFailure", "kserve_outputs", "kserve_request", "main", "run", "tokenized_inputs"]

PROG = "python -m rehearsal.demo"
MAX_REQUESTS = 100
#: The serving modes the demo runs, in order; ``--mode all`` (the default) runs every one.
MODES = ("realtime", "async", "multi-model")
#: The environment variable that picks the modes when ``--mode`` is not given (``make demo DEMO_MODE=async``).
MODE_ENV = "DEMO_MODE"
#: Idle seconds before the asynchronous variant scales to zero in the demo (AWS: the scale-in
#: cooldown, 120 s in seed 002; shortened so the demo shows it).
DEMO_SCALE_IN_COOLDOWN_S = 3.0
#: The multi-model stack's model sets (its ``mme_models`` context key; ``stacks.multi_model_stack.MODEL_SETS``,
#: named here because the rehearsal does not import the stacks). The demo's default builds in seconds.
MME_MODEL_SETS = ("resnet-tiny", "resnet50")
#: What the demo passes as ``mme_tensorrt``: the TensorRT slot holds the ONNX twin (the bundled Triton
#: has no TensorRT backend); the stack warns that it is a rehearsal substitute.
MME_TENSORRT = "rehearsal"


class DemoFailure(RuntimeError):
    """A check of the demo failed; the message says which and why."""


# ------------------------------------------------------------------------------------ printing


class Steps:
    """Prints numbered steps with their duration, and a summary table at the end."""

    def __init__(self, total: int, out: Any = None) -> None:
        self.total = total
        self.out = out if out is not None else sys.stdout
        self.timings: list[tuple[str, float, str]] = []
        self._n = 0

    def say(self, text: str = "") -> None:
        """Print an indented detail line."""
        print(f"      {text}" if text else "", file=self.out, flush=True)

    @contextlib.contextmanager
    def step(self, title: str, mode: str = "shared") -> Iterator[None]:
        """Time one step; a failure or a stop is reported with the step's title and re-raised.

        Args:
            title: What the step does.
            mode: The serving mode the step belongs to (``shared`` for the steps every mode needs);
                the summary totals the steps per mode.
        """
        self._n += 1
        print(f"\n[{self._n}/{self.total}] {title} …", file=self.out, flush=True)
        started = time.monotonic()
        try:
            yield
        except Stopped as stopped:
            elapsed = time.monotonic() - started
            print(
                f"      ■ stopped by {signal.Signals(stopped.signum).name} after {elapsed:.1f} s",
                file=self.out,
                flush=True,
            )
            self.timings.append((f"{title} (stopped)", elapsed, mode))
            raise
        except BaseException:
            elapsed = time.monotonic() - started
            print(f"      ✗ {title} FAILED after {elapsed:.1f} s", file=self.out, flush=True)
            self.timings.append((f"{title} (failed)", elapsed, mode))
            raise
        elapsed = time.monotonic() - started
        self.timings.append((title, elapsed, mode))
        print(f"      ✓ {elapsed:.1f} s", file=self.out, flush=True)

    def summary(self) -> None:
        """Print every step's duration, the total per serving mode, and the total."""
        print("\nTimings", file=self.out)
        for title, elapsed, mode in self.timings:
            print(f"  {elapsed:7.1f} s  [{mode}] {title}", file=self.out)
        per_mode: dict[str, float] = {}
        for _, elapsed, mode in self.timings:
            per_mode[mode] = per_mode.get(mode, 0.0) + elapsed
        for mode, elapsed in per_mode.items():
            print(f"  {elapsed:7.1f} s  {mode} steps", file=self.out)
        print(f"  {sum(s for _, s, _ in self.timings):7.1f} s  total", file=self.out, flush=True)


# ------------------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class DeployedEndpoint:
    """The SageMaker resources one stack deployed, as the emulator describes them."""

    stack: str
    endpoint_name: str
    endpoint: dict[str, Any]
    config: dict[str, Any]
    models: dict[str, dict[str, Any]]


def find_endpoints(sagemaker: Any, cloudformation: Any, stacks: Sequence[str]) -> list[DeployedEndpoint]:
    """Return every ``AWS::SageMaker::Endpoint`` the stacks created, with its config and models."""
    found = []
    for stack in stacks:
        resources = cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
        for res in resources:
            if res.get("ResourceType") != "AWS::SageMaker::Endpoint":
                continue
            # The physical id of an endpoint is its ARN: ...:endpoint/<name>.
            name = res["PhysicalResourceId"].rsplit("/", 1)[-1]
            endpoint = sagemaker.describe_endpoint(EndpointName=name)
            config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
            models = {
                pv["ModelName"]: sagemaker.describe_model(ModelName=pv["ModelName"])
                for pv in config["ProductionVariants"]
            }
            found.append(DeployedEndpoint(stack, name, endpoint, config, models))
    return found


def asset_sources(assembly_dir: Path, stack: str, account: str, region: str) -> dict[str, Path]:
    """Map ``s3://bucket/key`` of every file asset of ``stack`` to its file in the cloud assembly."""
    manifest = json.loads((assembly_dir / f"{stack}.assets.json").read_text())
    urls = {}
    for asset in manifest.get("files", {}).values():
        source = assembly_dir / asset["source"]["path"]
        for dest in asset.get("destinations", {}).values():
            bucket = (
                dest["bucketName"].replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
            )
            urls[f"s3://{bucket}/{dest['objectKey']}"] = source
    return urls


def compare_with_template(
    stack: str, assembly_dir: Path, clients: Mapping[str, Any], *, account: str, region: str
) -> list[Any]:
    """Compare every SageMaker resource of a deployed stack with its template, field by field.

    Returns:
        One :class:`rehearsal.template_check.ResourceComparison` per Model, EndpointConfig and Endpoint.
    """
    from rehearsal.template_check import SAGEMAKER_TYPES, TemplateResolver, Unresolved, compare_resource

    template = json.loads((assembly_dir / f"{stack}.template.json").read_text())
    summaries = clients["cloudformation"].list_stack_resources(StackName=stack)["StackResourceSummaries"]
    physical = {s["LogicalResourceId"]: s.get("PhysicalResourceId", "") for s in summaries}
    types = {s["LogicalResourceId"]: s["ResourceType"] for s in summaries}

    def attribute(logical: str, name: str, physical_id: str) -> Any:
        if types.get(logical) == "AWS::IAM::Role" and name == "Arn":
            return clients["iam"].get_role(RoleName=physical_id.rsplit("/", 1)[-1])["Role"]["Arn"]
        return Unresolved({"Fn::GetAtt": [logical, name]})

    resolver = TemplateResolver(template, physical, region=region, account=account, attribute=attribute)
    describe = {
        "Model": lambda n: clients["sagemaker"].describe_model(ModelName=n),
        "EndpointConfig": lambda n: clients["sagemaker"].describe_endpoint_config(EndpointConfigName=n),
        "Endpoint": lambda n: clients["sagemaker"].describe_endpoint(EndpointName=n),
    }
    comparisons = []
    for rtype in SAGEMAKER_TYPES:
        kind = SAGEMAKER_TYPES[rtype][0]
        for logical_id, resource in template["Resources"].items():
            if resource["Type"] != rtype:
                continue
            if logical_id not in physical:
                raise DemoFailure(f"{kind} {logical_id} of the template was not created in the emulator")
            name = physical[logical_id].rsplit("/", 1)[-1]
            described = describe[kind](name)
            comparisons.append(
                compare_resource(kind, logical_id, name, resource.get("Properties", {}), described, resolver)
            )
    return comparisons


def check_model_data(
    deployed: DeployedEndpoint, s3: Any, assets: Mapping[str, Path]
) -> list[tuple[str, str, Path]]:
    """Check that every Model's ``ModelDataUrl`` is one of the stack's file assets, with its bytes.

    Returns:
        ``(model name, sha256, assembly file)`` per model.
    """
    checked = []
    for name, model in deployed.models.items():
        container = model.get("PrimaryContainer") or model["Containers"][0]
        url = container.get("ModelDataUrl", "")
        if container.get("Mode") == "MultiModel":
            checked += _check_prefix(name, url, s3, assets)
            continue
        source = assets.get(url)
        if source is None:
            raise DemoFailure(
                f"model {name}: ModelDataUrl {url!r} is none of the stack's assets {sorted(assets)}"
            )
        bucket, key = parse_s3_uri(url)
        remote = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        local_sha = file_sha256(source)
        if hashlib.sha256(remote).hexdigest() != local_sha:
            raise DemoFailure(f"model {name}: {url} differs from the asset file {source}")
        checked.append((name, local_sha, source))
    status = deployed.endpoint["EndpointStatus"]
    if status != "InService":
        raise DemoFailure(f"endpoint {deployed.endpoint_name} is {status}, not InService")
    return checked


def s3_sha256(s3: Any, bucket: str, key: str) -> str:
    """Return the sha256 of an S3 object's bytes, read in parts (never whole in memory).

    Through ``download_fileobj`` into a hash: the bytes themselves are what the check compares, and
    a large object's ranged parts carry no stored checksum for botocore to re-check (moto keeps a
    wrong whole-object checksum on objects made by a multipart copy, which ``get_object`` refuses).
    """

    class Sha256Writer(io.RawIOBase):
        def __init__(self) -> None:
            self.digest = hashlib.sha256()

        def writable(self) -> bool:
            return True

        def write(self, data: Any) -> int:
            self.digest.update(data)
            return len(data)

    writer = Sha256Writer()
    s3.download_fileobj(bucket, key, writer)
    return writer.digest.hexdigest()


def _check_prefix(name: str, url: str, s3: Any, assets: Mapping[str, Path]) -> list[tuple[str, str, Path]]:
    """Check that every archive under a multi-model ``ModelDataUrl`` prefix is one of the stack's assets, byte for byte."""
    by_sha = {file_sha256(path): path for path in assets.values() if path.is_file()}
    bucket, prefix = parse_s3_uri(url)
    objects = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    if not objects:
        raise DemoFailure(f"model {name}: no archive under its ModelDataUrl prefix {url!r}")
    checked = []
    for item in objects:
        sha = s3_sha256(s3, bucket, item["Key"])
        if sha not in by_sha:
            raise DemoFailure(f"model {name}: s3://{bucket}/{item['Key']} is none of the stack's asset files")
        checked.append((f"{name} {item['Key'][len(prefix):]}", sha, by_sha[sha]))
    return checked


# ---------------------------------------------------------------------------------- preflight


@dataclass(frozen=True)
class DemoOptions:
    """The demo's checked command line.

    Attributes:
        model: The reference passed to the app (``-c model=``): an example name, or a spec file's
            absolute path.
        spec: The resolved ``ModelSpec``.
        keep: Leave everything running until a stop signal.
        port: The data plane's port (0: a free one).
        requests: ``invoke_endpoint`` calls.
        modes: The serving modes to run, in :data:`MODES` order.
        async_model: The reference passed to the app as ``-c async_model=``.
        async_spec: Its resolved ``ModelSpec``.
        scale_in_cooldown_s: Idle seconds before the asynchronous variant scales to zero.
        mme_models: The multi-model stack's model set (``-c mme_models=``).
    """

    model: str
    spec: Any
    keep: bool
    port: int
    requests: int
    modes: tuple[str, ...] = MODES
    async_model: str = "pegasus-tiny"
    async_spec: Any = None
    scale_in_cooldown_s: float = DEMO_SCALE_IN_COOLDOWN_S
    mme_models: str = MME_MODEL_SETS[0]


def _parser() -> Parser:
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--model",
        default="bert-tiny",
        help="a built-in example name or the path of a model spec .toml file (default: bert-tiny)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="leave everything running until Ctrl-C or SIGTERM"
    )
    parser.add_argument("--port", type=port, default=0, help="data plane port (default: a free port)")
    parser.add_argument(
        "--requests",
        type=count(MAX_REQUESTS),
        default=3,
        help=f"invoke_endpoint calls, 1-{MAX_REQUESTS} (default: 3)",
    )
    parser.add_argument(
        "--mode",
        default=None,
        help=f"the serving modes to run: all, {', '.join(MODES)}, or several separated by commas "
        f"(default: ${MODE_ENV}, else all)",
    )
    parser.add_argument(
        "--async-model",
        default="pegasus-tiny",
        help="the asynchronous stack's model: a built-in example name or a spec file (default: pegasus-tiny)",
    )
    parser.add_argument(
        "--mme-models",
        choices=MME_MODEL_SETS,
        default=MME_MODEL_SETS[0],
        help=f"the multi-model stack's model set (default: {MME_MODEL_SETS[0]}, which builds in seconds; resnet50 is "
        "seed 001's ResNet-50)",
    )
    parser.add_argument(
        "--scale-in-cooldown",
        type=seconds(3600),
        default=DEMO_SCALE_IN_COOLDOWN_S,
        help=f"idle seconds before the asynchronous variant scales to zero (default: {DEMO_SCALE_IN_COOLDOWN_S:g}; "
        "AWS: the scale-in cooldown, 120 s in seed 002)",
    )
    return parser


def parse_modes(value: str | None, *, source: str) -> tuple[str, ...]:
    """Return the serving modes named by ``value`` (``all``, one mode, or several separated by commas).

    Args:
        value: What the user gave; None means all.
        source: Where it came from, as an error names it (``--mode`` or ``$DEMO_MODE``).

    Raises:
        UserError: An empty or unknown mode, naming ``source``, the value and the choices.
    """
    from model_build.user_errors import did_you_mean

    if value is None or value.strip().lower() == "all":
        return MODES
    names = [name.strip().lower() for name in value.split(",")]
    unknown = [name for name in names if name not in MODES]
    if unknown or not value.strip():
        bad = unknown[0] if unknown else value
        raise UserError(
            f"{source}: unknown serving mode {bad!r}{did_you_mean(bad, [*MODES, 'all'])}; choose all, "
            f"{', '.join(MODES)}, or several separated by commas (e.g. {MODES[0]},{MODES[1]})"
        )
    return tuple(mode for mode in MODES if mode in names)


def preflight(argv: Sequence[str] | None) -> DemoOptions:
    """Check every flag and prerequisite before anything starts.

    Raises:
        UserError: The first flag or prerequisite that is wrong, with its fix.
    """
    from model_build.examples import EXAMPLES
    from model_build.spec_file import resolve_model
    from rehearsal.cdk_cli import PROJECT_ROOT, cdk_binary
    from triton_runtime import server as triton

    args = _parser().parse_args(argv)
    if args.mode is not None:
        modes = parse_modes(args.mode, source="--mode")
    else:
        modes = parse_modes(os.environ.get(MODE_ENV) or None, source=f"${MODE_ENV}")
    try:
        spec = resolve_model(args.model)
    except UserError as error:
        raise UserError(f"--model: {error}") from None
    try:
        async_spec = resolve_model(args.async_model)
    except UserError as error:
        raise UserError(f"--async-model: {error}") from None
    # The app runs in the project root: a spec file is passed by absolute path.
    reference = args.model if args.model in EXAMPLES else str(Path(args.model).expanduser().resolve())
    async_reference = (
        args.async_model
        if args.async_model in EXAMPLES
        else str(Path(args.async_model).expanduser().resolve())
    )
    check_port_free("--port", args.port)
    problems = []
    if not cdk_binary().is_file():
        problems.append(f"the CDK CLI is not installed ({cdk_binary()} is missing); run `make setup`")
    if not (PROJECT_ROOT / "app.py").is_file():
        problems.append(
            f"the CDK app {PROJECT_ROOT / 'app.py'} is missing; run the demo from a full checkout"
        )
    try:
        installation = triton.locate()
    except triton.TritonNotInstalledError as error:
        problems.append(str(error))
    else:
        if triton.loopback_only_enabled():
            try:
                triton.build_loopback_shim(installation.home)
            except triton.LoopbackShimError as error:
                problems.append(str(error))
    if problems:
        raise UserError("; ".join(problems))
    return DemoOptions(
        model=reference,
        spec=spec,
        keep=args.keep,
        port=args.port,
        requests=args.requests,
        modes=modes,
        async_model=async_reference,
        async_spec=async_spec,
        scale_in_cooldown_s=args.scale_in_cooldown,
        mme_models=args.mme_models,
    )


# --------------------------------------------------------------------------------------- main


def run(options: DemoOptions, *, out: Any = None) -> int:
    """Run the demo; returns the process exit status (0 when every check passed).

    A stop signal (SIGINT, SIGTERM, SIGHUP) at any point tears everything down and returns
    ``128 + signum``.

    Args:
        options: The checked command line (:func:`preflight`).
        out: Where to print. Defaults to stdout.
    """
    import boto3

    from rehearsal.cdk_cli import PROJECT_ROOT, CdkCli, CdkError
    from rehearsal.data_plane import LocalDataPlane
    from rehearsal.moto_server import MotoServer

    modes = options.modes
    steps = Steps(total=9 + ("realtime" in modes) + 4 * ("async" in modes) + 4 * ("multi-model" in modes) + 1, out=out)
    say = steps.say
    spec = options.spec
    async_spec = options.async_spec
    label = spec.name if options.model == spec.name else f"{spec.name} ({options.model})"
    with contextlib.ExitStack() as stack:
        guard = stack.enter_context(stop_on_signals(notice=say))
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rehearsal-demo-")))
        deployed_stacks: tuple[str, ...] = ()
        cdk: CdkCli | None = None
        clients: dict[str, Any] = {}
        try:
            with steps.step("Start the AWS emulator (moto server)"):
                moto = stack.enter_context(MotoServer(log_path=work / "moto.log"))
                say(f"control plane {moto.endpoint_url} (account {moto.account_id}, {moto.region})")
            clients = {
                name: boto3.client(name, **moto.boto3_kwargs())
                for name in (
                    "sagemaker",
                    "s3",
                    "cloudformation",
                    "iam",
                    "sns",
                    "sqs",
                    "application-autoscaling",
                    "cloudwatch",
                )
            }
            # Its own cloud assembly directory: other runs (and people) may synth cdk.out meanwhile.
            assembly = work / "cdk.out"
            cdk = CdkCli(moto.subprocess_env(), app_dir=PROJECT_ROOT, output_dir=assembly)
            context = (
                "--context",
                f"model={options.model}",
                "--context",
                f"async_model={options.async_model if 'async' in modes else 'none'}",
                "--context",
                f"mme_models={options.mme_models if 'multi-model' in modes else 'none'}",
                "--context",
                f"mme_tensorrt={MME_TENSORRT}",
            )
            built = ", ".join(
                [label]
                + ([async_spec.name] if "async" in modes else [])
                + ([f"the {options.mme_models} multi-model set"] if "multi-model" in modes else [])
            )

            with steps.step(f"cdk synth: build {built} (source → ONNX → Triton repository → model.tar.gz)"):
                result = cdk.synth(extra_args=context)
                say(f"stacks: {', '.join(cdk.stack_names())}")
                for line in _annotations(result.output):
                    say(f"| {line}")

            wanted = stacks_by_mode(assembly, cdk.stack_names())
            if missing_modes := [mode for mode in modes if mode not in wanted]:
                raise DemoFailure(
                    f"the app synthesized no stack for {', '.join(missing_modes)}: {cdk.stack_names()}"
                )
            selected = tuple(wanted[mode] for mode in modes)
            with steps.step(f"cdk bootstrap + cdk deploy {', '.join(selected)} into the emulator"):
                # Both read the assembly synthesized above: nothing is synthesized again, and
                # nothing is written to the project's cdk.out.
                result = cdk.bootstrap(f"aws://{moto.account_id}/{moto.region}", from_assembly=True)
                say(f"bootstrap {result.duration_s:.1f} s")
                deploy = cdk.deploy(*selected, from_assembly=True)
                deployed_stacks = deploy.stacks
                say(f"deploy {deploy.result.duration_s:.1f} s: {', '.join(deploy.stacks)}")
                for stack_name, outputs in deploy.outputs.items():
                    for key, value in outputs.items():
                        say(f"output {stack_name}.{key} = {value}")

            with steps.step("Compare what was deployed with the template, field by field"):
                endpoints = find_endpoints(clients["sagemaker"], clients["cloudformation"], deploy.stacks)
                missing = [name for name in selected if name not in {e.stack for e in endpoints}]
                if missing:
                    raise DemoFailure(f"no AWS::SageMaker::Endpoint in {missing}")
                archive_shas = _check_deployment(endpoints, deploy.stacks, assembly, clients, moto, say)
            by_stack = {e.stack: e for e in endpoints}

            with steps.step("What the emulator skipped"):
                if not cdk.skipped:
                    say("nothing")
                for item in cdk.skipped:
                    say(str(item))

            with steps.step("cdk diff (must show no differences)"):
                # Against the assembly synthesized above, as deploy was: a second synthesis would
                # only repeat step 2 (synthesis is deterministic; the tests check that apart).
                diff = cdk.diff(*deploy.stacks, from_assembly=True)
                say(
                    f"stacks with differences: {diff.stacks_with_differences} ({diff.result.duration_s:.1f} s)"
                )
                if not diff.no_differences:
                    raise DemoFailure(
                        "cdk diff found differences right after deploy:\n" + diff.result.output[-3000:]
                    )

            with steps.step("Start the local SageMaker runtime data plane"):
                plane = stack.enter_context(
                    LocalDataPlane(
                        moto.endpoint_url,
                        port=options.port,
                        work_dir=work / "data-plane",
                        scale_in_cooldown_s=options.scale_in_cooldown_s,
                    )
                )
                say(f"runtime {plane.endpoint_url} (real Triton starts on the first request)")
            # from here on the data plane publishes SageMaker's metrics to the emulator's CloudWatch
            traffic_start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
            runtime = boto3.client(
                "sagemaker-runtime",
                endpoint_url=plane.endpoint_url,
                region_name=moto.region,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )

            if "realtime" in modes:
                realtime = by_stack[wanted["realtime"]]
                with steps.step(
                    f"invoke_endpoint x {options.requests} with boto3, compared with the model's source",
                    "realtime",
                ):
                    reference = _reference(spec, archive_shas[realtime.endpoint_name])
                    inputs = ", ".join(
                        f"{i['name']} {i['dtype']}{i['dims']}" for i in reference.manifest["inputs"]
                    )
                    say(
                        f"inputs from the build manifest: {inputs}; reference: {reference.kind} on the source"
                    )
                    invoke_and_compare(runtime, reference, realtime.endpoint_name, options.requests, say)
                    _say_backends(plane, realtime.endpoint_name, say)

            if "async" in modes:
                from rehearsal import demo_async

                deployed = by_stack[wanted["async"]]
                outputs = deploy.outputs.get(deployed.stack, {})
                reference = _reference(async_spec, archive_shas[deployed.endpoint_name])
                with steps.step(
                    "Asynchronous: register what moto skipped, subscribe a queue to both topics", "async"
                ):
                    setup = demo_async.prepare(clients, assembly, deployed, outputs, say)
                with steps.step(
                    "invoke_endpoint_async: S3 input → queue → Triton → S3 output + SNS → SQS", "async"
                ):
                    demo_async.invoke_and_compare(runtime, clients, setup, reference, say)
                with steps.step("A malformed input: failure path + error notification", "async"):
                    demo_async.malformed(runtime, clients, setup, say)
                with steps.step("Scale to zero when idle, and back when work arrives", "async"):
                    demo_async.scale_to_zero_and_back(runtime, clients, setup, reference, plane, say)
                _say_backends(plane, deployed.endpoint_name, say)

            if "multi-model" in modes:
                from rehearsal import demo_multi_model as mme

                deployed = by_stack[wanted["multi-model"]]
                with steps.step(
                    "Multi-model: invoke_endpoint per TargetModel, cold then warm, compared with torch", "multi-model"
                ):
                    mme_setup = mme.prepare(clients, deployed, deploy.outputs.get(deployed.stack, {}), say)
                    mme.invoke_target_models(runtime, clients, mme_setup, plane, say, warm_calls=options.requests)
                with steps.step("Multi-model: upload one more archive to the prefix, no redeploy, invoke it", "multi-model"):
                    from model_build.pipeline import build as build_model

                    added = build_model(spec)
                    mme.add_archive_without_redeploy(
                        runtime,
                        clients,
                        mme_setup,
                        plane,
                        added.archive_path,
                        f"{spec.name}_added_v0.tar.gz",
                        say,
                        spec=spec,
                        warm_calls=options.requests,
                    )
                with steps.step("Multi-model: an unknown TargetModel", "multi-model"):
                    mme.unknown_target_model(runtime, mme_setup, say)
                with steps.step(
                    "Multi-model: memory pressure unloads the least recently used models", "multi-model"
                ):
                    mme.memory_pressure(runtime, clients, mme_setup, plane, say)
                    mme.say_loaded(plane, deployed.endpoint_name, say)

            with steps.step("Post-deploy check of each stack (python -m operations check)"):
                _post_deploy_check(deploy.stacks, moto, plane, say)

            with steps.step("Every metric the dashboards and alarms read has data in the emulator's CloudWatch"):
                _verify_metrics(deploy.stacks, assembly, clients, plane, traffic_start, say)

            first = by_stack[selected[0]].endpoint_name
            if options.keep:
                _wait_for_signal(moto.endpoint_url, plane.endpoint_url, first, say)
        except Stopped as stopped:
            status = stopped.exit_status
            say(f"{signal.Signals(stopped.signum).name}: tearing down")
        else:
            status = 0
        finally:
            guard.stopping = True  # from here on a signal only prints a note: the teardown finishes
            pending = sys.exc_info()[1]  # a failure of the demo itself stays the one reported
            try:
                with steps.step("Tear down (cdk destroy, stop servers)"):
                    if deployed_stacks and cdk is not None:
                        destroyed = None
                        try:
                            destroyed = cdk.destroy(*deployed_stacks, from_assembly=True)
                        except CdkError as error:
                            failed = (
                                f"cdk destroy failed; the emulator (stopped next) still held {', '.join(deployed_stacks)}: "
                                f"{str(error)[-1500:]}"
                            )
                            if pending is None:
                                raise DemoFailure(failed) from None
                            say(failed)  # the demo's own failure, raised on, is the one reported
                        if destroyed is not None:
                            say(f"cdk destroy {destroyed.duration_s:.1f} s")
                            left = [
                                s["StackName"]
                                for s in clients["cloudformation"].describe_stacks()["Stacks"]
                                if s["StackName"] in deployed_stacks
                            ]
                            if left:
                                raise DemoFailure(f"stacks still present after destroy: {left}")
                            endpoints_left = [
                                e["EndpointName"] for e in clients["sagemaker"].list_endpoints()["Endpoints"]
                            ]
                            say(f"endpoints left: {endpoints_left}")
                    stack.close()  # data plane (and its Triton servers), then moto, then the work folder
            finally:
                steps.summary()  # the timings of every step, the teardown's too, even when it failed
    return status


def _post_deploy_check(stack_names: Sequence[str], moto: Any, plane: Any, say: Any) -> None:
    """Run the post-deploy check (:func:`operations.check.check_stack`) on every deployed stack.

    What a pipeline runs after ``cdk deploy``: each endpoint runs the config its stack deployed (a
    guardrail rollback leaves it InService on the old one) and answers once per variant, per
    TargetModel and through the asynchronous queue.
    """
    import boto3

    from operations.check import check_stack

    session = boto3.Session(
        region_name=moto.region, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    failures = []
    for stack_name in stack_names:
        report = check_stack(
            stack_name,
            session=session,
            endpoint_url=moto.endpoint_url,
            runtime_endpoint_url=plane.endpoint_url,
            timeout_s=120,
        )
        for line in report.lines:
            say(line)
        if not report.ok:
            failures.append(stack_name)
    if failures:
        raise DemoFailure(f"the post-deploy check failed for {', '.join(failures)} (lines above)")


def _verify_metrics(
    stack_names: Sequence[str],
    assembly: Path,
    clients: Mapping[str, Any],
    plane: Any,
    start: datetime.datetime,
    say: Any,
) -> None:
    """Read back every metric the deployed dashboards and alarms reference; any without data fails the demo."""
    from rehearsal.data_plane.metrics import verify_metrics

    plane.flush_metrics()
    end = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1)
    failures = []
    for stack_name in stack_names:
        template = json.loads((assembly / f"{stack_name}.template.json").read_text())
        resources = clients["cloudformation"].describe_stack_resources(StackName=stack_name)["StackResources"]
        verdict = verify_metrics(clients["cloudwatch"], template, resources, start, end)
        say(f"{stack_name}:")
        for line in verdict.lines:
            say(f"  {line}")
        if not verdict.ok:
            failures.append(stack_name)
    if failures:
        raise DemoFailure(
            f"metrics that the dashboards or alarms of {', '.join(failures)} read got no data (lines above)"
        )


def _annotations(output: str) -> list[str]:
    """Return the app's warnings and errors (construct annotations), without the CLI's Node.js notices."""
    import re

    pattern = re.compile(r"^(\[?(WARNING|Warning|ERROR|Error)\b|\s{3}\S|Acknowledge with)")
    return [line.rstrip() for line in output.splitlines() if pattern.match(line)]


def _check_deployment(
    endpoints: list[DeployedEndpoint],
    stacks: Sequence[str],
    assembly: Path,
    clients: Mapping[str, Any],
    moto: Any,
    say: Any,
) -> dict[str, str]:
    """Print the field-by-field comparison, the model data check and the SDK v3 read.

    Returns:
        Endpoint name → the sha256 of its (first) model's archive, to find that build's manifest.
    """
    from rehearsal.template_check import sdk_v3_endpoint_get

    critical = []
    for stack_name in stacks:
        for comparison in compare_with_template(
            stack_name, assembly, clients, account=moto.account_id, region=moto.region
        ):
            say(comparison.summary())
            for difference in comparison.differences:
                say(f"  ≠ {difference}")
                if difference.critical and not difference.known:
                    critical.append(difference)
    if critical:
        raise DemoFailure(
            "the emulator holds values the data plane depends on that differ from the template: "
            + "; ".join(str(d) for d in critical)
        )
    archive_shas: dict[str, str] = {}
    for deployed in endpoints:
        assets = asset_sources(assembly, deployed.stack, moto.account_id, moto.region)
        for name, sha, source in check_model_data(deployed, clients["s3"], assets):
            say(f"model data of {name}: sha256 {sha[:12]}… = assembly file {source.name}")
            archive_shas.setdefault(deployed.endpoint_name, sha)
    name = endpoints[0].endpoint_name
    error = sdk_v3_endpoint_get(name, endpoint_url=moto.endpoint_url, region=moto.region)
    if error is None:
        say(f"SageMaker SDK v3 Endpoint.get({name!r}): read it")
    else:
        say(
            f"SageMaker SDK v3 Endpoint.get({name!r}) fails (known emulator difference: moto's DataCaptureConfig {{}}):"
        )
        say(f"  {error[:400]}")
    return archive_shas


def _reference(spec: Any, archive_sha: str) -> ModelReference:
    """Return the model's own source, as the build that produced the deployed archive describes it."""
    from rehearsal.cdk_cli import PROJECT_ROOT

    cache = build_cache_dir(PROJECT_ROOT)
    manifest = find_build_manifest(archive_sha, cache)
    if manifest is None:
        raise DemoFailure(
            f"no build manifest in {cache} for the deployed archive of {spec.name} (sha256 {archive_sha[:12]}…); "
            "was the cache cleared during the demo? Run it again."
        )
    return ModelReference(spec, manifest)


def stacks_by_mode(assembly: Path, stack_names: Sequence[str]) -> dict[str, str]:
    """Return serving mode → stack name, read from the synthesized templates.

    A stack whose Model has a ``Mode: MultiModel`` container serves the ``multi-model`` mode; one
    whose endpoint config has an ``AsyncInferenceConfig`` the ``async`` mode; any other stack with a
    SageMaker endpoint the ``realtime`` mode (the first one, when the app holds several real-time
    stacks).

    Raises:
        DemoFailure: A mode has no stack in the assembly.
    """
    found: dict[str, str] = {}
    for name in stack_names:
        resources = json.loads((assembly / f"{name}.template.json").read_text()).get("Resources", {})
        configs = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::EndpointConfig"]
        models = [r.get("Properties", {}) for r in resources.values() if r["Type"] == "AWS::SageMaker::Model"]
        if configs:
            if any(c.get("Mode") == "MultiModel" for m in models for c in [m.get("PrimaryContainer") or {}]):
                mode = "multi-model"
            elif any("AsyncInferenceConfig" in c.get("Properties", {}) for c in configs):
                mode = "async"
            else:
                mode = "realtime"
            found.setdefault(mode, name)
    return found


def _say_backends(plane: Any, endpoint_name: str, say: Any) -> None:
    for backend in plane.describe_backends():
        if backend["endpoint"] == endpoint_name:
            say(
                f"backend {backend['endpoint']}/{backend['variant']}: {backend['invocations']} calls, "
                f"Triton {backend['triton_url']}"
            )


def compare_outputs(
    request: str,
    got_all: Mapping[str, np.ndarray],
    reference: ModelReference,
    inputs: Mapping[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], float]:
    """Compare an endpoint's answer with the model's source on the same inputs.

    Integer outputs (token ids) must be equal; others within the spec's tolerance.

    Returns:
        The source's outputs and the largest absolute difference.

    Raises:
        DemoFailure: An output is missing, has another shape, or differs beyond the tolerance.
    """
    want_all = reference.outputs(inputs)
    worst = 0.0
    for name in reference.output_names:
        if name not in got_all:
            raise DemoFailure(
                f"{request}: the endpoint's answer has no output {name!r} (it has {sorted(got_all)})"
            )
        want = want_all[name]
        got = np.asarray(got_all[name]).astype(want.dtype)
        if got.shape != want.shape:
            raise DemoFailure(
                f"{request}: output {name} has shape {got.shape}, the source gives {want.shape}"
            )
        diff = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64)))) if got.size else 0.0
        worst = max(worst, diff)
        atol, rtol = reference.tolerance(name)
        exact = np.issubdtype(want.dtype, np.integer)
        if (exact and not np.array_equal(got, want)) or (
            not exact and not np.allclose(got, want, atol=atol, rtol=rtol)
        ):
            allowed = "equality (integer output)" if exact else f"tolerance atol={atol}, rtol={rtol}"
            raise DemoFailure(
                f"{request}: output {name} of the endpoint and {reference.kind} differ by {diff:.3e} ({allowed})"
            )
    return want_all, worst


def invoke_and_compare(
    runtime: Any, reference: ModelReference, endpoint_name: str, requests: int, say: Any
) -> float:
    """Call the endpoint ``requests`` times (1, 2, 3 … rows) and compare each answer with the source.

    Returns:
        The largest absolute difference seen.

    Raises:
        DemoFailure: An answer differs beyond the spec's tolerance, or misses an output.
    """
    worst = 0.0
    first_output = reference.output_names[0]
    say(
        f"{'req':>3} {'rows':>4}  {'variant':<10} {'ms':>7}  {'endpoint ' + first_output:<34} {reference.kind:<34} {'max |Δ|':>8}"
    )
    for i in range(requests):
        inputs = reference.inputs(batch_size=i + 1, seed=1000 + i)
        started = time.monotonic()
        response = runtime.invoke_endpoint(
            EndpointName=endpoint_name, ContentType="application/json", Body=kserve_request(inputs)
        )
        elapsed_ms = (time.monotonic() - started) * 1000
        got_all = kserve_outputs(response["Body"].read())
        want_all, diff = compare_outputs(f"request {i}", got_all, reference, inputs)
        worst = max(worst, diff)
        lead = f"{i:>3} {i + 1:>4}  {response['InvokedProductionVariant']:<10} {elapsed_ms:7.1f}"
        want = want_all[first_output]
        got = np.asarray(got_all[first_output]).astype(want.dtype)
        for row in range(got.shape[0]):
            shown = lead if row == 0 else " " * len(lead)  # later rows of the same request line up
            say(
                f"{shown}  {format_row(got[row]):<34} {format_row(want[row]):<34} {float(np.max(np.abs(got[row] - want[row]))):8.1e}"
            )
    atol, rtol = reference.tolerance(first_output)
    say(f"max |endpoint - {reference.kind}| = {worst:.2e} (tolerance atol={atol}, rtol={rtol}): OK")
    return worst


def format_row(values: np.ndarray) -> str:
    """Show one output row: class scores with their argmax, or integer ids (a summary) as they are."""
    flat = values.reshape(-1)
    if np.issubdtype(flat.dtype, np.integer):
        ids = ", ".join(str(int(v)) for v in flat[:5])
        return f"[{ids}{', …' if flat.size > 5 else ''}] ({flat.size} ids)"
    if flat.size <= 4:
        shown = np.array2string(flat, precision=5)
    else:
        shown = f"[{', '.join(f'{v:.4f}' for v in flat[:3])}, … {flat.size} values]"
    return f"{int(np.argmax(flat))} {shown}" if flat.size > 1 else shown


def _wait_for_signal(moto_url: str, runtime_url: str, endpoint_name: str, say: Any) -> None:
    say("")
    say(f"--keep: everything stays up until Ctrl-C, or `kill {os.getpid()}` (SIGTERM). Try:")
    say(f"  export AWS_ENDPOINT_URL={moto_url} AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME={runtime_url}")
    say("  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1")
    say(f"  aws sagemaker describe-endpoint --endpoint-name {endpoint_name}")
    while True:
        signal.pause()  # a stop signal raises Stopped here


def main(argv: Sequence[str] | None = None) -> int:
    """Check every flag, then run the demo; exit status 1 (with the reason) when a check fails."""
    options = preflight(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        return run(options)
    except DemoFailure as exc:
        print(f"\nDEMO FAILED: {exc}", file=sys.stderr, flush=True)
        return 1


def cli(argv: Sequence[str] | None = None) -> int:
    """Run :func:`main` with bad input reported in one line (exit status 2), no traceback."""
    return run_cli(main, argv, prog=PROG)


if __name__ == "__main__":
    raise SystemExit(cli())
