"""Shared fixtures: CDK helpers, a tiny ONNX model, and the local rehearsal (moto + data plane)."""

from __future__ import annotations

import contextlib
import http.server
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks

REPO_ROOT = Path(__file__).resolve().parents[1]
# app.py is a script at the repository root, not an installed package; pytest runs with
# --import-mode=importlib, which does not put the root on sys.path. Tests `import app`.
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))


# -- the `slow` marker: what `make test-fast` leaves out ------------------------------------------
#
# `make test-fast` (`pytest -m "not slow"`) must need no server. A test is slow when it uses a fixture
# that starts one (below); any other test that starts moto, Triton or the CDK CLI fails with a message
# saying to mark it, in every run (the guard wraps subprocess.Popen for the test's setup and call).

SERVER_FIXTURES = frozenset({"rehearsal", "cdk_cli_env"})
"""Fixtures that start moto + Triton (``rehearsal``) or are only used to run the CDK CLI (``cdk_cli_env``)."""


#: The longest test files, longest first (serial seconds measured in the suite, docs/test-time.md).
#: `make test` hands files to its workers in collection order (--dist loadfile
#: --no-loadscope-reorder): these first, then every other file with a slow test, then the rest, so
#: that no long file starts last and runs alone while the other workers have finished.
LONGEST_FILES_FIRST = (
    "test_rehearsal_demo.py",  # 187 s
    "test_construct_model_prefix_deploy.py",  # 132 s
    "test_rehearsal_deploy.py",  # 83 s
    "test_app_synth.py",  # 80 s
    "test_rehearsal_async.py",  # 78 s
    "test_build_local_serving.py",  # 75 s
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test that uses a server fixture; order the files longest first."""
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    has_slow = {item.path for item in items if item.get_closest_marker("slow") is not None}

    def rank(item: pytest.Item) -> tuple[int, int]:
        if item.path.name in LONGEST_FILES_FIRST:
            return (0, LONGEST_FILES_FIRST.index(item.path.name))
        return (1, 0) if item.path in has_slow else (2, 0)

    items.sort(key=rank)  # stable: a file's tests stay together and in their order


def _server_started_by(argv: Any) -> str | None:
    """Name the server an argv starts (moto, Triton, the CDK CLI), or None."""
    if isinstance(argv, (str, bytes, os.PathLike)):
        argv = [argv]
    words = [os.fsdecode(a) for a in argv]
    if any(w in ("rehearsal.moto_extensions", "moto.server", "moto_server") for w in words):
        return "the moto emulator"
    if words and Path(words[0]).name == "tritonserver":
        return "Triton"
    if words and Path(words[0]).name == "cdk":
        return "the CDK CLI"
    return None


_current_test: list[pytest.Item] = []


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _current_test[:] = [item]  # module fixtures start their servers in the setup of the module's first test


@pytest.fixture(scope="session", autouse=True)
def _servers_need_the_slow_marker() -> Iterator[None]:
    original = subprocess.Popen.__init__

    def guarded(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        server = _server_started_by(args)
        if server and _current_test and _current_test[0].get_closest_marker("slow") is None:
            raise RuntimeError(
                f"{_current_test[0].nodeid} starts {server} but is not marked slow: `make test-fast` "
                "must need no server. Add @pytest.mark.slow (or use the rehearsal / cdk_cli_env fixture)."
            )
        original(self, args, *rest, **kwargs)

    subprocess.Popen.__init__ = guarded  # type: ignore[method-assign]
    try:
        yield
    finally:
        subprocess.Popen.__init__ = original  # type: ignore[method-assign]


@pytest.fixture
def cdk_cli_env() -> dict[str, str]:
    """The environment the Makefile gives the CDK CLI (no Node.js banners, no update check or telemetry)."""
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }
    env.pop("TRITON_IAC_DEBUG", None)
    return env


@pytest.fixture
def run_app_script() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``app.py`` as the CDK CLI does: context in ``CDK_CONTEXT_JSON``, output in ``CDK_OUTDIR``.

    Call it with the context dict, the output folder and extra environment variables.
    """

    def run(context: dict[str, Any], outdir: Path, **env: str) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if k != "TRITON_IAC_DEBUG"}
        environ.update({"CDK_CONTEXT_JSON": json.dumps(context), "CDK_OUTDIR": str(outdir), **env})
        return subprocess.run(
            [sys.executable, str(REPO_ROOT / "app.py")],
            cwd=REPO_ROOT,
            env=environ,
            capture_output=True,
            text=True,
            check=False,
        )

    return run


