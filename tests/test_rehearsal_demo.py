"""rehearsal.demo: `make demo` end to end, so it cannot rot (real moto, CDK CLI, Triton, torch)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rehearsal.cdk_cli import PROJECT_ROOT
from rehearsal.demo import PAD_ID, kserve_outputs, kserve_request, tokenized_inputs


@pytest.mark.slow
@pytest.mark.skipif(not (PROJECT_ROOT / "app.py").is_file(), reason="the CDK app (app.py) is not there yet")
def test_demo_runs_end_to_end_and_tears_everything_down() -> None:
    # WHEN the demo runs as `make demo` runs it
    proc = subprocess.run(
        [sys.executable, "-m", "rehearsal.demo", "--requests", "2"],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = proc.stdout + proc.stderr
    # THEN it succeeds, and each promised step shows in its output
    assert proc.returncode == 0, output[-6000:]
    assert "stacks with differences: 0" in output
    assert "AWS::ApplicationAutoScaling::ScalableTarget" in output  # what moto skipped is printed
    assert "max |endpoint - torch|" in output and ": OK" in output
    assert "endpoints left: []" in output
    assert "total" in output.split("Timings")[-1]


def test_tokenized_inputs_look_like_a_tokenizers_output() -> None:
    inputs = tokenized_inputs(batch_size=4, sequence_length=32, seed=0)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    assert ids.shape == mask.shape == (4, 32) and ids.dtype == mask.dtype == np.int64
    for row_ids, row_mask in zip(ids, mask, strict=True):
        n = int(row_mask.sum())
        assert row_ids[0] == 101 and row_ids[n - 1] == 102  # [CLS] … [SEP]
        assert (row_ids[n:] == PAD_ID).all() and (row_mask[:n] == 1).all()
    # seeded: the same seed gives the same inputs
    np.testing.assert_array_equal(ids, tokenized_inputs(batch_size=4, sequence_length=32, seed=0)["input_ids"])


def test_kserve_round_trip_shapes() -> None:
    body = kserve_request({"input_ids": np.arange(6, dtype=np.int64).reshape(2, 3)})
    assert json.loads(body) == {
        "inputs": [{"name": "input_ids", "shape": [2, 3], "datatype": "INT64", "data": [0, 1, 2, 3, 4, 5]}]
    }
    out = kserve_outputs(b'{"outputs":[{"name":"logits","datatype":"FP32","shape":[2,2],"data":[1,2,3,4]}]}')
    np.testing.assert_array_equal(out["logits"], [[1, 2], [3, 4]])
