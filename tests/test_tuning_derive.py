"""Seed 000's derived table, reproduced from its own numbers (section 4.2 and 4.3)."""

from __future__ import annotations

import json

import pytest

from tuning.derive import instances_needed, invocations_per_minute, size
from tuning.pricing import DEFAULT_PRICES, load_prices

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


def test_price_file_carries_source_and_date():
    data = json.loads(DEFAULT_PRICES.read_text())
    assert data["source"] and data["as_of"]
    assert data["prices"] == {"ml.g4dn.xlarge": 0.7364, "ml.g4dn.2xlarge": 0.94, "ml.g4dn.12xlarge": 4.89}
    assert "as of" in load_prices().citation()


def test_unknown_instance_type_names_the_known_ones():
    with pytest.raises(KeyError, match=r"ml\.g4dn\.xlarge"):
        load_prices().hourly("ml.p5.48xlarge")


def test_price_file_with_a_bad_price_is_refused(tmp_path):
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps({"currency": "USD", "source": "x", "as_of": "y", "prices": {"ml.a.b": 0}}))
    with pytest.raises(ValueError, match="> 0"):
        load_prices(bad)