@pytest.fixture
def modules_imported_by() -> Callable[..., list[str]]:
    """Run Python code in a fresh interpreter in the project root; return which watched modules it imported.

    Watched: torch, transformers, onnx, onnxruntime (what ``cdk synth`` and validation must not
    pay for), plus the names given as ``also`` (a user's factory module). The code must exit 0.
    """

    def run(code: str, *, also: Sequence[str] = ()) -> list[str]:
        watched = ("torch", "transformers", "onnx", "onnxruntime", *also)
        probe = f"\nimport sys\nprint('IMPORTED:' + ','.join(m for m in {watched!r} if m in sys.modules))\n"
        done = subprocess.run([sys.executable, "-c", code + probe], capture_output=True, text=True, cwd=REPO_ROOT)
        assert done.returncode == 0, done.stderr
        return [m for m in done.stdout.rpartition("IMPORTED:")[2].strip().split(",") if m]

    return run


@pytest.fixture
def stack() -> Stack:
    """An environment-agnostic stack in a fresh app."""
    return Stack(App(), "TestStack")


@pytest.fixture
def model_archive(tmp_path: Path) -> Path:
    """A tiny ``model.tar.gz`` (contents do not matter to synthesis)."""
    config = tmp_path / "config.pbtxt"
    config.write_text('name: "tiny"\nbackend: "onnxruntime"\n')
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(config, arcname="tiny/config.pbtxt")
    return archive


@pytest.fixture(scope="session")
def neuron_archive() -> Callable[..., Path]:
    """Return :func:`_write_neuron_archive`: ``(folder, target, *, model="bert", **changes) -> Path``."""
    return _write_neuron_archive


def _write_neuron_archive(folder: Path, target: str, *, model: str = "bert", **changes: Any) -> Path:
    """Write ``<folder>/<model>-<target>.tar.gz`` holding only ``<model>/neuron.json``, as model_build writes it.

    The manifest is the compile stage's own (:class:`model_build.neuron.NeuronManifest` of the call
    constructed from a static-shape target, written by ``write_neuron_manifest``), with ``changes``
    applied to its fields. There is **no compiled model** in the archive: the Neuron SDK is not
    installable here, and the constructs read only the manifest at synth.
    """
    from model_build.neuron import NeuronManifest, NeuronTarget, neuron_compile_call, write_neuron_manifest
    from model_build.sources import TensorSpec

    spec = NeuronTarget(target=target, batch_size=4, sequence_length=128)
    inputs = (TensorSpec("input_ids", "INT64", (-1,)), TensorSpec("attention_mask", "INT64", (-1,)))
    manifest = NeuronManifest.of(neuron_compile_call(spec, inputs), spec, "2.21.0" if target == "inf2" else "1.19.2")
    model_dir = folder / f"{model}-{target}" / model
    model_dir.mkdir(parents=True)
    path = write_neuron_manifest(model_dir, manifest)
    if changes:
        path.write_text(json.dumps({**json.loads(path.read_text()), **changes}))
    archive = folder / f"{model}-{target}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(path, arcname=f"{model}/neuron.json")
    return archive


@pytest.fixture
def bucket_artifact() -> Callable[[Stack], Any]:
    """Return ``ModelArtifact.from_bucket`` on an imported bucket ``models-bucket`` / ``bert/model.tar.gz``."""
    from serving_constructs import ModelArtifact

    def make(scope: Stack) -> Any:
        bucket = s3.Bucket.from_bucket_name(scope, "ModelsBucket", "models-bucket")
        return ModelArtifact.from_bucket(bucket, "bert/model.tar.gz", model_name="bert")

    return make


