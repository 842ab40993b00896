"""pegasus-tiny with 8 and 16 summary tokens, side by side in one run: why the example decodes 8.

For each length: a cold build into a fresh cache, after one untimed build of each length (the first
export in a process pays one-off initialisation that would otherwise be charged to whichever length
goes first), then ONNX Runtime (2 threads) on the built ``model.onnx``: session creation (what
Triton pays at every model load, so at every start from zero) and the median of 10 calls at batch 1
and batch 8. Prints only; asserts nothing.

    .venv/bin/python bench/bench_summary_length.py
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
import time

import numpy as np


def main() -> None:
    import onnxruntime as ort
    import torch  # noqa: F401 - imported once up front, not charged to the first build
    import transformers  # noqa: F401

    from model_build.examples import get_example
    from model_build.pipeline import build
    from rehearsal.reference import ModelReference

    base = get_example("pegasus-tiny")
    for tokens in (8, 16):  # untimed: warms the exporter and the allocators for both lengths alike
        with tempfile.TemporaryDirectory(prefix="bench-summary-") as cache:
            build(dataclasses.replace(base, source=dataclasses.replace(base.source, max_new_tokens=tokens)), cache_dir=cache)
    print(f"{'tokens':>6} {'nodes':>6} {'cold build':>10} {'session':>8} {'batch 1':>8} {'batch 8':>8}")
    for tokens in (8, 16):
        spec = dataclasses.replace(base, source=dataclasses.replace(base.source, max_new_tokens=tokens))
        with tempfile.TemporaryDirectory(prefix="bench-summary-") as cache:
            started = time.perf_counter()
            built = build(spec, cache_dir=cache)
            cold_s = time.perf_counter() - started
            onnx_path = next(built.repository_dir.rglob("model.onnx"))
            import onnx

            nodes = len(onnx.load(str(onnx_path), load_external_data=False).graph.node)
            options = ort.SessionOptions()
            options.intra_op_num_threads = 2
            sessions = []
            for _ in range(3):
                t = time.perf_counter()
                session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
                sessions.append(time.perf_counter() - t)
            reference = ModelReference(spec, built.manifest)
            medians = []
            for batch in (1, 8):
                feed = {k: np.asarray(v) for k, v in reference.inputs(batch_size=batch, seed=7).items()}
                session.run(None, feed)
                runs = []
                for _ in range(10):
                    t = time.perf_counter()
                    session.run(None, feed)
                    runs.append(time.perf_counter() - t)
                medians.append(statistics.median(runs) * 1000)
            print(
                f"{tokens:>6} {nodes:>6} {cold_s:>9.1f}s {min(sessions):>5.1f}-{max(sessions):.1f}s "
                f"{medians[0]:>6.0f}ms {medians[1]:>6.0f}ms",
                flush=True,
            )


if __name__ == "__main__":
    main()
