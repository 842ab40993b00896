"""What a TensorRT engine was built for, and whether that matches where it is served.

A serialized TensorRT engine (``model.plan``) runs only where it was built for:

* **TensorRT version.** "By default, TensorRT engines are compatible only with the version of
  TensorRT used to build them" (TensorRT developer guide, "Version Compatibility",
  https://docs.nvidia.com/deeplearning/tensorrt/latest/inference-library/advanced.html); the
  standard runtime compares major, minor, patch and build. NVIDIA publishes one GA build per
  major.minor.patch, so this module compares **major.minor.patch** (the form ``tensorrt.__version__``
  and ``trtexec`` report). Engines built with the ``VERSION_COMPATIBLE`` flag would also run on
  later 10.x runtimes, but Triton's TensorRT backend loads them only when the server is started
  with ``--backend-config=tensorrt,version-compatible=true``, which the SageMaker Triton DLC does
  not pass; this project never builds them, so the rule it enforces is *equal versions*.
* **GPU architecture.** An engine runs on the compute capability it was built on, unless it was
  built with ``HardwareCompatibilityLevel.AMPERE_PLUS`` (trtexec
  ``--hardwareCompatibilityLevel=ampere+``), which runs on every GPU of compute capability >= 8.0
  (Ampere and newer) and must itself be built on one (same page, "Hardware Compatibility").
  Compute capabilities per instance family come from :mod:`model_build.hardware`.

The Triton image version is the NVIDIA container release ``yy.mm``; the SageMaker Triton DLC of
the same version is built from it (``sagemaker-tritonserver:<yy.mm>-py3``, the versions the
sagemaker SDK lists in ``image_uri_config/sagemaker-tritonserver.json``). Its TensorRT version is
:data:`TENSORRT_OF_TRITON`, one row per DLC version the pinned SDK lists (23.12 … 26.05). Source:
NVIDIA's Frameworks Support Matrix and the Triton release notes of each container,
https://docs.nvidia.com/deeplearning/frameworks/support-matrix/index.html and
https://docs.nvidia.com/deeplearning/triton-inference-server/release-notes/ (``rel-<yy>-<mm>.html``);
the comment of each row says where it was confirmed. The TensorRT container of the same tag (``nvcr.io/nvidia/tensorrt:<yy.mm>-py3``)
carries the same TensorRT. A version not in the table is *unknown*, never guessed: state it with
:data:`TENSORRT_VERSIONS_ENV` (``TRITON_IAC_TENSORRT_VERSIONS="26.08=10.x.y"``).

Imports nothing heavy: ``cdk synth`` checks every engine of an endpoint with it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from model_build.hardware import hardware_of, hosting_instance_types, hosting_types_with, near_instance_types
from model_build.user_errors import UserError, did_you_mean

ENGINE_MANIFEST_FILENAME = "engine.json"
"""The engine manifest, written next to ``config.pbtxt``: ``<model>/engine.json``."""

HARDWARE_COMPATIBILITY_LEVELS: tuple[str, ...] = ("none", "ampere+")
"""``"none"``: the engine runs on the compute capability it was built on; ``"ampere+"``: on any >= 8.0."""

AMPERE_PLUS_MIN_CAPABILITY = (8, 0)
"""The smallest compute capability an ``"ampere+"`` engine runs on (and must be built on)."""

ENGINE_PRECISIONS: tuple[str, ...] = ("FP16", "FP32", "INT8")

TENSORRT_CONTAINER = "nvcr.io/nvidia/tensorrt"
"""NVIDIA's TensorRT container; its tag ``<yy.mm>-py3`` matches the Triton release of the same month."""

TENSORRT_VERSIONS_ENV = "TRITON_IAC_TENSORRT_VERSIONS"
"""Extra Triton → TensorRT rows for releases this table does not know: ``"26.08=10.17.0,26.09=10.17.1"``."""

