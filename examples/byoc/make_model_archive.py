"""Write model.tar.gz: a small ONNX classifier as SageMaker model data for the byoc example.

A linear softmax classifier over 4 features and 3 classes (fixed weights: class k wins when
feature k is the largest of the first three), saved as ``classifier/model.onnx`` in a
deterministic archive (fixed mtimes and owners: the same bytes every run, so the same asset hash).

    python examples/byoc/make_model_archive.py            # examples/byoc/model.tar.gz
    python examples/byoc/make_model_archive.py --out DIR  # DIR/model.tar.gz
"""

from __future__ import annotations

import argparse
import gzip
import io
import tarfile
from pathlib import Path

MEMBER = "classifier/model.onnx"


def classifier_onnx() -> bytes:
    """Return the classifier as ONNX bytes: softmax(x @ W + b), x float32 [batch, 4] -> [batch, 3]."""
    import onnx
    from onnx import TensorProto, helper

    weights = [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0], [0.1, 0.1, 0.1]]
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["inputs", "W"], ["logits_raw"]),
            helper.make_node("Add", ["logits_raw", "b"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
        ],
        "classifier",
        [helper.make_tensor_value_info("inputs", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3])],
        initializer=[
            helper.make_tensor("W", TensorProto.FLOAT, [4, 3], [v for row in weights for v in row]),
            helper.make_tensor("b", TensorProto.FLOAT, [3], [0.0, 0.0, 0.0]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)
    onnx.checker.check_model(model)
    return model.SerializeToString()


def write_archive(out_dir: Path) -> Path:
    """Write ``out_dir/model.tar.gz`` holding ``classifier/model.onnx``; return its path."""
    data = classifier_onnx()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, is_dir in (("classifier", True), (MEMBER, False)):
            info = tarfile.TarInfo(name)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if is_dir:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                archive.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                archive.addfile(info, io.BytesIO(data))
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "model.tar.gz"
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
        gz.write(buffer.getvalue())
    return path


def main() -> None:
    """Parse ``--out`` and write the archive."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent, help="folder to write model.tar.gz to"
    )
    print(write_archive(parser.parse_args().out))


if __name__ == "__main__":
    main()
