"""model_build.profile: the versioned tuning profile the constructs consume."""

from __future__ import annotations

import dataclasses
import json

import pytest

from model_build.examples import get_example
from model_build.profile import SCHEMA_VERSION, ProfileError, TuningProfile
from model_build.spec import DynamicBatching


def test_profile_round_trips_through_json(make_profile, tmp_path):
    profile = make_profile()
    path = profile.save(tmp_path / "profile.json")
    loaded = TuningProfile.load(path)
    assert loaded == profile
    assert json.loads(path.read_text())["schema_version"] == SCHEMA_VERSION


def test_apply_to_sets_the_measured_triton_options_only(make_profile):
    spec = get_example("bert-tiny")
    tuned = make_profile().apply_to(spec)
    assert tuned.triton.max_batch_size == 32
    assert tuned.triton.dynamic_batching == DynamicBatching(preferred_batch_sizes=(8, 16), max_queue_delay_microseconds=100)
    assert tuned.triton.instance_count == 2
    assert tuned.triton.instance_kind == spec.triton.instance_kind
    assert tuned.source == spec.source
    tuned.validate()


def test_apply_to_without_dynamic_batching_clears_it(make_profile):
    spec = get_example("bert-tiny")
    spec = dataclasses.replace(spec, triton=dataclasses.replace(spec.triton, dynamic_batching=DynamicBatching()))
    base = make_profile(dynamic_batching=False, preferred_batch_sizes=(), max_queue_delay_microseconds=0, instance_count=1)
    assert base.apply_to(spec).triton.dynamic_batching is None


def test_apply_to_another_model_is_refused(make_profile):
    with pytest.raises(ProfileError, match=r"model_name 'bert-tiny' does not match ModelSpec\.name 'bert-base'"):
        make_profile().apply_to(get_example("bert-base"))


def test_load_names_unknown_and_missing_fields(make_profile, tmp_path):
    data = make_profile().to_dict()
    data["colour"] = "blue"
    del data["instance_type"]
    del data["measured"]["p99_ms"]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError) as error:
        TuningProfile.load(path)
    message = str(error.value)
    assert str(path) in message
    assert "colour is not a known field" in message
    assert "instance_type is required" in message
    assert "measured.p99_ms is required" in message


def test_load_refuses_another_schema_version(make_profile):
    data = make_profile().to_dict()
    data["schema_version"] = 99
    with pytest.raises(ProfileError, match="schema_version must be 1"):
        TuningProfile.from_dict(data)


def test_load_refuses_text_that_is_not_json():
    with pytest.raises(ProfileError, match="not JSON"):
        TuningProfile.from_json("{")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"safety_factor": 1.5}, "safety_factor"),
        ({"safety_factor": 0}, "safety_factor"),
        ({"instance_type": "g4dn.xlarge"}, "instance_type"),
        ({"max_batch_size": 0}, "max_batch_size"),
        ({"max_batch_size": 8}, "preferred_batch_sizes must each be <= max_batch_size"),
        ({"initial_instance_count": 0}, "initial_instance_count"),
        ({"instance_count": True}, "instance_count"),
        ({"latency_percentile": 95}, "latency_percentile"),
        ({"invocations_per_instance_target": 5000}, "invocations_per_instance_target must not exceed"),
        ({"dynamic_batching": False}, "need dynamic_batching true"),
        ({"max_queue_delay_microseconds": -1}, "max_queue_delay_microseconds"),
    ],
)
def test_invalid_values_name_the_field(make_profile, overrides, field):
    with pytest.raises(ProfileError, match=field):
        make_profile(**overrides)


def test_invalid_measured_figures_are_named(make_profile):
    bad = dataclasses.replace(make_profile().measured, p50_ms=30.0, error_rate=2.0)
    with pytest.raises(ProfileError) as error:
        make_profile(measured=bad)
    assert "measured.error_rate" in str(error.value)
    assert "measured percentiles must not decrease" in str(error.value)


def test_every_problem_is_reported_at_once(make_profile):
    with pytest.raises(ProfileError) as error:
        make_profile(max_batch_size=0, safety_factor=2.0, instance_type="x")
    assert str(error.value).count(";") >= 2


def test_scaling_target_and_initial_count_formulas():
    # measured 4320/min * 0.7 = 3024/min per instance → ceil(30000 / 3024) = 10 instances
    assert TuningProfile.scaling_target(4320.0, 0.7) == 3024
    assert TuningProfile.initial_count(30_000, 3024) == 10
    assert TuningProfile.initial_count(30_000, 3000) == 10
