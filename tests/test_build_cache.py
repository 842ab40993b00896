"""model_build.cache + model_build.pipeline: input-hash cache, atomic entries, no torch on a hit."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from model_build import cache
from model_build.examples import get_example
from model_build.pipeline import BuildResult, build
from model_build.sources import OnnxFile
from model_build.spec import ModelSpec, TritonOptions
from model_build.triton_config import parse_config

REPO_ROOT = Path(__file__).resolve().parents[1]




@pytest.fixture(scope="module")
def bert_build(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    return build(get_example("bert-tiny"), cache_dir=tmp_path_factory.mktemp("bert-cache"))


@pytest.fixture
def onnx_spec(relu_onnx, tmp_path: Path) -> ModelSpec:
    return ModelSpec(
        name="relu",
        source=OnnxFile(relu_onnx(tmp_path / "relu.onnx")),
        triton=TritonOptions(max_batch_size=4, instance_kind="KIND_CPU"),
    )


def test_build_writes_a_complete_entry(bert_build: BuildResult) -> None:
    # GIVEN a cold build of bert-tiny
    result = bert_build
    # THEN the entry is keyed by the inputs hash and holds the archive, manifest and repository
    assert not result.cached
    assert result.entry_dir.name == result.inputs_hash == get_example("bert-tiny").inputs_hash()
    config = parse_config((result.repository_dir / "bert-tiny" / "config.pbtxt").read_text())
    assert config.name == "bert-tiny" and (result.repository_dir / "bert-tiny" / "1" / "model.onnx").is_file()
    # AND the manifest records hash, tools, tensors, verification, archive digest and stage times
    m = json.loads(result.manifest_path.read_text())
    assert m == result.manifest
    assert m["inputs_hash"] == result.inputs_hash and m["tool_versions"]["torch"].startswith("2.")
    assert [i["name"] for i in m["inputs"]] == ["input_ids", "attention_mask"]
    logits = m["verification"]["outputs"][0]
    assert (
        m["verification"]["passed"] and logits["name"] == "logits" and logits["max_abs_diff"] < logits["atol"]
    )
    assert m["archive"]["size_bytes"] == result.archive_path.stat().st_size
    assert set(m["stage_seconds"]) == {"load", "export", "verify", "repository", "package"}
    assert m["spec"]["triton"]["max_batch_size"] == 64 and m["platform"] == "onnxruntime_onnx"


def test_second_build_is_a_cache_hit(bert_build: BuildResult) -> None:
    # WHEN the same spec is built again
    again = build(get_example("bert-tiny"), cache_dir=bert_build.entry_dir.parent)
    # THEN nothing is rebuilt and the same archive is returned
    assert again.cached and again.archive_path == bert_build.archive_path
    assert set(again.stage_times) == {"cache"}


def test_cache_hit_does_not_import_torch(bert_build: BuildResult, modules_imported_by: Callable[..., list[str]]) -> None:
    # GIVEN a pre-built spec WHEN a fresh interpreter builds it again
    code = (
        "from model_build.examples import get_example\n"
        "from model_build.pipeline import build\n"
        f"result = build(get_example('bert-tiny'), cache_dir={str(bert_build.entry_dir.parent)!r})\n"
        "assert result.cached\n"
    )
    # THEN it is a hit and neither torch nor onnx was imported
    assert modules_imported_by(code) == []


def test_cache_dir_comes_from_environment(
    onnx_spec: ModelSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN MODEL_BUILD_CACHE_DIR set and no cache_dir argument
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path / "env-cache"))
    # WHEN built THEN the entry lands there
    result = build(onnx_spec)
    assert result.entry_dir.parent == tmp_path / "env-cache"


def test_cache_dir_defaults_to_cwd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(cache.CACHE_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    assert cache.resolve_cache_dir() == tmp_path / ".model-build-cache"


def test_cache_dir_relative_paths_can_be_taken_from_another_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN a caller that runs elsewhere than the build (the rehearsal, for the app in the project root)
    project = tmp_path / "project"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(cache.CACHE_ENV_VAR, raising=False)
    # WHEN the folder is resolved from the project THEN the default, a relative variable and a
    # relative argument lie under the project, and an absolute path stays as it is
    assert cache.resolve_cache_dir(base=project) == project / ".model-build-cache"
    monkeypatch.setenv(cache.CACHE_ENV_VAR, "builds")
    assert cache.resolve_cache_dir(base=project) == project / "builds"
    assert cache.resolve_cache_dir("other", base=project) == project / "other"
    monkeypatch.setenv(cache.CACHE_ENV_VAR, str(tmp_path / "abs"))
    assert cache.resolve_cache_dir(base=project) == tmp_path / "abs"
    # AND without a base a relative variable is returned as given (taken from the current folder)
    monkeypatch.setenv(cache.CACHE_ENV_VAR, "builds")
    assert cache.resolve_cache_dir() == Path("builds")


def test_failing_stage_leaves_no_entry_and_next_build_succeeds(
    onnx_spec: ModelSpec, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the package stage raises mid-build
    import model_build.package

    def explode(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    cache_dir = tmp_path / "cache"
    with monkeypatch.context() as patch:
        patch.setattr(model_build.package, "package_repository", explode)
        with pytest.raises(OSError, match="disk full"):
            build(onnx_spec, cache_dir=cache_dir)
    # THEN no entry and no temp folder remain
    assert cache.lookup(cache_dir, onnx_spec.inputs_hash()) is None
    assert [p.name for p in cache_dir.iterdir() if not p.name.endswith(".lock")] == []
    # AND the next build succeeds from scratch
    assert not build(onnx_spec, cache_dir=cache_dir).cached


def test_killed_build_is_never_a_hit_and_is_cleaned(onnx_spec: ModelSpec, tmp_path: Path) -> None:
    # GIVEN a build process killed (SIGKILL, no cleanup) while packaging
    cache_dir = tmp_path / "cache"
    assert isinstance(onnx_spec.source, OnnxFile)
    code = (
        "import os, signal\n"
        "from pathlib import Path\n"
        "import model_build.package\n"
        "from model_build.pipeline import build\n"
        "from model_build.sources import OnnxFile\n"
        "from model_build.spec import ModelSpec, TritonOptions\n"
        "model_build.package.package_repository = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)\n"
        f"spec = ModelSpec(name='relu', source=OnnxFile(Path({str(onnx_spec.source.path)!r})),\n"
        "                 triton=TritonOptions(max_batch_size=4, instance_kind='KIND_CPU'))\n"
        f"build(spec, cache_dir={str(cache_dir)!r})\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT)
    assert run.returncode == -9, run.stderr
    # THEN a half-written temp folder exists but is not a hit
    stale = list(cache_dir.glob(f"{cache.TEMP_PREFIX}{onnx_spec.inputs_hash()}-*"))
    assert len(stale) == 1 and (stale[0] / "repository").is_dir()
    assert cache.lookup(cache_dir, onnx_spec.inputs_hash()) is None
    # WHEN built again THEN it builds (the dead process's lock is gone) and removes the leftover
    result = build(onnx_spec, cache_dir=cache_dir)
    assert not result.cached and not stale[0].exists()


def test_incomplete_entry_without_manifest_is_rebuilt(onnx_spec: ModelSpec, tmp_path: Path) -> None:
    # GIVEN a folder at the entry's final name without a manifest (e.g. a partial copy)
    cache_dir = tmp_path / "cache"
    partial = cache.entry_dir(cache_dir, onnx_spec.inputs_hash())
    partial.mkdir(parents=True)
    (partial / cache.ARCHIVE_NAME).write_bytes(b"truncated")
    # WHEN built THEN it is not taken as a hit and is replaced by a complete entry
    result = build(onnx_spec, cache_dir=cache_dir)
    assert not result.cached and (result.entry_dir / cache.MANIFEST_NAME).is_file()
    assert result.archive_path.read_bytes() != b"truncated"


def test_concurrent_builds_of_one_hash_build_once(onnx_spec: ModelSpec, tmp_path: Path) -> None:
    # GIVEN two threads building the same spec into one cache at the same time
    cache_dir = tmp_path / "cache"
    results: list[BuildResult] = []
    threads = [
        threading.Thread(target=lambda: results.append(build(onnx_spec, cache_dir=cache_dir)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # THEN exactly one built and the other reused its entry (the flock serialised them)
    assert sorted(r.cached for r in results) == [False, True]
    assert results[0].archive_path == results[1].archive_path


def test_rebuild_in_fresh_cache_gives_identical_archive(onnx_spec: ModelSpec, tmp_path: Path) -> None:
    # GIVEN the same spec built into two separate caches
    one = build(onnx_spec, cache_dir=tmp_path / "c1")
    two = build(onnx_spec, cache_dir=tmp_path / "c2")
    # THEN the archives are byte-identical (the deploy-time asset is reproducible)
    assert one.archive_path.read_bytes() == two.archive_path.read_bytes()
    assert one.manifest["verification"]["reference"] == "none"


def test_invalid_spec_is_rejected_before_any_work(onnx_spec: ModelSpec, tmp_path: Path) -> None:
    bad = dataclasses.replace(onnx_spec, triton=TritonOptions(max_batch_size=0))
    with pytest.raises(ValueError, match=r"Invalid ModelSpec 'relu': triton.max_batch_size must be >= 1"):
        build(bad, cache_dir=tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_build_with_progress_prints_summary(
    onnx_spec: ModelSpec, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN built with progress THEN a per-stage line and a summary table go to stderr
    build(onnx_spec, cache_dir=tmp_path / "cache", progress=True)
    err = capsys.readouterr().err
    assert "Exporting to ONNX" in err and "max abs diff y" in err and "no reference" in err


def test_entry_folder_is_readable_by_others(onnx_spec: ModelSpec, tmp_path: Path) -> None:
    result = build(onnx_spec, cache_dir=tmp_path / "cache")
    assert os.stat(result.entry_dir).st_mode & 0o755 == 0o755


def test_bert_tiny_archive_is_reproducible_across_caches(bert_build: BuildResult, tmp_path: Path) -> None:
    # GIVEN bert-tiny already built into one cache
    # WHEN it is built from scratch into another cache (load, export, verify, package again)
    again = build(get_example("bert-tiny"), cache_dir=tmp_path / "other-cache")
    # THEN the archive is byte-identical: same inputs hash, same deploy-time asset bytes
    assert not again.cached
    assert again.archive_path.read_bytes() == bert_build.archive_path.read_bytes()
    assert again.manifest["archive"]["sha256"] == bert_build.manifest["archive"]["sha256"]
