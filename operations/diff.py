"""Explain a ``cdk diff`` in plain words, for the reviewer of a change to the serving stacks.

Compares two synthesized cloud assemblies (the base branch's and the head's ``cdk.out``: no AWS
credentials needed), or the deployed stacks (CloudFormation ``GetTemplate``) with a head assembly,
and says per stack:

- which endpoints get a new endpoint config and **why** (instance type, instance count, model data,
  image, environment, async config, ...), and for a new model archive what changed inside it (each
  Triton ``config.pbtxt`` parsed as tritonclient's ``ModelConfig`` and compared field by field);
- what the update means: a blue/green (all at once, canary or linear) or rolling deployment of N
  instances of type T, baking M minutes, rolled back on alarms A, B (the endpoint's
  ``DeploymentConfig``; without one, SageMaker's default: all at once, no baking, no rollback alarms);
- which changes replace a model or delete data (buckets, archives under a multi-model prefix,
  log groups, retention policies), scaling changes, and IAM statements added, removed or broadened.

Replacement follows CloudFormation's documented update behaviour for the types in
:data:`REPLACING_PROPERTIES` (``AWS::SageMaker::EndpointConfig``: every property replaces;
``AWS::SageMaker::Model``: every property but ``Tags``; ``AWS::SageMaker::Endpoint``:
``EndpointName``), and a replaced resource's new name or ARN flows into every property that
references it (a new model means a new endpoint config, which means an endpoint update). For any
other type the explainer says it cannot tell and points at ``cdk diff``'s change set.

Command line::

    python -m operations diff --base BASE_CDK_OUT --head cdk.out [--stack NAME ...] [--format text|markdown]
    python -m operations diff --deployed --head cdk.out [--stack NAME ...]
    python -m operations diff ... --fail-on-destructive     # exit 1 when data or an endpoint would go
    python -m operations diff --base DIR --head cdk.out --comment [--github-event "$GITHUB_EVENT_PATH"]
        [--allow-destructive] [--cdk-diff FILE]           # the pull-request comment (docs/pull-requests.md)

A change is *destructive* when it deletes data (a bucket, table, log group, ... that is not retained;
a multi-model archive) or an endpoint, replaces an endpoint, or updates an endpoint (a new endpoint
config) without deployment guardrails: no ``DeploymentConfig``, one without rollback alarms, or Inf1
variants, where SageMaker ignores it.

Exit status: 0 explained (1 with ``--fail-on-destructive``, or ``--comment`` not allowed by
``--allow-destructive`` or the pull request's :data:`OVERRIDE_LABEL`, and a destructive change),
2 bad input.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tarfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from model_build.user_errors import UsageErrorParser, UserError, did_you_mean, path_argument, run_cli

PROG = "python -m operations diff"

#: Properties whose change makes CloudFormation replace the resource (its documented "Update requires:
#: Replacement"), per type. ``ALL`` means every property but those in ``_IN_PLACE``.
ALL = "*"
REPLACING_PROPERTIES: Mapping[str, frozenset[str] | str] = {
    "AWS::SageMaker::EndpointConfig": ALL,
    "AWS::SageMaker::Model": ALL,
    "AWS::SageMaker::Endpoint": frozenset({"EndpointName"}),
    "AWS::S3::Bucket": frozenset({"BucketName"}),
    "AWS::IAM::Role": frozenset({"RoleName", "Path"}),
    "AWS::IAM::Policy": frozenset(),
    "AWS::Lambda::Function": frozenset({"FunctionName"}),
    "AWS::SNS::Topic": frozenset({"TopicName", "FifoTopic"}),
    "AWS::Logs::LogGroup": frozenset({"LogGroupName"}),
    "AWS::CloudWatch::Alarm": frozenset({"AlarmName"}),
    "AWS::ApplicationAutoScaling::ScalableTarget": frozenset(
        {"ResourceId", "ScalableDimension", "ServiceNamespace"}
    ),
    "AWS::ApplicationAutoScaling::ScalingPolicy": frozenset(
        {"PolicyName", "ResourceId", "ScalableDimension", "ServiceNamespace", "ScalingTargetId"}
    ),
}
_IN_PLACE: Mapping[str, frozenset[str]] = {"AWS::SageMaker::Model": frozenset({"Tags"})}

#: Types whose deletion loses data (or, for a multi-model archive, a model the endpoint serves).
DATA_TYPES: Mapping[str, str] = {
    "AWS::S3::Bucket": "bucket",
    "Custom::ModelArchive": "model archive",
    "AWS::Logs::LogGroup": "log group",
    "AWS::DynamoDB::Table": "table",
    "AWS::SQS::Queue": "queue",
    "AWS::EFS::FileSystem": "file system",
    "AWS::KMS::Key": "KMS key",
}

_IAM_TYPES = (
    "AWS::IAM::Policy",
    "AWS::IAM::Role",
    "AWS::IAM::ManagedPolicy",
    "AWS::S3::BucketPolicy",
    "AWS::SNS::TopicPolicy",
)
_SCALING_TYPES = ("AWS::ApplicationAutoScaling::ScalableTarget", "AWS::ApplicationAutoScaling::ScalingPolicy")
_MISSING: Any = type("_Missing", (), {"__repr__": lambda self: "(not set)"})()

# --------------------------------------------------------------------------------------------
# What the explainer returns


@dataclass(frozen=True)
class Finding:
    """One thing a reviewer should know about one stack.

    Attributes:
        stack: The stack name.
        section: ``"endpoints"``, ``"replaced"``, ``"data"``, ``"scaling"``, ``"iam"``, ``"other"`` or ``"stack"``.
        text: The plain-words line.
        details: Indented lines under it (e.g. what changed inside a model archive).
        destructive: Data, or a name clients call, goes away, or an endpoint is updated without deployment
            guardrails (``--fail-on-destructive`` and ``--comment`` exit 1).
    """

    stack: str
    section: str
    text: str
    details: tuple[str, ...] = ()
    destructive: bool = False


_SECTIONS = {
    "stack": "Stack",
    "endpoints": "Endpoints",
    "replaced": "Replaced",
    "data": "Data",
    "scaling": "Scaling",
    "iam": "IAM",
    "other": "Other changes",
}


@dataclass(frozen=True)
class Explanation:
    """The explanation of every compared stack.

    Attributes:
        findings: Every finding, stack by stack, in section order.
        stacks: The stacks compared, in order.
    """

    findings: tuple[Finding, ...]
    stacks: tuple[str, ...]

    @property
    def destructive(self) -> tuple[Finding, ...]:
        """The findings that delete data or an endpoint."""
        return tuple(f for f in self.findings if f.destructive)

    @property
    def text(self) -> str:
        """The plain-text explanation."""
        return self.render("text")

    def render(self, style: str = "text") -> str:
        """Return the explanation as ``"text"`` or ``"markdown"``."""
        lines: list[str] = []
        for stack in self.stacks:
            findings = [f for f in self.findings if f.stack == stack]
            if style == "markdown":
                lines.append(f"### {stack}")
            else:
                lines.append(f"== {stack} ==")
            if not findings:
                lines.append("no changes" if style == "text" else "No changes.")
            for section, title in _SECTIONS.items():
                rows = [f for f in findings if f.section == section]
                if not rows:
                    continue
                lines.extend(["", f"**{title}**", ""] if style == "markdown" else [f"{title}:"])
                for finding in rows:
                    mark = "DESTRUCTIVE: " if finding.destructive else ""
                    if style == "markdown":
                        lines.append(f"- {'**DESTRUCTIVE:** ' if finding.destructive else ''}{finding.text}")
                        lines.extend(
                            "  " * (1 + (len(detail) - len(detail.lstrip())) // 4) + f"- {detail.strip()}"
                            for detail in finding.details
                        )
                    else:
                        lines.append(f"  - {mark}{finding.text}")
                        lines.extend(f"      {detail}" for detail in finding.details)
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------------------------
# The pull-request comment

#: The hidden first line of the pull-request comment: the workflow finds its own comment by it and edits it
#: in place (.github/workflows/pull-request.yml).
COMMENT_MARKER = "<!-- triton-iac: python -m operations diff --comment -->"

#: The pull-request label that accepts destructive changes: with it, ``--comment`` lists them and exits 0.
OVERRIDE_LABEL = "allow-destructive-change"

#: GitHub refuses a comment body over 65,536 characters; the comment is cut below that, with a note.
COMMENT_LIMIT = 60_000


@dataclass(frozen=True)
class PullRequest:
    """What the comment needs from a GitHub ``pull_request`` event (``$GITHUB_EVENT_PATH``).

    Attributes:
        number: The pull request's number.
        head_sha: The commit the run compares (the head of the pull request).
        labels: The pull request's label names when the event fired.
    """

    number: int
    head_sha: str
    labels: tuple[str, ...]

    @property
    def allows_destructive(self) -> bool:
        """Whether the pull request carries :data:`OVERRIDE_LABEL`."""
        return OVERRIDE_LABEL in self.labels


def read_pull_request_event(path: Path) -> PullRequest:
    """Read a GitHub ``pull_request`` event payload (the file ``$GITHUB_EVENT_PATH`` names).

    Raises:
        UserError: The file is missing, is not JSON, or is not a pull request's event.
    """
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"--github-event {str(path)!r} does not exist; in a workflow pass \"$GITHUB_EVENT_PATH\""
        ) from None
    except (OSError, ValueError) as error:
        raise UserError(
            f"--github-event {str(path)!r} cannot be read as JSON ({error}); pass \"$GITHUB_EVENT_PATH\" as it is"
        ) from None
    pull: Any = event.get("pull_request") if isinstance(event, dict) else None
    try:
        labels = tuple(str(label["name"]) for label in pull.get("labels") or [])
        return PullRequest(int(pull["number"]), str(pull["head"]["sha"]), labels)
    except (AttributeError, KeyError, TypeError, ValueError):
        raise UserError(
            f"--github-event {str(path)!r} is not a pull_request event (it needs pull_request.number, .head.sha "
            "and .labels); run the workflow `on: pull_request`"
        ) from None


def _fence(text: str) -> str:
    """Return a code fence longer than any run of backticks in ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def pr_comment(
    explanation: Explanation,
    *,
    compared: str,
    allowed_by: str | None = None,
    pull_request: PullRequest | None = None,
    cdk_diff: str | None = None,
    limit: int = COMMENT_LIMIT,
) -> str:
    """Return the pull-request comment: the marker, a summary, the destructive findings and what allows them.

    Args:
        explanation: The explained difference.
        compared: What the head was compared with, in words (``"the base branch"``).
        allowed_by: What accepted the destructive findings (``"the label `allow-destructive-change`"``);
            None when nothing did, so a destructive finding fails the check.
        pull_request: The pull request (its head commit is named in the summary).
        cdk_diff: The CDK CLI's ``cdk diff --method change-set`` output against the deployed stacks, shown
            in its own section.
        limit: The most characters of the comment; the stack-by-stack text is cut to fit, with a note.
    """
    changed = [s for s in explanation.stacks if any(f.stack == s for f in explanation.findings)]
    destructive = explanation.destructive
    what = f"Commit `{pull_request.head_sha[:12]}`" if pull_request else "The head"
    head = [
        COMMENT_MARKER,
        "## Serving stacks: what this pull request changes",
        "",
        f"{what} compared with {compared}: {len(changed)} of {len(explanation.stacks)} stack(s) change"
        + (f" ({', '.join(f'`{s}`' for s in changed)})." if changed else "."),
        "",
    ]
    if not destructive:
        head.append(
            "No destructive change: no data or endpoint is deleted, and every endpoint update has deployment "
            "guardrails (rollback alarms)."
        )
    else:
        if allowed_by is None:
            head.append(
                f"**This check fails: {len(destructive)} destructive change(s).** They delete data or an endpoint, "
                "or update an endpoint without deployment guardrails:"
            )
        else:
            head.append(
                f"**{len(destructive)} destructive change(s), allowed by {allowed_by}:** the check passes. They "
                "delete data or an endpoint, or update an endpoint without deployment guardrails:"
            )
        head.append("")
        for finding in destructive:
            head.append(f"- `{finding.stack}`: {finding.text}")
            head.extend(f"  - {detail.strip()}" for detail in finding.details if detail.startswith("no deployment"))
        if allowed_by is None:
            head.extend(
                [
                    "",
                    f"If that is intended, a maintainer adds the label `{OVERRIDE_LABEL}` to this pull request: the "
                    "check runs again and passes, and this comment lists what the label allowed.",
                ]
            )
    head_text = "\n".join(head) + "\n"
    room = max(0, limit - len(head_text) - 1_000)  # the headings, fences and notes around the two texts
    rendered = explanation.render("markdown").rstrip("\n").splitlines()
    # each stack one heading level below "Stack by stack"
    stacks_text = "\n".join(f"#{line}" if line.startswith("### ") else line for line in rendered)
    deployed_text = None if cdk_diff is None else cdk_diff.rstrip("\n")
    if deployed_text is not None and len(stacks_text) + len(deployed_text) > room:
        deployed_text = _cut(deployed_text, max(room - len(stacks_text), room // 2))
    stacks_text = _cut(stacks_text, room - len(deployed_text or ""))
    lines = [head_text, "### Stack by stack", "", stacks_text]
    if deployed_text is not None:
        fence = _fence(deployed_text)
        lines += [
            "",
            "### Against the deployed stacks (`cdk diff --method change-set`)",
            "",
            "<details><summary>The CDK CLI's diff, from a CloudFormation change set per stack (accurate "
            "replacement information)</summary>",
            "",
            f"{fence}text",
            deployed_text,
            fence,
            "",
            "</details>",
        ]
    return "\n".join(lines) + "\n"


def _cut(text: str, room: int) -> str:
    """Return ``text`` cut at a line end to at most ``room`` characters, with a note saying so."""
    if len(text) <= room:
        return text
    kept = text[: max(0, room)].rsplit("\n", 1)[0]
    return f"{kept}\n… cut here to keep the comment under GitHub's limit; the job log has the whole text."


# --------------------------------------------------------------------------------------------
# Cloud assemblies and model archives


ArchiveOpener = Callable[[], IO[bytes]]


@dataclass(frozen=True)
class AssemblyStack:
    """One stack of a cloud assembly: its name and template file."""

    name: str
    template_file: Path

    def template(self) -> dict[str, Any]:
        """Return the synthesized template."""
        return dict(json.loads(self.template_file.read_text(encoding="utf-8")))


class CloudAssembly:
    """A synthesized cloud assembly (``cdk.out``): its stacks and file assets, read from ``manifest.json``.

    Args:
        directory: The assembly folder.
        label: The flag that named it (for messages).

    Raises:
        UserError: The folder is missing or holds no ``manifest.json``.
    """

    def __init__(self, directory: Path, *, label: str = "--head") -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise UserError(
                f"{label} {str(directory)!r} is not a folder; give the folder `cdk synth` wrote (cdk.out, or "
                "`cdk synth -o DIR`)"
            )
        manifest = self.directory / "manifest.json"
        if not manifest.is_file():
            raise UserError(
                f"{label} {str(directory)!r} is not a cloud assembly (it has no manifest.json); give the folder "
                "`cdk synth` wrote (cdk.out, or `cdk synth -o DIR`)"
            )
        self.stacks: dict[str, AssemblyStack] = {}
        self._assets: dict[str, Path] = {}
        self._read(self.directory, label)

    def _read(self, directory: Path, label: str) -> None:
        try:
            manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise UserError(
                f"{label}: {directory / 'manifest.json'} cannot be read as JSON ({error}); synthesize again"
            ) from None
        for artifact_id, artifact in (manifest.get("artifacts") or {}).items():
            kind = artifact.get("type")
            properties = artifact.get("properties") or {}
            if kind == "aws:cloudformation:stack":
                name = properties.get("stackName") or artifact_id
                self.stacks[name] = AssemblyStack(name, directory / properties["templateFile"])
            elif kind == "cdk:asset-manifest":
                self._read_assets(directory, directory / properties["file"])
            elif kind == "cdk:cloud-assembly" and (directory / properties.get("directoryName", "")).is_dir():
                self._read(directory / properties["directoryName"], label)  # a Stage's nested assembly

    def _read_assets(self, directory: Path, path: Path) -> None:
        assets = json.loads(path.read_text(encoding="utf-8"))
        for asset in (assets.get("files") or {}).values():
            source = directory / asset["source"]["path"]
            for destination in (asset.get("destinations") or {}).values():
                self._assets[destination["objectKey"]] = source

    def asset(self, object_key: str) -> Path | None:
        """Return the local file (or folder) of the asset published at ``object_key``; None if none."""
        return self._assets.get(object_key)

    def check_stacks(self, names: Sequence[str], *, label: str = "--stack") -> None:
        """Refuse stack names this assembly does not hold, naming those it does.

        Raises:
            UserError: A name is unknown.
        """
        for name in names:
            if name not in self.stacks:
                known = ", ".join(sorted(self.stacks)) or "none"
                raise UserError(
                    f"{label} {name!r} is not a stack of {self.directory}{did_you_mean(name, list(self.stacks))}; "
                    f"its stacks: {known}"
                )


@dataclass(frozen=True)
class ArchiveContents:
    """What a model archive holds: every file's size and digest, and each Triton model's config.

    Attributes:
        files: Path inside the archive -> (size, sha256).
        configs: Model folder -> the parsed ``config.pbtxt`` flattened to ``field.path -> value``
            (or a string saying why it could not be parsed).
    """

    files: Mapping[str, tuple[int, str]]
    configs: Mapping[str, Mapping[str, str] | str]


def read_archive(opener: ArchiveOpener) -> ArchiveContents:
    """Read a model archive (``model.tar.gz``, streamed once) or a folder asset.

    Each ``<model>/config.pbtxt`` is parsed with tritonclient's ``ModelConfig`` through
    ``google.protobuf.text_format`` (:func:`model_build.triton_config.parse_config`).
    """
    files: dict[str, tuple[int, str]] = {}
    configs: dict[str, Mapping[str, str] | str] = {}
    with opener() as stream, tarfile.open(fileobj=stream, mode="r|*") as archive:
        for member in archive:
            if not member.isfile():
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            data = handle.read()
            name = member.name.removeprefix("./")
            files[name] = (member.size, hashlib.sha256(data).hexdigest())
            if name.endswith("config.pbtxt"):
                configs[name.rsplit("/", 1)[0] if "/" in name else "."] = _config_fields(data)
    return ArchiveContents(files, configs)


def _read_folder(folder: Path) -> ArchiveContents:
    files: dict[str, tuple[int, str]] = {}
    configs: dict[str, Mapping[str, str] | str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        name = path.relative_to(folder).as_posix()
        files[name] = (len(data), hashlib.sha256(data).hexdigest())
        if name.endswith("config.pbtxt"):
            configs[name.rsplit("/", 1)[0] if "/" in name else "."] = _config_fields(data)
    return ArchiveContents(files, configs)


def _config_fields(data: bytes) -> Mapping[str, str] | str:
    from google.protobuf import json_format

    from model_build.triton_config import parse_config

    try:
        config = parse_config(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        return f"unreadable config.pbtxt ({error})"
    return _flatten(json_format.MessageToDict(config, preserving_proto_field_name=True))


def _flatten(value: Any, path: str = "") -> dict[str, str]:
    """Flatten a config to ``a.b[name].c -> value``; list items with a ``name`` are keyed by it."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        if not value and path:
            out[path] = "{}"
        for key, item in value.items():
            out.update(_flatten(item, f"{path}.{key}" if path else key))
    elif isinstance(value, list):
        if value and all(isinstance(v, dict | list) for v in value):
            for index, item in enumerate(value):
                key = item.get("name") if isinstance(item, dict) else None
                out.update(_flatten(item, f"{path}[{key if key is not None else index}]"))
        else:
            out[path] = "[" + ", ".join(str(v) for v in value) + "]"
    else:
        out[path] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def archive_changes(base: ArchiveContents, head: ArchiveContents) -> list[str]:
    """Return what changed between two archives: config fields per model, then files."""
    lines: list[str] = []
    for model in sorted(set(base.configs) | set(head.configs)):
        old, new = base.configs.get(model), head.configs.get(model)
        if old is None:
            lines.append(f"{model}: new Triton model ({_config_summary(new)})")
            continue
        if new is None:
            lines.append(f"{model}: Triton model removed from the archive")
            continue
        if isinstance(old, str) or isinstance(new, str):
            if old != new:
                lines.append(f"{model}/config.pbtxt: {new if isinstance(new, str) else old}")
            continue
        for key in sorted(set(old) | set(new)):
            if old.get(key) != new.get(key):
                lines.append(
                    f"{model}/config.pbtxt: {key} {old.get(key, '(not set)')} → {new.get(key, '(not set)')}"
                )
    added = sorted(set(head.files) - set(base.files))
    removed = sorted(set(base.files) - set(head.files))
    changed = sorted(
        name
        for name in set(base.files) & set(head.files)
        if base.files[name] != head.files[name] and not name.endswith("config.pbtxt")
    )
    for label, names in (("files added", added), ("files removed", removed), ("files changed", changed)):
        if names:
            shown = ", ".join(
                f"{n} ({_size(head.files.get(n, base.files.get(n, (0, '')))[0])})" for n in names[:6]
            )
            more = f" and {len(names) - 6} more" if len(names) > 6 else ""
            lines.append(f"{label}: {shown}{more}")
    if not lines:
        lines.append("same files and configs (the archive's bytes differ only in packaging)")
    return lines


def _config_summary(config: Mapping[str, str] | str | None) -> str:
    if config is None or isinstance(config, str):
        return config or "no config"
    keys = ("backend", "platform", "max_batch_size")
    parts = [f"{k} {config[k]}" for k in keys if k in config]
    if any(k.startswith("dynamic_batching") for k in config):
        parts.append("dynamic batching")
    return ", ".join(parts) or "default config"


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} B"


# --------------------------------------------------------------------------------------------
# Templates: rendering intrinsics, references, property changes


_CDK_HASH = re.compile(r"^(?P<name>.+?)[0-9A-F]{8}$")


def readable(logical_id: str) -> str:
    """Return a CDK logical id without its 8-hex-digit hash (``EndpointEEF1FD8F`` -> ``Endpoint``)."""
    match = _CDK_HASH.match(logical_id)
    return match.group("name") if match else logical_id


def show(value: Any) -> str:
    """Render a template value for a person: ``${Logical}`` for a Ref, ``${Logical.Attr}`` for a GetAtt."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return f"${{{readable(str(arg))}}}"
        if key == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return "${" + ".".join([readable(str(parts[0])), *map(str, parts[1:])]) + "}"
        if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2:
            return str(arg[0]).join(show(part) for part in arg[1])
        if key == "Fn::Sub":
            return str(arg[0] if isinstance(arg, list) else arg)
        if key == "Fn::FindInMap" and isinstance(arg, list):
            return "${" + ".".join(show(a) for a in arg) + "}"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    if value is _MISSING:
        return "(not set)"
    return str(value)


def references(value: Any) -> set[str]:
    """Return the logical ids ``value`` references (Ref, Fn::GetAtt, ${X} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str) and not arg.startswith("AWS::"):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg[0] if isinstance(arg, list) else str(arg).split(".")[0])
            elif key == "Fn::Sub":
                text = arg[0] if isinstance(arg, list) else arg

                found.update(
                    m.split(".")[0]
                    for m in re.findall(r"\$\{([^}!]+)\}", str(text))
                    if not m.startswith("AWS::")
                )
                if isinstance(arg, list) and len(arg) > 1:
                    found |= references(arg[1])
            else:
                found |= references(arg)
    elif isinstance(value, list):
        for item in value:
            found |= references(item)
    return found


def _list_key(item: Any) -> str | None:
    if isinstance(item, dict):
        for key in ("VariantName", "ModelName", "Name", "Key", "AlarmName", "Sid"):
            if isinstance(item.get(key), str):
                return f"{key}={item[key]}" if key != "VariantName" else item[key]
    return None


def changes(base: Any, head: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Yield ``(path, old, new)`` for every leaf that differs; lists of named items match by name."""
    if base == head:
        return
    if _is_intrinsic(base) or _is_intrinsic(head):
        yield path, base, head
        return
    if isinstance(base, dict) and isinstance(head, dict):
        for key in list(base) + [k for k in head if k not in base]:
            yield from changes(
                base.get(key, _MISSING), head.get(key, _MISSING), f"{path}.{key}" if path else key
            )
        return
    if isinstance(base, list) and isinstance(head, list):
        base_keys, head_keys = [_list_key(i) for i in base], [_list_key(i) for i in head]
        if (
            all(base_keys)
            and all(head_keys)
            and len(set(base_keys)) == len(base)
            and len(set(head_keys)) == len(head)
        ):
            old, new = dict(zip(base_keys, base, strict=True)), dict(zip(head_keys, head, strict=True))
            for key in list(old) + [k for k in new if k not in old]:
                yield from changes(old.get(key, _MISSING), new.get(key, _MISSING), f"{path}[{key}]")
            return
    yield path, base, head


def _is_intrinsic(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and len(value) == 1
        and (next(iter(value)) == "Ref" or next(iter(value)).startswith("Fn::"))
    )


@dataclass
class _Resource:
    logical_id: str
    base: dict[str, Any] | None
    head: dict[str, Any] | None
    changed: dict[str, list[tuple[str, Any, Any]]] = field(
        default_factory=dict
    )  # top-level property -> leaves
    follows: dict[str, set[str]] = field(
        default_factory=dict
    )  # top-level property -> replaced ids it references
    replaced: bool = False
    replacement_known: bool = True

    @property
    def name(self) -> str:
        """The logical id without CDK's hash, for people."""
        return readable(self.logical_id)

    @property
    def type(self) -> str:
        return str((self.head or self.base or {}).get("Type", "?"))

    def props(self, side: str = "head") -> dict[str, Any]:
        resource = self.head if side == "head" else self.base
        return dict((resource or {}).get("Properties") or {})

    @property
    def modified(self) -> bool:
        return bool(self.changed or self.follows or self.replaced or self.policy_changes)

    @property
    def policy_changes(self) -> list[tuple[str, Any, Any]]:
        if self.base is None or self.head is None:
            return []
        return [
            (key, self.base.get(key, _MISSING), self.head.get(key, _MISSING))
            for key in ("DeletionPolicy", "UpdateReplacePolicy")
            if self.base.get(key) != self.head.get(key)
        ]


def _replaces(resource_type: str, properties: set[str]) -> bool | None:
    """Return whether changing ``properties`` replaces a ``resource_type``; None when unknown."""
    rule = REPLACING_PROPERTIES.get(resource_type)
    if rule is None:
        return None
    if rule == ALL:
        return bool(properties - _IN_PLACE.get(resource_type, frozenset()))
    return bool(properties & set(rule))


class _StackDiff:
    """The resource-level difference of one stack, with replacement propagated through references."""

    def __init__(self, base: Mapping[str, Any] | None, head: Mapping[str, Any] | None) -> None:
        self.base_template = dict(base or {})
        self.head_template = dict(head or {})
        base_resources = dict(self.base_template.get("Resources") or {})
        head_resources = dict(self.head_template.get("Resources") or {})
        self.resources: dict[str, _Resource] = {}
        for lid in list(base_resources) + [k for k in head_resources if k not in base_resources]:
            resource = _Resource(lid, base_resources.get(lid), head_resources.get(lid))
            if resource.base is not None and resource.head is not None:
                if resource.base.get("Type") != resource.head.get("Type"):
                    resource.replaced = True
                for leaf in changes(resource.props("base"), resource.props("head")):
                    resource.changed.setdefault(leaf[0].split(".")[0].split("[")[0], []).append(leaf)
            self.resources[lid] = resource
        self._propagate()

    def _propagate(self) -> None:
        replaced = {lid for lid, r in self.resources.items() if r.replaced}
        while True:
            grew = False
            for resource in self.resources.values():
                if resource.base is None or resource.head is None or resource.replaced:
                    continue
                for prop, value in resource.props("head").items():
                    hit = references(value) & replaced
                    if hit and hit - resource.follows.get(prop, set()):
                        resource.follows.setdefault(prop, set()).update(hit)
                verdict = _replaces(resource.type, set(resource.changed) | set(resource.follows))
                if verdict is None:
                    resource.replacement_known = not resource.changed and not resource.follows
                elif verdict:
                    resource.replaced = True
                    replaced.add(resource.logical_id)
                    grew = True
            if not grew:
                return

    def of_type(self, *types: str) -> list[_Resource]:
        return [r for r in self.resources.values() if r.type in types]

    def get(self, lid: str | None) -> _Resource | None:
        return None if lid is None else self.resources.get(lid)


# --------------------------------------------------------------------------------------------
# Explaining one stack


def _ref_id(value: Any) -> str | None:
    """Return the logical id behind a ``Ref`` or ``Fn::GetAtt``; None otherwise."""
    if isinstance(value, dict):
        if "Ref" in value and isinstance(value["Ref"], str):
            return value["Ref"]
        if "Fn::GetAtt" in value:
            arg = value["Fn::GetAtt"]
            return str(arg[0] if isinstance(arg, list) else str(arg).split(".")[0])
    return None


def _image(value: Any) -> str:
    text = show(value)
    return text.rsplit("/", 1)[-1] if "/" in text and ":" in text.rsplit("/", 1)[-1] else text


def _s3_location(value: Any) -> tuple[str, str] | None:
    """Return the bucket (as rendered, ``${...}`` unresolved) and key of an ``s3://bucket/key`` URL."""
    text = show(value)
    if text.startswith("s3://") and text.count("/") >= 3:
        _, _, bucket, key = text.split("/", 3)
        return bucket, key
    return None


#: Finds a model archive by its bucket (rendered, e.g. ``cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}``)
#: and key: a local path, a function opening a stream, or None when it is not available.
ArchiveSource = Callable[[str, str], "ArchiveOpener | Path | None"]


class _Explainer:
    def __init__(
        self,
        stack: str,
        base: Mapping[str, Any] | None,
        head: Mapping[str, Any] | None,
        *,
        base_archive: ArchiveSource,
        head_archive: ArchiveSource,
        base_label: str,
    ) -> None:
        self.stack = stack
        self.diff = _StackDiff(base, head)
        self.base_archive = base_archive
        self.head_archive = head_archive
        self.base_label = base_label
        self.findings: list[Finding] = []
        self.covered: set[str] = set()

    def add(self, section: str, text: str, details: Sequence[str] = (), *, destructive: bool = False) -> None:
        self.findings.append(Finding(self.stack, section, text, tuple(details), destructive))

    def explain(self) -> list[Finding]:
        if not self.diff.base_template:
            self.add("stack", f"new stack: not in {self.base_label}; everything in it is created")
        elif not self.diff.head_template:
            self.add(
                "stack",
                "not in the head assembly: `cdk deploy` of the head leaves the deployed stack as it is "
                "(only `cdk destroy` would delete it)",
            )
            return self.findings
        self._endpoints()
        self._model_archives()
        self._replaced_and_data()
        self._scaling()
        self._iam()
        self._other()
        return self.findings

    # --- endpoints ---------------------------------------------------------------------------

    def _endpoints(self) -> None:
        for endpoint in self.diff.of_type("AWS::SageMaker::Endpoint"):
            self.covered.add(endpoint.logical_id)
            name = endpoint.name
            if endpoint.head is None:
                self.add(
                    "endpoints",
                    f"endpoint {name} is deleted: callers of its name get errors from then on",
                    destructive=True,
                )
                continue
            config_id = _ref_id(endpoint.props().get("EndpointConfigName"))
            config = self.diff.get(config_id)
            if endpoint.base is None:
                fleet = self._fleet(config, "head") if config else "its variants"
                self.add("endpoints", f"new endpoint {name}: {fleet}")
                continue
            if endpoint.replaced:
                self.add(
                    "endpoints",
                    f"endpoint {name} is replaced ({', '.join(sorted(endpoint.changed))} changed): a new endpoint is "
                    "created under the new name and the old one deleted; callers of the old name get errors",
                    destructive=True,
                )
            config_changed = config is not None and (
                config.replaced
                or config.base is None
                or _ref_id(endpoint.props("base").get("EndpointConfigName")) != config_id
            )
            if config_changed and config is not None:
                self.covered.add(config.logical_id)
                reasons = self._config_reasons(config)
                self.add(
                    "endpoints",
                    f"endpoint {name} gets a new endpoint config ({config.name}) because:",
                    reasons,
                )
                line, notes = self._deployment(endpoint, config)
                unguarded = _unguarded(endpoint.props(), config.props("head"))
                if unguarded:
                    notes.append(
                        f"no deployment guardrails ({unguarded}): a bad config takes all of the traffic and nothing "
                        "rolls it back; give the endpoint a deployment policy with rollback alarms (docs/guardrails.md)"
                    )
                self.add("endpoints", f"endpoint {name} update: {line}", notes, destructive=bool(unguarded))
            if "DeploymentConfig" in endpoint.changed:
                self.add(
                    "endpoints",
                    f"endpoint {name}: deployment policy {self._policy(endpoint.props('base'))[0]} → "
                    f"{self._policy(endpoint.props())[0]}",
                )
            for prop in sorted(
                set(endpoint.changed) - {"DeploymentConfig", "EndpointConfigName", "EndpointName"}
            ):
                for path, old, new in endpoint.changed[prop]:
                    self.add("endpoints", f"endpoint {name}: {path} {show(old)} → {show(new)}")

    def _fleet(self, config: _Resource, side: str) -> str:
        variants = config.props(side).get("ProductionVariants") or []
        parts = []
        for variant in variants:
            if "ServerlessConfig" in variant:
                serverless = variant["ServerlessConfig"]
                parts.append(
                    f"serverless {show(serverless.get('MemorySizeInMB'))} MB, up to "
                    f"{show(serverless.get('MaxConcurrency'))} concurrent ({variant.get('VariantName')})"
                )
            else:
                parts.append(
                    f"{show(variant.get('InitialInstanceCount', 1))} x {show(variant.get('InstanceType'))} "
                    f"({variant.get('VariantName')})"
                )
        return "; ".join(parts) or "no variants"

    def _config_reasons(self, config: _Resource) -> list[str]:
        if config.base is None:
            return [f"the config is new ({self._fleet(config, 'head')})"]
        reasons: list[str] = []
        base_variants = {
            v.get("VariantName"): v for v in config.props("base").get("ProductionVariants") or []
        }
        head_variants = {
            v.get("VariantName"): v for v in config.props("head").get("ProductionVariants") or []
        }
        for variant in list(base_variants) + [v for v in head_variants if v not in base_variants]:
            old, new = base_variants.get(variant), head_variants.get(variant)
            if new is None:
                reasons.append(f"variant {variant} is removed (its traffic moves to the remaining variants)")
                continue
            if old is None:
                reasons.append(
                    f"variant {variant} is added ({show(new.get('InitialInstanceCount'))} x {show(new.get('InstanceType'))})"
                )
                continue
            for path, before, after in changes(old, new):
                if path == "ModelName":
                    continue
                label = _VARIANT_LABELS.get(path, path)
                reasons.append(f"{variant}: {label} {show(before)} → {show(after)}")
            reasons.extend(self._model_reasons(variant, old.get("ModelName"), new.get("ModelName")))
        for prop in sorted(config.changed):
            if prop == "ProductionVariants":
                continue
            for path, before, after in config.changed[prop]:
                reasons.append(f"{path} {show(before)} → {show(after)}")
        for prop, replaced in sorted(config.follows.items()):
            if prop != "ProductionVariants":
                reasons.append(f"{prop} refers to {', '.join(sorted(replaced))}, which is replaced")
        return [r for r in reasons if r] or ["CloudFormation replaces it (a resource it refers to changes)"]

    def _model_reasons(self, variant: str, old_ref: Any, new_ref: Any) -> list[str]:
        old_id, new_id = _ref_id(old_ref), _ref_id(new_ref)
        if old_id != new_id:
            return [
                f"{variant}: serves another model ({old_id or show(old_ref)} → {new_id or show(new_ref)})"
            ]
        model = self.diff.get(new_id)
        if model is None or not model.replaced:
            return []
        self.covered.add(model.logical_id)
        lines: list[str] = []
        details: list[str] = []
        for prop, leaves in model.changed.items():
            for path, before, after in leaves:
                container_path = (
                    path.split(".", 1)[1]
                    if prop in ("PrimaryContainer", "Containers") and "." in path
                    else path
                )
                if container_path == "Image":
                    lines.append(
                        f"{variant}: image {_image(before)} → {_image(after)} (model {model.name} is replaced)"
                    )
                elif container_path == "ModelDataUrl":
                    lines.append(f"{variant}: model data: a new archive (model {model.name} is replaced)")
                    details.extend(self._archive_details(before, after))
                elif container_path.startswith("Environment."):
                    lines.append(
                        f"{variant}: environment {container_path.split('.', 1)[1]} {show(before)} → {show(after)} "
                        f"(model {model.name} is replaced)"
                    )
                else:
                    lines.append(
                        f"{variant}: model {path} {show(before)} → {show(after)} (model {model.name} is replaced)"
                    )
        for prop, replaced in sorted(model.follows.items()):
            if prop not in model.changed:
                lines.append(
                    f"{variant}: model {model.name} is replaced because its {prop} refers to "
                    f"{', '.join(sorted(replaced))}, which is replaced"
                )
        return lines + [f"    {d}" for d in details]

    def _archive_details(self, before: Any, after: Any) -> list[str]:
        old_location, new_location = _s3_location(before), _s3_location(after)
        if old_location is None or new_location is None:
            return [f"model data {show(before)} → {show(after)} (not an archive this explainer can read)"]
        old = self._contents(self.base_archive, old_location, self.base_label)
        new = self._contents(self.head_archive, new_location, "the head assembly")
        if isinstance(old, str) or isinstance(new, str):
            return [
                f"archive {old_location[1]} → {new_location[1]}; contents not compared: "
                f"{old if isinstance(old, str) else new}"
            ]
        return archive_changes(old, new)

    def _contents(
        self, source: ArchiveSource, location: tuple[str, str], where: str
    ) -> ArchiveContents | str:
        key = location[1]
        try:
            found = source(*location)
            if found is None:
                return f"{key} is not in {where}"
            if isinstance(found, Path):
                if found.is_dir():
                    return _read_folder(found)
                path = found
                return read_archive(lambda: path.open("rb"))
            return read_archive(found)
        except (OSError, tarfile.TarError, EOFError) as error:
            return f"{key} from {where} cannot be read ({type(error).__name__}: {error})"
        except Exception as error:  # botocore ClientError and friends, without importing botocore here
            return f"{key} from {where} cannot be read ({type(error).__name__}: {error})"

    def _deployment(self, endpoint: _Resource, config: _Resource) -> tuple[str, list[str]]:
        """Return the update in one line (kind, fleet, baking, rollback alarms), and the notes under it."""
        variants = [v for v in config.props("head").get("ProductionVariants") or [] if isinstance(v, dict)]
        fleet = self._fleet(config, "head")
        line, notes = self._policy(endpoint.props(), fleet=fleet)
        if endpoint.props().get("RetainAllVariantProperties") is True:
            notes.append(
                "RetainAllVariantProperties: each variant keeps the instance count it runs now (e.g. set by "
                "autoscaling), not the config's initial count"
            )
        if line.startswith(("blue/green", "SageMaker's default")) and any(
            "InstanceType" in v for v in variants
        ):
            notes.append(
                "blue/green runs the new fleet next to the old one: the account needs that many more instances meanwhile"
            )
        notes.extend(
            f"{v.get('VariantName')} runs on {v.get('InstanceType')}: SageMaker deploys Inf1 all at once with no baking, "
            "whatever the policy says (deployment guardrails exclude Inf1)"
            for v in variants
            if str(v.get("InstanceType", "")).startswith("ml.inf1.")
        )
        return line, notes

    def _policy(self, props: Mapping[str, Any], *, fleet: str | None = None) -> tuple[str, list[str]]:
        """Describe an endpoint's ``DeploymentConfig``: one line, and notes (timeouts, rollback batch)."""
        deployment = props.get("DeploymentConfig")
        of = f" of {fleet}" if fleet else ""
        if not isinstance(deployment, dict) or not deployment:
            return (
                f"SageMaker's default (no DeploymentConfig): blue/green, all at once{of}, no baking, no rollback alarms",
                [],
            )
        notes: list[str] = []
        blue_green = deployment.get("BlueGreenUpdatePolicy")
        rolling = deployment.get("RollingUpdatePolicy")
        if isinstance(blue_green, dict):
            routing = blue_green.get("TrafficRoutingConfiguration") or {}
            kind = str(routing.get("Type", "ALL_AT_ONCE"))
            bake = _duration(routing.get("WaitIntervalInSeconds"))
            if kind == "CANARY":
                line = (
                    f"blue/green (canary: {_capacity(routing.get('CanarySize'))} first, then the rest){of}, "
                    f"baking {bake}"
                )
            elif kind == "LINEAR":
                line = (
                    f"blue/green (linear: {_capacity(routing.get('LinearStepSize'))} per step){of}, "
                    f"baking {bake} after each step"
                )
            else:
                line = f"blue/green (all at once){of}, baking {bake}"
            if "TerminationWaitInSeconds" in blue_green:
                notes.append(
                    f"the old fleet is kept {_duration(blue_green['TerminationWaitInSeconds'])} after the shift"
                )
            if "MaximumExecutionTimeoutInSeconds" in blue_green:
                notes.append(
                    f"the deployment may take at most {_duration(blue_green['MaximumExecutionTimeoutInSeconds'])}"
                )
        elif isinstance(rolling, dict):
            line = (
                f"rolling, in batches of {_capacity(rolling.get('MaximumBatchSize'))}{of}, baking "
                f"{_duration(rolling.get('WaitIntervalInSeconds'))} after each batch"
            )
            if "RollbackMaximumBatchSize" in rolling:
                notes.append(
                    f"a rollback restores {_capacity(rolling['RollbackMaximumBatchSize'])} at a time"
                )
            else:
                notes.append(
                    "a rollback restores the whole old fleet at once (RollbackMaximumBatchSize's default)"
                )
            if "MaximumExecutionTimeoutInSeconds" in rolling:
                notes.append(
                    f"the deployment may take at most {_duration(rolling['MaximumExecutionTimeoutInSeconds'])}"
                )
        else:
            line = f"SageMaker's default: blue/green, all at once{of}, no baking"
        alarms = ((deployment.get("AutoRollbackConfiguration") or {}).get("Alarms")) or []
        names = [self._alarm_name(a.get("AlarmName")) for a in alarms if isinstance(a, dict)]
        line += f", rollback on alarms {', '.join(names)}" if names else ", no rollback alarms"
        return line, notes

    def _alarm_name(self, value: Any) -> str:
        lid = _ref_id(value)
        alarm = self.diff.get(lid)
        if alarm is None or lid is None:
            return show(value)
        props = alarm.props()
        metric = props.get("MetricName") or ", ".join(
            str(m.get("Id"))
            for m in props.get("Metrics") or []
            if isinstance(m, dict) and m.get("ReturnData", True)
        )
        return f"{readable(lid)} ({metric})" if metric else readable(str(lid))

    # --- multi-model archives ----------------------------------------------------------------

    def _model_archives(self) -> None:
        for archive in self.diff.of_type("Custom::ModelArchive"):
            props = archive.props("head" if archive.head is not None else "base")
            where = f"{show(props.get('DestinationBucket'))}/{show(props.get('DestinationKey'))}"
            target = str(show(props.get("DestinationKey"))).rsplit("/", 1)[-1]
            if archive.base is None:
                self.covered.add(archive.logical_id)
                details = self._new_archive(props)
                self.add(
                    "endpoints",
                    f"adds model archive s3://{where}: a multi-model endpoint reading that prefix serves it on the first "
                    f"request with TargetModel={target}; no endpoint update",
                    details,
                )
            elif archive.head is not None and archive.modified and not archive.replaced:
                self.covered.add(archive.logical_id)
                old, new = archive.props("base"), archive.props("head")
                if (old.get("DestinationBucket"), old.get("DestinationKey")) != (
                    new.get("DestinationBucket"),
                    new.get("DestinationKey"),
                ):
                    old_where = f"{show(old.get('DestinationBucket'))}/{show(old.get('DestinationKey'))}"
                    self.add(
                        "data",
                        f"model archive s3://{old_where} moves to s3://{where}: the old key is deleted (the handler deletes "
                        f"what it wrote); requests with TargetModel={show(old.get('DestinationKey')).rsplit('/', 1)[-1]} "
                        "fail once no instance has it loaded",
                        destructive=True,
                    )
                elif old.get("SourceKey") != new.get("SourceKey"):
                    details = self._archive_details(
                        f"s3://{show(old.get('SourceBucket'))}/{show(old.get('SourceKey'))}",
                        f"s3://{show(new.get('SourceBucket'))}/{show(new.get('SourceKey'))}",
                    )
                    overwrite = str(show(new.get("AllowOverwrite", ""))).lower() == "true"
                    self.add(
                        "endpoints",
                        f"model archive s3://{where} gets new contents: "
                        + (
                            "allowed (AllowOverwrite); instances that loaded the old archive may keep serving it"
                            if overwrite
                            else "the deploy fails at this copy (ModelPrefix refuses to overwrite a served key: "
                            "add the changed model under a new name, or allow_overwrite=True)"
                        ),
                        details,
                    )

    def _new_archive(self, props: Mapping[str, Any]) -> list[str]:
        location = (show(props.get("SourceBucket")), show(props.get("SourceKey")))
        contents = self._contents(self.head_archive, location, "the head assembly")
        if isinstance(contents, str):
            return [f"contents not read: {contents}"]
        return [
            f"{model}: {_config_summary(config)}" for model, config in sorted(contents.configs.items())
        ] or [f"{len(contents.files)} files, no config.pbtxt"]

    # --- replaced resources and data ---------------------------------------------------------

    def _replaced_and_data(self) -> None:
        for resource in self.diff.resources.values():
            kind = DATA_TYPES.get(resource.type)
            lid = resource.logical_id
            if resource.head is None:
                self.covered.add(lid)
                if kind is None:
                    if resource.type == "AWS::SageMaker::Model":
                        self.add("replaced", f"model {readable(lid)} is removed")
                    continue
                policy = str(resource.base.get("DeletionPolicy", "Delete")) if resource.base else "Delete"
                self._data_gone(resource, kind, policy, "is removed from the stack")
            elif resource.base is not None and resource.replaced:
                self.covered.add(lid)
                why = ", ".join(sorted(set(resource.changed) | set(resource.follows))) or "its type"
                if resource.type == "AWS::SageMaker::Model":
                    self.add(
                        "replaced",
                        f"model {readable(lid)} is replaced ({why} changed): a new SageMaker model; CloudFormation deletes the old "
                        "one after the endpoint moved off it",
                    )
                elif kind is not None:
                    policy = str(resource.base.get("UpdateReplacePolicy", "Delete"))
                    self._data_gone(resource, kind, policy, f"is replaced ({why} changed)")
                elif resource.type != "AWS::SageMaker::EndpointConfig":
                    self.add("replaced", f"{resource.type} {readable(lid)} is replaced ({why} changed)")
            if resource.base is not None and resource.head is not None:
                for key, old, new in resource.policy_changes:
                    self.add(
                        "data",
                        f"{kind or resource.type} {readable(lid)}: {key} {show(old if old is not _MISSING else 'Delete')} → "
                        f"{show(new if new is not _MISSING else 'Delete')}"
                        + (
                            " (its data would now be deleted with it)"
                            if kind is not None and str(new) in ("Delete", str(_MISSING))
                            else ""
                        ),
                    )
                for prop in ("RetentionInDays", "LifecycleConfiguration"):
                    for path, old, new in resource.changed.get(prop, []):
                        self.add(
                            "data",
                            f"{kind or resource.type} {readable(lid)}: {path} {show(old)} → {show(new)}",
                        )

    def _data_gone(self, resource: _Resource, kind: str, policy: str, what: str) -> None:
        lid = resource.logical_id
        if kind == "model archive":
            props = resource.props("base")
            key = show(props.get("DestinationKey"))
            self.add(
                "data",
                f"model archive s3://{show(props.get('DestinationBucket'))}/{key} {what}: its object is deleted; "
                f"requests with TargetModel={key.rsplit('/', 1)[-1]} fail once no instance has it loaded",
                destructive=True,
            )
        elif policy in ("Retain", "RetainExceptOnCreate"):
            self.add(
                "data",
                f"{kind} {readable(lid)} {what} but kept ({policy}): its data stays, no longer managed by the stack",
            )
        elif policy == "Snapshot":
            self.add("data", f"{kind} {readable(lid)} {what}: deleted after a snapshot")
        else:
            extra = (
                " (CloudFormation cannot delete a bucket that still holds objects: the deploy fails there)"
                if kind == "bucket"
                else ""
            )
            self.add(
                "data", f"{kind} {readable(lid)} {what}: it is deleted with its data{extra}", destructive=True
            )

    # --- scaling -----------------------------------------------------------------------------

    def _scaling(self) -> None:
        resources = self.diff.of_type(*_SCALING_TYPES)
        # A target or policy whose logical id changes but whose settings do not: one line, not two.
        gone = {self._scaling_key(r): r for r in resources if r.head is None}
        recreated: set[str] = set()
        for resource in resources:
            old = gone.pop(self._scaling_key(resource), None) if resource.base is None else None
            if old is not None:
                recreated |= {old.logical_id, resource.logical_id}
                self.covered |= {old.logical_id, resource.logical_id}
                what = "scalable target" if resource.type.endswith("ScalableTarget") else "scaling policy"
                self.add(
                    "scaling",
                    f"{what} {readable(old.logical_id)}{self._variant_label(resource.props())} is re-created as "
                    f"{readable(resource.logical_id)} with the same "
                    f"settings: {self._scaling_summary(resource.type, resource.props())}",
                )
                if resource.type.endswith("ScalableTarget") and (old.base or {}).get("DeletionPolicy") != "Retain":
                    # Both resources name the same (ResourceId, ScalableDimension): CloudFormation
                    # registers the new one, then deletes the old one in its cleanup, and that
                    # delete deregisters the one registration they share (docs/updates.md).
                    self.add(
                        "scaling",
                        f"WARNING: the deployed {readable(old.logical_id)} is not retained, so CloudFormation's "
                        "cleanup deletes it after the new target is registered, and that delete deregisters the "
                        "variant's only registration (and its policies): the variant ends up without autoscaling. "
                        "Deploy once without auto_scale_instance_count, then again with it (docs/updates.md, "
                        "upgrading)",
                    )
        for resource in resources:
            lid = resource.logical_id
            if lid in recreated:
                continue
            self.covered.add(lid)
            what = "scalable target" if resource.type.endswith("ScalableTarget") else "scaling policy"
            props = resource.props("head" if resource.head is not None else "base")
            variant = self._scaling_variant(props)
            label = f"{what} {readable(lid)}" + (f" ({variant})" if variant else "")
            if resource.base is None:
                self.add("scaling", f"new {label}: {self._scaling_summary(resource.type, props)}")
            elif resource.head is None:
                self.add("scaling", f"{label} is removed: {self._scaling_summary(resource.type, props)}")
            else:
                if resource.replaced:
                    self.add(
                        "scaling",
                        f"{label} is replaced ({', '.join(sorted(set(resource.changed) | set(resource.follows)))}); "
                        "it is registered again for the new resource",
                    )
                for leaves in resource.changed.values():
                    for path, old, new in leaves:
                        if path in ("ResourceId", "ScalingTargetId"):
                            continue
                        self.add("scaling", f"{label}: {path} {show(old)} → {show(new)}")

    def _variant_label(self, props: Mapping[str, Any]) -> str:
        variant = self._scaling_variant(props)
        return f" ({variant})" if variant else ""

    @staticmethod
    def _scaling_variant(props: Mapping[str, Any]) -> str:
        variant = show(props.get("ResourceId", "")).rsplit("/variant/", 1)[-1] if "ResourceId" in props else ""
        return "" if "${" in variant else variant

    def _scaling_key(self, resource: _Resource) -> tuple[str, str, str]:
        props = resource.props("head" if resource.head is not None else "base")
        settings = {k: v for k, v in props.items() if k not in ("ScalingTargetId", "PolicyName")}
        return resource.type, self._scaling_variant(props), json.dumps(settings, sort_keys=True)

    @staticmethod
    def _scaling_summary(resource_type: str, props: Mapping[str, Any]) -> str:
        if resource_type.endswith("ScalableTarget"):
            return f"{show(props.get('MinCapacity'))}-{show(props.get('MaxCapacity'))} instances"
        tracking = props.get("TargetTrackingScalingPolicyConfiguration") or {}
        if tracking:
            metric = (tracking.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType") or (
                tracking.get("CustomizedMetricSpecification") or {}
            ).get("MetricName")
            return f"target tracking {show(metric)} at {show(tracking.get('TargetValue'))}"
        return str(show(props.get("PolicyType", "policy")))

    # --- IAM ---------------------------------------------------------------------------------

    def _iam(self) -> None:
        for resource in self.diff.of_type(*_IAM_TYPES):
            lid = resource.logical_id
            self.covered.add(lid)
            old = _statements(resource.base)
            new = _statements(resource.head)
            removed = [s for s in old if s not in new]
            added = [s for s in new if s not in old]
            for before, after in _same_grant_other_resource(removed, added):
                removed.remove(before)
                added.remove(after)
                old_body, new_body = _split(before)[1], _split(after)[1]
                self.add(
                    "iam",
                    f"{readable(lid)}: {new_body.get('Effect', 'Allow')} "
                    f"{', '.join(show(a) for a in _as_list(new_body.get('Action')))} moves from "
                    f"{', '.join(show(r) for r in _as_list(old_body.get('Resource')))} to "
                    f"{', '.join(show(r) for r in _as_list(new_body.get('Resource')))} (same actions, as many resources)",
                )
            for statement in removed:
                self.add("iam", f"{readable(lid)}: removes {_statement_text(statement)}")
            for statement in added:
                broad = _broadening(statement, removed)
                self.add(
                    "iam",
                    f"{readable(lid)}: adds {_statement_text(statement)}"
                    + (f" — BROADENS: {broad}" if broad else ""),
                )
            if resource.base is not None and resource.head is not None:
                for prop in ("ManagedPolicyArns", "Roles", "PermissionsBoundary"):
                    for path, before, after in resource.changed.get(prop, []):
                        self.add("iam", f"{readable(lid)}: {path} {show(before)} → {show(after)}")
            elif resource.head is None and not old:
                self.add("iam", f"{resource.type} {readable(lid)} is removed")

    # --- everything else ---------------------------------------------------------------------

    def _other(self) -> None:
        for resource in self.diff.resources.values():
            lid = resource.logical_id
            if lid in self.covered or resource.type == "AWS::CDK::Metadata":
                continue
            if resource.base is None:
                summary = _alarm_summary(resource.props()) if resource.type == "AWS::CloudWatch::Alarm" else ""
                self.add("other", f"new {resource.type} {readable(lid)}{summary}")
            elif resource.head is None:
                self.add("other", f"{resource.type} {readable(lid)} is removed")
            elif resource.modified:
                props = sorted(set(resource.changed) | set(resource.follows))
                if not props:
                    continue
                if resource.replaced:
                    verdict = "replaced"
                elif not resource.replacement_known:
                    verdict = (
                        "changed; whether CloudFormation replaces or updates it is not in this explainer's table "
                        "(`cdk diff` with a change set says)"
                    )
                else:
                    verdict = "updated in place"
                self.add("other", f"{resource.type} {readable(lid)}: {', '.join(props)} {verdict}")


_COMPARISONS = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
}


def _alarm_summary(props: Mapping[str, Any]) -> str:
    """Return ``": ModelLatency p99 > 250000 Microseconds"`` for an alarm's properties ("" if unreadable)."""
    metric = props.get("MetricName")
    if metric is None:
        expressions = [m for m in props.get("Metrics") or [] if isinstance(m, dict) and m.get("ReturnData", True)]
        metric = show(expressions[0].get("Label") or expressions[0].get("Expression")) if expressions else None
    if metric is None:
        return ""
    statistic = props.get("ExtendedStatistic") or props.get("Statistic") or ""
    unit = f" {props['Unit']}" if "Unit" in props else ""
    comparison = _COMPARISONS.get(str(props.get("ComparisonOperator")), show(props.get("ComparisonOperator", "?")))
    return f": {metric} {statistic} {comparison} {show(props.get('Threshold'))}{unit}".replace("  ", " ")


_VARIANT_LABELS = {
    "InstanceType": "instance type",
    "InitialInstanceCount": "initial instance count",
    "InitialVariantWeight": "initial weight",
    "ModelDataDownloadTimeoutInSeconds": "model download timeout (s)",
    "ContainerStartupHealthCheckTimeoutInSeconds": "container startup health-check timeout (s)",
    "VolumeSizeInGB": "volume size (GB)",
}


def _unguarded(endpoint: Mapping[str, Any], config: Mapping[str, Any]) -> str | None:
    """Return why an update of this endpoint to this config has no deployment guardrails; None if it has them.

    Guardrails are a ``DeploymentConfig`` with at least one rollback alarm (SageMaker rolls the update
    back when one fires during baking), on variants SageMaker applies them to (not Inf1).
    """
    deployment = endpoint.get("DeploymentConfig")
    if not isinstance(deployment, dict) or not deployment:
        return "no DeploymentConfig: SageMaker's default is all at once, no baking, no rollback"
    alarms = (deployment.get("AutoRollbackConfiguration") or {}).get("Alarms") or []
    if not alarms:
        return "the DeploymentConfig has no rollback alarms"
    inf1 = [
        str(v.get("VariantName"))
        for v in config.get("ProductionVariants") or []
        if isinstance(v, dict) and str(v.get("InstanceType", "")).startswith("ml.inf1.")
    ]
    if inf1:
        return f"{', '.join(inf1)} on Inf1, where SageMaker ignores the policy"
    return None


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return show(seconds) if seconds is not None else "0 s"
    if seconds and seconds % 60 == 0:
        return f"{int(seconds) // 60} min"
    return f"{seconds:g} s"


def _capacity(value: Any) -> str:
    if not isinstance(value, dict):
        return show(value)
    kind, amount = value.get("Type"), value.get("Value")
    if kind == "CAPACITY_PERCENT":
        return f"{show(amount)} % of the fleet"
    if kind == "INSTANCE_COUNT":
        return f"{show(amount)} instance{'s' if amount != 1 else ''}"
    return show(value)


def _statements(resource: Mapping[str, Any] | None) -> list[str]:
    """Return the policy statements of an IAM-bearing resource, each as canonical JSON."""
    if resource is None:
        return []
    props = resource.get("Properties") or {}
    documents: list[tuple[str, Any]] = []
    if "PolicyDocument" in props:
        documents.append(("", props["PolicyDocument"]))
    if "AssumeRolePolicyDocument" in props:
        documents.append(("trust: ", props["AssumeRolePolicyDocument"]))
    for policy in props.get("Policies") or []:
        if isinstance(policy, dict):
            documents.append((f"inline {show(policy.get('PolicyName'))}: ", policy.get("PolicyDocument")))
    out: list[str] = []
    for prefix, document in documents:
        statements = (document or {}).get("Statement") or []
        for statement in statements if isinstance(statements, list) else [statements]:
            out.append(prefix + json.dumps(_canonical(statement), sort_keys=True))
    return out


_ORDERLESS = frozenset({"Action", "NotAction", "Resource", "NotResource"})


def _canonical(statement: Any) -> Any:
    """Return a statement with its action and resource lists sorted (their order means nothing to IAM)."""
    if not isinstance(statement, dict):
        return statement
    return {
        key: sorted(value, key=lambda v: json.dumps(v, sort_keys=True))
        if key in _ORDERLESS and isinstance(value, list)
        else value
        for key, value in statement.items()
    }


def _split(statement: str) -> tuple[str, dict[str, Any]]:
    brace = statement.index("{")
    return statement[:brace], json.loads(statement[brace:])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _statement_text(statement: str) -> str:
    prefix, body = _split(statement)
    actions = ", ".join(show(a) for a in _as_list(body.get("Action") or body.get("NotAction")))
    not_action = "NotAction " if "NotAction" in body else ""
    resources = ", ".join(show(r) for r in _as_list(body.get("Resource") or body.get("NotResource")))
    principal = f" for {show(body['Principal'])}" if "Principal" in body else ""
    condition = f" when {show(body['Condition'])}" if "Condition" in body else ""
    on = f" on {resources}" if resources else ""
    return f"{prefix}{body.get('Effect', 'Allow')} {not_action}{actions}{on}{principal}{condition}"


def _same_grant_other_resource(removed: Sequence[str], added: Sequence[str]) -> list[tuple[str, str]]:
    """Return the (removed, added) statement pairs that differ only in concrete, wildcard-free resources.

    A rebuilt model archive moves ``s3:GetObject`` from one asset key to another: that is not a broadening.
    """
    pairs: list[tuple[str, str]] = []
    taken: set[int] = set()
    for before in removed:
        prefix, old = _split(before)
        for index, after in enumerate(added):
            new_prefix, new = _split(after)
            if index in taken or prefix != new_prefix:
                continue
            rest_old = {k: v for k, v in old.items() if k != "Resource"}
            rest_new = {k: v for k, v in new.items() if k != "Resource"}
            old_resources, new_resources = _as_list(old.get("Resource")), _as_list(new.get("Resource"))
            if (
                rest_old == rest_new
                and len(old_resources) == len(new_resources)
                and not any("*" in show(r) for r in new_resources)
            ):
                pairs.append((before, after))
                taken.add(index)
                break
    return pairs


def _broadening(statement: str, removed: Sequence[str]) -> str | None:
    """Return why an added Allow statement broadens access (a wildcard, or new actions); None if it does not."""
    _, body = _split(statement)
    if body.get("Effect", "Allow") != "Allow":
        return None
    actions = [str(a) for a in _as_list(body.get("Action"))]
    resources = [show(r) for r in _as_list(body.get("Resource"))]
    reasons = []
    if "NotAction" in body or any(a == "*" or a.endswith(":*") for a in actions):
        reasons.append("wildcard actions")
    if "*" in resources and "Condition" not in body:
        reasons.append("every resource")
    before = {str(a) for s in removed for a in _as_list(_split(s)[1].get("Action"))}
    new_actions = sorted(set(actions) - before)
    if new_actions and not reasons:
        reasons.append("grants " + ", ".join(new_actions))
    return "; ".join(reasons) or None


# --------------------------------------------------------------------------------------------
# Entry points


def _local_archives(assembly: CloudAssembly) -> ArchiveSource:
    return lambda bucket, key: assembly.asset(key)


def explain_templates(
    templates: Mapping[str, tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]],
    *,
    base_archive: ArchiveSource = lambda bucket, key: None,
    head_archive: ArchiveSource = lambda bucket, key: None,
    base_label: str = "the base",
) -> Explanation:
    """Explain ``{stack: (base template or None, head template or None)}``.

    Args:
        templates: The templates per stack, in the order to report.
        base_archive: Maps an S3 object key of the base to its archive (a local path, or a function opening a
            stream), or None when it is not available.
        head_archive: The same for the head.
        base_label: How the base is named in the text (``"the base assembly"``, ``"the deployed stacks"``).
    """
    findings: list[Finding] = []
    for stack, (base, head) in templates.items():
        findings.extend(
            _Explainer(
                stack, base, head, base_archive=base_archive, head_archive=head_archive, base_label=base_label
            ).explain()
        )
    return Explanation(tuple(findings), tuple(templates))


def explain_assemblies(base_dir: Path, head_dir: Path, *, stacks: Sequence[str] = ()) -> Explanation:
    """Explain the difference between two synthesized cloud assemblies (no AWS access).

    Args:
        base_dir: The base branch's assembly folder (``cdk synth -o DIR``).
        head_dir: The head's assembly folder.
        stacks: Only these stacks (names of either assembly). Defaults to every stack of both.

    Raises:
        UserError: A folder is not a cloud assembly, or a stack is in neither.
    """
    base, head = CloudAssembly(base_dir, label="--base"), CloudAssembly(head_dir, label="--head")
    names = list(stacks) or list(head.stacks) + [s for s in base.stacks if s not in head.stacks]
    _check_stack_names(names, base, head)
    templates = {
        name: (
            base.stacks[name].template() if name in base.stacks else None,
            head.stacks[name].template() if name in head.stacks else None,
        )
        for name in names
    }
    return explain_templates(
        templates,
        base_archive=_local_archives(base),
        head_archive=_local_archives(head),
        base_label="the base assembly",
    )


def _check_stack_names(names: Sequence[str], base: CloudAssembly | None, head: CloudAssembly) -> None:
    known = sorted(set(head.stacks) | set(base.stacks if base else ()))
    for name in names:
        if name not in known:
            raise UserError(
                f"--stack {name!r} is not a stack of the assemblies{did_you_mean(name, known)}; their stacks: "
                f"{', '.join(known) or 'none'}"
            )


def explain_deployed(head_dir: Path, *, session: Any = None, stacks: Sequence[str] = ()) -> Explanation:
    """Explain what deploying the head assembly changes in the deployed stacks (``GetTemplate``).

    AWS is reached through boto3's normal configuration (``AWS_ENDPOINT_URL`` points it at the local
    rehearsal's moto server). The deployed model archives are read from S3 (streamed once, for their
    ``config.pbtxt`` files and digests) when the credentials allow; otherwise the text says so.

    Args:
        head_dir: The head assembly folder.
        session: A ``boto3.Session``. Defaults to a new one.
        stacks: Only these stacks of the head assembly. Defaults to all of them.

    Raises:
        UserError: The folder is not a cloud assembly, or a stack is not in it.
    """
    head = CloudAssembly(head_dir, label="--head")
    head.check_stacks(stacks)
    names = list(stacks) or list(head.stacks)
    import boto3
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    session = boto3.Session() if session is None else session
    templates: dict[str, tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]] = {}
    try:
        cloudformation = session.client("cloudformation")
        for name in names:
            templates[name] = (_deployed_template(cloudformation, name), head.stacks[name].template())
    except NoRegionError:
        raise UserError("--deployed: boto3 has no region configured; set AWS_REGION (or AWS_DEFAULT_REGION)") from None
    except NoCredentialsError:
        raise UserError(
            "--deployed: no AWS credentials found; configure them as for the AWS CLI (AWS_PROFILE, environment, role), "
            "or compare two assemblies with --base"
        ) from None
    except EndpointConnectionError as error:
        raise UserError(f"--deployed: cannot reach CloudFormation ({error}); check AWS_ENDPOINT_URL and the network") from None
    except ClientError as error:
        raise UserError(
            f"--deployed: cannot read the deployed templates ({error}); the credentials need "
            "cloudformation:GetTemplate (and s3:GetObject on the CDK asset bucket to compare archives)"
        ) from None
    return explain_templates(
        templates,
        base_archive=_s3_archives(session),
        head_archive=_local_archives(head),
        base_label="the deployed stacks",
    )


def _deployed_template(cloudformation: Any, name: str) -> Mapping[str, Any] | None:
    try:
        body = cloudformation.get_template(StackName=name, TemplateStage="Original")["TemplateBody"]
    except Exception as error:  # botocore ClientError: "Stack with id X does not exist"
        if "does not exist" in str(error):
            return None
        raise
    if isinstance(body, str):
        try:
            return dict(json.loads(body))
        except ValueError:
            raise UserError(
                f"stack {name!r} is deployed from a YAML template; this explainer reads JSON (CDK's output)"
            ) from None
    return dict(body)


def _s3_archives(session: Any) -> ArchiveSource:
    """Open deployed archives in S3, with ``${AWS::AccountId}``, ``${AWS::Region}``, ``${AWS::Partition}`` resolved."""
    state: dict[str, Any] = {}

    def source(bucket: str, key: str) -> ArchiveOpener | None:
        if not state:
            state["s3"] = session.client("s3")
            state["vars"] = {
                "AWS::AccountId": session.client("sts").get_caller_identity()["Account"],
                "AWS::Region": session.region_name or "us-east-1",
                "AWS::Partition": "aws",
            }
        for name, value in state["vars"].items():
            bucket = bucket.replace("${" + name + "}", value)
        if "${" in bucket or "${" in key:
            return None  # a bucket of the stack itself: its physical name is not in the template

        def opener() -> IO[bytes]:
            return state["s3"].get_object(Bucket=bucket, Key=key)["Body"]  # type: ignore[no-any-return]

        return opener

    return source


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m operations diff``: print the explanation; exit 1 on a destructive change if asked."""
    return run_cli(_main, argv, prog=PROG)


def _parser() -> argparse.ArgumentParser:
    parser = UsageErrorParser(
        prog=PROG,
        description="Explain what deploying a synthesized cloud assembly changes, in plain words for a reviewer.",
    )
    parser.add_argument(
        "--base", type=path_argument, help="the base assembly folder (e.g. the main branch's cdk.out)"
    )
    parser.add_argument(
        "--head", type=path_argument, required=True, help="the head assembly folder (cdk.out)"
    )
    parser.add_argument(
        "--deployed",
        action="store_true",
        help="compare with the deployed stacks (CloudFormation GetTemplate, boto3's normal configuration) instead of --base",
    )
    parser.add_argument("--stack", action="append", default=[], help="only this stack (repeat for several)")
    parser.add_argument("--format", choices=("text", "markdown"), help="text (default) or markdown")
    parser.add_argument(
        "--fail-on-destructive",
        "--fail-on-replacement",
        dest="fail_on_destructive",
        action="store_true",
        help="exit 1 when data or an endpoint would be deleted or replaced, or an endpoint updated without guardrails",
    )
    comment = parser.add_argument_group("pull-request comment (.github/workflows/pull-request.yml)")
    comment.add_argument(
        "--comment",
        action="store_true",
        help="write the pull-request comment (markdown that starts with a hidden marker, a summary and the "
        "destructive changes); exit 1 on a destructive change unless it is allowed",
    )
    comment.add_argument(
        "--allow-destructive",
        action="store_true",
        help=f"with --comment: the destructive changes are accepted (what the label {OVERRIDE_LABEL!r} says); exit 0",
    )
    comment.add_argument(
        "--github-event",
        type=path_argument,
        metavar="FILE",
        help=f"with --comment: the pull_request event ($GITHUB_EVENT_PATH); its label {OVERRIDE_LABEL!r} allows "
        "destructive changes, and the comment names its head commit",
    )
    comment.add_argument(
        "--cdk-diff",
        type=path_argument,
        metavar="FILE",
        help="with --comment: the output of `cdk diff --method change-set` against the deployed stacks, shown in "
        "its own section",
    )
    return parser


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.deployed and args.base is not None:
        raise UserError(
            "--base and --deployed both name the base; give one (--deployed reads the deployed templates)"
        )
    if not args.deployed and args.base is None:
        raise UserError(
            "give --base DIR (the base branch's cdk.out) or --deployed (the deployed stacks) to compare --head with"
        )
    for flag, given in (
        ("--allow-destructive", args.allow_destructive),
        ("--github-event", args.github_event),
        ("--cdk-diff", args.cdk_diff),
    ):
        if given and not args.comment:
            raise UserError(f"{flag} only applies to the pull-request comment; add --comment")
    if args.comment and args.format == "text":
        raise UserError("--comment writes markdown; leave out --format text")
    pull_request = read_pull_request_event(args.github_event) if args.github_event else None
    cdk_diff = None
    if args.cdk_diff is not None:
        if not args.cdk_diff.is_file():
            raise UserError(
                f"--cdk-diff {str(args.cdk_diff)!r} is not a file; give the file `cdk diff --method change-set` "
                "wrote (cdk diff ... > FILE 2>&1)"
            )
        cdk_diff = args.cdk_diff.read_text(encoding="utf-8", errors="replace")
    head = CloudAssembly(args.head, label="--head")
    if args.deployed:
        head.check_stacks(args.stack)
        explanation = explain_deployed(args.head, stacks=args.stack)
    else:
        _check_stack_names(args.stack, CloudAssembly(args.base, label="--base"), head)
        explanation = explain_assemblies(args.base, args.head, stacks=args.stack)
    if args.comment:
        allowed_by = (
            f"the label `{OVERRIDE_LABEL}`"
            if pull_request is not None and pull_request.allows_destructive
            else "--allow-destructive"
            if args.allow_destructive
            else None
        )
        compared = "the deployed stacks" if args.deployed else "the base branch"
        sys.stdout.write(
            pr_comment(
                explanation, compared=compared, allowed_by=allowed_by, pull_request=pull_request, cdk_diff=cdk_diff
            )
        )
        if explanation.destructive and allowed_by is None:
            sys.stderr.write(
                f"{PROG}: {len(explanation.destructive)} destructive change(s); the label {OVERRIDE_LABEL!r} on the "
                "pull request allows them\n"
            )
            return 1
        return 0
    sys.stdout.write(explanation.render(args.format or "text"))
    if args.fail_on_destructive and explanation.destructive:
        sys.stderr.write(f"{PROG}: {len(explanation.destructive)} destructive change(s); see above\n")
        return 1
    return 0