# Triton image (NVIDIA container release yy.mm = SageMaker Triton DLC version) -> TensorRT
# major.minor.patch; the full GA build and where this session saw it in the comment. One row per
# DLC version the pinned sagemaker SDK lists (tests/test_build_engine_target.py checks that none is
# missing). Rows marked "support matrix" were taken from NVIDIA's Frameworks Support Matrix and not
# re-read on 2026-12-01 (the stored copies of those pages give excerpts without the table): check
# them there when a build in that container reports another version (the build fails then).
TENSORRT_OF_TRITON: dict[str, str] = {
    "23.12": "8.6.1",  # 8.6.1.6, support matrix
    "24.01": "8.6.1",  # 8.6.1.6, support matrix
    "24.03": "8.6.3",  # 8.6.3, users of nvcr.io/nvidia/tensorrt:24.03-py3 ("tensorrt==8.6.3")
    "24.05": "10.0.1",  # 10.0.1.6, NVIDIA's 24.05 framework container release notes
    "24.09": "10.4.0",  # 10.4.0.26, support matrix; Triton's compatibility page lists 10.4.0 for 24.09 (trtllm image)
    "25.04": "10.9.0",  # 10.9.0.34, users of nvcr.io/nvidia/tensorrt:25.04-py3 ("TensorRT 10.9.0.34")
    "25.09": "10.13.3",  # 10.13.3.9, support matrix
    "26.05": "10.16.1",  # 10.16.1.11, users of nvcr.io/nvidia/tensorrt:26.05-py3 ("10.16.1.11 … tritonserver:26.05")
}

_TRITON_VERSION = re.compile(r"^\d{2}\.\d{2}$")
_TENSORRT_VERSION = re.compile(r"^\d+\.\d+\.\d+(?:\.\d+)?$")
_CAPABILITY = re.compile(r"^\d+\.\d+$")

# How to read the TensorRT version of a Triton release the table does not know.
_READ_VERSION = 'docker run --rm {image}:{tag}-py3 python3 -c "import tensorrt; print(tensorrt.__version__)"'


class EngineManifestError(UserError):
    """An ``engine.json`` is unreadable or has a wrong field; the message names the file and the field."""


