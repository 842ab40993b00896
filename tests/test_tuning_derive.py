"""Seed 000's derived table, reproduced from its own numbers (section 4.2 and 4.3)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model_build.profile import MeasuredHardware, TuningProfile, match_hardware
from model_build.spec import TritonOptions
from model_build.user_errors import UserError
from tuning.cli import main
from tuning.derive import PricingBasis, instances_needed, invocations_per_minute, size
from tuning.loadgen import LoadResult
from tuning.matrix import default_instance_type
from tuning.pricing import DEFAULT_PRICES, PriceError, load_prices
from tuning.recommend import Candidate, Criteria, assess, recommend
from tuning.stats import summarize

ROOT = Path(__file__).resolve().parents[1]

# (config, instance type, initial instance count, invocations/min/instance, cost/hour), seed 000 §4.2.
SEED_ROWS = [
    ("pt-base", "ml.g4dn.xlarge", 62, 490, 45.6568),
    ("pt-db", "ml.g4dn.xlarge", 57, 529, 41.9748),
    ("pt-ig", "ml.g4dn.xlarge", 34, 906, 25.0376),
    ("pt-ig-db", "ml.g4dn.xlarge", 34, 892, 25.0376),
    ("trt-base", "ml.g4dn.xlarge", 47, 643, 34.6108),
    ("trt-db", "ml.g4dn.xlarge", 28, 1078, 20.6192),
    ("trt-ig", "ml.g4dn.xlarge", 14, 2202, 10.3096),
    ("trt-db-ig", "ml.g4dn.xlarge", 10, 3192, 7.364),
    ("pt-base", "ml.g4dn.2xlarge", 56, 544, 52.64),
    ("pt-db", "ml.g4dn.2xlarge", 59, 517, 55.46),
    ("pt-ig", "ml.g4dn.2xlarge", 29, 1054, 27.26),
    ("pt-ig-db", "ml.g4dn.2xlarge", 30, 1017, 28.2),
    ("trt-base", "ml.g4dn.2xlarge", 42, 718, 39.48),
    ("trt-db", "ml.g4dn.2xlarge", 23, 1335, 21.62),
    ("trt-ig", "ml.g4dn.2xlarge", 23, 1363, 21.62),
    ("trt-db-ig", "ml.g4dn.2xlarge", 22, 1369, 20.68),
    ("pt-base", "ml.g4dn.12xlarge", 15, 2138, 73.35),
    ("pt-db", "ml.g4dn.12xlarge", 15, 2110, 73.35),
    ("pt-ig", "ml.g4dn.12xlarge", 8, 3862, 39.12),
    ("pt-ig-db", "ml.g4dn.12xlarge", 8, 3822, 39.12),
    ("trt-base", "ml.g4dn.12xlarge", 11, 2892, 53.79),
    ("trt-db", "ml.g4dn.12xlarge", 6, 5356, 29.34),
    ("trt-ig", "ml.g4dn.12xlarge", 6, 5210, 29.34),
    ("trt-db-ig", "ml.g4dn.12xlarge", 6, 5235, 29.34),
]

# Seed 000 §4.3: derived cost per 1M inferences at the 30 000/min target, same row order.
SEED_COST_PER_MILLION = [
    25.36, 23.32, 13.91, 13.91, 19.23, 11.46, 5.73, 4.09,
    29.24, 30.81, 15.14, 15.67, 21.93, 12.01, 12.01, 11.49,
    40.75, 40.75, 21.73, 21.73, 29.88, 16.30, 16.30, 16.30,
]


def test_seed_table_has_24_rows():
    assert len(SEED_ROWS) == 24 == len(SEED_COST_PER_MILLION)


@pytest.mark.parametrize(("row", "per_million"), list(zip(SEED_ROWS, SEED_COST_PER_MILLION, strict=True)))
def test_derive_reproduces_every_seed_row(row, per_million):
    # GIVEN a seed row's measured invocations per minute per instance
    config, instance_type, count, ipm, cost = row
    # WHEN it is sized for 30 000 invocations per minute at the implied prices
    sizing = size(config, instance_type, ipm, load_prices())
    # THEN the instance count, cost per hour and cost per 1M inferences are the seed's
    assert sizing.instances == count
    assert sizing.cost_per_hour == pytest.approx(cost, abs=1e-9)
    assert sizing.cost_per_million_at_target == pytest.approx(per_million, abs=0.005)


def test_cheapest_seed_row_is_trt_db_ig_on_xlarge():
    prices = load_prices()
    sized = [size(c, t, ipm, prices) for c, t, _, ipm, _ in SEED_ROWS]
    cheapest = min(sized, key=lambda s: s.cost_per_hour)
    assert (cheapest.configuration, cheapest.instance_type, cheapest.instances) == ("trt-db-ig", "ml.g4dn.xlarge", 10)


def test_instances_needed_does_not_round_an_exact_quotient_up():
    assert instances_needed(30_000, 500.0) == 60
    assert instances_needed(30_000, 30_000 / 7) == 7


def test_instances_needed_with_safety_factor_plans_on_the_rounded_down_target():
    # 1000/min * 0.7 = 700/min per instance → ceil(30000/700) = 43
    assert instances_needed(30_000, 1000, 0.7) == 43


@pytest.mark.parametrize(("ipm", "factor", "match"), [(0, 1.0, "per_instance"), (10, 0.0, "safety_factor"), (10, 1.5, "safety_factor")])
def test_instances_needed_rejects_bad_inputs(ipm, factor, match):
    with pytest.raises(ValueError, match=match):
        instances_needed(30_000, ipm, factor)


def test_invocations_per_minute_is_rps_times_60():
    assert invocations_per_minute(8.5) == pytest.approx(510.0)


def test_price_file_rows_each_carry_their_source_and_date():
    # GIVEN the shipped price table
    prices = load_prices()
    data = json.loads(DEFAULT_PRICES.read_text())
    # THEN every row names a declared source and a date, and third-party sources say so
    assert data["offer"] == "Amazon SageMaker real-time inference (hosting), on-demand" and data["region"] == "us-east-1"
    for instance_type, row in prices.rows.items():
        assert row.source.id in data["sources"] and row.as_of.strip(), instance_type
        assert row.source.third_party == data["sources"][row.source.id]["third_party"]
    assert prices.rows["ml.p5.48xlarge"].source.third_party
    assert "THIRD-PARTY" in prices.citation("ml.p5.48xlarge")
    # seed 000's g4dn rates stay the ones its table implies
    assert {t: prices.hourly(t) for t in ("ml.g4dn.xlarge", "ml.g4dn.2xlarge", "ml.g4dn.12xlarge")} == {
        "ml.g4dn.xlarge": 0.7364, "ml.g4dn.2xlarge": 0.94, "ml.g4dn.12xlarge": 4.89,
    }  # fmt: skip


@pytest.mark.parametrize("family", ["g4dn", "g5", "g6", "p4d", "p5", "inf2", "c5"])
def test_price_table_covers_the_families_the_project_talks_about(family):
    assert any(t.split(".")[1] == family for t in load_prices().rows), family


@pytest.mark.parametrize("instance_type", ["ml.g6e.xlarge", "ml.g6e.48xlarge", "ml.p5e.48xlarge", "ml.g6.xlarge"])
def test_unsourced_types_have_no_price_and_a_stated_reason(instance_type):
    prices = load_prices()
    assert prices.price(instance_type) is None
    assert "no citable real-time inference rate" in prices.missing_reason(instance_type)
    with pytest.raises(KeyError, match="no citable"):
        prices.hourly(instance_type)


def test_h100_measurement_is_priced_per_gpu_on_p5_with_the_arithmetic():
    # GIVEN one H100 measured at 913 920 invocations/min, sized as ml.p5.48xlarge (8 x H100)
    match = match_hardware(MeasuredHardware.gpu("NVIDIA H100 80GB HBM3", 1), "ml.p5.48xlarge")
    # WHEN it is sized for the seed's 30 000/min
    sizing = size("ig4-db", "ml.p5.48xlarge", 913_920, load_prices(), basis=PricingBasis.from_match(match))
    # THEN one GPU is priced at the instance's rate / 8, and whole instances are counted beside it
    assert sizing.unit == "GPU" and sizing.units == 1 and sizing.instances == 1
    assert sizing.unit_price == pytest.approx(113.068 / 8)
    assert sizing.cost_per_hour == pytest.approx(113.068 / 8) and sizing.instance_cost_per_hour == pytest.approx(113.068)
    assert sizing.price_note == "ml.p5.48xlarge 113.068 USD/hour / 8 GPUs = 14.1335 USD per GPU-hour"
    assert sizing.invocations_per_minute_per_instance == 8 * 913_920


def test_size_command_prices_the_h100_reference_profile_per_gpu(capsys):
    # GIVEN the H100 reference run's profile (schema 1: its hardware is read from its provenance)
    path = ROOT / "bench/reference/gpu-h100-profile.json"
    profile = TuningProfile.load(path)
    # WHEN `python -m tuning size` prices it on ml.p5.48xlarge
    assert main(["size", "--profile", str(path), "--instance-type", "ml.p5.48xlarge"]) == 0
    report = json.loads(capsys.readouterr().out)
    # THEN its rows are derive.size's for the measured rate, per GPU, with the profile's target and safety factor
    basis = PricingBasis.from_match(profile.check_instance_type("ml.p5.48xlarge"))
    rate, target = profile.measured.invocations_per_minute, profile.target_invocations_per_minute
    seed = size(profile.configuration, "ml.p5.48xlarge", rate, load_prices(), target_per_minute=target, basis=basis)
    planned = size(
        profile.configuration, "ml.p5.48xlarge", rate, load_prices(), target_per_minute=target,
        safety_factor=profile.safety_factor, basis=basis,
    )  # fmt: skip
    assert report["seed_formula"] == seed.to_dict() and report["planned"] == planned.to_dict()
    gpu_hour = load_prices().hourly("ml.p5.48xlarge") / 8
    assert seed.units == 1 and seed.cost_per_hour == pytest.approx(gpu_hour)
    assert seed.cost_per_million_at_target == pytest.approx(gpu_hour / (target * 60 / 1e6))
    assert seed.cost_per_million_at_capacity == pytest.approx(gpu_hour / (rate * 60 / 1e6))
    assert report["invocations_per_instance_target"] == int(rate * 8 * profile.safety_factor)
    assert report["measured"]["hardware_derived_from"].startswith("schema 1 profile: derived from provenance.machine")
    assert "8 x NVIDIA H100: the same accelerator" in report["sizing"] and "THIRD-PARTY" in report["price"]


def test_size_command_keeps_the_costs_of_an_unpriced_type_n_a(capsys):
    # GIVEN the H200 reference profile, sized on the one family with H200s, which has no sourced price
    path = ROOT / "bench/reference/gpu-h200-profile.json"
    assert main(["size", "--profile", str(path), "--instance-type", "ml.p5e.48xlarge"]) == 0
    report = json.loads(capsys.readouterr().out)
    # THEN units are counted, costs are null, and the reason is the price file's
    assert report["seed_formula"]["units"] == 1 and report["seed_formula"]["cost_per_hour"] is None
    assert "no rate for ml.p5e.48xlarge" in report["price"]


def test_gpus_needed_and_whole_instances_are_counted_separately():
    # 1000/min per GPU for 30 000/min: 30 GPUs, i.e. 4 whole 8-GPU instances
    basis = PricingBasis("ml.p4d.24xlarge", "GPU", 8, 1.0)
    sizing = size("db", "ml.p4d.24xlarge", 1000, load_prices(), basis=basis)
    assert (sizing.units, sizing.instances) == (30, 4)
    assert sizing.cost_per_hour == pytest.approx(30 * 37.688 / 8)
    assert sizing.instance_cost_per_hour == pytest.approx(4 * 37.688)


def test_unpriced_instance_type_sizes_without_costs_and_says_why():
    sizing = size("db", "ml.p5e.48xlarge", 1000, load_prices())
    assert sizing.units == 30
    assert sizing.cost_per_hour is None and sizing.cost_per_million_at_capacity is None
    assert "no rate for ml.p5e.48xlarge" in sizing.price_note


@pytest.mark.parametrize(
    ("hardware", "expected"),
    [
        (MeasuredHardware.gpu("NVIDIA H100 80GB HBM3", 1), "ml.p5.48xlarge"),
        (MeasuredHardware.gpu("Tesla T4", 1), "ml.g4dn.xlarge"),
        (MeasuredHardware.gpu("NVIDIA A10G", 4), "ml.g5.12xlarge"),
        (MeasuredHardware.gpu("NVIDIA H200", 1), "ml.p5e.48xlarge"),
        (MeasuredHardware.cpu("AMD EPYC", 2), "ml.c5.xlarge"),
    ],
)
def test_default_instance_type_carries_the_measured_accelerator(hardware, expected):
    assert default_instance_type(hardware, load_prices()) == expected


def test_default_instance_type_for_an_unknown_gpu_asks_for_one():
    with pytest.raises(UserError, match="--instance-type is required"):
        default_instance_type(MeasuredHardware.gpu("NVIDIA GeForce RTX 4090", 1), load_prices())


def test_unknown_instance_type_names_the_priced_ones():
    with pytest.raises(KeyError, match=r"ml\.g4dn\.xlarge"):
        load_prices().hourly("ml.m4.xlarge")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"currency": "USD", "source": "x", "as_of": "y", "prices": {"ml.c5.xlarge": 0}}, "usd_per_hour must be a number > 0"),
        ({"schema_version": 2, "currency": "USD", "sources": {}, "prices": {"ml.c5.xlarge": {"usd_per_hour": 1, "as_of": "z"}}},
         "prices.ml.c5.xlarge.source must be one of the sources"),
        ({"schema_version": 2, "currency": "USD", "sources": {"s": {"title": "t", "third_party": True}},
          "prices": {"ml.c5.xlarge": {"usd_per_hour": 1, "source": "s"}}}, "as_of must say when the rate was valid"),
        ({"schema_version": 2, "currency": "USD", "sources": {"s": {"title": "t"}}, "prices": {}},
         "sources.s.third_party must be true or false"),
        ({"schema_version": 2, "currency": "USD", "sources": {}, "prices": {"g5.xlarge": {}}}, "not a SageMaker instance type"),
        ({"schema_version": 2, "currency": "USD", "sources": {}, "prices": {"ml.a.b": {}}}, "prices.ml.a.b: not a SageMaker"),
    ],
)
def test_price_file_with_a_bad_entry_is_refused_naming_it(tmp_path, content, expected):
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps(content))
    with pytest.raises(PriceError, match=expected) as error:
        load_prices(bad)
    assert str(bad) in str(error.value)


def test_schema_1_price_file_still_reads_with_its_one_source(tmp_path):
    old = tmp_path / "prices.json"
    old.write_text(json.dumps({"currency": "USD", "source": "my list", "as_of": "2026-01", "prices": {"ml.g5.xlarge": 1.5}}))
    prices = load_prices(old)
    assert prices.hourly("ml.g5.xlarge") == 1.5
    assert prices.rows["ml.g5.xlarge"].source.title == "my list" and prices.rows["ml.g5.xlarge"].as_of == "2026-01"


def test_price_table_dates_span_from_the_earliest_row_to_the_latest(tmp_path):
    # GIVEN rows valid on one date and over ranges
    rows = {"ml.g5.xlarge": "2024-05-18 .. 2025-01-26", "ml.c5.xlarge": "2022-05", "ml.m5.xlarge": "2024-03-26 .. 2024-04-24"}
    file = tmp_path / "prices.json"
    file.write_text(json.dumps({
        "schema_version": 2, "currency": "USD", "sources": {"s": {"title": "t", "third_party": True}},
        "prices": {t: {"usd_per_hour": 1, "source": "s", "as_of": as_of} for t, as_of in rows.items()},
    }))  # fmt: skip
    # WHEN the table is read THEN its span runs from the first start to the last end, not between two ranges
    assert load_prices(file).as_of == "2022-05 to 2025-01-26"


def _point(rps: float) -> LoadResult:
    """A real load result: one second of requests at ``rps``, 10 ms each, no errors."""
    count = int(rps)
    return LoadResult(1, 1, 1, summarize(np.full(count, 0.010), 0, 1.0), None, None, None)


def test_recommend_without_prices_ranks_by_units_needed():
    # GIVEN two configurations that meet the target on an instance type the table has no price for
    criteria = Criteria()
    candidates = [
        Candidate("slow", TritonOptions(max_batch_size=8), "ml.p5e.48xlarge", (_point(20),)),
        Candidate("fast", TritonOptions(max_batch_size=8), "ml.p5e.48xlarge", (_point(80),)),
    ]
    assessments = assess(candidates, criteria, load_prices())
    # WHEN one is recommended
    chosen = recommend(assessments, criteria)
    # THEN costs are unknown, and the one needing fewer units wins
    assert all(a.planned_sizing is not None and a.planned_sizing.cost_per_hour is None for a in assessments)
    assert chosen.candidate.name == "fast"


def test_derived_table_prices_one_h100_per_gpu_beside_whole_instances():
    # GIVEN db measured on one H100 at 7680 req/s, sized as ml.p5.48xlarge
    from tuning.report import derived_table

    basis = PricingBasis.from_match(match_hardware(MeasuredHardware.gpu("NVIDIA H100 80GB HBM3", 1), "ml.p5.48xlarge"))
    candidate = Candidate("db", TritonOptions(max_batch_size=128), "ml.p5.48xlarge", (_point(7680),))
    assessments = assess([candidate], Criteria(), load_prices(), basis)
    # WHEN the derived table is rendered
    table = derived_table(assessments, Criteria(), load_prices(), basis)
    # THEN it counts GPUs at the per-GPU price and the whole instances a fleet would rent
    header, _, row = table.splitlines()
    assert "invocations/min/GPU" in header and "GPUs (seed formula)" in header and "whole instances (planned)" in header
    assert row == "| db | ml.p5.48xlarge | 460,800 | 1 | 14.13 USD | 7.85 USD | 0.5112 USD | 1 | 14.13 USD | 1 | 113.07 USD |"


def test_derived_table_shows_costs_as_n_a_for_an_unpriced_type():
    from tuning.report import derived_table

    basis = PricingBasis.from_match(match_hardware(MeasuredHardware.gpu("NVIDIA H200", 1), "ml.p5e.48xlarge"))
    candidate = Candidate("db", TritonOptions(max_batch_size=128), "ml.p5e.48xlarge", (_point(7680),))
    row = derived_table(assess([candidate], Criteria(), load_prices(), basis), Criteria(), load_prices(), basis).splitlines()[2]
    assert row == "| db | ml.p5e.48xlarge | 460,800 | 1 | n/a | n/a | n/a | 1 | n/a | 1 | n/a |"


def test_default_instance_type_without_botocore_uses_the_types_the_price_table_names():
    # GIVEN a Python where botocore cannot be imported (a bare GPU machine running bench/gpu_matrix.py)
    code = (
        "import sys; sys.modules['botocore'] = None\n"
        "from model_build.profile import MeasuredHardware\n"
        "from tuning.matrix import default_instance_type\n"
        "from tuning.pricing import load_prices\n"
        "p = load_prices()\n"
        "print(default_instance_type(MeasuredHardware.gpu('NVIDIA H100 80GB HBM3', 1), p),"
        " default_instance_type(MeasuredHardware.gpu('NVIDIA H200', 1), p))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    # THEN the defaults are still the families with that GPU
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ml.p5.48xlarge", "ml.p5e.48xlarge"]
