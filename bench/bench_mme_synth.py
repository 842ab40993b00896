"""Synth of 100 models behind one multi-model endpoint: cold, then a no-op re-synth, against 1 model.

The app is one stack with a ``MultiModelEndpoint`` (under cdk-nag, as ``app.py`` synthesizes)
whose archives are 100 small generated ResNets (resnet-tiny's architecture, 32x32 inputs, seeds
0-99, max batch 8), each built from its spec (``ModelArtifact.from_build``). Each synth runs in
a fresh interpreter, as ``cdk synth`` runs the app:

1. cold: an empty build cache; the app builds every model through ``build_many`` (misses side
   by side in worker processes), then synthesizes;
2. no-op re-synth of the 100-model app (every model a cache hit: nothing builds, torch is not
   imported), into the same output folder;
3. no-op re-synth of the same app with 1 model.

4. the same cold build with one worker (in this process's child, no synth), side by side with
   step 1's two-worker build: what the process pool buys on this machine.

Printed: each figure, the cold build's CPU use in the workers, the one-worker build's time and the
speed-up, whether torch was imported, the load average around the run (the machine may be shared),
and the ratio no-op(100) / no-op(1) (goal: <= 1.5). Prints only; asserts nothing.

    .venv/bin/python bench/bench_mme_synth.py [--models 100]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def specs(count: int) -> list:  # type: ignore[type-arg]
    """The generated models: resnet-tiny's architecture with seed ``i``, 32x32 inputs, max batch 8."""
    from dataclasses import replace

    from model_build.examples import get_example

    base = get_example("resnet-tiny")
    return [
        replace(
            base,
            name=f"mme-resnet-{index:03d}",
            source=replace(base.source, seed=index, image_size=32),
            triton=replace(base.triton, max_batch_size=8),
        )
        for index in range(count)
    ]


def synth(count: int, cache_dir: str, outdir: str) -> dict[str, object]:
    """Build (through build_many) and synthesize the app with ``count`` models; return the figures."""
    start = time.perf_counter()
    import resource

    from aws_cdk import App, Stack, Validations
    from cdk_nag import AwsSolutionsChecks

    from model_build.parallel import build_many
    from serving_constructs import ModelArtifact

    try:
        from serving_constructs.multi_model import MultiModelEndpoint
    except ImportError:  # before the multi-model endpoint existed: the prefix alone
        MultiModelEndpoint = None

    from serving_constructs import ModelPrefix

    imported = time.perf_counter()
    models = specs(count)
    built = build_many(models, cache_dir=cache_dir)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    after_build = time.perf_counter()
    app = App(outdir=outdir)
    stack = Stack(app, "MmeSynthBench")
    if MultiModelEndpoint is not None:
        endpoint = MultiModelEndpoint(stack, "Endpoint")
        add = endpoint.add_model
    else:
        add = ModelPrefix(stack, "Models").add_archive
    for spec in models:
        add(f"{spec.name}.tar.gz", ModelArtifact.from_build(spec, cache_dir=cache_dir))
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()
    done = time.perf_counter()
    return {
        "models": count,
        "imports_s": imported - start,
        "build_s": after_build - imported,
        "build_worker_cpu_s": children.ru_utime + children.ru_stime,
        "built": sum(not result.cached for result in built.values()),
        "construct_and_synth_s": done - after_build,
        "torch_imported": "torch" in sys.modules,
        "endpoint": "MultiModelEndpoint" if MultiModelEndpoint is not None else "ModelPrefix",
        "resources": len(json.loads((Path(outdir) / "MmeSynthBench.template.json").read_text())["Resources"]),
    }


def _run(count: int, cache_dir: str, outdir: str) -> dict[str, object]:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
           "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1"}  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--one", str(count), cache_dir, outdir],
        check=True, capture_output=True, text=True, cwd=REPO_ROOT, env=env,
    )  # fmt: skip
    figures: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["wall_s"] = time.perf_counter() - start
    return figures


def _show(label: str, figures: dict[str, object]) -> None:
    print(
        f"{label:28s} {figures['wall_s']:7.1f} s wall (imports {figures['imports_s']:.1f} s, build_many "
        f"{figures['build_s']:.1f} s for {figures['built']} built, constructs+synth "
        f"{figures['construct_and_synth_s']:.1f} s); torch imported: {figures['torch_imported']}; "
        f"{figures['resources']} resources"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--one", nargs=3, metavar=("COUNT", "CACHE_DIR", "OUTDIR"), help=argparse.SUPPRESS)
    parser.add_argument("--serial-build", nargs=2, metavar=("COUNT", "CACHE_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(synth(int(args.one[0]), args.one[1], args.one[2])))
        return
    if args.serial_build:
        from model_build.parallel import build_many

        start = time.perf_counter()
        built = build_many(specs(int(args.serial_build[0])), cache_dir=args.serial_build[1], workers=1)
        assert not any(result.cached for result in built.values())
        print(json.dumps({"build_s": time.perf_counter() - start}))
        return
    load_before = os.getloadavg()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="bench-mme-") as folder:
        cache_dir, many_out, one_out = (str(Path(folder) / name) for name in ("cache", "out-many", "out-one"))
        cold = _run(args.models, cache_dir, many_out)
        many = _run(args.models, cache_dir, many_out)
        # The 1-model app's output folder is synthesized once first, as the 100-model one was.
        _run(1, cache_dir, one_out)
        one = _run(1, cache_dir, one_out)
        serial = subprocess.run(
            [sys.executable, __file__, "--serial-build", str(args.models), str(Path(folder) / "serial-cache")],
            check=True, capture_output=True, text=True, cwd=REPO_ROOT,
        )  # fmt: skip
        serial_s = float(json.loads(serial.stdout.strip().splitlines()[-1])["build_s"])
    print(
        f"{args.models} generated models behind one {cold['endpoint']}, {cores} CPUs, each synth in a fresh interpreter"
    )
    _show(f"cold ({args.models} models)", cold)
    busy = float(cold["build_worker_cpu_s"]) / float(cold["build_s"]) if cold["build_s"] else 0.0
    print(f"{'':28s} cold build: {cold['build_worker_cpu_s']:.1f} s CPU in workers over {cold['build_s']:.1f} s "
          f"= {busy:.2f} of {cores} cores busy on average")  # fmt: skip
    print(f"{'':28s} the same cold build with 1 worker: {serial_s:.1f} s; 2 workers are "
          f"{serial_s / float(cold['build_s']):.2f}x faster")  # fmt: skip
    _show(f"no-op re-synth ({args.models})", many)
    _show("no-op re-synth (1)", one)
    ratio = float(many["wall_s"]) / float(one["wall_s"])
    print(f"ratio no-op({args.models}) / no-op(1): {ratio:.2f} (goal <= 1.5)")
    print(f"load average (1, 5, 15 min) before: {', '.join(f'{x:.1f}' for x in load_before)}; after: "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip


if __name__ == "__main__":
    main()