class _CfnResponses(http.server.BaseHTTPRequestHandler):
    """Records each cfn-response PUT (CloudFormation's pre-signed ResponseURL) by path: body and Content-Type."""

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received[self.path] = {  # type: ignore[attr-defined]
            "body": json.loads(body),
            "content_type": self.headers.get("Content-Type"),
        }
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def custom_resource_handler() -> Callable[[str], Any]:
    """Return ``run(folder)``: a context manager yielding ``(module, url, received)`` for a Lambda handler.

    ``module`` is ``constructs/serving_constructs/handlers/<folder>/index.py`` loaded as CloudFormation's
    Lambda would, with the asset's root importable (no bytecode written into the source tree); ``url`` is a loopback listener standing in
    for the pre-signed ResponseURL; ``received`` maps each PUT's path to its ``body`` and ``content_type``.
    """

    @contextlib.contextmanager
    def run(folder: str) -> Iterator[tuple[ModuleType, str, dict[str, dict[str, Any]]]]:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CfnResponses)
        server.received = {}  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            handlers = REPO_ROOT / "constructs" / "serving_constructs" / "handlers"
            spec = importlib.util.spec_from_file_location(f"{folder}_index", handlers / folder / "index.py")
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            dont_write, sys.dont_write_bytecode = sys.dont_write_bytecode, True
            sys.path.insert(0, str(handlers))  # the asset's root, as on Lambda: _cfn_response.py
            try:
                spec.loader.exec_module(module)
            finally:
                sys.path.remove(str(handlers))
                sys.dont_write_bytecode = dont_write
            yield module, f"http://127.0.0.1:{server.server_address[1]}", server.received  # type: ignore[attr-defined]
        finally:
            server.shutdown()
            server.server_close()

    return run


@pytest.fixture(scope="session")
def wait_for_stack() -> Callable[..., dict[str, Any]]:
    """Return ``wait(cloudformation, stack, timeout_s=120)``: the stack's description once no longer in progress.

    The emulator runs a Lambda custom resource in a child process that answers through its
    response URL, so a stack with one stays ``*_IN_PROGRESS`` until the handler has answered.
    """
    import time

    def wait(cloudformation: Any, stack: str, timeout_s: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            description = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
            if not description["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
                return dict(description)
            time.sleep(0.2)

    return wait


@pytest.fixture(scope="session")
def publish_file_assets() -> Callable[..., list[str]]:
    """Return a function that publishes a synthesized stack's file assets to S3, as ``cdk deploy`` does.

    For tests that create a stack through CloudFormation's API (no CDK CLI): a template with a
    Lambda function (a custom resource's handler) or a model archive reads them from the bootstrap
    bucket. ``publish(assembly_dir, stack_name, s3_client, account=..., region=...)`` creates the
    bucket when missing, zips directory assets, uploads each to its destination and returns the keys.
    """
    import shutil
    import tempfile

    def publish(assembly_dir: Path, stack_name: str, s3_client: Any, *, account: str, region: str) -> list[str]:
        manifest = json.loads((Path(assembly_dir) / f"{stack_name}.assets.json").read_text())
        keys = []
        for asset in manifest.get("files", {}).values():
            source = Path(assembly_dir) / asset["source"]["path"]
            for destination in asset["destinations"].values():
                bucket = destination["bucketName"].replace("${AWS::AccountId}", account).replace("${AWS::Region}", region)
                existing = {b["Name"] for b in s3_client.list_buckets().get("Buckets", [])}
                if bucket not in existing:
                    s3_client.create_bucket(Bucket=bucket)
                if asset["source"].get("packaging") == "zip" or source.is_dir():
                    with tempfile.TemporaryDirectory() as work:
                        archive = shutil.make_archive(str(Path(work) / "asset"), "zip", source)
                        s3_client.upload_file(archive, bucket, destination["objectKey"])
                else:
                    s3_client.upload_file(str(source), bucket, destination["objectKey"])
                keys.append(destination["objectKey"])
        return keys

    return publish


@pytest.fixture
def cfn_lint_errors() -> Callable[..., list[str]]:
    """Return a function giving cfn-lint's errors and warnings (not informational) for a template dict.

    Linted by default for a few SageMaker regions; pass ``regions=`` to lint for others (the app test
    lints for every region of the Triton image mapping). ``lint_all`` would also check regions where
    cfn-lint's resource spec has no SageMaker at all (E3006), which says nothing about the template.
    """
    import cfnlint.api

    def lint(
        template: dict[str, Any], *, regions: Sequence[str] = ("us-east-1", "us-west-2", "eu-west-1")
    ) -> list[str]:
        matches = cfnlint.api.lint(json.dumps(template), regions=list(regions))
        return [str(match) for match in matches if match.rule.id[0] in "EW"]

    return lint


@pytest.fixture(scope="session")
def nag_violations() -> Callable[[App], list[str]]:
    """Return a function that synthesizes an app under cdk-nag AwsSolutions and lists unacknowledged findings.

    Session-scoped (it holds no state), so module-scoped fixtures that synthesize once can use it;
    the synthesized templates stay in ``app.outdir``.

    cdk-nag v3 is a policy-validation plugin: findings of any severity land in
    ``validation-report.json`` (errors also fail synthesis), so the report is the source of truth.
    """

    def run(app: App) -> list[str]:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
        try:
            app.synth()
        except RuntimeError as error:
            if "Validation failed" not in str(error):
                raise
        report = json.loads((Path(app.outdir) / "validation-report.json").read_text())
        return [
            f"{violation['ruleName']} at {construct['constructPath']}"
            for plugin in report["pluginReports"]
            for violation in plugin["violations"]
            for construct in violation["violatingConstructs"]
        ]

    return run


@pytest.fixture(scope="session")  # stateless: module-scoped fixtures may use it
def relu_onnx() -> Callable[[Path], Path]:
    """Write a one-node ONNX model (``y = relu(x)``, FP32 ``[batch, 4]``, opset 17) to a path."""

    def make(path: Path) -> Path:
        import onnx
        from onnx import TensorProto, helper

        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
        graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
        onnx.save(
            helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), str(path)
        )
        return path

    return make


# -- the local rehearsal: moto + the bert-tiny artifact + LocalDataPlane with a real Triton ---------

_REHEARSAL_BUCKET = "rehearsal-models"
_REHEARSAL_KEY = "bert-tiny/model.tar.gz"


@dataclass
class Rehearsal:
    """moto holding the bert-tiny artifact, a data plane serving it, and the boto3 clients to use."""

    moto: Any
    plane: Any
    sagemaker: Any
    runtime: Any
    spec: Any
    built: Any
    bucket: str = _REHEARSAL_BUCKET

    def create_endpoint(
        self, name: str, variants: dict[str, float], *, model_data_url: str | None = None
    ) -> None:
        """Create one Model per variant (same artifact) and an endpoint splitting traffic by weight."""
        from rehearsal.api_endpoints import create_triton_endpoint

        create_triton_endpoint(
            self.sagemaker,
            name,
            model_data_url=model_data_url or f"s3://{self.bucket}/{_REHEARSAL_KEY}",
            triton_model_name=self.spec.name,
            variants=variants,
        )


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rehearsal]:
    """A ``bert`` endpoint (one ``AllTraffic`` variant) deployed in moto and served by the data plane."""
    import boto3
    from botocore.config import Config

    from model_build.examples import get_example
    from model_build.pipeline import build
    from rehearsal.data_plane import LocalDataPlane
    from rehearsal.moto_server import MotoServer

    spec = get_example("bert-tiny")
    built = build(spec)
    with MotoServer() as moto:
        s3_client = boto3.client("s3", **moto.boto3_kwargs())
        s3_client.create_bucket(Bucket=_REHEARSAL_BUCKET)
        s3_client.upload_file(str(built.archive_path), _REHEARSAL_BUCKET, _REHEARSAL_KEY)
        sagemaker = boto3.client("sagemaker", **moto.boto3_kwargs())
        with LocalDataPlane(moto.endpoint_url, work_dir=tmp_path_factory.mktemp("plane"), seed=0) as plane:
            # Exactly what a client does against AWS, with the endpoint URL swapped.
            runtime = boto3.client(
                "sagemaker-runtime",
                endpoint_url=plane.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(max_pool_connections=32, retries={"max_attempts": 1}),
            )
            r = Rehearsal(moto, plane, sagemaker, runtime, spec, built)
            r.create_endpoint("bert", {"AllTraffic": 1.0})
            yield r


