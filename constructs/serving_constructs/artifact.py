"""Where a model's data comes from, what binding it gives a model, and read access to exactly that.

A :class:`ModelArtifact` is a source with static factories and a ``bind()`` (aws-sagemaker-alpha's
``ModelData.bind`` -> ``ModelDataConfig``): binding returns a small frozen
:class:`ModelDataBinding` (the S3 URI, one archive object or a prefix, the compression, the Triton
model name when known) and grants the model's role exactly what that binding needs. A prefix of
many archives (multi-model endpoints, next) and uncompressed model data fit without a new signature.
"""

from __future__ import annotations

import abc
import enum
import functools
import os
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from aws_cdk import Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets

from constructs import Construct
from model_build.user_errors import did_you_mean
from serving_constructs._nag import acknowledge, flattened
from serving_constructs._validation import (
    PropsError,
    check_interface,
    check_str,
    check_type,
    given,
    raise_if_any,
)

if TYPE_CHECKING:
    from model_build.engine_target import EngineManifest
    from model_build.neuron import NeuronManifest
    from model_build.spec import ModelSpec

# The id of the asset a bound artifact creates inside the model construct (a contract: changing
# it changes the asset's logical id).
_ASSET_ID = "ModelData"

# How to make an archive, for the messages that refuse something else.
_BUILD_FIX = (
    "build one with `python -m model_build build --onnx model.onnx --name <model> --output-dir dist/` "
    "(or pass the spec to ModelArtifact.from_build)"
)


class S3DataType(enum.Enum):
    """Whether the S3 URI names one object or a key prefix (SageMaker's ``S3DataType``)."""

    OBJECT = "S3Object"
    PREFIX = "S3Prefix"


class Compression(enum.Enum):
    """How the model data is stored (SageMaker's ``CompressionType``)."""

    GZIP = "Gzip"
    """A gzip-compressed tar archive (``model.tar.gz``), or a prefix of such archives."""
    NONE = "None"
    """Uncompressed files under a prefix: SageMaker copies them as they are, no extraction."""


@dataclass(frozen=True)
class ModelDataBinding:
    """What binding a :class:`ModelArtifact` gives the model that serves it.

    Attributes:
        s3_uri: where the data is: ``s3://bucket/key.tar.gz`` or ``s3://bucket/prefix/``.
        s3_data_type: one object, or every object under a prefix.
        compression: Gzip archive(s), or uncompressed data (under a prefix only).
        model_name: the Triton model the data holds, when known.
        bucket_name: the bucket of the data (a token for a bucket made in the app), so a copy of it
            (``ModelPrefix``) knows its source without parsing ``s3_uri``. None when unknown.
        object_key: the object key (or prefix) of the data inside ``bucket_name``. None when unknown.
        grant_read: grants another principal read of the data, as the model reads it (for a prefix of
            archives, the listing too): what :meth:`TritonModel.grant_read_model_data` calls, e.g. for
            the post-deploy check, which reads the Triton config inside the archive. None when unknown.
    """

    s3_uri: str
    s3_data_type: S3DataType
    compression: Compression
    model_name: str | None = None
    bucket_name: str | None = None
    object_key: str | None = None
    grant_read: Callable[[iam.IGrantable], iam.Grant] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        # SageMaker also takes one uncompressed object, but a Triton model repository is a folder:
        # a single uncompressed file cannot be one.
        if self.s3_data_type is S3DataType.OBJECT and self.compression is not Compression.GZIP:
            raise ValueError(
                "one S3 object must be a gzip tar archive (Compression.GZIP); use a prefix for uncompressed data"
            )

    @property
    def is_archive(self) -> bool:
        """Whether the data is one ``model.tar.gz`` object (rendered as ``ModelDataUrl``)."""
        return self.s3_data_type is S3DataType.OBJECT

    @property
    def is_prefix(self) -> bool:
        """Whether the data is every object under a prefix."""
        return self.s3_data_type is S3DataType.PREFIX


