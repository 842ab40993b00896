"""``python -m tuning compare``: two measured profiles sized for one load, cost per 1M and p99 side by side.

The GPU side is the project's real H100 reference profile. There is no Inferentia hardware here, so
the inf2 side is a SYNTHETIC test input (the H100 profile re-labelled as measured on one Inferentia2
with other figures): it checks the arithmetic and the wiring, and says nothing about inf2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuning.cli import main
from tuning.compare import SEED_003_REFERENCE

ROOT = Path(__file__).resolve().parents[1]
H100_PROFILE = str(ROOT / "bench/reference/gpu-h100-profile.json")


@pytest.fixture(scope="module")
def inf2_profile(tmp_path_factory: pytest.TempPathFactory) -> str:
    data = json.loads(Path(H100_PROFILE).read_text())
    data.update(
        schema_version=2,
        instance_type="ml.inf2.xlarge",
        hardware={"kind": "inferentia", "accelerator": "AWS Inferentia2", "accelerator_count": 1},
    )
    data["measured"].update(invocations_per_minute=120000.0, throughput_rps=2000.0, p50_ms=30.0, p90_ms=40.0, p99_ms=52.0)
    data["invocations_per_instance_target"] = 84000
    data["provenance"]["notes"] = "SYNTHETIC test input for tests/test_tuning_compare.py, not a measurement"
    path = tmp_path_factory.mktemp("compare") / "inf2.json"
    path.write_text(json.dumps(data))
    return str(path)


def _json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_compare_sizes_each_side_as_size_does_and_reports_the_change(
    inf2_profile: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a GPU profile sized on ml.p5.48xlarge and an inf2 one on ml.inf2.xlarge
    types = ["--instance-type", "ml.p5.48xlarge", "--instance-type", "ml.inf2.xlarge"]
    # WHEN compared (JSON) and each sized alone with `size` for the same load
    report = _json(["compare", "--profile", H100_PROFILE, "--profile", inf2_profile, *types, "--json"], capsys)
    alone = [
        _json(["size", "--profile", path, "--instance-type", t, "--target-per-minute", "30000", "--safety-factor", "0.7"], capsys)
        for path, t in ((H100_PROFILE, "ml.p5.48xlarge"), (inf2_profile, "ml.inf2.xlarge"))
    ]
    # THEN each side's cost is `size`'s planned figure, for the first profile's target and safety factor
    assert report["target_per_minute"] == 30000 and report["safety_factor"] == 0.7
    for side, sized in zip((report["first"], report["second"]), alone, strict=True):
        assert side["cost_per_million_at_target"] == sized["planned"]["cost_per_million_at_target"]
        assert side["cost_per_million_at_capacity"] == sized["planned"]["cost_per_million_at_capacity"]
        assert side["instances"] == sized["planned"]["instances"]
        assert side["price"] == sized["price"]
    # AND p99 is each profile's measured p99, the change is second / first - 1, beside seed 003's line
    assert (report["first"]["p99_ms"], report["second"]["p99_ms"]) == (69.14, 52.0)
    change = report["change_second_vs_first"]
    assert change["p99_ms"] == pytest.approx(52.0 / 69.14 - 1)
    a, b = report["first"]["cost_per_million_at_target"], report["second"]["cost_per_million_at_target"]
    assert change["cost_per_million_at_target"] == pytest.approx(b / a - 1)
    assert report["reference"] == {"cost_change": -0.6, "p99_change": -0.25, "text": SEED_003_REFERENCE}
    assert report["same_model"] is True and report["second"]["hardware"] == "1 x AWS Inferentia2"


def test_compare_prints_the_table_side_by_side(inf2_profile: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["compare", "--profile", H100_PROFILE, "--profile", inf2_profile, "--instance-type", "ml.p5.48xlarge",
            "--instance-type", "ml.inf2.xlarge", "--target-per-minute", "60000"]  # fmt: skip
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split("  ")[0]: line for line in lines}
    assert rows["instance type"].split() == ["instance", "type", "ml.p5.48xlarge", "ml.inf2.xlarge"]
    assert rows["p99 ms (measured)"].split()[-4:] == ["69.14", "52", "-24.8", "%"]
    assert "USD per 1M at target" in rows and rows["USD per 1M at target"].endswith("%")
    assert rows["reference"].endswith(SEED_003_REFERENCE)
    assert lines[-1].startswith("target 60000 invocations/minute, safety factor 0.7")
