"""Stage: check the exported model numerically against its source, as Model Navigator does.

The exported model is the ONNX file (:func:`verify_onnx`) or, for ``backend="pytorch"``, the
TorchScript trace (:func:`verify_torchscript`); both go through one comparison.

ONNX Runtime (CPU) and the source torch module run the same seeded inputs at several batch
sizes; each output must satisfy ``|onnx - torch| <= atol + rtol * |torch|`` element-wise.
For sources that already are ONNX there is no reference: the check is that ONNX Runtime
runs, outputs are finite and have the declared shapes (reported as reference "none").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_build.sources import LoadedModel, random_inputs
from model_build.spec import Tolerance


class VerificationError(RuntimeError):
    """The exported model disagrees with its source (or does not run)."""


@dataclass(frozen=True)
class OutputCheck:
    """The comparison of one output over every verified batch size.

    Attributes:
        name: Output name.
        max_abs_diff: Largest ``|onnx - torch|`` (None without a reference).
        max_rel_diff: Largest ``|onnx - torch| / |torch|`` over non-zero references (None without one).
        atol: Absolute tolerance applied.
        rtol: Relative tolerance applied.
        passed: Whether every element was within tolerance (or finite, without a reference).
    """

    name: str
    max_abs_diff: float | None
    max_rel_diff: float | None
    atol: float
    rtol: float
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        """Return the check as JSON-able data."""
        return {
            "name": self.name,
            "max_abs_diff": self.max_abs_diff,
            "max_rel_diff": self.max_rel_diff,
            "atol": self.atol,
            "rtol": self.rtol,
            "passed": self.passed,
        }


@dataclass(frozen=True)
class VerificationResult:
    """The verification stage's result.

    Attributes:
        reference: "torch", or "none" for ONNX sources.
        batch_sizes: Batch sizes that were run.
        outputs: One check per output.
        seconds: Wall time of the stage.
    """

    reference: str
    batch_sizes: tuple[int, ...]
    outputs: tuple[OutputCheck, ...]
    seconds: float

    @property
    def passed(self) -> bool:
        """Whether every output passed."""
        return all(o.passed for o in self.outputs)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-able data."""
        return {
            "reference": self.reference,
            "batch_sizes": list(self.batch_sizes),
            "passed": self.passed,
            "outputs": [o.to_dict() for o in self.outputs],
        }


def verification_batch_sizes(max_batch_size: int) -> tuple[int, ...]:
    """Return the batch sizes to verify: 1 and a second size up to ``max_batch_size`` (3)."""
    return tuple(sorted({1, min(3, max_batch_size)}))


def verify_onnx(
    onnx_path: Path,
    loaded: LoadedModel,
    tolerance: Tolerance,
    *,
    batch_sizes: tuple[int, ...] = (1, 3),
    seed: int = 0,
    raise_on_mismatch: bool = True,
) -> VerificationResult:
    """Run the ONNX model and the source on the same inputs and compare every output.

    Args:
        onnx_path: The exported model.
        loaded: The loaded source (``module`` None → no-reference check).
        tolerance: atol/rtol, with per-output overrides.
        batch_sizes: At least two batch sizes, to exercise the dynamic batch axis.
        seed: Seed of the generated inputs.
        raise_on_mismatch: Raise :class:`VerificationError` when an output fails.

    Raises:
        VerificationError: An output is out of tolerance (naming it and the max difference),
            not finite, has the wrong shape, or ONNX Runtime cannot run the model.
    """
    import onnxruntime as ort

    start = time.perf_counter()
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only; ORT warns about unused initializers.
    try:
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise VerificationError(f"ONNX Runtime cannot load {onnx_path.name}: {exc}") from exc
    ort_outputs = [o.name for o in session.get_outputs()]
    missing = [n for n in loaded.output_names if n not in ort_outputs]
    if missing:
        raise VerificationError(f"ONNX graph lacks outputs {missing} (graph outputs: {ort_outputs})")

    def run(feeds: dict[str, Any], bs: int) -> dict[str, Any]:
        try:
            return dict(zip(ort_outputs, session.run(None, feeds), strict=True))
        except Exception as exc:
            raise VerificationError(f"ONNX Runtime failed at batch size {bs}: {exc}") from exc

    return _compare(
        onnx_path.name,
        run,
        loaded,
        tolerance,
        batch_sizes=batch_sizes,
        seed=seed,
        raise_on_mismatch=raise_on_mismatch,
        shape_problem=lambda name, shape, bs: _shape_problem(session, name, shape, bs),
        start=start,
    )


