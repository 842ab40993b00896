"""Cold build vs cached rebuild of bert-tiny and resnet50, measured side by side in one run.

For each model: a cold build into a fresh temporary cache (per-stage seconds), then the
cached rebuild in this process and in a fresh interpreter (what `cdk synth` pays: Python
start-up + imports + manifest read), each as a ratio to the cold build. torch and
transformers are imported once up front and reported separately, so the first model's
"load" stage is not charged for them. Prints only; asserts nothing.

    .venv/bin/python bench/bench_build.py [MODEL ...]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from model_build.examples import get_example
from model_build.pipeline import build

REPO_ROOT = Path(__file__).resolve().parents[1]
STAGES = ("load", "export", "verify", "repository", "package")


def _fresh_process_hit(name: str, cache_dir: str) -> float:
    code = (
        "import time; t = time.perf_counter()\n"
        "from model_build.examples import get_example\n"
        "from model_build.pipeline import build\n"
        f"r = build(get_example({name!r}), cache_dir={cache_dir!r})\n"
        "assert r.cached\n"
        "print(time.perf_counter() - t)\n"
    )
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=REPO_ROOT
    )
    wall = time.perf_counter() - start
    print(f"    fresh-process hit: {float(out.stdout):.3f} s in-script, {wall:.3f} s with interpreter start")
    return wall


def main(names: list[str]) -> None:
    start = time.perf_counter()
    import torch  # noqa: F401
    import transformers  # noqa: F401

    print(
        f"import torch + transformers: {time.perf_counter() - start:.2f} s (once, not in the figures below)"
    )
    header = f"{'model':12s} " + " ".join(f"{s:>10s}" for s in STAGES)
    header += f" {'cold':>8s} {'hit':>9s} {'hit/cold':>9s} {'proc hit':>9s} {'proc/cold':>9s} {'archive':>9s}"
    rows = []
    for name in names:
        with tempfile.TemporaryDirectory(prefix="bench-build-") as cache_dir:
            spec = get_example(name)
            t0 = time.perf_counter()
            cold = build(spec, cache_dir=cache_dir)
            cold_s = time.perf_counter() - t0
            t1 = time.perf_counter()
            hit = build(spec, cache_dir=cache_dir)
            hit_s = time.perf_counter() - t1
            assert hit.cached
            print(f"  {name}: cold {cold_s:.2f} s, in-process hit {hit_s * 1000:.2f} ms")
            proc_s = _fresh_process_hit(name, cache_dir)
            first = cold.manifest["verification"]["outputs"][0]
            rows.append(
                (name, cold.stage_times, cold_s, hit_s, proc_s, cold.manifest["archive"]["size_bytes"], first)
            )
    print()
    print(header)
    for name, stages, cold_s, hit_s, proc_s, size, _ in rows:
        cells = " ".join(f"{stages.get(s, 0.0):10.3f}" for s in STAGES)
        print(
            f"{name:12s} {cells} {cold_s:8.2f} {hit_s * 1000:7.2f}ms {hit_s / cold_s:9.5f} "
            f"{proc_s:8.2f}s {proc_s / cold_s:9.4f} {size / 1e6:7.1f}MB"
        )
    print()
    for name, *_, first in rows:
        print(f"{name}: verification max abs diff ({first['name']}, ORT vs torch) = {first['max_abs_diff']:.2e}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["bert-tiny", "resnet50"])
