"""``make demo``: deploy the CDK app into a local AWS emulator and call the endpoint with boto3.

Steps (each printed with its duration):

1. start moto's server on localhost (the AWS control plane);
2. ``cdk synth``: the app builds the model (``model_build``: torch → ONNX → Triton repository →
   ``model.tar.gz``, cached by input hash) and writes the cloud assembly;
3. ``cdk bootstrap`` and ``cdk deploy`` into the emulator (the real CDK CLI, the real app);
4. check with boto3 that the Model, EndpointConfig and Endpoint exist as the template declares them
   and that ``ModelDataUrl`` points at the uploaded asset (the same bytes as the assembly's file);
5. list what the emulator skipped (resource types moto's CloudFormation does not implement);
6. ``cdk diff``: zero differences required;
7. start the local SageMaker runtime data plane (real Triton behind it);
8. ``invoke_endpoint`` with ordinary boto3 on tokenized-looking inputs and compare with torch;
9. tear down: ``cdk destroy``, stop every server.

Usage::

    python -m rehearsal.demo [--model bert-tiny] [--keep] [--port 8080]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from triton_runtime.kserve import decode_response, encode

#: WordPiece ids of bert-base-uncased's special tokens: [PAD], [CLS], [SEP].
PAD_ID, CLS_ID, SEP_ID = 0, 101, 102
#: The first id of ordinary word pieces in bert-base-uncased (below are [unusedN] and symbols).
FIRST_WORD_ID = 1996


_ANNOTATION_RE = re.compile(r"^(\[?(WARNING|Warning|ERROR|Error)\b|\s{3}\S|Acknowledge with)")


class DemoFailure(RuntimeError):
    """A check of the demo failed; the message says which and why."""


# ------------------------------------------------------------------------------ inputs/outputs


def tokenized_inputs(batch_size: int, sequence_length: int, *, seed: int, vocab_size: int = 30522) -> dict[str, np.ndarray]:
    """Return seeded inputs that look like a BERT tokenizer's output.

    Each row is ``[CLS] w1 … wn [SEP] [PAD] …`` with a random length, and the attention mask is 1
    over the real tokens and 0 over the padding, so the comparison also covers masking.

    Args:
        batch_size: Rows.
        sequence_length: Columns (the model's fixed sequence length).
        seed: The numpy seed.
        vocab_size: Ids are drawn below it.

    Returns:
        ``{"input_ids": int64[batch, seq], "attention_mask": int64[batch, seq]}``.
    """
    rng = np.random.default_rng(seed)
    ids = np.full((batch_size, sequence_length), PAD_ID, dtype=np.int64)
    mask = np.zeros((batch_size, sequence_length), dtype=np.int64)
    for row in range(batch_size):
        words = int(rng.integers(4, sequence_length - 1))
        ids[row, 0] = CLS_ID
        ids[row, 1 : words + 1] = rng.integers(FIRST_WORD_ID, vocab_size, words)
        ids[row, words + 1] = SEP_ID
        mask[row, : words + 2] = 1
    return {"input_ids": ids, "attention_mask": mask}


def kserve_request(inputs: Mapping[str, np.ndarray]) -> bytes:
    """Encode inputs as a KServe v2 JSON inference request (what Triton's ``/invocations`` takes)."""
    return encode(inputs, encoding="json", route="sagemaker").body


def kserve_outputs(body: bytes) -> dict[str, np.ndarray]:
    """Decode a KServe v2 JSON response into output name → array."""
    return decode_response(body, "application/json")


def torch_reference(spec: Any, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """Run the example's source torch model (seeded weights) on ``inputs``.

    Args:
        spec: The ``ModelSpec``; ``spec.source.load()`` re-creates the exact model that was exported.
        inputs: Input name → array, in any order.

    Returns:
        The first output (logits) as float64.
    """
    import torch

    loaded = spec.source.load()
    tensors = [torch.from_numpy(np.ascontiguousarray(inputs[t.name])) for t in loaded.inputs]
    with torch.no_grad():
        out = loaded.module(*tensors)
    first = out[0] if isinstance(out, tuple | list) else out
    return np.asarray(first.detach().cpu().numpy(), dtype=np.float64)


# ------------------------------------------------------------------------------------ printing


class Steps:
    """Prints numbered steps with their duration, and a summary table at the end."""

    def __init__(self, total: int, out: Any = None) -> None:
        self.total = total
        self.out = out if out is not None else sys.stdout
        self.timings: list[tuple[str, float]] = []
        self._n = 0

    def say(self, text: str = "") -> None:
        """Print an indented detail line."""
        print(f"      {text}" if text else "", file=self.out, flush=True)

    @contextlib.contextmanager
    def step(self, title: str) -> Iterator[None]:
        """Time one step; a failure is reported with the step's title and re-raised."""
        self._n += 1
        print(f"\n[{self._n}/{self.total}] {title} …", file=self.out, flush=True)
        started = time.monotonic()
        try:
            yield
        except BaseException:
            elapsed = time.monotonic() - started
            print(f"      ✗ {title} FAILED after {elapsed:.1f} s", file=self.out, flush=True)
            self.timings.append((f"{title} (failed)", elapsed))
            raise
        elapsed = time.monotonic() - started
        self.timings.append((title, elapsed))
        print(f"      ✓ {elapsed:.1f} s", file=self.out, flush=True)

    def summary(self) -> None:
        """Print every step's duration and the total."""
        print("\nTimings", file=self.out)
        for title, seconds in self.timings:
            print(f"  {seconds:7.1f} s  {title}", file=self.out)
        print(f"  {sum(s for _, s in self.timings):7.1f} s  total", file=self.out, flush=True)


# ------------------------------------------------------------------------------------- checks


@dataclass(frozen=True)
class DeployedEndpoint:
    """The SageMaker resources one stack deployed, as the emulator describes them."""

    stack: str
    endpoint_name: str
    endpoint: dict[str, Any]
    config: dict[str, Any]
    models: dict[str, dict[str, Any]]


def find_endpoints(sagemaker: Any, cloudformation: Any, stacks: tuple[str, ...]) -> list[DeployedEndpoint]:
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


def _template_resources(assembly_dir: Path, stack: str, rtype: str) -> list[dict[str, Any]]:
    template = json.loads((assembly_dir / f"{stack}.template.json").read_text())
    return [r.get("Properties", {}) for r in template["Resources"].values() if r["Type"] == rtype]


def asset_sources(assembly_dir: Path, stack: str, account: str, region: str) -> dict[str, Path]:
    """Map ``s3://bucket/key`` of every file asset of ``stack`` to its file in the cloud assembly."""
    manifest = json.loads((assembly_dir / f"{stack}.assets.json").read_text())
    urls = {}
    for asset in manifest.get("files", {}).values():
        source = assembly_dir / asset["source"]["path"]
        for dest in asset.get("destinations", {}).values():
            bucket = dest["bucketName"].replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
            urls[f"s3://{bucket}/{dest['objectKey']}"] = source
    return urls


def check_deployed(deployed: DeployedEndpoint, assembly_dir: Path, s3: Any, assets: Mapping[str, Path]) -> list[str]:
    """Compare what the emulator holds with what the template declares.

    Literal template values must match exactly; intrinsic functions (``Fn::Join`` of the region's
    ECR account for the image, ``Fn::Sub`` of the asset bucket) are checked by shape instead. The
    model data must be one of the stack's file assets (``assets``: URL → assembly file) and the
    object in S3 must hold that file's bytes.

    Returns:
        Human-readable lines describing what was checked.

    Raises:
        DemoFailure: On the first mismatch.
    """
    lines = []
    declared_configs = _template_resources(assembly_dir, deployed.stack, "AWS::SageMaker::EndpointConfig")
    declared_variants = {
        pv["VariantName"]: pv for props in declared_configs for pv in props.get("ProductionVariants", [])
    }
    for pv in deployed.config["ProductionVariants"]:
        declared = declared_variants.get(pv["VariantName"])
        if declared is None:
            raise DemoFailure(f"variant {pv['VariantName']} is not in the template")
        for key in ("InstanceType", "InitialInstanceCount", "InitialVariantWeight"):
            want = declared.get(key)
            if isinstance(want, str | int | float) and pv.get(key) != want and float(pv.get(key, -1)) != float(want):
                raise DemoFailure(f"variant {pv['VariantName']}: {key} is {pv.get(key)!r}, template says {want!r}")
        lines.append(
            f"variant {pv['VariantName']}: {pv.get('InitialInstanceCount')} x {pv.get('InstanceType')}, "
            f"weight {pv.get('InitialVariantWeight')}"
        )
    declared_models = _template_resources(assembly_dir, deployed.stack, "AWS::SageMaker::Model")
    for name, model in deployed.models.items():
        container = model.get("PrimaryContainer") or model["Containers"][0]
        image = container.get("Image", "")
        if ".dkr.ecr." not in image or ":" not in image.rsplit("/", 1)[-1]:
            raise DemoFailure(f"model {name}: image {image!r} is not an ECR image with a tag")
        env = container.get("Environment") or {}
        declared_envs = [
            (m.get("PrimaryContainer") or {}).get("Environment") or {} for m in declared_models
        ]
        literal_envs = [{k: v for k, v in e.items() if isinstance(v, str)} for e in declared_envs]
        if not any(all(env.get(k) == v for k, v in lit.items()) for lit in literal_envs):
            raise DemoFailure(f"model {name}: environment {env} does not match the template's {declared_envs}")
        url = container.get("ModelDataUrl", "")
        if not url.startswith("s3://"):
            raise DemoFailure(f"model {name}: ModelDataUrl {url!r} is not an S3 URL")
        source = assets.get(url)
        if source is None:
            raise DemoFailure(f"model {name}: ModelDataUrl {url} is none of the stack's assets {sorted(assets)}")
        bucket, key = url[len("s3://") :].split("/", 1)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        local_sha = hashlib.sha256(source.read_bytes()).hexdigest()
        if hashlib.sha256(body).hexdigest() != local_sha:
            raise DemoFailure(f"model {name}: {url} differs from the asset file {source}")
        lines.append(f"model {name}: image {image}")
        lines.append(f"  env {json.dumps(env, sort_keys=True)}")
        lines.append(f"  data {url}")
        lines.append(f"       {len(body) / 1e6:.1f} MB, sha256 {local_sha[:12]}… = assembly file {source.name}")
    status = deployed.endpoint["EndpointStatus"]
    if status != "InService":
        raise DemoFailure(f"endpoint {deployed.endpoint_name} is {status}, not InService")
    lines.insert(0, f"endpoint {deployed.endpoint_name}: {status} (config {deployed.endpoint['EndpointConfigName']})")
    return lines


# --------------------------------------------------------------------------------------- main


def run(
    *, model: str = "bert-tiny", keep: bool = False, port: int = 0, requests: int = 3, out: Any = None
) -> int:
    """Run the demo; returns the process exit status (0 when every check passed).

    Args:
        model: The ``model_build.examples`` name the app deploys (CDK context ``model``); the torch
            reference is that example's source model.
        keep: Leave the emulator and data plane running until Ctrl-C, for poking by hand.
        port: The data plane's port. Defaults to a free one.
        requests: How many ``invoke_endpoint`` calls to make.
        out: Where to print. Defaults to stdout.
    """
    import boto3

    from model_build.examples import get_example
    from rehearsal.cdk_cli import PROJECT_ROOT, CdkCli
    from rehearsal.data_plane import LocalDataPlane
    from rehearsal.moto_server import MotoServer

    steps = Steps(total=9, out=out)
    say = steps.say
    spec = get_example(model)
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="rehearsal-demo-")))
        with steps.step("Start the AWS emulator (moto server)"):
            moto = stack.enter_context(MotoServer(log_path=work / "moto.log"))
            say(f"control plane {moto.endpoint_url} (account {moto.account_id}, {moto.region}); log {moto.log_path}")
        clients = {name: boto3.client(name, **moto.boto3_kwargs()) for name in ("sagemaker", "s3", "cloudformation")}

        # Its own cloud assembly directory: other runs (and people) may synth cdk.out meanwhile.
        assembly = work / "cdk.out"
        cdk = CdkCli(moto.subprocess_env(), app_dir=PROJECT_ROOT, output_dir=assembly)
        context = ("--context", f"model={model}")
        deployed_stacks: tuple[str, ...] = ()
        try:
            with steps.step(f"cdk synth: build {model} (torch → ONNX → Triton repository → model.tar.gz)"):
                result = cdk.synth(extra_args=context)
                say(f"cloud assembly {assembly}: {', '.join(cdk.stack_names())}")
                # The app's warnings (construct annotations), without the CLI's Node.js notices.
                for line in result.output.splitlines():
                    if _ANNOTATION_RE.match(line):
                        say(f"| {line.rstrip()}")

            with steps.step("cdk bootstrap + cdk deploy into the emulator"):
                result = cdk.bootstrap(f"aws://{moto.account_id}/{moto.region}")
                say(f"bootstrap {result.duration_s:.1f} s")
                # The assembly synthesized in step 2: the templates checked below are the ones deployed.
                deploy = cdk.deploy(from_assembly=True)
                deployed_stacks = deploy.stacks
                say(f"deploy {deploy.result.duration_s:.1f} s: {', '.join(deploy.stacks)}")
                for stack_name, outputs in deploy.outputs.items():
                    for key, value in outputs.items():
                        say(f"output {stack_name}.{key} = {value}")

            with steps.step("Check the deployed resources with boto3"):
                endpoints = find_endpoints(clients["sagemaker"], clients["cloudformation"], deploy.stacks)
                if not endpoints:
                    raise DemoFailure(f"no AWS::SageMaker::Endpoint in {deploy.stacks}")
                for deployed in endpoints:
                    assets = asset_sources(assembly, deployed.stack, moto.account_id, moto.region)
                    for line in check_deployed(deployed, assembly, clients["s3"], assets):
                        say(line)

            with steps.step("What the emulator skipped"):
                if not cdk.skipped:
                    say("nothing")
                for item in cdk.skipped:
                    say(str(item))

            with steps.step("cdk diff (must show no differences)"):
                diff = cdk.diff(*deploy.stacks, extra_args=context)
                say(f"stacks with differences: {diff.stacks_with_differences} ({diff.result.duration_s:.1f} s)")
                if not diff.no_differences:
                    raise DemoFailure("cdk diff found differences right after deploy:\n" + diff.result.output[-3000:])

            with steps.step("Start the local SageMaker runtime data plane"):
                plane = stack.enter_context(LocalDataPlane(moto.endpoint_url, port=port, work_dir=work / "data-plane"))
                say(f"runtime {plane.endpoint_url} (real Triton starts on the first request)")

            with steps.step(f"invoke_endpoint x {requests} with boto3, compared with torch"):
                runtime = boto3.client(
                    "sagemaker-runtime",
                    endpoint_url=plane.endpoint_url,
                    region_name=moto.region,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                )
                _invoke_and_compare(runtime, spec, endpoints[0].endpoint_name, requests, say)
                for backend in plane.describe_backends():
                    say(f"backend {backend['endpoint']}/{backend['variant']}: {backend['invocations']} calls, "
                        f"Triton {backend['triton_url']}")

            if keep:
                _wait_for_user(moto.endpoint_url, plane.endpoint_url, endpoints[0].endpoint_name, say)
        finally:
            with steps.step("Tear down (cdk destroy, stop servers)"):
                if deployed_stacks:
                    destroyed = cdk.destroy(*deployed_stacks, from_assembly=True)
                    say(f"cdk destroy {destroyed.duration_s:.1f} s")
                    left = [s["StackName"] for s in clients["cloudformation"].describe_stacks()["Stacks"]
                            if s["StackName"] in deployed_stacks]
                    if left:
                        raise DemoFailure(f"stacks still present after destroy: {left}")
                    say("endpoints left: " + str([e["EndpointName"] for e in clients["sagemaker"].list_endpoints()["Endpoints"]]))
                stack.close()  # data plane (and its Triton servers), then moto
            steps.summary()
    return 0


