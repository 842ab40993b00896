"""Write the model files the spec files in this folder point at, standing in for *your* files.

In real use you already have these: a TorchScript file from ``torch.jit.save``, an ONNX file
from ``torch.onnx.export``, or your model's class plus a ``torch.save(model.state_dict())`` file.
Here one tiny classifier (:mod:`classifier_net`, seeded weights) is written all three ways::

    python examples/bring-your-own/make_model_files.py            # into this folder
    python examples/bring-your-own/make_model_files.py --out DIR  # elsewhere

Outputs: ``classifier.pt`` (TorchScript), ``classifier.onnx`` (ONNX, dynamic batch axis) and
``classifier_weights.pt`` (state dict for the factory).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 0


def write_model_files(out: Path) -> list[Path]:
    """Write ``classifier.pt``, ``classifier.onnx`` and ``classifier_weights.pt`` into ``out``."""
    import torch

    sys.path.insert(0, str(HERE))
    try:
        from classifier_net import FEATURES, TinyClassifier
    finally:
        sys.path.remove(str(HERE))

    torch.manual_seed(SEED)
    model = TinyClassifier().eval()
    out.mkdir(parents=True, exist_ok=True)
    torchscript, onnx_file, weights = out / "classifier.pt", out / "classifier.onnx", out / "classifier_weights.pt"
    torch.jit.save(torch.jit.script(model), str(torchscript))
    torch.save(model.state_dict(), weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter's deprecation notice
        torch.onnx.export(
            model,
            (torch.zeros(2, FEATURES),),
            str(onnx_file),
            dynamo=False,
            input_names=["features"],
            output_names=["logits"],
            dynamic_axes={"features": {0: "batch"}, "logits": {0: "batch"}},
            opset_version=17,
        )
    return [torchscript, onnx_file, weights]


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``--out`` and write the files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write into (default: this folder)")
    args = parser.parse_args(argv)
    for path in write_model_files(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
