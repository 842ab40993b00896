"""tuning.matrix end to end on the real Triton: payload encodings, the smoke matrix, the profile.

Nothing here asserts a speed: the smoke checks that the report is complete and sane.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model_build.examples import get_example
from model_build.local_serving import make_local_repository
from model_build.pipeline import build
from model_build.profile import TuningProfile
from triton_runtime.kserve import encode, sample_inputs
from triton_runtime.server import TritonServer
from tuning.loadgen import probe, run_fixed
from tuning.matrix import DEFAULT_CPU_INSTANCE_TYPE, input_specs, smoke_configurations
from tuning.transports import HttpTransport

ROOT = Path(__file__).resolve().parents[1]
#: The smoke matrix's configurations the report test measures (one of each kind of knob; see the test).
SMOKE_SUBSET = ("base", "ig-db", "db-p16-d100")


@pytest.fixture(scope="module")
def bert_tiny(tmp_path_factory):
    spec = get_example("bert-tiny")
    built = build(spec)
    local = make_local_repository(built.repository_dir, tmp_path_factory.mktemp("repo") / "local", instance_kind="KIND_CPU")
    with TritonServer(local, default_model=spec.name) as server:
        yield spec, built, server


def _reference(built, arrays):
    import onnxruntime as ort

    session = ort.InferenceSession(str(built.repository_dir / built.name / "1" / "model.onnx"))
    return session.run(["logits"], arrays)[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("encoding", "route"), [("json", "sagemaker"), ("binary", "sagemaker"), ("binary", "kserve"), ("json", "kserve")]
)
def test_every_encoding_returns_the_models_answer(bert_tiny, encoding, route):
    # GIVEN the same batch of 3 sequences, encoded one way
    spec, built, server = bert_tiny
    arrays = sample_inputs(input_specs(built.manifest), batch_size=3, seed=7)
    payload = encode(arrays, encoding=encoding, route=route, outputs=["logits"])
    transport = (
        HttpTransport.sagemaker(server.sagemaker_url)
        if route == "sagemaker"
        else HttpTransport.kserve(server.http_url, spec.name)
    )
    # WHEN it goes through Triton
    outputs = probe(transport, payload)
    # THEN the logits are ONNX Runtime's on the same model (a wrong-data regression fails here)
    np.testing.assert_allclose(outputs["logits"], _reference(built, arrays), atol=1e-4, rtol=1e-3)


@pytest.mark.slow
def test_fixed_run_reads_tritons_statistics(bert_tiny):
    spec, built, server = bert_tiny
    payload = encode(sample_inputs(input_specs(built.manifest)), encoding="binary", outputs=["logits"])
    result = run_fixed(
        HttpTransport.sagemaker(server.sagemaker_url), payload, concurrency=2, duration_s=1.0, warmup_s=0.3,
        triton_http_url=server.http_url, model=spec.name,
    )
    assert result.latency.count > 0 and result.latency.errors == 0
    assert result.triton is not None
    # Triton counted at least the requests the client saw complete in the window (edges differ slightly)
    assert result.triton.success_count > 0
    assert result.triton.mean_batch_size == pytest.approx(1.0)  # base config: no batching
    assert result.triton.compute_ms > 0
    assert result.gpu_util_percent is None  # no GPU on this machine → reported as n/a


def _table(report: str, heading: str) -> list[dict[str, str]]:
    """The first markdown table after ``heading``, as dicts keyed by its header."""
    lines: list[str] = []
    for line in report.split(heading, 1)[1].splitlines():
        if line.startswith("|"):
            lines.append(line)
        elif lines:
            break
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(header, [c.strip() for c in line.strip("|").split("|")], strict=True)) for line in lines[2:]]


@pytest.mark.slow
def test_smoke_matrix_writes_a_complete_sane_report(tmp_path):
    # GIVEN the quick CPU matrix, as `make bench-smoke` runs it, on three of its six configurations (`base`,
    # which the report compares every other one with; two instances with dynamic batching; preferred batch
    # sizes with a queue delay: every knob the other three turn) and with shorter windows (0.5 s, 0.25 s
    # warmup): every level, report column, chart and the profile are still produced and checked; only the
    # figures are noisier
    out = tmp_path / "smoke"
    expected = [c.name for c in smoke_configurations(get_example("bert-tiny").triton)
                if c.name in SMOKE_SUBSET]  # fmt: skip
    assert len(expected) == len(SMOKE_SUBSET)
    proc = subprocess.run(
        [sys.executable, "-m", "tuning", "matrix", "--smoke", "--out", str(out), "--configs", ",".join(expected),
         "--duration", "0.5", "--warmup", "0.25"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    # THEN the last line is the results folder
    assert Path(proc.stdout.strip().splitlines()[-1]) == out.resolve()
    for name in ("report.md", "results.json", "profile.json", "throughput.png", "cost.png", "latency.png", "sweep.png"):
        assert (out / name).stat().st_size > 0, name

    # every configuration has a row, with requests, no errors and ordered percentiles
    results = json.loads((out / "results.json").read_text())
    assert [c["configuration"] for c in results["configurations"]] == expected
    for configuration in results["configurations"]:
        assert configuration["points"], configuration["configuration"]
        for point in configuration["points"]:
            lat = point["latency"]
            assert lat["count"] > 0
            assert lat["errors"] == 0 and lat["error_rate"] == 0
            assert lat["p50_ms"] <= lat["p90_ms"] <= lat["p99_ms"]
            assert point["triton"]["mean_batch_size"] >= 1
    report = (out / "report.md").read_text()
    measured = _table(report, "## Measured")
    assert [r["configuration"] for r in measured] == expected
    for row in measured:
        assert float(row["req/s"].replace(",", "")) > 0
        assert row["errors"] == "0"
        assert float(row["p50 ms"].replace(",", "")) <= float(row["p99 ms"].replace(",", ""))
    derived = _table(report, "## Derived")
    assert [r["configuration"] for r in derived] == expected
    assert all(re.fullmatch(r"\d+", r["instances (seed formula)"]) for r in derived if r["instances (seed formula)"] != "n/a")
    for chart in ("throughput.png", "cost.png", "latency.png", "sweep.png"):
        assert f"({chart})" in report
    # a CPU measurement is sized as a CPU instance type, priced from its own row, and the report says both
    assert {r["instance type"] for r in derived} == {DEFAULT_CPU_INSTANCE_TYPE}
    assert "- Hardware: Measured on CPU only (" in report and "CPU model and core count are not compared" in report
    assert f"{DEFAULT_CPU_INSTANCE_TYPE}: 0.204 USD/hour, as of" in report and "THIRD-PARTY" in report
    assert results["meta"]["hardware"]["kind"] == "cpu"

    # the recommendation is a valid profile that records the machine it was measured on and applies to the spec
    profile = TuningProfile.load(out / "profile.json")
    assert (profile.hardware.kind, profile.hardware.cpu_cores, profile.hardware.derived_from) == ("cpu", os.cpu_count(), "")
    assert profile.hardware.cpu_model and profile.instance_type == DEFAULT_CPU_INSTANCE_TYPE
    assert profile.check_instance_type().scale == 1
    assert profile.configuration in expected
    assert profile.configuration == results["recommended"]
    tuned = profile.apply_to(get_example("bert-tiny"))
    tuned.validate()
    assert tuned.triton.instance_count == profile.instance_count
    assert profile.invocations_per_instance_target == TuningProfile.scaling_target(
        profile.measured.invocations_per_minute, profile.safety_factor
    )
