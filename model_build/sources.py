"""Model sources: where a model comes from, how it is fingerprinted and how it is loaded.

Every source is a small frozen dataclass with:

* ``fingerprint() -> bytes`` — what the cache key hashes. It reads files and JSON only and
  never imports torch, so a cache hit (and ``cdk synth``) stays light.
* ``load() -> LoadedModel`` — the torch module (or ``None`` for an ONNX file) plus named
  tensor specs, example inputs and output names. torch/transformers are imported here.
* ``describe() -> dict`` — a JSON description for the build manifest.
* ``problems() -> list[str]`` — validation problems, merged into ``ModelSpec.validate()``;
  each starts with the spec key it is about (``source.path``), names the user's own file and
  says the fix. Model files are recognised by their bytes (:mod:`model_build.model_files`) and
  factory targets by their source (:mod:`model_build.factory_target`): validation imports
  neither torch nor the user's code.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from model_build import factory_target
from model_build.checks import (
    expect_int,
    expect_int_tuple,
    expect_path,
    expect_str,
    expect_str_tuple,
    is_int,
    is_number,
)
from model_build.dtypes import DTYPE_ALIASES, TRITON_DTYPES, is_float
from model_build.model_files import onnx_file_problems, sniff, torchscript_file_problems, torchscript_forward
from model_build.package import file_sha256
from model_build.user_errors import DEBUG_ENV, describe_value, did_you_mean

# Size used for dynamic (-1) non-batch dims when example or verification inputs are made.
DYNAMIC_DIM_EXAMPLE = 8
# Batch size of the example inputs given to the exporter: 2, not 1, so that no exporter can
# mistake the batch dimension for a broadcastable constant 1.
EXPORT_BATCH_SIZE = 2

ARCHITECTURES: tuple[str, ...] = (
    "bert-sequence-classification",
    "resnet-image-classification",
    "pegasus-summarization",
)
# The keyword arguments a TransformersConfig's ``config`` is passed to, per architecture (for messages).
_CONFIG_CLASSES = {
    "bert-sequence-classification": "BertConfig",
    "resnet-image-classification": "ResNetConfig",
    "pegasus-summarization": "PegasusConfig",
}


class SourceLoadError(RuntimeError):
    """Loading a source failed at build time: its file would not load or its factory raised.

    Bad input that can be seen without running anything is reported by ``problems()`` before
    the build; this is what only running the user's code or ``torch.jit.load`` reveals.
    """


@dataclass(frozen=True)
class TensorSpec:
    """One named input or output tensor, without the batch dimension (as Triton lists it).

    Attributes:
        name: Tensor name in the ONNX graph and the Triton config.
        dtype: Triton data type name without ``TYPE_``: "FP32", "INT64", ...
        dims: Dimensions after the batch dimension; -1 marks a dynamic dimension.
        value_range: ``[low, high)`` for generated test data. Defaults to None: standard
            normal for floats, ``[0, 2)`` for integers (safe for ids and masks).
    """

    name: str
    dtype: str
    dims: tuple[int, ...]
    value_range: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as JSON-able data (``value_range`` only when set)."""
        data: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "dims": list(self.dims)}
        if self.value_range is not None:
            data["value_range"] = list(self.value_range)
        return data


@dataclass(frozen=True)
class LoadedModel:
    """A loaded source, ready for export and verification.

    Attributes:
        module: The torch module in eval mode whose ``forward`` takes the inputs positionally
            in ``inputs`` order and returns a tensor or tuple of tensors; None for ONNX files.
        inputs: Input tensor specs, in ``forward`` argument order.
        output_names: Output names, in ``forward`` return order.
        onnx_path: The ONNX file, for sources that already are ONNX.
    """

    module: Any
    inputs: tuple[TensorSpec, ...]
    output_names: tuple[str, ...]
    onnx_path: Path | None = None


@runtime_checkable
class ModelSource(Protocol):
    """What every model source provides (see the module docstring)."""

    def fingerprint(self) -> bytes:
        """Return the bytes the cache key hashes (no torch import)."""
        ...

    def describe(self) -> dict[str, Any]:
        """Return a JSON description for the manifest."""
        ...

    def problems(self) -> list[str]:
        """Return validation problems (empty when valid)."""
        ...

    def load(self) -> LoadedModel:
        """Load the model (imports torch where needed)."""
        ...


