"""Where a Neuron-compiled artifact may run: the one place its manifest meets an instance type.

A model compiled with ``torch-neuron`` (Neuron v1) runs on Inferentia (ml.inf1) only; one compiled
with ``torch-neuronx`` runs on Inferentia2 (ml.inf2) only. The compiled programs (NEFF inside a
TorchScript file) are not interchangeable, and neither runs on a GPU or a CPU type
(https://awsdocs-neuron.readthedocs-hosted.com/en/latest/frameworks/torch/inference-torch-neuronx.html;
SERVICE-FACTS §7.1). The compile stage writes what it compiled for into the artifact's
``neuron.json`` manifest::

    {"neuron_sdk_version": "2.26.0", "target": "inf2", "batch_size": 1, "sequence_length": 128, ...}

The compile stage (:mod:`model_build.neuron`) writes the manifest (its full schema and field checks:
:class:`model_build.neuron.NeuronManifest`); the serving constructs call :func:`neuron_target_problems`
for each variant. Imports nothing heavy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from model_build import hardware

NEURON_MANIFEST = "neuron.json"
"""The manifest file the compile stage writes next to the compiled model."""

NEURON_TARGETS = ("inf1", "inf2")
"""Compile targets: ``inf1`` (``torch-neuron``) and ``inf2`` (``torch-neuronx``)."""

_COMPILER = {"inf1": "torch-neuron", "inf2": "torch-neuronx"}


def neuron_target_problems(manifest: Mapping[str, Any], *, instance_type: str) -> list[str]:
    """Return why the artifact ``manifest`` describes would not run on ``instance_type`` (empty: it runs).

    Args:
        manifest: the parsed ``neuron.json`` (at least ``target``).
        instance_type: the SageMaker instance type the artifact is deployed on, e.g. ``"ml.inf2.xlarge"``.
    """
    target = manifest.get("target") if isinstance(manifest, Mapping) else None
    if target not in NEURON_TARGETS:
        return [
            f"{NEURON_MANIFEST} has target {target!r}, expected one of {', '.join(NEURON_TARGETS)} — rebuild "
            "the artifact with the Neuron compile stage, which writes it"
        ]
    match = hardware.parse_instance_type(instance_type)
    family = match.group("family") if match else None
    if family == target:
        return []
    sdk = manifest.get("neuron_sdk_version")
    compiled = f"compiled for {target} ({_COMPILER[target]}{f', Neuron SDK {sdk}' if sdk else ''})"
    if family in NEURON_TARGETS:
        return [
            f"the artifact was {compiled} and cannot run on {instance_type} ({family}): rebuild it with "
            f"target={family!r} ({_COMPILER[family]}) — {_rebuild_spec(manifest, family)} — or deploy it on an "
            f"ml.{target}.* instance type"
        ]
    kind = hardware.hardware_of(instance_type).kind if match else "unknown"
    return [
        f"the artifact was {compiled} and runs only on ml.{target}.* instance types, not on {instance_type} "
        f"({kind}): deploy it on ml.{target}.*, or rebuild the model without the Neuron compile stage "
        "(ONNX/TensorRT) for this instance type"
    ]


def _rebuild_spec(manifest: Mapping[str, Any], target: str) -> str:
    """``ModelSpec(backend='neuron', neuron_target=NeuronTarget(target='inf1', batch_size=1, sequence_length=128))``."""
    shapes = "".join(
        f", {key}={manifest[key]!r}"
        for key in ("batch_size", "sequence_length")
        if isinstance(manifest.get(key), int) and not isinstance(manifest.get(key), bool)
    )
    return f"ModelSpec(backend='neuron', neuron_target=NeuronTarget(target={target!r}{shapes}))"