def _invoke_and_compare(runtime: Any, spec: Any, endpoint_name: str, requests: int, say: Any) -> None:
    seq = int(spec.source.sequence_length)
    tol = spec.tolerance
    worst = 0.0
    say(f"{'req':>3} {'rows':>4} {'tokens':>10}  {'variant':<10} {'ms':>7}  {'prediction (logits)':<34} {'torch':<34} {'max |Δ|':>8}")
    for i in range(requests):
        inputs = tokenized_inputs(batch_size=i + 1, sequence_length=seq, seed=1000 + i)
        started = time.monotonic()
        response = runtime.invoke_endpoint(
            EndpointName=endpoint_name, ContentType="application/json", Body=kserve_request(inputs)
        )
        elapsed_ms = (time.monotonic() - started) * 1000
        got = next(iter(kserve_outputs(response["Body"].read()).values()))
        want = torch_reference(spec, inputs)
        diff = float(np.max(np.abs(got - want)))
        worst = max(worst, diff)
        tokens = ",".join(str(int(n)) for n in inputs["attention_mask"].sum(axis=1))
        first = f"{i:>3} {got.shape[0]:>4} {tokens[:10]:>10}  {response['InvokedProductionVariant']:<10} {elapsed_ms:7.1f}"
        for row in range(got.shape[0]):
            pred = f"{int(np.argmax(got[row]))} {np.array2string(got[row], precision=5)}"
            ref = f"{int(np.argmax(want[row]))} {np.array2string(want[row], precision=5)}"
            lead = first if row == 0 else " " * len(first)  # later rows of the same request line up
            say(f"{lead}  {pred:<34} {ref:<34} {float(np.max(np.abs(got[row] - want[row]))):8.1e}")
        if not np.allclose(got, want, atol=tol.atol, rtol=tol.rtol):
            raise DemoFailure(
                f"request {i}: endpoint and torch differ by {diff:.3e} (tolerance atol={tol.atol}, rtol={tol.rtol})"
            )
    say(f"max |endpoint - torch| = {worst:.2e} (tolerance atol={tol.atol}, rtol={tol.rtol}): OK")


def _wait_for_user(moto_url: str, runtime_url: str, endpoint_name: str, say: Any) -> None:
    say("")
    say("--keep: everything stays up until Ctrl-C. Try:")
    say(f"  export AWS_ENDPOINT_URL={moto_url} AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME={runtime_url}")
    say("  export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1")
    say(f"  aws sagemaker describe-endpoint --endpoint-name {endpoint_name}")
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the demo; exit status 1 (with the reason) when a check fails."""
    parser = argparse.ArgumentParser(prog="python -m rehearsal.demo", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--model", default="bert-tiny", help="model_build example to deploy (default: bert-tiny)")
    parser.add_argument("--keep", action="store_true", help="leave everything running until Ctrl-C")
    parser.add_argument("--port", type=int, default=0, help="data plane port (default: a free port)")
    parser.add_argument("--requests", type=int, default=3, help="invoke_endpoint calls (default: 3)")
    args = parser.parse_args(argv)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        return run(model=args.model, keep=args.keep, port=args.port, requests=args.requests)
    except DemoFailure as exc:
        print(f"\nDEMO FAILED: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
