"""model_build.parallel.build_many: misses build in worker processes, hits never import torch, errors name the model.

One build cache for the module: the first test builds resnet-tiny (a torch source) and a one-node
ONNX model cold, side by side in two worker processes; the second reads both back as cache hits.
Both run in a fresh interpreter, so what the parent imported is visible.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from model_build.parallel import build_many
from model_build.sources import OnnxFile
from model_build.spec import ModelSpec
from model_build.user_errors import UserError

SPECS = """
from pathlib import Path
from model_build.examples import get_example
from model_build.parallel import build_many
from model_build.sources import OnnxFile
from model_build.spec import ModelSpec
specs = [get_example("resnet-tiny"), ModelSpec(name="relu", source=OnnxFile(Path({onnx!r})))]
results = build_many(specs, cache_dir={cache!r}, workers=2)
assert list(results) == ["resnet-tiny", "relu"], list(results)
assert {{name: r.cached for name, r in results.items()}} == {{"resnet-tiny": {cached}, "relu": {cached}}}
assert all(r.archive_path.is_file() for r in results.values())
"""


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("parallel")
    return {"cache": folder / "cache", "onnx": folder / "relu.onnx"}


def test_build_many_builds_misses_in_worker_processes(
    cache: dict[str, Path], relu_onnx: Callable[[Path], Path], modules_imported_by: Callable[..., list[str]]
) -> None:
    # GIVEN an empty cache and two models: resnet-tiny (torch) and an ONNX file (onnxruntime)
    relu_onnx(cache["onnx"])
    # WHEN both are built with two workers
    code = SPECS.format(onnx=str(cache["onnx"]), cache=str(cache["cache"]), cached=False)
    imported = modules_imported_by(code)
    # THEN both were built (not cached), and not in this process: it imported neither torch nor onnxruntime
    assert imported == []


def test_build_many_cache_hits_never_import_torch(
    cache: dict[str, Path], modules_imported_by: Callable[..., list[str]]
) -> None:
    # GIVEN the cache the previous test filled
    # WHEN the same models are asked for again
    code = SPECS.format(onnx=str(cache["onnx"]), cache=str(cache["cache"]), cached=True)
    # THEN every one is a cache hit, and nothing heavy was imported
    assert modules_imported_by(code) == []


def test_build_many_failure_names_the_model(tmp_path: Path, relu_onnx: Callable[[Path], Path]) -> None:
    import onnx

    # GIVEN a good model and one whose ONNX uses an operator that does not exist
    good = relu_onnx(tmp_path / "good.onnx")
    proto = onnx.load(str(good))
    proto.graph.node[0].op_type = "NoSuchOp"
    bad = tmp_path / "bad.onnx"
    onnx.save(proto, str(bad))
    specs = [ModelSpec(name="good", source=OnnxFile(good)), ModelSpec(name="broken", source=OnnxFile(bad))]
    # WHEN both are built in the pool
    with pytest.raises(UserError) as error:
        build_many(specs, cache_dir=tmp_path / "cache", workers=2)
    # THEN one error names the model and its cause
    assert "building model 'broken' failed" in str(error.value)
    assert "NoSuchOp" in str(error.value)


@pytest.mark.parametrize(
    ("arguments", "fragments"),
    [
        pytest.param({"workers": 0}, ["workers must be an int >= 1 or None", "got 0"], id="workers-zero"),
        pytest.param(
            {"duplicate": True},
            ["specs[1] and specs[0] are both named 'relu'", "give each model its own name"],
            id="duplicate-names",
        ),
        pytest.param({"not_a_spec": True}, ["specs[1] must be a ModelSpec (got str)"], id="not-a-spec"),
    ],
)
def test_build_many_bad_arguments_fail_before_any_build(
    tmp_path: Path, relu_onnx: Callable[[Path], Path], arguments: dict[str, object], fragments: list[str]
) -> None:
    # GIVEN one wrong argument
    spec = ModelSpec(name="relu", source=OnnxFile(relu_onnx(tmp_path / "relu.onnx")))
    specs: list[object] = [spec, spec if arguments.get("duplicate") else "relu.onnx" if arguments.get("not_a_spec") else
                           ModelSpec(name="other", source=spec.source)]  # fmt: skip
    # WHEN build_many is called
    with pytest.raises(UserError) as error:
        build_many(specs, cache_dir=tmp_path / "cache", workers=arguments.get("workers", 2))  # type: ignore[arg-type]
    # THEN one message says what is wrong, and nothing was built (no cache folder)
    assert [f for f in fragments if f not in str(error.value)] == [], str(error.value)
    assert not (tmp_path / "cache").exists()