def random_inputs(specs: tuple[TensorSpec, ...], batch_size: int, seed: int) -> dict[str, Any]:
    """Return seeded numpy inputs of shape ``[batch_size, *dims]`` for each spec.

    Dynamic dims become :data:`DYNAMIC_DIM_EXAMPLE`.
    """
    import numpy as np

    from model_build.dtypes import TRITON_TO_NUMPY

    rng = np.random.default_rng(seed)
    out: dict[str, Any] = {}
    for spec in specs:
        shape = (batch_size, *(DYNAMIC_DIM_EXAMPLE if d < 0 else d for d in spec.dims))
        np_dtype = np.dtype(TRITON_TO_NUMPY[spec.dtype])
        arr: Any
        if is_float(spec.dtype):
            if spec.value_range is None:
                arr = rng.standard_normal(shape)
            else:
                arr = rng.uniform(spec.value_range[0], spec.value_range[1], shape)
        elif spec.dtype == "BOOL":
            arr = rng.integers(0, 2, shape).astype(bool)
        else:
            low, high = spec.value_range if spec.value_range is not None else (0, 2)
            arr = rng.integers(int(low), int(high), shape)
        out[spec.name] = arr.astype(np_dtype)
    return out


def tensor_spec_problems(label: str, specs: Any) -> list[str]:
    """Return the problems of declared tensor specs (types, names, dtypes, dims), each naming ``label[i]``."""
    if not isinstance(specs, tuple):
        fix = "pass a tuple: (TensorSpec('x', 'FP32', (16,)),)"
        return [f"{label} must be a tuple of TensorSpec (got {describe_value(specs)}); {fix}"]
    problems: list[str] = []
    names = []
    for i, spec in enumerate(specs):
        key = f"{label}[{i}]"
        if not isinstance(spec, TensorSpec):
            problems.append(
                f"{key} must be a TensorSpec (got {describe_value(spec)}); pass TensorSpec('x', 'FP32', (16,))"
            )
            continue
        if not isinstance(spec.name, str) or not spec.name:
            problems.append(f"{key}.name must be a non-empty str (got {describe_value(spec.name)}); name the tensor")
        else:
            names.append(spec.name)
        problems.extend(p for p in [dtype_problem(f"{key}.dtype", spec.dtype)] if p)
        dims_problem = expect_int_tuple(f"{key}.dims", spec.dims)
        if dims_problem:
            problems.append(dims_problem)
        elif any(d == 0 or d < -1 for d in spec.dims):
            problems.append(
                f"{key}.dims must be positive or -1 for dynamic (got {list(spec.dims)}); list the dims "
                "after the batch dimension, e.g. (3, 224, 224)"
            )
        if spec.value_range is not None:
            vr = spec.value_range
            if not (isinstance(vr, tuple) and len(vr) == 2 and all(is_number(v) for v in vr)):
                problems.append(
                    f"{key}.value_range must be None or a (low, high) tuple of numbers (got {describe_value(vr)}); "
                    "pass e.g. (0, 30522)"
                )
            elif not vr[0] < vr[1]:
                problems.append(f"{key}.value_range must have low < high (got {list(vr)}); swap or widen it")
    if len(set(names)) != len(names):
        problems.append(f"{label} names must be unique (got {names}); rename the repeated tensor")
    return problems


def declared_output_names(source: Any) -> tuple[str, ...] | None:
    """Return the output names a source has, known without loading it; None when they are not.

    An ONNX file names its outputs in its graph (read by :func:`model_build.model_files.sniff`),
    a TorchScript file and a factory returning a bare module by ``output_names``, and a
    transformers classifier returns ``logits``; a factory returning a ``LoadedModel`` names its
    own only when it runs.
    """
    if isinstance(source, OnnxFile):
        summary = sniff(Path(source.path)).onnx
        return None if summary is None else tuple(t.name for t in summary.outputs)
    if isinstance(source, TorchScriptFile):
        return tuple(source.output_names)
    if isinstance(source, Factory) and source.inputs:
        return tuple(source.output_names or ("output",))
    if isinstance(source, TransformersConfig):
        return ("summary_ids",) if source.architecture == "pegasus-summarization" else ("logits",)
    return None