def grant_object_read(bucket: s3.IBucket, key: str, grantee: iam.IGrantable) -> iam.Grant:
    """Grant ``grantee`` ``s3:GetObject`` on exactly ``s3://bucket/key`` (and decrypt if KMS-encrypted).

    Narrower than ``bucket.grant_read(grantee, key)``, which also grants ``s3:GetBucket*`` and
    ``s3:List*`` on the bucket: SageMaker only downloads the object named by ``ModelDataUrl``.
    """
    grant = iam.Grant.add_to_principal(
        grantee=grantee, actions=["s3:GetObject"], resource_arns=[bucket.arn_for_objects(key)]
    )
    if bucket.encryption_key is not None:
        bucket.encryption_key.grant_decrypt(grantee)
    return grant


def grant_prefix_read(bucket: s3.IBucket, prefix: str, grantee: iam.IGrantable) -> iam.Grant:
    """Grant ``grantee`` read of every object under ``prefix`` and the listing of that prefix only.

    ``s3:GetObject`` on ``prefix*`` and ``s3:ListBucket`` on the bucket with the condition
    ``s3:prefix`` like ``prefix*`` (SageMaker lists the prefix, then copies each object), plus
    decrypt when the bucket has a KMS key. The object wildcard is acknowledged for cdk-nag on the
    grantee: it cannot be narrower, the model data is every object under the prefix.
    """
    objects = bucket.arn_for_objects(f"{prefix}*")
    grant = iam.Grant.add_to_principal(grantee=grantee, actions=["s3:GetObject"], resource_arns=[objects])
    iam.Grant.add_to_principal(
        grantee=grantee,
        actions=["s3:ListBucket"],
        resource_arns=[bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
    )
    if bucket.encryption_key is not None:
        bucket.encryption_key.grant_decrypt(grantee)
    principal = grantee.grant_principal
    if isinstance(principal, Construct):
        acknowledge(
            principal,
            f"AwsSolutions-IAM5[Resource::{flattened(principal, objects)}]",
            "SageMaker copies every object under the model-data prefix; the read is confined to that prefix.",
        )
    return grant


@functools.cache
def _archive_listing(path: str, mtime_ns: int, size: int) -> tuple[tuple[str, ...], str | None]:
    """Return (the Triton model folders at the archive's top level, an error) for a ``.tar.gz``.

    Cached per file version (path, mtime, size): reading the listing decompresses the whole archive.
    """
    del mtime_ns, size  # part of the cache key only
    folders: set[str] = set()
    root_files: list[str] = []
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                parts = [p for p in PurePosixPath(member.name).parts if p not in (".", "")]
                if len(parts) > 1 or (parts and member.isdir()):
                    folders.add(parts[0])
                elif parts:
                    root_files.append(parts[0])
    except (tarfile.TarError, OSError, EOFError) as error:
        return (), f"is not a readable gzip tar archive ({error})"
    if not folders:
        where = (
            " (config.pbtxt at the archive root: the Triton DLC expects <model>/config.pbtxt)"
            if "config.pbtxt" in root_files
            else ""
        )
        return (), f"holds no model folder{where}"
    return tuple(sorted(folders)), None


def archive_model_names(path: Path) -> tuple[str, ...]:
    """Return the Triton models (top-level folders) of the model repository archive at ``path``.

    Raises:
        PropsError: the file is not a readable ``.tar.gz`` or holds no model folder.
    """
    stat = path.stat()
    names, error = _archive_listing(str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    if error is not None:
        raise PropsError(f"Invalid ModelArtifact.from_asset props: path {str(path)!r} {error} — {_BUILD_FIX}")
    return names


@functools.cache
def _archive_member_texts(path: str, mtime_ns: int, size: int, filename: str) -> tuple[tuple[str, str], ...]:
    """Return ((model folder, text of its ``filename``), ...) of a ``.tar.gz``, read member by member.

    Nothing is extracted to disk: the archive is streamed once and only ``<model>/<filename>``
    members are read (``engine.json``, ``config.pbtxt``). Cached per file version (path, mtime, size).
    """
    del mtime_ns, size  # part of the cache key only
    found: list[tuple[str, str]] = []
    try:
        with tarfile.open(path, "r|gz") as archive:
            for member in archive:
                parts = [p for p in PurePosixPath(member.name).parts if p not in (".", "")]
                if member.isfile() and len(parts) == 2 and parts[1] == filename:
                    handle = archive.extractfile(member)
                    if handle is not None:
                        found.append((parts[0], handle.read().decode("utf-8", errors="replace")))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise PropsError(
            f"Invalid model archive {path!r}: it is not a readable gzip tar archive ({error}) — {_BUILD_FIX}"
        ) from None
    return tuple(sorted(found))


def archive_engine_manifests(path: Path) -> dict[str, EngineManifest]:
    """Return model folder -> TensorRT engine manifest (``<model>/engine.json``) of the archive at ``path``.

    Models without an ``engine.json`` (ONNX, TorchScript, or engines built without model_build) are absent.

    Raises:
        PropsError: The archive is unreadable, or an ``engine.json`` in it is not a valid manifest.
    """
    from model_build.engine_target import ENGINE_MANIFEST_FILENAME, EngineManifest, EngineManifestError

    stat = path.stat()
    manifests = {}
    texts = _archive_member_texts(
        str(path.resolve()), stat.st_mtime_ns, stat.st_size, ENGINE_MANIFEST_FILENAME
    )
    for model, text in texts:
        try:
            manifests[model] = EngineManifest.from_json(text, source=f"{model}/engine.json in {str(path)!r}")
        except EngineManifestError as error:
            raise PropsError(str(error)) from None
    return manifests


def archive_neuron_manifests(path: Path) -> dict[str, NeuronManifest]:
    """Return model folder -> Neuron manifest (``<model>/neuron.json``) of the archive at ``path``.

    The Neuron compile stage (``backend="neuron"``) writes ``neuron.json`` next to the compiled
    ``model.pt``: what it was compiled for (``target`` inf1/inf2, the Neuron SDK version, the static
    shapes). Models without one (not a Neuron build) are absent.

    Raises:
        PropsError: The archive is unreadable, or a ``neuron.json`` in it is not a valid manifest
            (:meth:`model_build.neuron.NeuronManifest.from_json` names the file and the field).
    """
    from model_build.neuron import NEURON_MANIFEST_FILENAME, NeuronManifest, NeuronManifestError

    stat = path.stat()
    manifests = {}
    texts = _archive_member_texts(
        str(path.resolve()), stat.st_mtime_ns, stat.st_size, NEURON_MANIFEST_FILENAME
    )
    for model, text in texts:
        try:
            manifests[model] = NeuronManifest.from_json(
                text, source=f"{model}/{NEURON_MANIFEST_FILENAME} in {str(path)!r}"
            )
        except NeuronManifestError as error:
            raise PropsError(str(error)) from None
    return manifests


def archive_ensemble_names(path: Path) -> tuple[str, ...]:
    """Return the model folders of the archive at ``path`` whose ``config.pbtxt`` says ``platform: "ensemble"``.

    A config that does not parse is skipped here: Triton reports it when it loads the model.

    Raises:
        PropsError: The archive is unreadable.
    """
    from model_build.triton_config import parse_config

    stat = path.stat()
    ensembles = []
    for model, text in _archive_member_texts(
        str(path.resolve()), stat.st_mtime_ns, stat.st_size, "config.pbtxt"
    ):
        try:
            platform = parse_config(text).platform
        except ValueError:
            continue
        if platform == "ensemble":
            ensembles.append(model)
    return tuple(ensembles)


class ModelArtifact(abc.ABC):
    """The data a Triton model serves: a model repository archive (``model.tar.gz``) or uncompressed files in S3.

    Use :meth:`from_build` for a model built by ``model_build`` from a spec, :meth:`from_asset` for a
    local archive, :meth:`from_bucket` for an archive already in S3, or :meth:`from_bucket_prefix`
    for an uncompressed model repository under an S3 prefix. :meth:`bind` returns a
    :class:`ModelDataBinding` and grants exactly what it needs.
    """

    @staticmethod
    def from_build(spec: ModelSpec, *, cache_dir: str | os.PathLike[str] | None = None) -> ModelArtifact:
        """Return the archive ``model_build`` makes from ``spec`` (built or taken from its cache at synth).

        The Triton model name is ``spec.name``; a :class:`TritonModel` uses it as the default model.

        Args:
            spec: the model to build.
            cache_dir: the build cache. Defaults to ``$MODEL_BUILD_CACHE_DIR`` or
                ``./.model-build-cache`` (:func:`model_build.cache.resolve_cache_dir`).

        Raises:
            PropsError: ``spec`` is not a ``ModelSpec``, or ``cache_dir`` is not a path.
        """
        from model_build.spec import ModelSpec

        problems = check_type(
            "spec", spec, ModelSpec,
            "use model_build.examples.get_example('bert-tiny') or ModelSpec(name=..., source=...)",
        ) + check_type(
            "cache_dir", cache_dir, (str, os.PathLike), "pass a folder path such as '.model-build-cache'", optional=True
        )  # fmt: skip
        raise_if_any("ModelArtifact.from_build", problems)
        return _BuildArtifact(spec, cache_dir)

    @staticmethod
    def from_asset(path: str | os.PathLike[str], *, model_name: str | None = None) -> ModelArtifact:
        """Return a local model repository archive (``.tar.gz``), uploaded as a CDK asset.

        The archive's listing is read at synth: each top-level folder is a Triton model.

        Args:
            path: the ``.tar.gz`` file (not a folder).
            model_name: the Triton model to serve by default; must be one of the archive's folders.
                Defaults to the only folder when the archive holds one model, else none (the
                model construct must name it).

        Raises:
            PropsError: ``path`` is a folder, missing, not a ``.tar.gz``, unreadable, or ``model_name``
                is not in the archive.
        """
        if not isinstance(path, str | os.PathLike):
            raise PropsError(
                f"Invalid ModelArtifact.from_asset props: path must be the path of a .tar.gz file (got "
                f"{given(path)}) — {_BUILD_FIX}"
            )
        raise_if_any("ModelArtifact.from_asset", model_name_problems("model_name", model_name))
        file = Path(path)
        if file.is_dir():
            raise PropsError(
                f"Invalid ModelArtifact.from_asset props: path {str(file)!r} is a folder, but SageMaker's "
                f"single-model endpoints take one model.tar.gz archive — {_BUILD_FIX}, or pack the Triton "
                f"repository yourself: tar czf model.tar.gz -C {file} ."
            )
        if not file.is_file():
            raise PropsError(
                f"Invalid ModelArtifact.from_asset props: path {str(file)!r} does not exist — {_BUILD_FIX}"
            )
        if not file.name.endswith(".tar.gz"):
            fix = (
                f"build an archive from it with `python -m model_build build --onnx {file} --name <model> "
                "--output-dir dist/`"
                if file.suffix == ".onnx"
                else _BUILD_FIX
            )
            raise PropsError(
                f"Invalid ModelArtifact.from_asset props: path {str(file)!r} is not a .tar.gz archive — "
                f"SageMaker needs the Triton model repository as a gzip tar archive; {fix}"
            )
        names = archive_model_names(file)
        if model_name is not None and model_name not in names:
            raise PropsError(
                f"Invalid ModelArtifact.from_asset props: model_name {model_name!r} is not a model in "
                f"{str(file)!r} (it holds: {', '.join(names)}) — pass one of them{did_you_mean(model_name, names)}"
            )
        if model_name is None and len(names) == 1:
            model_name = names[0]
        return _AssetArtifact(file, model_name, names)

    @staticmethod
    def from_bucket(bucket: s3.IBucket, key: str, *, model_name: str | None = None) -> ModelArtifact:
        """Return a model repository archive already stored at ``s3://<bucket>/<key>``.

        The archive's contents cannot be checked at synth (it is not read from S3), so a
        ``model_name`` that is not in it only shows when the endpoint fails to start.

        Args:
            bucket: the bucket holding the archive.
            key: the object key of the archive, e.g. ``"bert/model.tar.gz"``.
            model_name: the Triton model to serve by default. Defaults to none (the model must name it).

        Raises:
            PropsError: a prop has the wrong type, or ``key`` is a URI or ends with ``/``.
        """
        problems = _bucket_problems(bucket) + _key_problems("key", key, example="'bert/model.tar.gz'")
        problems += model_name_problems("model_name", model_name)
        if not problems and isinstance(key, str) and not Token.is_unresolved(key) and key.endswith("/"):
            problems.append(
                f"key {key!r} ends with '/', a prefix, not an archive — pass the archive's key, or use "
                "ModelArtifact.from_bucket_prefix for uncompressed data"
            )
        raise_if_any("ModelArtifact.from_bucket", problems)
        return _BucketArtifact(bucket, key, model_name, S3DataType.OBJECT)

    @staticmethod
    def from_bucket_prefix(
        bucket: s3.IBucket, prefix: str, *, model_name: str | None = None
    ) -> ModelArtifact:
        """Return an uncompressed Triton model repository stored under ``s3://<bucket>/<prefix>/``.

        SageMaker copies every object under the prefix into ``/opt/ml/model`` as it is (no archive
        to download and extract: ``S3DataType=S3Prefix``, ``CompressionType=None``), so
        ``<prefix>/<model>/config.pbtxt`` becomes the model ``<model>``. The contents cannot be
        checked at synth. Binding grants ``s3:GetObject`` on ``<prefix>/*`` and ``s3:ListBucket``
        restricted to the prefix.

        Args:
            bucket: the bucket.
            prefix: the key prefix, e.g. ``"models/bert"`` (a trailing ``/`` is added).
            model_name: the Triton model to serve by default. Defaults to none (the model must name it).

        Raises:
            PropsError: a prop has the wrong type, or ``prefix`` is a URI or names an archive.
        """
        problems = _bucket_problems(bucket) + _key_problems("prefix", prefix, example="'models/bert'")
        problems += model_name_problems("model_name", model_name)
        if (
            not problems
            and isinstance(prefix, str)
            and not Token.is_unresolved(prefix)
            and prefix.endswith(".tar.gz")
        ):
            problems.append(
                f"prefix {prefix!r} names an archive, not a folder of uncompressed files — use "
                "ModelArtifact.from_bucket for a model.tar.gz"
            )
        raise_if_any("ModelArtifact.from_bucket_prefix", problems)
        normalised = prefix if Token.is_unresolved(prefix) else prefix.rstrip("/") + "/"
        return _BucketArtifact(bucket, normalised, model_name, S3DataType.PREFIX)

    @property
    def model_name(self) -> str | None:
        """The Triton model to serve by default, when known."""
        return None

    @property
    def model_names(self) -> tuple[str, ...] | None:
        """Every Triton model the data holds, when known at synth (``from_asset``, ``from_build``)."""
        return None

    @property
    def requires_gpu(self) -> bool | None:
        """Whether the Triton config places model instances on GPUs (``KIND_GPU``); None when unknown."""
        return None

    @property
    def engine_manifests(self) -> Mapping[str, EngineManifest] | None:
        """Model folder -> what its TensorRT engine was built for (``<model>/engine.json``).

        Known at synth for archives (``from_build``, ``from_asset``; models without an engine are
        absent); None for data in S3, which is not read at synth.
        """
        return None

    @property
    def neuron_manifests(self) -> Mapping[str, NeuronManifest] | None:
        """Model folder -> what its Neuron program was compiled for (``<model>/neuron.json``).

        Known at synth for archives (``from_asset``; ``from_build`` of a ``backend="neuron"`` spec,
        which builds it, or takes it from the cache); models that are not Neuron builds are absent
        (``{}`` for every other backend, without building). None for data in S3, not read at synth.
        """
        return None

    @property
    def ensemble_names(self) -> tuple[str, ...] | None:
        """The model folders that are Triton ensembles, when known at synth (``from_asset``, ``from_build``)."""
        return None

    @property
    def size_bytes(self) -> int | None:
        """The archive's size in bytes when known at synth (``from_build``, ``from_asset``); None for data in S3.

        Startup timeouts default from it (:func:`serving_constructs.defaults.startup_timeouts`).
        """
        return None

    @property
    def description(self) -> str:
        """How messages name the data (the user's file or S3 location)."""
        return type(self).__name__

    @property
    def s3_data_type(self) -> S3DataType:
        """Whether binding gives one archive object or a prefix, known before binding."""
        return S3DataType.OBJECT

    @abc.abstractmethod
    def bind(self, scope: Construct, grantee: iam.IGrantable) -> ModelDataBinding:
        """Return the binding for a model in ``scope``, granting ``grantee`` exactly the read it needs."""


def model_name_problems(name: str, value: Any) -> list[str]:
    """Return the problems with a Triton model name (optional): a str naming one top-level folder.

    Triton serves the folder ``<model_repository>/<name>``, so a name with ``/`` (or ``.``, ``..``)
    cannot be one: the endpoint would fail to start, minutes after the deploy began.
    """
    problems = check_str(name, value, optional=True, example=" such as 'bert'")
    if not problems and value is not None and ("/" in value or value in (".", "..")):
        problems.append(
            f"{name} must be the name of one model folder (got {value!r}) — pass only the name of the folder "
            "that holds config.pbtxt, e.g. 'bert'"
        )
    return problems


def _bucket_problems(bucket: Any) -> list[str]:
    return check_interface(
        "bucket", bucket, "s3.IBucket", "arn_for_objects",
        "use s3.Bucket.from_bucket_name(self, 'Models', 'my-bucket') or a Bucket construct",
    )  # fmt: skip


def _key_problems(name: str, key: Any, *, example: str) -> list[str]:
    problems = check_str(name, key, example=f" such as {example}")
    if not problems and not Token.is_unresolved(key) and (key.startswith("s3://") or key.startswith("/")):
        problems.append(
            f"{name} must be the object key inside the bucket, not a URI or absolute path (got {key!r}) — "
            f"e.g. {example}"
        )
    return problems


class _BucketArtifact(ModelArtifact):
    """Data already in a bucket: one archive at ``key`` (OBJECT) or uncompressed files under it (PREFIX)."""

    def __init__(self, bucket: s3.IBucket, key: str, model_name: str | None, data_type: S3DataType) -> None:
        self.bucket = bucket
        self.key = key
        self.data_type = data_type
        self._model_name = model_name

    @property
    def model_name(self) -> str | None:
        return self._model_name

    @property
    def s3_data_type(self) -> S3DataType:
        return self.data_type

    @property
    def description(self) -> str:
        what = "archive" if self.data_type is S3DataType.OBJECT else "prefix"
        return f"the {what} {self.key!r} in the given bucket"

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> ModelDataBinding:
        archive = self.data_type is S3DataType.OBJECT
        reader: Callable[[iam.IGrantable], iam.Grant] = functools.partial(
            grant_object_read if archive else grant_prefix_read, self.bucket, self.key
        )
        compression = Compression.GZIP if archive else Compression.NONE
        reader(grantee)
        return ModelDataBinding(
            self.bucket.s3_url_for_object(self.key),
            self.data_type,
            compression,
            self._model_name,
            bucket_name=self.bucket.bucket_name,
            object_key=self.key,
            grant_read=reader,
        )


def _bind_asset(asset: s3_assets.Asset, grantee: iam.IGrantable, model_name: str | None) -> ModelDataBinding:
    reader = functools.partial(grant_object_read, asset.bucket, asset.s3_object_key)
    reader(grantee)
    return ModelDataBinding(
        asset.s3_object_url,
        S3DataType.OBJECT,
        Compression.GZIP,
        model_name,
        bucket_name=asset.s3_bucket_name,
        object_key=asset.s3_object_key,
        grant_read=reader,
    )


class _AssetArtifact(ModelArtifact):
    def __init__(self, path: Path, model_name: str | None, names: tuple[str, ...]) -> None:
        self.path = path
        self._model_name = model_name
        self._names = names

    @property
    def model_name(self) -> str | None:
        return self._model_name

    @property
    def model_names(self) -> tuple[str, ...]:
        return self._names

    @property
    def description(self) -> str:
        return f"the archive {str(self.path)!r}"

    @property
    def engine_manifests(self) -> Mapping[str, EngineManifest]:
        return archive_engine_manifests(self.path)

    @property
    def neuron_manifests(self) -> Mapping[str, NeuronManifest]:
        return archive_neuron_manifests(self.path)

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size

    @property
    def ensemble_names(self) -> tuple[str, ...]:
        return archive_ensemble_names(self.path)

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> ModelDataBinding:
        return _bind_asset(s3_assets.Asset(scope, _ASSET_ID, path=str(self.path)), grantee, self._model_name)


class _BuildArtifact(ModelArtifact):
    def __init__(self, spec: ModelSpec, cache_dir: str | os.PathLike[str] | None) -> None:
        self.spec = spec
        self.cache_dir = cache_dir

    @property
    def model_name(self) -> str | None:
        from model_build.asset import triton_model_name

        return triton_model_name(self.spec)

    @property
    def model_names(self) -> tuple[str, ...]:
        name = self.model_name
        assert name is not None
        return (name,)

    @property
    def requires_gpu(self) -> bool | None:
        from model_build.backends import backend

        # A TensorRT engine runs only on an NVIDIA GPU, whatever its instance groups say.
        return self.spec.triton.instance_kind == "KIND_GPU" or backend(self.spec.backend).requires_nvidia_gpu

    @property
    def ensemble_names(self) -> tuple[str, ...]:
        return ()  # a spec builds one model folder

    @property
    def description(self) -> str:
        return f"the archive built from the spec {self.spec.name!r}"

    @property
    def engine_manifests(self) -> Mapping[str, EngineManifest]:
        if self.spec.backend != "tensorrt":
            return {}  # only the tensorrt backend builds an engine; nothing to build or read
        from model_build.pipeline import build

        return archive_engine_manifests(build(self.spec, cache_dir=self.cache_dir).archive_path)

    @property
    def neuron_manifests(self) -> Mapping[str, NeuronManifest]:
        if self.spec.backend != "neuron":
            return {}  # only the neuron backend compiles for Inferentia; nothing to build or read
        from model_build.pipeline import build

        # The archive the build wrote (or the cache holds): its neuron.json is what was compiled.
        return archive_neuron_manifests(build(self.spec, cache_dir=self.cache_dir).archive_path)

    @property
    def size_bytes(self) -> int:
        from model_build.pipeline import build

        # A cache hit after bind (which built it): reads the manifest, not the archive.
        return build(self.spec, cache_dir=self.cache_dir).archive_path.stat().st_size

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> ModelDataBinding:
        from model_build.asset import model_asset

        asset = model_asset(scope, _ASSET_ID, self.spec, cache_dir=self.cache_dir)
        return _bind_asset(asset, grantee, self.model_name)
