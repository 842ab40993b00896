"""rehearsal.pipeline: the CI/CD pipeline's stages run locally, from the pipeline object (real moto, CDK CLI, Triton).

One emulator and one data plane (one Triton per endpoint) serve both runs of the module, as
``make pipeline-rehearsal`` and ``make pipeline-rehearsal BROKEN=1`` would, with the smallest app
(bert-tiny real-time only: ``--async-model none --mme-models none``):

- the good run deploys Staging, passes its smoke test (the step's own command, env from the
  deployed outputs), runs the permissions check and the approval, deploys Production and passes
  its smoke test;
- the broken run (a model whose Triton config accepts inputs its graph cannot reshape, built by
  model_build) deploys Staging, whose smoke test fails for real in ONNX Runtime and stops the
  promotion: Production's stacks do not exist in the emulator.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
import pytest

from rehearsal.cdk_cli import PROJECT_ROOT
from rehearsal.pipeline import (
    PipelineOptions,
    PromotionStopped,
    Services,
    plan_of,
    preflight,
    run,
    synthesize,
)

SMALL = ["--async-model", "none", "--mme-models", "none"]


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    from rehearsal.data_plane import LocalDataPlane
    from rehearsal.moto_server import MotoServer

    with MotoServer() as moto, LocalDataPlane(moto.endpoint_url, work_dir=tmp_path_factory.mktemp("plane")) as plane:
        yield Services(moto, plane)


class Recorded:
    """The app's synthesis, recording the pipeline object the run walked."""

    def __init__(self) -> None:
        self.pipeline: Any = None

    def __call__(self, context: Mapping[str, str], outdir: Path) -> tuple[Any, Path]:
        self.pipeline, assembly = synthesize(context, outdir)
        return self.pipeline, assembly


def _stacks(services: Services) -> dict[str, str]:
    cloudformation = boto3.client("cloudformation", **services.moto.boto3_kwargs())
    return {s["StackName"]: s["StackStatus"] for s in cloudformation.describe_stacks()["Stacks"]}


@pytest.mark.slow
def test_the_good_run_deploys_both_stages_and_both_smoke_tests_pass(services: Services) -> None:
    # GIVEN `make pipeline-rehearsal` with the smallest app
    options = preflight(SMALL)
    out = io.StringIO()
    recorded = Recorded()

    # WHEN the pipeline's stages run
    status = run(options, out=out, services=services, synthesize_app=recorded)

    # THEN every stage passed, in the pipeline's order, and both stages' stacks are deployed
    output = out.getvalue()
    assert status == 0, output[-6000:]
    plan = plan_of(recorded.pipeline)
    assert [stage.name for stage in plan.stages] == ["Staging", "Production"]
    stacks = _stacks(services)
    for stage in plan.stages:
        for stack in stage.stacks:
            assert stacks[stack.name] == "CREATE_COMPLETE"
    # THEN each smoke test ran the step's own command, with the deployed stack's outputs
    staging, production = plan.stages
    for stage in (staging, production):
        (stack,) = stage.stacks
        (smoke,) = stack.post
        assert smoke.env_from_outputs["ENDPOINT_NAME"] == (stack.name, "EndpointName")
        assert f"■ {stage.name}: {smoke.step_id} of {stack.name} (CodeBuildStep: the step's own commands): ok" in output
        assert f"ENDPOINT_NAME={stack.name}-Endpoint" in output
    assert output.count("python -m operations check: all checks passed") == 2
    # THEN the endpoints of both stages answered real Triton
    served = {b["endpoint"]: b["invocations"] for b in services.plane.describe_backends()}
    for stage in (staging, production):
        endpoint = next(name for name in served if name.startswith(f"{stage.stacks[0].name}-Endpoint"))
        assert served[endpoint] >= 1
    # THEN the permissions check ran before the approval, whose comment (the pipeline's) was printed
    approval = recorded.pipeline.waves[1].stages[0].pre[1]
    assert f"comment: {approval.comment}" in output
    check, approve = output.index("▶ Production: CheckPermissionsBroadening"), output.index("▶ Production: ApproveProduction")
    assert check < approve < output.index(f"▶ deploy Production: {production.stacks[0].name}")
    # THEN one line per stage with its wall time, and the summary table
    assert "Pipeline stages" in output
    summary = output.split("Pipeline stages")[1]
    for title in ("synth", "deploy Staging", "Staging: SmokeTest", "deploy Production", "Production: SmokeTest"):
        assert re.search(rf"^ +\d+\.\d  ok +{re.escape(title)}", summary, re.MULTILINE), title