def dtype_problem(key: str, dtype: Any) -> str | None:
    """Return a problem unless ``dtype`` is a Triton data type name; suggests the spelling for aliases."""
    if not isinstance(dtype, str):
        return f"{key} must be a str such as 'FP32' (got {describe_value(dtype)})"
    if dtype in TRITON_DTYPES:
        return None
    allowed = ", ".join(sorted(TRITON_DTYPES))
    alias = DTYPE_ALIASES.get(dtype.lower()) or (dtype[5:] if dtype.startswith("TYPE_") else None)
    fix = f"; write {alias!r}" if alias in TRITON_DTYPES else did_you_mean(dtype.upper(), sorted(TRITON_DTYPES))
    return f"{key} must be one of {allowed} (got {dtype!r}){fix}"


def _output_names_problems(label: str, names: Any) -> list[str]:
    problem = expect_str_tuple(label, names)
    if problem:
        return [problem]
    if len(set(names)) != len(names) or not all(names):
        return [f"{label} must be non-empty and unique (got {list(names)}); name each output once"]
    return []


def _file_digest(path: Path) -> bytes:
    return bytes.fromhex(file_sha256(path))


def _dir_digest(path: Path) -> bytes:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        digest.update(_file_digest(file))
    return digest.digest()


def canonical_json(data: Any) -> bytes:
    """Return ``data`` as compact JSON with sorted keys: the same data always gives the same bytes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class OnnxFile:
    """An existing ONNX model; the export stage copies it.

    There is no torch reference, so verification checks that ONNX Runtime runs it at several
    batch sizes with finite outputs of the declared shapes, and reports "no reference".

    Attributes:
        path: The ``.onnx`` file (weights must be embedded, not external data).
    """

    path: Path

    def fingerprint(self) -> bytes:
        """Return the sha256 of the file bytes."""
        return b"onnx-file:" + _file_digest(Path(self.path))

    def describe(self) -> dict[str, Any]:
        """Return a JSON description for the manifest."""
        return {"kind": "onnx-file", "path": str(self.path)}

    def problems(self) -> list[str]:
        """Return validation problems: the file must be a sound, self-contained ONNX model."""
        type_problem = expect_path("source.path", self.path)
        if type_problem:
            return [type_problem]
        return onnx_file_problems(Path(self.path), "source.path")

    def load(self) -> LoadedModel:
        """Read the tensor specs from the ONNX graph (imports onnx, not torch)."""
        from model_build.triton_config import onnx_io

        inputs, outputs = onnx_io(Path(self.path))
        return LoadedModel(
            module=None, inputs=inputs, output_names=tuple(o.name for o in outputs), onnx_path=Path(self.path)
        )


@dataclass(frozen=True)
class TorchScriptFile:
    """A TorchScript file (``torch.jit.save``) with declared input specs.

    Attributes:
        path: The ``.pt`` file.
        inputs: Input specs in ``forward`` argument order (batch dimension excluded).
        output_names: Output names in ``forward`` return order. Defaults to ``("output",)``.
    """

    path: Path
    inputs: tuple[TensorSpec, ...]
    output_names: tuple[str, ...] = ("output",)

    def fingerprint(self) -> bytes:
        """Return the file digest plus the declared tensor specs."""
        meta = {"inputs": [s.to_dict() for s in self.inputs], "outputs": list(self.output_names)}
        return b"torchscript:" + _file_digest(Path(self.path)) + canonical_json(meta)

    def describe(self) -> dict[str, Any]:
        """Return a JSON description for the manifest."""
        return {"kind": "torchscript-file", "path": str(self.path)}

    def problems(self) -> list[str]:
        """Return validation problems: the file must be TorchScript, the inputs declared."""
        problems = tensor_spec_problems("source.inputs", self.inputs)
        if isinstance(self.inputs, tuple) and not self.inputs:
            problems.append(
                "source.inputs must list at least one TensorSpec (a TorchScript file does not say its input "
                "shapes); declare each forward() argument without the batch dimension"
            )
        problems.extend(_output_names_problems("source.output_names", self.output_names))
        type_problem = expect_path("source.path", self.path)
        file_problems = [type_problem] if type_problem else torchscript_file_problems(Path(self.path), "source.path")
        problems.extend(file_problems)
        if not problems:
            forward = torchscript_forward(Path(self.path))
            declared = [s.name for s in self.inputs]
            if forward is not None and not forward.required <= len(declared) <= len(forward.names):
                problems.append(
                    f"source.inputs declares {len(declared)} input(s) ({', '.join(declared)}) but forward"
                    f"({', '.join(forward.names)}) in {str(self.path)!r} takes "
                    f"{forward.required if forward.required == len(forward.names) else f'{forward.required} to {len(forward.names)}'}"
                    ": declare one input per forward() argument, in order"
                )
        return problems

    def load(self) -> LoadedModel:
        """Load the scripted module with ``torch.jit.load`` on the CPU.

        Raises:
            SourceLoadError: torch cannot load the file (damaged beyond what validation sees).
        """
        import torch

        try:
            module = torch.jit.load(str(self.path), map_location="cpu").eval()
        except Exception as exc:
            raise SourceLoadError(
                f"source.path {str(self.path)!r}: torch.jit.load failed ({type(exc).__name__}: "
                f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}); save it again with torch.jit.save"
            ) from exc
        return LoadedModel(module=module, inputs=tuple(self.inputs), output_names=tuple(self.output_names))


@dataclass(frozen=True)
class TransformersConfig:
    """A Hugging Face ``transformers`` architecture built offline from its config.

    Weights are random (seeded) unless ``weights_dir`` points at a local checkpoint;
    nothing is ever downloaded.

    Attributes:
        architecture: "bert-sequence-classification" (inputs ``input_ids``, ``attention_mask``
            INT64 ``[sequence_length]`` → ``logits``), "resnet-image-classification"
            (``pixel_values`` FP32 ``[C, image_size, image_size]`` → ``logits``) or
            "pegasus-summarization" (``input_ids``, ``attention_mask`` INT64
            ``[sequence_length]`` → ``summary_ids`` INT64 ``[max_new_tokens]``: the whole greedy
            decode of ``PegasusForConditionalGeneration`` in one graph, see
            :func:`greedy_summarizer`).
        config: Keyword arguments of ``BertConfig`` / ``ResNetConfig`` / ``PegasusConfig``.
        seed: torch seed for the random initialisation. Defaults to 0.
        weights_dir: Local ``save_pretrained`` folder to load instead. Defaults to None.
        sequence_length: Token inputs (BERT, PEGASUS) are padded/truncated to this length.
            Defaults to 128.
        image_size: ResNet input height and width. Defaults to 224.
        max_new_tokens: Tokens a PEGASUS summary has (greedy steps, the last one ends the
            summary with EOS; rows that end earlier are padded). Used by
            "pegasus-summarization" only. Defaults to 16.
    """

    architecture: str
    config: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    weights_dir: Path | None = None
    sequence_length: int = 128
    image_size: int = 224
    max_new_tokens: int = 16

    def __hash__(self) -> int:
        # The config dict would make the generated hash fail; specs are used as dict keys.
        return hash(self.fingerprint_key())

    def fingerprint_key(self) -> bytes:
        """Return the canonical JSON of the fields (weights folder by path, not content)."""
        return canonical_json(
            {**self._meta(), "weights_dir": None if self.weights_dir is None else str(self.weights_dir)}
        )

    def _meta(self) -> dict[str, Any]:
        meta = {
            "architecture": self.architecture,
            "config": dict(self.config),
            "seed": self.seed,
            "sequence_length": self.sequence_length,
            "image_size": self.image_size,
        }
        if self.architecture == "pegasus-summarization":
            # Only where it means something: the hashes (and CDK assets) of the other
            # architectures stay what they were before this field existed.
            meta["max_new_tokens"] = self.max_new_tokens
        return meta

    def fingerprint(self) -> bytes:
        """Return the canonical config JSON, seed and shapes, plus the weights' digest."""
        weights = b"" if self.weights_dir is None else _dir_digest(Path(self.weights_dir))
        return b"transformers:" + canonical_json(self._meta()) + b"weights:" + weights

    def describe(self) -> dict[str, Any]:
        """Return a JSON description for the manifest."""
        return {
            "kind": "transformers-config",
            **self._meta(),
            "weights_dir": None if self.weights_dir is None else str(self.weights_dir),
        }

    def problems(self) -> list[str]:
        """Return validation problems."""
        problems = [
            p
            for p in (
                expect_str("source.architecture", self.architecture),
                expect_int("source.seed", self.seed),
                expect_int("source.sequence_length", self.sequence_length),
                expect_int("source.image_size", self.image_size),
                expect_int("source.max_new_tokens", self.max_new_tokens),
                None if self.weights_dir is None else expect_path("source.weights_dir", self.weights_dir),
            )
            if p
        ]
        if not isinstance(self.config, Mapping):
            problems.append(
                f"source.config must be a dict of the config's keyword arguments (got {describe_value(self.config)})"
            )
        if problems:
            return problems
        if self.architecture not in ARCHITECTURES:
            problems.append(
                f"source.architecture must be one of {', '.join(ARCHITECTURES)} (got {self.architecture!r})"
                f"{did_you_mean(self.architecture, ARCHITECTURES)}; for another model use an onnx, "
                "torchscript or factory source"
            )
        try:
            canonical_json(dict(self.config))
        except TypeError as exc:
            problems.append(f"source.config must be JSON-serialisable ({exc}); use numbers, strings and lists")
        if self.sequence_length < 1:
            problems.append(f"source.sequence_length must be >= 1 (got {self.sequence_length})")
        pegasus = self.architecture == "pegasus-summarization"
        # BertConfig's and PegasusConfig's defaults; a weights folder brings its own config.
        max_pos = dict(self.config).get("max_position_embeddings", 1024 if pegasus else 512)
        token_model = self.architecture in ("bert-sequence-classification", "pegasus-summarization")
        if token_model and self.weights_dir is None and is_int(max_pos) and self.sequence_length > max_pos:
            problems.append(
                f"source.sequence_length must be <= config max_position_embeddings {max_pos} "
                f"(got {self.sequence_length}); lower it or raise max_position_embeddings"
            )
        if pegasus and self.max_new_tokens < 1:
            problems.append(
                f"source.max_new_tokens must be >= 1 (got {self.max_new_tokens}); a summary has at least one token"
            )
        elif pegasus and self.weights_dir is None and is_int(max_pos) and self.max_new_tokens >= max_pos:
            problems.append(
                f"source.max_new_tokens must be < config max_position_embeddings {max_pos} (got "
                f"{self.max_new_tokens}; the decoder also reads its start token); lower it or raise "
                "max_position_embeddings"
            )
        if self.image_size < 1:
            problems.append(f"source.image_size must be >= 1 (got {self.image_size})")
        if self.weights_dir is not None and not Path(self.weights_dir).is_dir():
            problems.append(
                f"source.weights_dir {str(self.weights_dir)!r} must be an existing folder (the "
                "save_pretrained output); fix the path or leave it out for seeded random weights"
            )
        return problems

    def load(self) -> LoadedModel:
        """Build the architecture with seeded random weights (or local weights).

        Raises:
            SourceLoadError: transformers refused ``config`` (a key of the wrong type, say: only
                transformers knows its keys, and validation does not import it) or the weights.
        """
        import torch

        torch.manual_seed(self.seed)
        try:
            return self._build()
        except Exception as exc:
            detail = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
            weights = " and source.weights_dir" if self.weights_dir is not None else ""
            raise SourceLoadError(
                f"source.config{weights}: transformers cannot build {self.architecture!r} from {'them' if weights else 'it'} "
                f"({type(exc).__name__}: {detail[:300]}); fix the config's keys and values (the keyword "
                f"arguments of {_CONFIG_CLASSES.get(self.architecture, 'the config class')}; "
                f"set {DEBUG_ENV}=1 for the traceback)"
            ) from exc

    def _build(self) -> LoadedModel:
        if self.architecture == "pegasus-summarization":
            return self._build_pegasus()
        if self.architecture == "bert-sequence-classification":
            from transformers import BertConfig, BertForSequenceClassification

            cfg = BertConfig(**dict(self.config))
            if self.weights_dir is not None:
                bert = BertForSequenceClassification.from_pretrained(
                    str(self.weights_dir), local_files_only=True
                )
            else:
                bert = BertForSequenceClassification(cfg)
            inputs = (
                TensorSpec("input_ids", "INT64", (self.sequence_length,), (0, cfg.vocab_size)),
                # All-ones masks: the realistic case, and it keeps verification away from
                # fully-masked rows whose softmax is numerically arbitrary.
                TensorSpec("attention_mask", "INT64", (self.sequence_length,), (1, 2)),
            )
            return LoadedModel(
                module=_logits_only(bert.eval(), ("input_ids", "attention_mask")),
                inputs=inputs,
                output_names=("logits",),
            )
        from transformers import ResNetConfig, ResNetForImageClassification

        rcfg = ResNetConfig(**dict(self.config))
        if self.weights_dir is not None:
            resnet = ResNetForImageClassification.from_pretrained(
                str(self.weights_dir), local_files_only=True
            )
        else:
            resnet = ResNetForImageClassification(rcfg)
        pixel = TensorSpec("pixel_values", "FP32", (rcfg.num_channels, self.image_size, self.image_size))
        return LoadedModel(
            module=_logits_only(resnet.eval(), ("pixel_values",)), inputs=(pixel,), output_names=("logits",)
        )

    def _build_pegasus(self) -> LoadedModel:
        from transformers import PegasusConfig, PegasusForConditionalGeneration

        # Eager attention: the torch reference then computes the plain MatMul/Softmax the graph
        # holds, rather than whichever fused SDPA kernel the platform picks; token ids must
        # match exactly, and a different rounding can flip a near-tie argmax.
        if self.weights_dir is not None:
            model = PegasusForConditionalGeneration.from_pretrained(
                str(self.weights_dir), local_files_only=True, attn_implementation="eager"
            )
        else:
            config = PegasusConfig(**{**dict(self.config), "attn_implementation": "eager"})
            model = PegasusForConditionalGeneration(config)
        inputs = (
            TensorSpec("input_ids", "INT64", (self.sequence_length,), (0, model.config.vocab_size)),
            # All-ones masks, as for BERT: padding is covered by the tokenized rows of the tests.
            TensorSpec("attention_mask", "INT64", (self.sequence_length,), (1, 2)),
        )
        return LoadedModel(
            module=greedy_summarizer(model.eval(), self.max_new_tokens),
            inputs=inputs,
            output_names=("summary_ids",),
        )