@dataclass(frozen=True)
class EngineManifest:
    """What one TensorRT engine was built for (``<model>/engine.json``).

    Attributes:
        tensorrt_version: TensorRT that built it, major.minor.patch (``"10.4.0"``).
        compute_capability: CUDA compute capability of the GPU it was built on (``"7.5"``).
        gpu_name: That GPU's name (``"NVIDIA T4"``).
        hardware_compatibility: ``"none"`` (runs on ``compute_capability`` only) or ``"ampere+"``
            (runs on any GPU of compute capability >= 8.0).
        precision: ``"FP16"``, ``"FP32"`` or ``"INT8"``.
        max_batch_size: The largest batch of its optimization profile (1..max_batch_size).
        builder: How it was built: ``"tensorrt-python"`` or
            ``"trtexec in nvcr.io/nvidia/tensorrt:24.09-py3"``.
    """

    tensorrt_version: str
    compute_capability: str
    gpu_name: str
    hardware_compatibility: str
    precision: str
    max_batch_size: int
    builder: str

    def to_json(self) -> str:
        """Return the manifest as sorted, indented JSON (byte-stable for the same content)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str) -> EngineManifest:
        """Parse an ``engine.json``.

        Args:
            text: The file's text.
            source: How messages name the file (``"bert/engine.json in dist/model.tar.gz"``).

        Raises:
            EngineManifestError: Not JSON, not an object, a missing/unknown field, or a bad value
                (every problem listed).
        """
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise EngineManifestError(
                f"{source} is not valid JSON ({error}); rebuild the engine with model_build, which writes it"
            ) from None
        if not isinstance(data, dict):
            raise EngineManifestError(
                f"{source} must be a JSON object (got {type(data).__name__}); rebuild the engine with model_build"
            )
        names = [f.name for f in fields(cls)]
        problems = [f"missing field {name!r}" for name in names if name not in data]
        problems += [
            f"unknown field {key!r}{did_you_mean(key, names)}" for key in sorted(data) if key not in names
        ]
        if not problems:
            problems = manifest_problems(data)
        if problems:
            raise EngineManifestError(
                f"{source} is not a valid engine manifest: "
                + "; ".join(problems)
                + " — rebuild the engine with model_build (it writes engine.json next to config.pbtxt)"
            )
        return cls(**{name: data[name] for name in names})


@dataclass(frozen=True, kw_only=True)
class EngineTarget:
    """Where a TensorRT engine will be served: the ``ModelSpec.tensorrt_target`` option.

    It is part of the spec's inputs hash, chooses the TensorRT version of the build (the one of
    ``triton_version``'s image) and the GPU it must be built on, and is pinned in the manifest.

    Attributes:
        instance_type: The SageMaker instance type that serves the engine, e.g. ``"ml.g4dn.xlarge"``.
        triton_version: The SageMaker Triton DLC / NVIDIA container release that serves it, e.g. ``"24.09"``.
        hardware_compatibility: ``"none"`` (the engine runs on the target's compute capability
            only; fastest) or ``"ampere+"`` (runs on every GPU of compute capability >= 8.0; the
            target must be one). Defaults to ``"none"``.
    """

    instance_type: str
    triton_version: str
    hardware_compatibility: str = "none"

    def to_dict(self) -> dict[str, str]:
        """Return the target as plain JSON-able data (for the inputs hash and the build manifest)."""
        return asdict(self)

    def problems(self, key: str = "tensorrt_target") -> list[str]:
        """Return every problem of the target, each starting with ``<key>.<field>``."""
        problems = [
            f"{key}.{name} must be a str (got {type(value).__name__} {value!r}); pass a string"
            for name, value in asdict(self).items()
            if not isinstance(value, str)
        ]
        if problems:
            return problems
        try:
            hardware = hardware_of(self.instance_type)
        except ValueError:
            problems.append(
                f"{key}.instance_type must be a SageMaker instance type like 'ml.g4dn.xlarge' "
                f"(got {self.instance_type!r}); pass the instance type that serves the engine"
            )
            hardware = None
        target_cc = None
        if hardware is not None and self.instance_type not in hosting_instance_types():
            near = near_instance_types(self.instance_type)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            problems.append(
                f"{key}.instance_type {self.instance_type!r} is not an instance type SageMaker hosting accepts"
                f"{hint}; pass the instance type that serves the engine, e.g. 'ml.g4dn.xlarge'"
            )
            hardware = None
        if hardware is not None:
            if hardware.kind != "gpu":
                problems.append(
                    f"{key}.instance_type {self.instance_type!r} has no NVIDIA GPU ({hardware.describe()}); a "
                    "TensorRT engine runs only on one — pass a GPU type such as 'ml.g4dn.xlarge' or build with "
                    "backend='onnxruntime'"
                )
            elif hardware.accelerator is None or hardware.accelerator.compute_capability is None:
                problems.append(
                    f"{key}.instance_type {self.instance_type!r} carries a GPU unknown to this project, so its "
                    "compute capability is unknown; pass a type of a known family (g4dn, g5, g6, g6e, p3, p4d, "
                    "p4de, p5, p5e, p5en)"
                )
            else:
                target_cc = hardware.accelerator.compute_capability
        if not _TRITON_VERSION.match(self.triton_version):
            problems.append(
                f"{key}.triton_version must be a Triton release 'yy.mm' such as '24.09' (got "
                f"{self.triton_version!r}){did_you_mean(self.triton_version, list(TENSORRT_OF_TRITON))}"
            )
        elif tensorrt_version_of_triton(self.triton_version) is None:
            problems.append(f"{key}.triton_version: {unknown_triton_version_problem(self.triton_version)}")
        if self.hardware_compatibility not in HARDWARE_COMPATIBILITY_LEVELS:
            problems.append(
                f"{key}.hardware_compatibility must be one of {', '.join(HARDWARE_COMPATIBILITY_LEVELS)} "
                f"(got {self.hardware_compatibility!r}){did_you_mean(self.hardware_compatibility, HARDWARE_COMPATIBILITY_LEVELS)}"
            )
        elif (
            self.hardware_compatibility == "ampere+"
            and target_cc is not None
            and capability_tuple(target_cc) < AMPERE_PLUS_MIN_CAPABILITY
        ):
            problems.append(
                f"{key}.hardware_compatibility 'ampere+' needs a target GPU of compute capability >= 8.0, but "
                f"{self.instance_type} has compute capability {target_cc}; use 'none'"
            )
        return problems

    @property
    def compute_capability(self) -> str | None:
        """The compute capability of the target's GPU; None when unknown."""
        try:
            accelerator = hardware_of(self.instance_type).accelerator
        except ValueError:
            return None
        return None if accelerator is None else accelerator.compute_capability

    @property
    def gpu_name(self) -> str | None:
        """The target's GPU (``"NVIDIA T4"``); None when unknown."""
        try:
            accelerator = hardware_of(self.instance_type).accelerator
        except ValueError:
            return None
        return None if accelerator is None else accelerator.name