@pytest.mark.slow
def test_the_broken_model_stops_the_promotion_before_production(services: Services) -> None:
    # GIVEN `make pipeline-rehearsal BROKEN=1`: the real-time model is the broken one
    options = preflight(["--broken-model", *SMALL])
    assert options == PipelineOptions(
        model=str(PROJECT_ROOT / "rehearsal" / "broken_model" / "window.toml"),
        async_model="none",
        mme_models="none",
        broken=True,
    )
    out = io.StringIO()

    # WHEN the pipeline's stages run
    with pytest.raises(PromotionStopped) as stopped:
        run(options, out=out, services=services)

    # THEN the message names the stage, the stack, the endpoint, what failed and what to do
    message = str(stopped.value)
    stack = "Staging-TritonRealtime-broken-window"
    assert message.startswith(f"stage Staging, stack {stack}, endpoint {stack}-Endpoint"), message
    assert "the smoke test SmokeTest-TritonRealtime-broken-window failed (exit status 1)" in message
    assert "FAIL  endpoint" in message and "The input tensor cannot be reshaped" in message
    assert "the stages after Staging were not deployed" in message
    assert "What to do: the endpoint deployed, but the check above failed on it" in message
    # THEN Staging was deployed, Production was not: its stacks do not exist in the emulator
    stacks = _stacks(services)
    assert stacks[stack] == "CREATE_COMPLETE"
    assert "Production-TritonRealtime-broken-window" not in stacks
    output = out.getvalue()
    assert "▷ deploy Production: not run (the Staging smoke test stopped the promotion)" in output
    assert "▶ Production" not in output and "▶ deploy Production" not in output  # no Production step started


@pytest.mark.slow
def test_sigterm_during_synth_stops_everything_the_run_started(tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    import psutil

    # GIVEN `make pipeline-rehearsal` started in a process of its own
    proc = subprocess.Popen(
        [sys.executable, "-m", "rehearsal.pipeline", *SMALL],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    lines: list[str] = []
    try:
        # WHEN SIGTERM arrives while the app is being synthesized (moto and the data plane are up)
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("▶ synth"):
                break
        started = [p for p in psutil.Process(proc.pid).children(recursive=True)]
        assert started, "".join(lines)
        time.sleep(1)
        proc.send_signal(signal.SIGTERM)
        output = "".join(lines) + proc.stdout.read()
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    # THEN it exits 128 + SIGTERM after saying so, with the stage table, and nothing it started is left
    assert code == 128 + signal.SIGTERM, output[-3000:]
    assert "■ synth: the app with the pipeline context (the synth step's cdk synth): stopped by SIGTERM" in output
    assert "Pipeline stages" in output
    assert not [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(("rehearsal-pipeline-", "moto-server-"))]


def test_the_emulator_names_sagemaker_resources_of_a_stage_within_63_characters() -> None:
    from moto.cloudformation.parsing import generate_resource_name

    from rehearsal.moto_extensions import _capped_resource_name

    generate = _capped_resource_name(generate_resource_name)
    # GIVEN a stack of a pipeline stage, whose generated names moto makes longer than SageMaker allows
    stack, logical = "Staging-TritonMultiModel-resnet-tiny", "EndpointEndpointConfig5871F635"
    # WHEN SageMaker resources get their names  THEN they fit in 63 characters, the random suffix kept
    for resource_type in ("AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint", "AWS::SageMaker::Model"):
        name = generate(resource_type, stack, logical)
        assert len(name) == 63 and name.startswith("Staging-TritonMultiModel-resnet-tiny-Endpoint"), name
        assert re.fullmatch(r"[A-Za-z0-9](-*[A-Za-z0-9])*", name), name
    # THEN short names and other types are moto's own
    assert len(generate("AWS::SageMaker::Endpoint", "S", "Endpoint")) == len("S-Endpoint-") + 12
    assert len(generate("AWS::SNS::Topic", stack, logical)) == len(stack) + len(logical) + 2 + 12
