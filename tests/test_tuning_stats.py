"""tuning.stats, triton_runtime.kserve and tuning.recommend: the pure parts."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from model_build.profile import MeasuredHardware, Provenance, match_hardware
from model_build.spec import DynamicBatching, TritonOptions
from triton_runtime.kserve import TensorSpec, decode_response, encode, sample_inputs
from tuning.loadgen import LoadResult
from tuning.pricing import load_prices
from tuning.recommend import (
    Candidate,
    Criteria,
    NoConfigurationMeetsTargetError,
    assess,
    recommend,
    to_profile,
)
from tuning.report import render_charts, render_markdown
from tuning.stats import TritonSnapshot, summarize


def test_summary_percentiles_use_linear_interpolation():
    summary = summarize([i / 1000 for i in range(1, 101)], errors=2, duration_s=2.0)
    assert summary.count == 100
    assert summary.throughput_rps == 50.0
    assert summary.p50_ms == pytest.approx(50.5)
    assert summary.p99_ms == pytest.approx(99.01)
    assert summary.max_ms == pytest.approx(100.0)
    assert summary.error_rate == pytest.approx(2 / 102)
    assert summary.percentile_ms(90) == summary.p90_ms


def test_summary_of_nothing_is_nan_not_an_error():
    summary = summarize([], errors=3, duration_s=1.0)
    assert summary.count == 0 and math.isnan(summary.p50_ms) and summary.error_rate == 1.0


def _stats(inference, execution, success, queue_ns, infer_ns):
    return {
        "model_stats": [
            {
                "name": "m",
                "version": "1",
                "inference_count": inference,
                "execution_count": execution,
                "inference_stats": {
                    "success": {"count": success, "ns": 0},
                    "fail": {"count": 0, "ns": 0},
                    "queue": {"count": success, "ns": queue_ns},
                    "compute_input": {"count": success, "ns": 0},
                    "compute_infer": {"count": success, "ns": infer_ns},
                    "compute_output": {"count": success, "ns": 0},
                },
            }
        ]
    }


def test_triton_delta_gives_mean_batch_and_per_request_times():
    before = TritonSnapshot.from_stats(_stats(10, 10, 10, 0, 0), "m")
    after = TritonSnapshot.from_stats(_stats(110, 35, 110, 100 * 2_000_000, 100 * 5_000_000), "m")
    delta = after - before
    assert delta.mean_batch_size == pytest.approx(4.0)
    assert delta.queue_ms == pytest.approx(2.0)
    assert delta.compute_infer_ms == pytest.approx(5.0)
    assert json.dumps(delta.to_dict())


def test_triton_snapshot_for_a_missing_model_is_an_error():
    with pytest.raises(ValueError, match="no statistics"):
        TritonSnapshot.from_stats(_stats(1, 1, 1, 0, 0), "other")


SPECS = [TensorSpec("input_ids", "INT64", (4,)), TensorSpec("attention_mask", "INT64", (4,)), TensorSpec("x", "FP16", (2,))]


def test_sample_inputs_are_deterministic_and_mask_like():
    a = sample_inputs(SPECS, 2, seed=1)
    b = sample_inputs(SPECS, 2, seed=1)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert a["attention_mask"].tolist() == [[1] * 4] * 2
    assert a["input_ids"].shape == (2, 4) and a["input_ids"].dtype == np.int64
    assert a["x"].dtype == np.float16


def test_sample_inputs_refuse_variable_dims():
    with pytest.raises(ValueError, match="variable dimension"):
        sample_inputs([TensorSpec("t", "FP32", (-1,))])


def test_binary_sagemaker_payload_carries_the_header_size_in_the_content_type():
    arrays = sample_inputs(SPECS, 2)
    payload = encode(arrays, encoding="binary", route="sagemaker", outputs=["logits"])
    size = int(payload.content_type.split("json-header-size=")[1])
    assert payload.content_type.startswith("application/vnd.sagemaker-triton.binary+json;")
    header = json.loads(payload.body[:size])
    assert [i["parameters"]["binary_data_size"] for i in header["inputs"]] == [64, 64, 8]
    assert header["outputs"] == [{"name": "logits", "parameters": {"binary_data": True}}]
    assert len(payload.body) == size + 136
    assert payload.batch_size == 2


def test_binary_kserve_payload_uses_the_inference_header_content_length():
    payload = encode(sample_inputs(SPECS[:1]), encoding="binary", route="kserve")
    assert payload.content_type == "application/octet-stream"
    size = int(payload.headers["Inference-Header-Content-Length"])
    assert json.loads(payload.body[:size])["inputs"][0]["shape"] == [1, 4]


def test_decode_reads_binary_and_json_outputs():
    raw = np.arange(4, dtype=np.float32)
    head = json.dumps(
        {"outputs": [{"name": "y", "datatype": "FP32", "shape": [2, 2], "parameters": {"binary_data_size": 16}}]}
    ).encode()
    out = decode_response(head + raw.tobytes(), f"application/vnd.sagemaker-triton.binary+json;json-header-size={len(head)}")
    assert out["y"].tolist() == [[0, 1], [2, 3]]
    as_json = json.dumps({"outputs": [{"name": "y", "datatype": "INT64", "shape": [2], "data": [5, 6]}]}).encode()
    assert decode_response(as_json, "application/json")["y"].tolist() == [5, 6]
    with pytest.raises(ValueError, match="boom"):
        decode_response(b'{"error": "boom"}', "application/json")


def _point(concurrency, rps, p99, errors=0, samples=None):
    lat = summarize(np.full(int(rps), p99 / 1000), errors, 1.0)
    return LoadResult(concurrency, 1, 1, lat, None, None, None, latencies_ms=np.full(5, p99))


def _candidate(name, points, instances=1, batching=None):
    return Candidate(name, TritonOptions(max_batch_size=16, dynamic_batching=batching, instance_count=instances),
                     "ml.g4dn.xlarge", tuple(points))


def test_recommend_picks_the_cheapest_configuration_that_meets_the_target():
    criteria = Criteria(target_per_minute=30_000, latency_target_ms=100, safety_factor=0.7)
    candidates = [
        _candidate("base", [_point(1, 100, 20), _point(4, 150, 60)]),
        # fastest, but its fast point misses the latency target; its sustainable point is 200 req/s
        _candidate("db", [_point(1, 200, 30), _point(16, 900, 400)], batching=DynamicBatching()),
        _candidate("ig", [_point(1, 300, 40), _point(4, 500, 90)], instances=2),
        _candidate("broken", [_point(1, 500, 10, errors=3)]),
    ]
    assessments = assess(candidates, criteria, load_prices())
    assert [a.meets for a in assessments] == [True, True, True, False]
    assert assessments[1].point.concurrency == 1
    assert "without errors" in assessments[3].reason
    chosen = recommend(assessments, criteria)
    assert chosen.candidate.name == "ig"
    # 500 req/s = 30 000/min → seed formula 1 instance; planned at 0.7 → 21 000/min → 2 instances
    assert chosen.seed_sizing.instances == 1
    assert chosen.planned_sizing.instances == 2
    hardware = MeasuredHardware.gpu("Tesla T4", 1)
    profile = to_profile(chosen, model_name="bert-tiny", criteria=criteria, provenance=Provenance(machine="m", date="d"),
                         hardware=hardware, match=match_hardware(hardware, "ml.g4dn.xlarge"))
    assert profile.invocations_per_instance_target == 21_000
    assert profile.initial_instance_count == 2 == chosen.planned_sizing.instances
    assert profile.instance_count == 2 and profile.dynamic_batching is False
    assert profile.hardware == hardware and profile.hardware_translation is None


def test_recommend_without_a_qualifying_configuration_says_why():
    criteria = Criteria(latency_target_ms=1)
    assessments = assess([_candidate("base", [_point(1, 100, 20)])], criteria, load_prices())
    with pytest.raises(NoConfigurationMeetsTargetError, match="base: no concurrency level met p99 <= 1 ms"):
        recommend(assessments, criteria)


def test_report_renders_every_configuration_and_the_charts(tmp_path):
    criteria = Criteria(latency_target_ms=100)
    prices = load_prices()
    assessments = assess(
        [_candidate("base", [_point(1, 100, 20)]), _candidate("db", [_point(1, 200, 300)], batching=DynamicBatching())],
        criteria, prices,
    )
    charts = render_charts(tmp_path, assessments, criteria, prices)
    text = render_markdown(assessments, criteria=criteria, prices=prices, profile=None, meta={"model": "m"}, charts=charts)
    assert all((tmp_path / c).stat().st_size > 0 for c in charts)
    assert "| base |" in text and "| db |" in text
    assert "No configuration met the target" in text
    # the price line cites the instance type's own row: its rate, date and source
    assert "- Price: " in text and "ml.g4dn.xlarge: 0.7364 USD/hour, as of 2022-05" in text


@pytest.mark.parametrize(
    ("hardware", "instance_type", "where"),
    [
        pytest.param(MeasuredHardware.gpu("Tesla T4", 1), "ml.g4dn.xlarge", "2 Triton model instance(s) per GPU", id="gpu"),
        pytest.param(MeasuredHardware.cpu("AMD EPYC", 2), "ml.c5.xlarge", "2 Triton model instance(s) on the CPU", id="cpu"),
    ],
)
def test_report_recommendation_says_where_the_model_instances_run(hardware, instance_type, where):
    # GIVEN a recommended configuration with an instance group of 2, measured on a GPU or on the CPU
    criteria = Criteria(latency_target_ms=100)
    candidate = Candidate("ig", TritonOptions(max_batch_size=16, instance_count=2), instance_type, (_point(1, 100, 20),))
    assessments = assess([candidate], criteria, load_prices())
    chosen = recommend(assessments, criteria)
    profile = to_profile(chosen, model_name="m", criteria=criteria, provenance=Provenance(machine="m", date="d"),
                         hardware=hardware, match=match_hardware(hardware, instance_type))
    # WHEN the report is rendered
    text = render_markdown(assessments, criteria=criteria, prices=load_prices(), profile=profile, meta={"model": "m"}, charts=[])
    # THEN the recommendation places the instance group where it ran (a CPU run has no GPU to be "per")
    assert where in text and ("per GPU" in text) == (hardware.kind == "gpu")