# -- tuning profiles -----------------------------------------------------------------------------


@pytest.fixture
def make_profile() -> Callable[..., Any]:
    """Build a valid bert-tiny ``TuningProfile`` (ig-db on ml.g4dn.xlarge, measured on one T4); keyword overrides replace fields."""
    from model_build.profile import MeasuredFigures, MeasuredHardware, Provenance, TuningProfile

    def make(**overrides: Any) -> Any:
        fields: dict[str, Any] = {
            "model_name": "bert-tiny",
            "configuration": "ig-db",
            "instance_type": "ml.g4dn.xlarge",
            "max_batch_size": 32,
            "dynamic_batching": True,
            "preferred_batch_sizes": (8, 16),
            "max_queue_delay_microseconds": 100,
            "instance_count": 2,
            "initial_instance_count": 10,
            "invocations_per_instance_target": 3000,
            "safety_factor": 0.7,
            "target_invocations_per_minute": 30_000,
            "latency_target_ms": 500.0,
            "latency_percentile": 99.0,
            "measured": MeasuredFigures(
                throughput_rps=72.0,
                invocations_per_minute=4320.0,
                p50_ms=10.0,
                p90_ms=12.0,
                p99_ms=20.0,
                concurrency=8,
                mean_batch_size=4.0,
                requests=720,
            ),
            "provenance": Provenance(
                machine="test", date="2026-11-21T00:00:00Z", tool_versions={"triton": "2.51"}
            ),
            "hardware": MeasuredHardware.gpu("Tesla T4", 1, cpu_model="test CPU", cpu_cores=4),
        }
        fields.update(overrides)
        return TuningProfile(**fields)

    return make


