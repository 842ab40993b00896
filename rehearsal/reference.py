"""Inputs for any model, and its answers from its own source, to check what an endpoint returns.

The inputs come from the model's tensor specs as the build manifest lists them (name, dtype,
dims), with the value ranges the source declares (token ids below the vocabulary size, masks of
ones …). Token models (``input_ids`` + ``attention_mask``) get tokenizer-shaped rows instead —
``[CLS] w1 … wn [SEP] [PAD] …`` for BERT, ``w1 … wn </s> <pad> …`` for PEGASUS — with a matching
mask, so the check also covers masking.

The reference is the source itself: the torch module (``spec.source.load().module``) or, for an
ONNX source, ONNX Runtime on the same file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from triton_runtime.kserve import decode_response, encode

#: WordPiece ids of bert-base-uncased's special tokens: [PAD], [CLS], [SEP].
PAD_ID, CLS_ID, SEP_ID = 0, 101, 102
#: The first id of ordinary word pieces in bert-base-uncased (below are [unusedN] and symbols).
FIRST_WORD_ID = 1996
#: PEGASUS's end-of-sequence id (``</s>``; its ``<pad>`` is 0 like BERT's, and it has no start token).
PEGASUS_EOS_ID = 1


def tokenized_inputs(
    batch_size: int,
    sequence_length: int,
    *,
    seed: int,
    vocab_size: int = 30522,
    start_id: int | None = CLS_ID,
    end_id: int = SEP_ID,
) -> dict[str, np.ndarray]:
    """Return seeded inputs that look like a tokenizer's output (BERT's by default).

    Each row is ``[CLS] w1 … wn [SEP] [PAD] …`` with a random length, and the attention mask is 1
    over the real tokens and 0 over the padding, so the comparison also covers masking.

    Args:
        batch_size: Rows.
        sequence_length: Columns (the model's fixed sequence length).
        seed: The numpy seed.
        vocab_size: Ids are drawn below it.
        start_id: The id opening each row; None for tokenizers without one (PEGASUS). Defaults
            to BERT's ``[CLS]``.
        end_id: The id closing each row. Defaults to BERT's ``[SEP]`` (PEGASUS: ``</s>``,
            :data:`PEGASUS_EOS_ID`).

    Returns:
        ``{"input_ids": int64[batch, seq], "attention_mask": int64[batch, seq]}``.
    """
    rng = np.random.default_rng(seed)
    ids = np.full((batch_size, sequence_length), PAD_ID, dtype=np.int64)
    mask = np.zeros((batch_size, sequence_length), dtype=np.int64)
    first = 0 if start_id is None else 1
    for row in range(batch_size):
        words = int(rng.integers(4, sequence_length - 1))
        if start_id is not None:
            ids[row, 0] = start_id
        ids[row, first : first + words] = rng.integers(FIRST_WORD_ID, vocab_size, words)
        ids[row, first + words] = end_id
        mask[row, : first + words + 1] = 1
    return {"input_ids": ids, "attention_mask": mask}


def kserve_request(inputs: Mapping[str, np.ndarray]) -> bytes:
    """Encode inputs as a KServe v2 JSON inference request (what Triton's ``/invocations`` takes)."""
    return encode(inputs, encoding="json", route="sagemaker").body


def kserve_outputs(body: bytes) -> dict[str, np.ndarray]:
    """Decode a KServe v2 JSON response into output name → array."""
    return decode_response(body, "application/json")


def find_build_manifest(archive_sha256: str, cache_dir: Path) -> dict[str, Any] | None:
    """Return the manifest of the cached build whose ``model.tar.gz`` has this sha256, or None."""
    for path in sorted(cache_dir.glob("*/manifest.json")):
        try:
            manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if manifest.get("archive", {}).get("sha256") == archive_sha256:
            return manifest
    return None


def build_cache_dir(project_root: Path) -> Path:
    """Return the build cache the CDK app uses (it runs in the project root).

    ``$MODEL_BUILD_CACHE_DIR``, else ``.model-build-cache``; a relative path is taken from the root.
    """
    from model_build.cache import CACHE_ENV_VAR, DEFAULT_CACHE_DIR

    configured = os.environ.get(CACHE_ENV_VAR)
    path = Path(configured) if configured else Path(DEFAULT_CACHE_DIR)
    return path if path.is_absolute() else project_root / path


class ModelReference:
    """A model's own source, loaded once, answering the same inputs the endpoint gets.

    Args:
        spec: The ``ModelSpec`` that was built and deployed.
        manifest: Its build manifest (``inputs``/``outputs`` with ``name``, ``dtype``, ``dims``).
    """

    def __init__(self, spec: Any, manifest: Mapping[str, Any]) -> None:
        self.spec = spec
        self.manifest = manifest
        self.loaded = spec.source.load()
        self.input_names = tuple(i["name"] for i in manifest["inputs"])
        self.output_names = tuple(o["name"] for o in manifest["outputs"])
        # Source tensor name -> the served name, where the backend renames them (PyTorch's INPUT__0 ...).
        self._served_names = {source: served for served, source in (manifest.get("source_tensor_names") or {}).items()}
        self._session: Any = None

    @property
    def kind(self) -> str:
        """``torch`` or ``ONNX Runtime``: what computes the reference."""
        return "torch" if self.loaded.module is not None else "ONNX Runtime"

    def _vocab_size(self) -> int | None:
        for spec in self.loaded.inputs:
            if spec.name == "input_ids" and spec.value_range is not None:
                return int(spec.value_range[1])
        return None

    def is_token_model(self) -> bool:
        """Whether the inputs are BERT-style token ids and an attention mask of one fixed length."""
        inputs = {i["name"]: i for i in self.manifest["inputs"]}
        vocab = self._vocab_size()
        return (
            set(inputs) == {"input_ids", "attention_mask"}
            and all(i["dtype"] == "INT64" and len(i["dims"]) == 1 and i["dims"][0] > 4 for i in inputs.values())
            and vocab is not None
            and vocab > FIRST_WORD_ID
        )

    def inputs(self, batch_size: int, seed: int) -> dict[str, np.ndarray]:
        """Return seeded inputs of ``batch_size`` rows for every input the manifest lists, in its order."""
        if self.is_token_model():
            sequence_length = int(self.manifest["inputs"][0]["dims"][0])
            vocab = self._vocab_size()
            assert vocab is not None
            if getattr(self.spec.source, "architecture", None) == "pegasus-summarization":
                return tokenized_inputs(
                    batch_size, sequence_length, seed=seed, vocab_size=vocab, start_id=None, end_id=PEGASUS_EOS_ID
                )
            return tokenized_inputs(batch_size, sequence_length, seed=seed, vocab_size=vocab)
        from model_build.sources import TensorSpec, random_inputs

        ranges = {self._served_names.get(s.name, s.name): s.value_range for s in self.loaded.inputs}
        specs = tuple(
            TensorSpec(i["name"], i["dtype"], tuple(int(d) for d in i["dims"]), ranges.get(i["name"]))
            for i in self.manifest["inputs"]
        )
        arrays = random_inputs(specs, batch_size, seed)
        return {name: np.asarray(arrays[name]) for name in self.input_names}

    def outputs(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run the source on ``inputs``; return output name → array (float64, or int64 for integer outputs).

        Integer outputs (a summarizer's token ids) stay integers, so they compare exactly.
        """
        if self.loaded.module is None:
            return self._onnx_outputs(inputs)
        import torch

        served = self._served_names
        tensors = [torch.from_numpy(np.ascontiguousarray(inputs[served.get(t.name, t.name)])) for t in self.loaded.inputs]
        with torch.no_grad():
            out = self.loaded.module(*tensors)
        values: Sequence[Any] = out if isinstance(out, tuple | list) else (out,)
        names = [served.get(n, n) for n in self.loaded.output_names] or self.output_names
        return {name: _widened(v.detach().cpu().numpy()) for name, v in zip(names, values, strict=False)}

    def _onnx_outputs(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        import onnxruntime as ort

        if self._session is None:
            self._session = ort.InferenceSession(str(self.loaded.onnx_path), providers=["CPUExecutionProvider"])
        feed = {i.name: inputs[i.name] for i in self._session.get_inputs()}
        names = [o.name for o in self._session.get_outputs()]
        return {n: _widened(v) for n, v in zip(names, self._session.run(names, feed), strict=True)}

    def tolerance(self, output: str) -> tuple[float, float]:
        """``(atol, rtol)`` of one output, from the spec."""
        atol, rtol = self.spec.tolerance.for_output(output)
        return float(atol), float(rtol)


def _widened(values: Any) -> np.ndarray:
    """Integers as int64 (compared exactly), everything else as float64 (compared within a tolerance)."""
    array = np.asarray(values)
    return array.astype(np.int64 if array.dtype.kind in "iu" else np.float64)
