"""Snapshot of the real-time stack's template, as ``app.py`` synthesizes it: refactors change nothing unseen.

The snapshots under ``tests/snapshots/`` were first written from the templates synthesized before
the construct library was reshaped (issue 7), so the resource-by-resource test below proves the
reshaping kept every logical id and every property. Asset hashes are normalised (they follow the
model build's inputs, not the constructs).

To accept an intended change, rerun with ``UPDATE_SNAPSHOTS=1`` and review the diff of the
snapshot files in the commit.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App

import app as app_module  # app.py at the repository root (tests/conftest.py puts it on sys.path)

REPO_ROOT = Path(__file__).resolve().parents[1]
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
STACK = "TritonRealtime-{model}"  # app.py names each stack after its model
_ASSET_HASH = re.compile(r"\b[0-9a-f]{64}\b")

# The snapshots are of the real-time stack only: the app's other stacks are left out (the default
# multi-model set alone is two ResNet-50 builds, ~190 MB each, on a cold cache).
ONLY_REALTIME = {"async_model": "none", "mme_models": "none"}
CASES = {
    "default": {**ONLY_REALTIME},
    "cpu": {**ONLY_REALTIME, "model": "resnet-tiny", "instance_type": "ml.c5.xlarge"},
}


def normalised(template: dict[str, Any]) -> dict[str, Any]:
    """Return ``template`` with asset hashes replaced by ``<asset-hash>``."""
    return json.loads(_ASSET_HASH.sub("<asset-hash>", json.dumps(template)))


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[str, dict[str, Any]]:
    result = {}
    for case, context in CASES.items():
        app = app_module.build_app(App(outdir=str(tmp_path_factory.mktemp(case)), context=dict(context)))
        model = context.get("model", "bert-tiny")
        result[case] = normalised(app.synth().get_stack_by_name(STACK.format(model=model)).template)
    return result


def _snapshot(case: str, current: dict[str, Any]) -> dict[str, Any]:
    path = SNAPSHOTS / f"realtime_stack.{case}.template.json"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    return json.loads(path.read_text())


def _diff(expected: Any, actual: Any) -> str:
    lines = difflib.unified_diff(
        json.dumps(expected, indent=1, sort_keys=True).splitlines(),
        json.dumps(actual, indent=1, sort_keys=True).splitlines(),
        "snapshot",
        "synthesized",
        lineterm="",
    )
    return "\n".join(lines)


@pytest.mark.parametrize("case", sorted(CASES))
def test_realtime_stack_keeps_every_resource_logical_id_and_property(templates, case):
    # GIVEN the committed snapshot  WHEN the app synthesizes the stack now
    expected = _snapshot(case, templates[case])["Resources"]
    actual = templates[case]["Resources"]

    # THEN the same logical ids ...
    assert sorted(actual) == sorted(expected)
    # ... each with the same type, properties and dependencies
    for logical_id, resource in expected.items():
        assert actual[logical_id] == resource, f"{logical_id} changed:\n{_diff(resource, actual[logical_id])}"


@pytest.mark.parametrize("case", sorted(CASES))
def test_realtime_stack_template_matches_snapshot(templates, case):
    # GIVEN / WHEN
    expected = _snapshot(case, templates[case])

    # THEN the whole template (mappings, rules, outputs, parameters) is unchanged
    assert templates[case] == expected, _diff(expected, templates[case])