@dataclass(frozen=True)
class Factory:
    """A Python function that builds the model: returns a ``torch.nn.Module`` or a :class:`LoadedModel`.

    Attributes:
        target: ``"package.module:function"`` (importable from ``sys.path``) or
            ``"path/to/file.py:function"`` (a file; its folder is put on ``sys.path`` while it
            runs, so it can import its neighbours). The function may also be a class.
        kwargs: JSON-serialisable keyword arguments for the function. Defaults to none.
        inputs: Input specs, in ``forward`` argument order, when the function returns a bare
            ``torch.nn.Module``. Defaults to none (the function returns a ``LoadedModel``).
        output_names: Output names when it returns a bare module. Defaults to ``("output",)``
            then.
        data_files: Files the function reads (weights, vocabularies): their bytes are part of
            the inputs hash, so new weights mean a new build. Defaults to none.
    """

    target: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[TensorSpec, ...] = ()
    output_names: tuple[str, ...] = ()
    data_files: tuple[Path, ...] = ()

    def __hash__(self) -> int:
        # The kwargs dict would make the generated hash fail; specs are used as dict keys.
        return hash((self.target, canonical_json(dict(self.kwargs)), self.inputs, self.output_names, self.data_files))

    def _parsed(self) -> factory_target.Target | None:
        return factory_target.parse_target(self.target) if isinstance(self.target, str) else None

    def fingerprint(self) -> bytes:
        """Return the bytes of the factory's source files, the kwargs, the declared tensors and data files.

        The source files are the target's module file and the ``.py`` files it imports from its
        own folder or package, transitively (:func:`model_build.factory_target.local_sources`),
        each keyed by its path relative to the import root, so that the hash does not depend on
        where the project is checked out. Installed packages are covered by the tool versions
        only: bump a kwarg when such a dependency changes.
        """
        digest = hashlib.sha256()
        parsed = self._parsed()
        file = None if parsed is None else factory_target.module_file(parsed)
        if parsed is None or file is None:
            digest.update(b"unresolved:" + str(self.target).encode())
        else:
            # The function name and (for a dotted target) the module name; a file target's
            # folder is left out: the same files elsewhere are the same model.
            digest.update(f"{parsed.function}@{'' if parsed.is_file else parsed.module}".encode())
            root = factory_target.search_root(parsed, file).resolve()
            for source_file in factory_target.local_sources(parsed, file):
                rel = source_file.relative_to(root).as_posix() if source_file.is_relative_to(root) else source_file.name
                digest.update(rel.encode() + b"\0" + _file_digest(source_file))
        meta = {
            "kwargs": dict(self.kwargs),
            "inputs": [s.to_dict() for s in self.inputs],
            "outputs": list(self.output_names),
        }
        digest.update(canonical_json(meta))
        for data_file in self.data_files:
            digest.update(b"data:" + _file_digest(Path(data_file)))
        return b"factory:" + digest.digest()

    def describe(self) -> dict[str, Any]:
        """Return a JSON description for the manifest."""
        return {
            "kind": "factory",
            "target": self.target,
            "kwargs": dict(self.kwargs),
            "inputs": [s.to_dict() for s in self.inputs],
            "output_names": list(self.output_names),
            "data_files": [str(p) for p in self.data_files],
        }

    def problems(self) -> list[str]:
        """Return validation problems, found without importing the target's module."""
        problems = [p for p in (expect_str("source.target", self.target),) if p]
        if not isinstance(self.kwargs, Mapping):
            problems.append(
                f"source.kwargs must be a dict of keyword arguments (got {describe_value(self.kwargs)}); "
                "pass e.g. {'width': 16}"
            )
        else:
            try:
                canonical_json(dict(self.kwargs))
            except TypeError as exc:
                problems.append(
                    f"source.kwargs must be JSON-serialisable ({exc}); pass numbers, strings, lists and dicts"
                )
            if isinstance(self.target, str):
                problems.extend(factory_target.target_problems(self.target, self.kwargs))
        if self.inputs != ():
            problems.extend(tensor_spec_problems("source.inputs", self.inputs))
        if self.output_names != ():
            problems.extend(_output_names_problems("source.output_names", self.output_names))
            if self.inputs == ():
                problems.append(
                    "source.output_names is set but source.inputs is not: declare both when the factory "
                    "returns a torch.nn.Module, neither when it returns a LoadedModel"
                )
        if not isinstance(self.data_files, tuple):
            problems.append(
                f"source.data_files must be a tuple of paths (got {describe_value(self.data_files)}); "
                "pass (Path('weights.pt'),)"
            )
        else:
            for i, data_file in enumerate(self.data_files):
                key = f"source.data_files[{i}]"
                type_problem = expect_path(key, data_file)
                if type_problem:
                    problems.append(type_problem)
                elif not Path(data_file).is_file():
                    problems.append(
                        f"{key} {str(data_file)!r} is not an existing file; fix the path (relative to the spec "
                        "file's folder) or remove it"
                    )
        return problems

    def load(self) -> LoadedModel:
        """Import the module and call the function; wrap a bare module with the declared tensors.

        Raises:
            SourceLoadError: The import failed, the function raised, or it returned something
                other than a ``torch.nn.Module`` or ``LoadedModel`` (or a module without declared
                inputs).
        """
        try:
            with factory_target.imported(self.target) as function:
                try:
                    loaded = function(**dict(self.kwargs))
                except Exception as exc:
                    raise SourceLoadError(
                        f"source.target {self.target!r} raised {type(exc).__name__}: {exc}; fix the "
                        f"function (set {DEBUG_ENV}=1 for the traceback)"
                    ) from exc
        except factory_target.FactoryImportError as exc:
            raise SourceLoadError(
                f"source.target {self.target!r}: {exc}; fix the module (set {DEBUG_ENV}=1 for the traceback)"
            ) from exc
        if isinstance(loaded, LoadedModel):
            if self.inputs:
                raise SourceLoadError(
                    f"source.target {self.target!r} returns a LoadedModel, which names its own inputs, and "
                    "the spec declares source.inputs too: declare them in one place"
                )
            return loaded
        import torch

        if isinstance(loaded, torch.nn.Module):
            if not self.inputs:
                raise SourceLoadError(
                    f"source.target {self.target!r} returns a torch.nn.Module ({type(loaded).__name__}) and the "
                    "spec declares no source.inputs: declare each forward() argument (name, dtype, dims "
                    "without the batch dimension)"
                )
            return LoadedModel(
                module=loaded.eval(), inputs=tuple(self.inputs), output_names=tuple(self.output_names or ("output",))
            )
        raise SourceLoadError(
            f"source.target {self.target!r} must return a torch.nn.Module or model_build.sources.LoadedModel "
            f"(got {type(loaded).__name__}); end the function with `return model`"
        )


