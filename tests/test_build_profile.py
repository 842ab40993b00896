"""model_build.profile: the versioned tuning profile the constructs consume."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from model_build.examples import get_example
from model_build.profile import (
    SCHEMA_VERSION,
    HardwareTranslation,
    MeasuredHardware,
    ProfileError,
    TuningProfile,
)
from model_build.spec import DynamicBatching
from model_build.user_errors import UserError


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
    with pytest.raises(ProfileError, match=re.escape("schema_version must be one of 1, 2 (got 99); re-run `python -m tuning matrix`")):
        TuningProfile.from_dict(data)


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        pytest.param(("provenance", "tool_versions"), ["torch"], "provenance.tool_versions must map names to version strings (got ['torch'])",
                     id="tool-versions-list"),
        pytest.param(("provenance", "tool_versions"), "torch 2.11", "provenance.tool_versions must map names to version strings",
                     id="tool-versions-string"),
        pytest.param(("preferred_batch_sizes",), "8", "preferred_batch_sizes must be a list of integers >= 1 (got '8')",
                     id="preferred-sizes-string"),
    ],
)
def test_a_field_of_the_wrong_json_type_is_named_not_a_crash(make_profile, path, value, expected):
    # GIVEN a hand-edited profile with one field of the wrong JSON type
    data = make_profile().to_dict()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    # WHEN it is read THEN the field and the value given are named (a ProfileError, not a ValueError from dict())
    with pytest.raises(ProfileError, match=re.escape(expected)):
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
        ({"instance_type": "ml.a.b"}, "instance_type must look like 'ml.g4dn.xlarge'"),
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


# --------------------------------------------------------------------------- hardware
ROOT = Path(__file__).resolve().parents[1]
H100_MACHINE = "Intel(R) Xeon(R) Processor (16 cores); GPU: 1 x NVIDIA H100 80GB HBM3"


def _v1(make_profile, machine: str, notes: str = "") -> dict:
    """A schema-1 profile dict: no hardware field, only the free-text provenance."""
    data = make_profile().to_dict()
    data["schema_version"] = 1
    del data["hardware"], data["hardware_translation"]
    data["provenance"]["machine"] = machine
    data["provenance"]["notes"] = notes
    return data


def test_profile_records_the_measured_hardware_and_round_trips_it(make_profile, tmp_path):
    # GIVEN a profile measured on one H100, sized for ml.p5.48xlarge
    hardware = MeasuredHardware.gpu("NVIDIA H100 80GB HBM3", 1, cpu_model="Xeon", cpu_cores=16)
    profile = make_profile(hardware=hardware, instance_type="ml.p5.48xlarge")
    # WHEN it is saved and loaded
    data = json.loads(profile.save(tmp_path / "profile.json").read_text())
    loaded = TuningProfile.load(tmp_path / "profile.json")
    # THEN the file says schema 2 and names the accelerator, its count and the reported device
    assert data["schema_version"] == 2
    assert data["hardware"] == {
        "kind": "gpu", "accelerator": "NVIDIA H100", "accelerator_count": 1, "device_name": "NVIDIA H100 80GB HBM3",
        "cpu_model": "Xeon", "cpu_cores": 16, "derived_from": "",
    }  # fmt: skip
    assert data["hardware_translation"] is None and "source" not in data
    assert loaded.hardware == hardware
    assert loaded.source == str(tmp_path / "profile.json")


def test_schema_1_profile_gets_its_gpu_from_provenance_and_says_so(make_profile):
    # GIVEN a schema-1 profile measured with the torch executor on an H100
    data = _v1(make_profile, H100_MACHINE, "tritonserver 2.51 python backend (torch, fp16), one server per configuration")
    # WHEN it is read
    profile = TuningProfile.from_dict(data)
    # THEN it is upgraded to schema 2 with the GPU derived from the machine text, and the derivation is stated
    assert profile.schema_version == 2
    assert (profile.hardware.kind, profile.hardware.accelerator, profile.hardware.accelerator_count) == ("gpu", "NVIDIA H100", 1)
    assert profile.hardware.device_name == "NVIDIA H100 80GB HBM3"
    assert (profile.hardware.cpu_model, profile.hardware.cpu_cores) == ("Intel(R) Xeon(R) Processor", 16)
    assert "schema 1 profile: derived from provenance.machine" in profile.hardware.derived_from
    assert "torch executor ran on the GPU" in profile.hardware.derived_from


def test_schema_1_profile_served_by_onnxruntime_is_a_cpu_measurement_even_on_a_gpu_machine(make_profile):
    data = _v1(make_profile, H100_MACHINE, "tritonserver 2.51 python backend (onnxruntime), one server per configuration")
    profile = TuningProfile.from_dict(data)
    assert profile.hardware.kind == "cpu" and profile.hardware.accelerator is None
    assert "ONNX Runtime executor ran on the CPU" in profile.hardware.derived_from


def test_schema_1_profile_without_derivable_hardware_is_refused_with_the_fix(make_profile):
    with pytest.raises(ProfileError) as error:
        TuningProfile.from_dict(_v1(make_profile, "test"))
    message = str(error.value)
    assert "provenance.machine 'test' does not name it" in message
    assert "re-run `python -m tuning matrix`" in message and '"hardware": {"kind": "gpu"' in message


def test_reference_h100_run_reads_as_an_h100_measurement():
    # GIVEN the schema-1 profile of the H100 reference run in bench/reference
    profile = TuningProfile.load(ROOT / "bench/reference/gpu-h100-profile.json")
    # THEN its hardware is the H100 the run used
    assert (profile.hardware.accelerator, profile.hardware.accelerator_count) == ("NVIDIA H100", 1)


def test_check_instance_type_refuses_another_accelerator_naming_file_hardware_and_fix(make_profile, tmp_path):
    # GIVEN a profile file measured on one H100
    path = make_profile(
        hardware=MeasuredHardware.gpu("NVIDIA H100 80GB HBM3", 1), instance_type="ml.p5.48xlarge"
    ).save(tmp_path / "h100.json")
    profile = TuningProfile.load(path)
    # WHEN it is applied to a T4 instance type
    with pytest.raises(ProfileError) as error:
        profile.check_instance_type("ml.g4dn.xlarge")
    # THEN the one message names the file, both accelerators, the types that fit and how to translate
    message = str(error.value)
    assert str(path) in message
    assert "1 x NVIDIA H100" in message and "ml.g4dn.xlarge has 1 x NVIDIA T4" in message
    assert "ml.p5.48xlarge" in message and "NVIDIA H100 -> NVIDIA T4 x FACTOR: REASON" in message
    assert isinstance(error.value, UserError)


def test_check_instance_type_refuses_a_cpu_measurement_on_a_gpu_type(make_profile):
    profile = make_profile(hardware=MeasuredHardware.cpu("AMD EPYC", 2), instance_type="ml.c5.xlarge")
    with pytest.raises(ProfileError, match=r"CPU only \(AMD EPYC, 2 cores\), but instance type ml.g5.xlarge has 1 x NVIDIA A10G"):
        profile.check_instance_type("ml.g5.xlarge")


def test_cpu_measurement_sizes_a_cpu_type_unscaled_and_says_what_is_not_compared(make_profile):
    profile = make_profile(hardware=MeasuredHardware.cpu("AMD EPYC", 2), instance_type="ml.c5.xlarge")
    match = profile.check_instance_type()
    assert match.scale == 1 and match.unit == "instance"
    assert "CPU model and core count are not compared" in match.statement()


def test_same_gpu_in_a_larger_instance_scales_per_gpu_and_states_the_assumption(make_profile):
    # GIVEN one H100 measured
    profile = make_profile(hardware=MeasuredHardware.gpu("NVIDIA H100 80GB HBM3", 1), instance_type="ml.p5.48xlarge")
    # WHEN it sizes ml.p5.48xlarge (8 x H100)
    match = profile.check_instance_type()
    # THEN an instance counts as 8 measured servers, priced and counted per GPU, and the assumption is written down
    assert (match.units_per_instance, match.measured_units, match.scale, match.unit) == (8, 1, 8.0, "GPU")
    assert "8/1 = 8 x the measured server" in match.statement() and "not measured" in match.statement()


def test_for_instance_type_recomputes_target_and_count_from_the_measured_rate(make_profile):
    # GIVEN one T4 measured at 4320 invocations/min, safety 0.7
    profile = make_profile()
    # WHEN re-sized for ml.g4dn.12xlarge (4 x T4)
    resized = profile.for_instance_type("ml.g4dn.12xlarge")
    # THEN the per-instance target is floor(4320 x 4 x 0.7) and the count ceil(30000 / it)
    assert resized.instance_type == "ml.g4dn.12xlarge"
    assert resized.invocations_per_instance_target == 12096
    assert resized.initial_instance_count == 3
    assert resized.apply_to(get_example("bert-tiny")).triton == profile.apply_to(get_example("bert-tiny")).triton


def test_stated_translation_sizes_another_accelerator_and_the_statement_says_so(make_profile):
    # GIVEN a T4 profile and a user's translation to the A10G
    profile = make_profile()
    translation = HardwareTranslation.parse("T4 -> A10G x 1.5: bert-tiny measured on both in bench/reference/x")
    # WHEN it is re-sized for ml.g5.xlarge through it
    resized = profile.for_instance_type("ml.g5.xlarge", translation)
    # THEN the figures scale by the factor, the translation is recorded, and the statement says it is an estimate
    assert resized.invocations_per_instance_target == 4536  # floor(4320 x 1.5 x 0.7)
    assert resized.hardware_translation == translation
    statement = resized.check_instance_type().statement()
    assert "NVIDIA T4 -> NVIDIA A10G x 1.5" in statement and "not a measurement on NVIDIA A10G" in statement


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("T4 -> L4 x 1.2: measured", "does not fit: its to_accelerator is 'NVIDIA L4', but ml.g5.xlarge has 'NVIDIA A10G'"),
        ("H100 -> A10G x 0.2: measured", "its from_accelerator is 'NVIDIA H100', but the figures were measured on 'NVIDIA T4'"),
    ],
)
def test_translation_that_names_other_accelerators_is_refused(make_profile, text, expected):
    with pytest.raises(ProfileError, match=re.escape(expected)):
        make_profile().check_instance_type("ml.g5.xlarge", HardwareTranslation.parse(text))


def test_translation_between_the_same_accelerator_is_refused_as_not_needed(make_profile):
    with pytest.raises(ProfileError, match="a translation from NVIDIA T4 to NVIDIA T4 is not needed"):
        make_profile().check_instance_type("ml.g4dn.2xlarge", HardwareTranslation.parse("T4 -> T4 x 2: more"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("H100 to T4", "must read 'FROM -> TO x FACTOR: REASON'"),
        ("H100 -> T4 x fast: why", "FACTOR must be a number > 0 .got 'fast'"),
        ("H100 -> T4 x 0: why", "factor must be a number > 0 .got 0.0."),
        ("H100 -> T4 x 0.5:   ", "reason must be a non-empty string"),
    ],
)
def test_translation_text_errors_name_the_part_and_show_an_example(text, expected):
    with pytest.raises(ProfileError, match=expected):
        HardwareTranslation.parse(text, where="--translate")


def test_unknown_accelerator_family_cannot_be_sized(make_profile):
    with pytest.raises(ProfileError, match=r"does not know the accelerator of ml.g7e.2xlarge"):
        make_profile().check_instance_type("ml.g7e.2xlarge")


def test_target_above_what_the_measured_hardware_supports_is_refused(make_profile):
    # 4320/min measured on one T4 sized as ml.g4dn.12xlarge: at most 4 x 4320 per instance
    with pytest.raises(ProfileError, match=r"measured 4320.0/min x 4 = 17280.0; got 17281"):
        make_profile(instance_type="ml.g4dn.12xlarge", invocations_per_instance_target=17281, initial_instance_count=2)


@pytest.mark.parametrize(
    ("hardware", "expected"),
    [
        ({"kind": "tpu"}, "hardware.kind must be one of cpu, gpu, inferentia, trainium .got 'tpu'."),
        ({"kind": "gpu", "accelerator": "NVIDIA T4", "accelerator_count": 0}, "hardware.accelerator_count must be an integer >= 1"),
        ({"kind": "gpu", "accelerator": "NVIDIA T5", "accelerator_count": 1}, "hardware.accelerator must be one of"),
        ({"kind": "cpu", "accelerator": "NVIDIA T4", "accelerator_count": 1}, "a cpu measurement has no accelerator"),
        ({"kind": "gpu", "accelerator_count": 1}, "accelerator or device_name must name the gpu"),
        ({"kind": "cpu", "cpu_cores": 0}, "hardware.cpu_cores must be null or an integer >= 1"),
    ],
)
def test_invalid_hardware_fields_are_named(make_profile, hardware, expected):
    data = make_profile().to_dict()
    data["hardware"] = hardware
    with pytest.raises(ProfileError, match=expected):
        TuningProfile.from_dict(data)


def test_hand_written_short_accelerator_name_is_read_as_the_canonical_one(make_profile):
    data = make_profile().to_dict()
    data["hardware"] = {"kind": "gpu", "accelerator": "T4", "accelerator_count": 1}
    assert TuningProfile.from_dict(data).hardware.accelerator == "NVIDIA T4"


def test_load_names_a_folder_or_a_missing_file(tmp_path):
    with pytest.raises(ProfileError, match=re.escape("is a folder; give the profile.json")):
        TuningProfile.load(tmp_path)
    with pytest.raises(ProfileError, match="no such file"):
        TuningProfile.load(tmp_path / "absent.json")