# -- model files a user may bring: sound and broken (model_build's validation) ------------------


@pytest.fixture(scope="session")
def model_file_zoo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real model files of every kind model_build must recognise, written once per session.

    Sound: ``onnx`` (``x`` FP32 [batch, 4] + an initializer → ``y``), ``torchscript`` (scripted),
    ``torchscript_traced``. Wrong kind: ``state_dict``, ``whole_module``, ``checkpoint``,
    ``legacy_state_dict``, ``torch_export`` (.pt2). Broken: ``onnx_truncated``, ``onnx_external``
    (+ its ``.data`` file), ``onnx_fixed_batch``, ``torchscript_truncated``, ``empty``, ``text``,
    ``lfs_pointer``, ``html``, ``png``, ``gzip``, ``random``.
    """
    import gzip

    import onnx
    import torch
    from onnx import TensorProto, helper, numpy_helper

    folder = tmp_path_factory.mktemp("model-file-zoo")
    files: dict[str, Path] = {}

    def onnx_model(batch: str | int, weights: int = 4) -> onnx.ModelProto:
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, weights])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, weights])
        w = numpy_helper.from_array(torch.arange(weights, dtype=torch.float32).numpy(), "w")
        graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "add", [x], [y], [w])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9)

    files["onnx"] = folder / "model.onnx"
    onnx.save(onnx_model("batch"), str(files["onnx"]))
    files["onnx_fixed_batch"] = folder / "fixed_batch.onnx"
    onnx.save(onnx_model(1), str(files["onnx_fixed_batch"]))
    files["onnx_external"] = folder / "external.onnx"
    onnx.save(
        onnx_model("batch", weights=64),
        str(files["onnx_external"]),
        save_as_external_data=True,
        location="external.onnx.data",
        size_threshold=0,
    )
    big = folder / "big.onnx"
    onnx.save(onnx_model("batch", weights=4096), str(big))
    files["onnx_truncated"] = folder / "truncated.onnx"
    files["onnx_truncated"].write_bytes(big.read_bytes()[: big.stat().st_size // 2])

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 2)).eval()
    files["torchscript"] = folder / "scripted.pt"
    torch.jit.save(torch.jit.script(net), str(files["torchscript"]))
    files["torchscript_traced"] = folder / "traced.pt"
    torch.jit.save(torch.jit.trace(net, torch.zeros(2, 4)), str(files["torchscript_traced"]))
    files["torchscript_truncated"] = folder / "truncated.pt"
    files["torchscript_truncated"].write_bytes(files["torchscript"].read_bytes()[:1500])
    files["state_dict"] = folder / "state_dict.pt"
    torch.save(net.state_dict(), files["state_dict"])
    files["whole_module"] = folder / "whole_module.pt"
    torch.save(net, files["whole_module"])
    files["checkpoint"] = folder / "checkpoint.pth"
    torch.save({"epoch": 3, "model_state_dict": net.state_dict()}, files["checkpoint"])
    files["legacy_state_dict"] = folder / "legacy.pt"
    torch.save(net.state_dict(), files["legacy_state_dict"], _use_new_zipfile_serialization=False)
    files["torch_export"] = folder / "program.pt2"
    torch.export.save(torch.export.export(net, (torch.zeros(2, 4),)), str(files["torch_export"]))

    files["empty"] = folder / "empty.onnx"
    files["empty"].write_bytes(b"")
    files["text"] = folder / "notes.onnx"
    files["text"].write_text("input: x, output: y\nthis is not a model\n")
    files["lfs_pointer"] = folder / "lfs.onnx"
    files["lfs_pointer"].write_text(
        "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 1234\n"
    )
    files["html"] = folder / "download.onnx"
    files["html"].write_text("<!DOCTYPE html><html><body>Sign in</body></html>\n")
    files["png"] = folder / "picture.onnx"
    files["png"].write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(64))
    files["gzip"] = folder / "model.tar.gz"
    files["gzip"].write_bytes(gzip.compress(b"not a model"))
    files["random"] = folder / "random.onnx"
    files["random"].write_bytes(bytes((i * 7919 + 13) % 251 for i in range(4096)))
    return files