def manifest_problems(data: dict[str, Any]) -> list[str]:
    """Return the problems of an engine manifest's values (types and allowed values)."""
    problems = []
    for key in (
        "tensorrt_version",
        "compute_capability",
        "gpu_name",
        "hardware_compatibility",
        "precision",
        "builder",
    ):
        if not isinstance(data.get(key), str):
            problems.append(f"{key} must be a string (got {data.get(key)!r})")
    if problems:
        return problems
    if not _TENSORRT_VERSION.match(data["tensorrt_version"]):
        problems.append(f"tensorrt_version must look like '10.4.0' (got {data['tensorrt_version']!r})")
    if not _CAPABILITY.match(data["compute_capability"]):
        problems.append(f"compute_capability must look like '7.5' (got {data['compute_capability']!r})")
    if data["hardware_compatibility"] not in HARDWARE_COMPATIBILITY_LEVELS:
        problems.append(
            f"hardware_compatibility must be one of {', '.join(HARDWARE_COMPATIBILITY_LEVELS)} "
            f"(got {data['hardware_compatibility']!r})"
        )
    if data["precision"] not in ENGINE_PRECISIONS:
        problems.append(
            f"precision must be one of {', '.join(ENGINE_PRECISIONS)} (got {data['precision']!r})"
        )
    mbs = data.get("max_batch_size")
    if not isinstance(mbs, int) or isinstance(mbs, bool) or mbs < 1:
        problems.append(f"max_batch_size must be a whole number >= 1 (got {mbs!r})")
    return problems


def tensorrt_version_of_triton(triton_version: str) -> str | None:
    """Return the TensorRT version (major.minor.patch) inside Triton image ``triton_version``.

    Rows stated in ``$TRITON_IAC_TENSORRT_VERSIONS`` count too (for releases newer than the table).

    Args:
        triton_version: The NVIDIA container release / SageMaker Triton DLC version, ``"24.09"``.

    Returns:
        ``"10.4.0"`` for ``"24.09"``; None when the release is not known.

    Raises:
        UserError: ``$TRITON_IAC_TENSORRT_VERSIONS`` is malformed or contradicts the table.
    """
    known = TENSORRT_OF_TRITON.get(triton_version)
    if known is not None:
        return known
    return stated_tensorrt_versions().get(triton_version)