def verify_torchscript(
    model_path: Path,
    loaded: LoadedModel,
    tolerance: Tolerance,
    *,
    batch_sizes: tuple[int, ...] = (1, 3),
    seed: int = 0,
    raise_on_mismatch: bool = True,
) -> VerificationResult:
    """Run the saved TorchScript trace and the eager source on the same inputs and compare every output.

    The same check as :func:`verify_onnx` (same seeded inputs, batch sizes and tolerance), for
    ``backend="pytorch"``: the file Triton's PyTorch backend will load is reloaded with
    ``torch.jit.load`` and run on the CPU.

    Raises:
        VerificationError: The trace does not load or run, returns another number of outputs, or an
            output is out of tolerance (naming it and the max difference), not finite or misshapen.
    """
    import torch

    start = time.perf_counter()
    if loaded.module is None:
        raise VerificationError("a TorchScript trace needs a torch source to compare against")
    try:
        traced = torch.jit.load(str(model_path), map_location="cpu").eval()
    except Exception as exc:
        raise VerificationError(f"torch.jit.load cannot load {model_path.name}: {exc}") from exc

    def run(feeds: dict[str, Any], bs: int) -> dict[str, Any]:
        args = tuple(torch.from_numpy(feeds[s.name]) for s in loaded.inputs)
        try:
            with torch.no_grad():
                result = traced(*args)
        except Exception as exc:
            raise VerificationError(f"{model_path.name} failed at batch size {bs}: {exc}") from exc
        tensors = result if isinstance(result, (tuple, list)) else (result,)
        if len(tensors) != len(loaded.output_names):
            raise VerificationError(
                f"{model_path.name} returns {len(tensors)} outputs, the source {len(loaded.output_names)}"
            )
        return {name: t.detach().cpu().numpy() for name, t in zip(loaded.output_names, tensors, strict=True)}

    return _compare(
        model_path.name,
        run,
        loaded,
        tolerance,
        batch_sizes=batch_sizes,
        seed=seed,
        raise_on_mismatch=raise_on_mismatch,
        shape_problem=None,
        start=start,
    )


def _compare(
    label: str,
    run: Callable[[dict[str, Any], int], dict[str, Any]],
    loaded: LoadedModel,
    tolerance: Tolerance,
    *,
    batch_sizes: tuple[int, ...],
    seed: int,
    raise_on_mismatch: bool,
    shape_problem: Callable[[str, tuple[int, ...], int], str | None] | None,
    start: float,
) -> VerificationResult:
    """Run ``run`` and the source at each batch size and compare every output (see :func:`verify_onnx`)."""
    import numpy as np

    abs_diff: dict[str, float] = dict.fromkeys(loaded.output_names, 0.0)
    rel_diff: dict[str, float] = dict.fromkeys(loaded.output_names, 0.0)
    passed: dict[str, bool] = dict.fromkeys(loaded.output_names, True)
    problems: list[str] = []
    for bs in batch_sizes:
        feeds = random_inputs(loaded.inputs, bs, seed=seed + bs)
        got = run(feeds, bs)
        expected = _torch_outputs(loaded, feeds) if loaded.module is not None else None
        for i, name in enumerate(loaded.output_names):
            out = np.asarray(got[name])
            if not np.all(np.isfinite(out)):
                passed[name] = False
                problems.append(f"output {name!r} has non-finite values at batch size {bs}")
                continue
            if expected is None:
                problem = shape_problem(name, out.shape, bs) if shape_problem is not None else None
                if problem:
                    passed[name] = False
                    problems.append(problem)
                continue
            ref = expected[i]
            if ref.shape != out.shape:
                passed[name] = False
                problems.append(f"output {name!r} shape {out.shape} != torch {ref.shape} at batch size {bs}")
                continue
            atol, rtol = tolerance.for_output(name)
            diff = np.abs(out.astype(np.float64) - ref.astype(np.float64))
            denom = np.abs(ref.astype(np.float64))
            nonzero = denom > 0
            abs_diff[name] = max(abs_diff[name], float(diff.max(initial=0.0)))
            rel = float((diff[nonzero] / denom[nonzero]).max(initial=0.0))
            rel_diff[name] = max(rel_diff[name], rel)
            if np.any(diff > atol + rtol * denom):
                passed[name] = False
                problems.append(
                    f"output {name!r} differs from torch at batch size {bs}: max abs diff "
                    f"{abs_diff[name]:.3g} (atol {atol:g}), max rel diff {rel_diff[name]:.3g} (rtol {rtol:g})"
                )
    has_ref = loaded.module is not None
    checks = tuple(
        OutputCheck(
            name=name,
            max_abs_diff=abs_diff[name] if has_ref else None,
            max_rel_diff=rel_diff[name] if has_ref else None,
            atol=tolerance.for_output(name)[0],
            rtol=tolerance.for_output(name)[1],
            passed=passed[name],
        )
        for name in loaded.output_names
    )
    result = VerificationResult(
        reference="torch" if has_ref else "none",
        batch_sizes=tuple(batch_sizes),
        outputs=checks,
        seconds=time.perf_counter() - start,
    )
    if problems and raise_on_mismatch:
        raise VerificationError(f"Verification of {label} failed: " + "; ".join(problems))
    return result


def _torch_outputs(loaded: LoadedModel, feeds: dict[str, Any]) -> list[Any]:
    import torch

    args = tuple(torch.from_numpy(feeds[s.name]) for s in loaded.inputs)
    with torch.no_grad():
        result = loaded.module(*args)
    tensors = result if isinstance(result, (tuple, list)) else (result,)
    return [t.detach().cpu().numpy() for t in tensors]


def _shape_problem(session: Any, name: str, shape: tuple[int, ...], batch_size: int) -> str | None:
    declared = next(o.shape for o in session.get_outputs() if o.name == name)
    if len(declared) != len(shape):
        return f"output {name!r} has rank {len(shape)}, graph declares {declared}"
    if shape[0] != batch_size:
        return f"output {name!r} batch dimension is {shape[0]}, expected {batch_size}"
    for axis, (want, got) in enumerate(zip(declared[1:], shape[1:], strict=True), start=1):
        if isinstance(want, int) and want != got:
            return f"output {name!r} dim {axis} is {got}, graph declares {want}"
    return None