def _logits_only(model: Any, input_names: tuple[str, ...]) -> Any:
    """Wrap a transformers classifier so ``forward(*inputs)`` returns the logits tensor only.

    The exporters and the verification call ``forward`` positionally; transformers models take
    keyword arguments and return a ``ModelOutput``, which would export as extra outputs.
    """
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *args: Any) -> Any:
            return self.inner(**dict(zip(input_names, args, strict=True)), return_dict=False)[0]

    return LogitsOnly(model).eval()


def greedy_summarizer(model: Any, max_new_tokens: int) -> Any:
    """Wrap a transformers encoder-decoder so ``forward(input_ids, attention_mask)`` returns a greedy summary.

    The encoder runs once; the decoder runs ``max_new_tokens`` times over the tokens so far (no
    KV cache: at stand-in sizes recomputing the prefix is cheap, and the loop traces to one
    fixed-shape ONNX graph with only the batch dynamic). Each step does what
    ``model.generate(do_sample=False, num_beams=1, max_new_tokens=max_new_tokens)`` does with
    the model's ``generation_config``: argmax of the last position's logits; at the last step
    the ``forced_eos_token_id`` (PEGASUS sets it) replaces it; a row that has produced EOS
    emits ``pad_token_id`` from then on. The result equals ``generate``'s sequences without the
    decoder start token, padded to ``max_new_tokens`` where ``generate`` stopped early
    (``tests/test_build_summarizer.py`` checks this).

    Returns:
        A module in eval mode whose output is INT64 ``[batch, max_new_tokens]``.
    """
    import torch

    generation = model.generation_config
    start_id = int(generation.decoder_start_token_id)
    eos = generation.eos_token_id
    eos_ids = [int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos])]
    pad_id = int(generation.pad_token_id if generation.pad_token_id is not None else eos_ids[0])
    forced_eos = generation.forced_eos_token_id
    if isinstance(forced_eos, (list, tuple)):
        forced_eos = forced_eos[0]
    forced_eos_id = None if forced_eos is None else int(forced_eos)

    class GreedySummarizer(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            inner = self.inner
            encoder = inner.get_encoder()
            memory = encoder(input_ids=input_ids, attention_mask=attention_mask, return_dict=False)[0]
            decoder = inner.get_decoder()
            # lm_head's weight is PEGASUS's tied embedding. ``weight @ hidden.T`` instead of
            # ``lm_head(hidden)``: the same products, but the exporter's constant folding would
            # otherwise store a transposed copy of the 96103 x d_model matrix (twice the file).
            weight = inner.get_output_embeddings().weight
            bias = getattr(inner, "final_logits_bias", None)
            tokens = torch.zeros_like(input_ids[:, :1]) + start_id
            unfinished = torch.ones_like(tokens)
            for step in range(max_new_tokens):
                hidden = decoder(
                    input_ids=tokens,
                    encoder_hidden_states=memory,
                    encoder_attention_mask=attention_mask,
                    use_cache=False,
                    return_dict=False,
                )[0][:, -1]
                if step == max_new_tokens - 1 and forced_eos_id is not None:
                    chosen = torch.zeros_like(tokens[:, :1]) + forced_eos_id
                else:
                    logits = torch.matmul(weight, hidden.T).T
                    if bias is not None:
                        logits = logits + bias
                    chosen = logits.argmax(dim=-1, keepdim=True)
                chosen = chosen * unfinished + pad_id * (1 - unfinished)
                for eos_id in eos_ids:
                    unfinished = unfinished * (chosen != eos_id).to(unfinished.dtype)
                tokens = torch.cat([tokens, chosen], dim=1)
            return tokens[:, 1:]

    return GreedySummarizer(model).eval()