def stated_tensorrt_versions() -> dict[str, str]:
    """Return the Triton → TensorRT rows the user stated in ``$TRITON_IAC_TENSORRT_VERSIONS``.

    Raises:
        UserError: An entry is not ``yy.mm=x.y.z``, or restates a known release with another version.
    """
    text = os.environ.get(TENSORRT_VERSIONS_ENV, "").strip()
    rows: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        triton, _, tensorrt = (s.strip() for s in entry.partition("="))
        if not _TRITON_VERSION.match(triton) or not _TENSORRT_VERSION.match(tensorrt):
            raise UserError(
                f"{TENSORRT_VERSIONS_ENV} entry {entry!r} must be <triton yy.mm>=<tensorrt x.y.z>, e.g. "
                f"'26.08=10.17.0'; fix or unset {TENSORRT_VERSIONS_ENV}"
            )
        tensorrt = major_minor_patch(tensorrt)
        if triton in TENSORRT_OF_TRITON and TENSORRT_OF_TRITON[triton] != tensorrt:
            raise UserError(
                f"{TENSORRT_VERSIONS_ENV} says Triton {triton} has TensorRT {tensorrt}, but NVIDIA's support "
                f"matrix says {TENSORRT_OF_TRITON[triton]}; remove {triton} from {TENSORRT_VERSIONS_ENV}"
            )
        rows[triton] = tensorrt
    return rows


def major_minor_patch(version: str) -> str:
    """Return ``"10.4.0"`` for ``"10.4.0.26"`` (the part TensorRT's compatibility rule compares here)."""
    return ".".join(version.split(".")[:3])


def tensorrt_container_image(triton_version: str) -> str:
    """Return NVIDIA's TensorRT container whose TensorRT matches Triton ``triton_version``.

    ``"24.09"`` → ``"nvcr.io/nvidia/tensorrt:24.09-py3"`` (NVIDIA's monthly containers of one
    release share their TensorRT).
    """
    return f"{TENSORRT_CONTAINER}:{triton_version}-py3"


def unknown_triton_version_problem(triton_version: str) -> str:
    """Return the message for a Triton release whose TensorRT version is not known here."""
    listed = ", ".join(sorted({*TENSORRT_OF_TRITON, *stated_tensorrt_versions()}))
    read = _READ_VERSION.format(image=TENSORRT_CONTAINER, tag=triton_version)
    return (
        f"the TensorRT version of Triton image {triton_version!r} is unknown to this project (it knows "
        f"{listed}); read it with `{read}` and "
        f"state it as {TENSORRT_VERSIONS_ENV}='{triton_version}=<x.y.z>', or use one of the known releases"
    )


def capability_tuple(capability: str) -> tuple[int, int]:
    """Return ``(8, 6)`` for ``"8.6"``."""
    major, _, minor = capability.partition(".")
    return int(major), int(minor or 0)


def engine_target_problems(
    manifest: EngineManifest, *, model: str, instance_type: str, triton_version: str
) -> list[str]:
    """Return why the engine of ``model`` cannot run on ``instance_type`` with Triton ``triton_version``.

    Rules (see the module docstring for their sources): the target must be a GPU type whose GPU
    this project knows; an engine with ``hardware_compatibility == "none"`` needs the target GPU's
    compute capability to equal the one it was built on; an ``"ampere+"`` engine needs a target of
    compute capability >= 8.0; the engine's TensorRT version must equal the image's (major.minor.patch).

    Args:
        manifest: The engine's manifest.
        model: The Triton model (directory) name, for the messages.
        instance_type: The SageMaker instance type that serves it, ``"ml.g4dn.xlarge"``.
        triton_version: The Triton DLC version that serves it, ``"24.09"``.

    Returns:
        One sentence per problem: what the engine was built for, what the target has, what to
        rebuild and how (the option and the trtexec flag). Empty when the engine fits.
    """
    built = (
        f"TensorRT {manifest.tensorrt_version} on {manifest.gpu_name} (compute capability "
        f"{manifest.compute_capability}, hardware compatibility {manifest.hardware_compatibility!r})"
    )
    head = f"TensorRT engine of model {model!r} was built for {built}"
    rebuild = (
        f"rebuild it with ModelSpec(tensorrt_target=EngineTarget(instance_type={instance_type!r}, "
        f"triton_version={triton_version!r})), which builds with {tensorrt_container_image(triton_version)}"
    )
    problems: list[str] = []
    try:
        hardware = hardware_of(instance_type)
    except ValueError as error:
        return [f"{head}, but the target instance type is invalid: {error}"]
    if hardware.kind != "gpu":
        what = "has no GPU" if hardware.kind == "cpu" else f"carries {hardware.describe()}, not an NVIDIA GPU"
        problems.append(
            f"{head}, but {instance_type} {what}: a TensorRT engine runs only on an NVIDIA GPU — serve it on a "
            "GPU instance type (e.g. ml.g4dn.xlarge, ml.g5.xlarge) or build the model with backend='onnxruntime'"
        )
    elif hardware.accelerator is None or hardware.accelerator.compute_capability is None:
        problems.append(
            f"{head}, but the GPU of {instance_type} is unknown to this project, so the engine cannot be "
            "checked against it — serve it on a GPU type of model_build.hardware (g4dn, g5, g6, g6e, p3, p4d, "
            "p4de, p5, p5e, p5en) or serve the model with backend='onnxruntime'"
        )
    else:
        target_cc = hardware.accelerator.compute_capability
        target = f"{instance_type} has {hardware.accelerator.name} (compute capability {target_cc})"
        built_cc = capability_tuple(manifest.compute_capability)
        if manifest.hardware_compatibility == "ampere+":
            if built_cc < AMPERE_PLUS_MIN_CAPABILITY:
                problems.append(
                    f"{head}: an 'ampere+' engine can only be built on a GPU of compute capability >= 8.0, so "
                    f"this manifest is wrong — {rebuild}"
                )
            elif capability_tuple(target_cc) < AMPERE_PLUS_MIN_CAPABILITY:
                problems.append(
                    f"{head}, but {target}: 'ampere+' engines run only on compute capability >= 8.0 — "
                    f"{rebuild} and hardware_compatibility='none' on the target's GPU, {hardware.accelerator.name} "
                    f"(trtexec without --hardwareCompatibilityLevel)"
                )
        elif built_cc != capability_tuple(target_cc):
            same_gpu = ", ".join(hosting_types_with(hardware.accelerator)[:3]) or instance_type
            ampere = (
                "; or, for any GPU of compute capability >= 8.0, build once on an Ampere-or-newer GPU with "
                "EngineTarget(..., hardware_compatibility='ampere+') (trtexec --hardwareCompatibilityLevel=ampere+)"
                if capability_tuple(target_cc) >= AMPERE_PLUS_MIN_CAPABILITY
                else ""
            )
            problems.append(
                f"{head}, but {target}: an engine runs only on the compute capability it was built on — "
                f"{rebuild} on a machine with the target's GPU, {hardware.accelerator.name} (e.g. {same_gpu}){ampere}"
            )
    image_tensorrt = tensorrt_version_of_triton(triton_version)
    if image_tensorrt is None:
        problems.append(f"{head}, but {unknown_triton_version_problem(triton_version)}")
    elif major_minor_patch(manifest.tensorrt_version) != image_tensorrt:
        problems.append(
            f"{head}, but Triton image {triton_version} runs TensorRT {image_tensorrt}: TensorRT loads only "
            f"engines of its own version — {rebuild} (TensorRT {image_tensorrt}), or serve it with the Triton "
            f"release whose TensorRT is {major_minor_patch(manifest.tensorrt_version)}"
            f"{_releases_with(major_minor_patch(manifest.tensorrt_version))}"
        )
    return problems


def _releases_with(tensorrt_version: str) -> str:
    releases = [t for t, v in sorted(TENSORRT_OF_TRITON.items()) if v == tensorrt_version]
    return f" ({', '.join(releases)})" if releases else ""
