"""rehearsal.moto_extensions: Python Lambda handlers run for real, custom resources get their lifecycle.

One moto server for the module (plus one the last test stops). The handler below records every
custom resource request it receives in the emulator's S3 (``events/<stack>/<time>``) and answers
on ``ResponseURL`` as its properties ask: a physical id, a FAILED reason, a gate object to wait
for, or a sleep. It uses urllib, not boto3, so an invocation starts in a fraction of a second.
"""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest

from rehearsal.moto_server import MotoServer

pytestmark = pytest.mark.slow

BUCKET = "lambda-test-records"
HANDLER = r"""
import json, os, time, urllib.request

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
BUCKET = os.environ["RECORD_BUCKET"]


def _put(key, body):
    request = urllib.request.Request(
        f"{ENDPOINT}/{BUCKET}/{key}", data=body, method="PUT", headers={"content-type": "application/octet-stream"})
    urllib.request.urlopen(request).read()


def _wait_for(key):
    import boto3  # a signed read: moto refuses anonymous GETs

    s3 = boto3.client("s3")
    while not s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("KeyCount"):
        time.sleep(0.05)


def handler(event, context):
    if "RequestType" not in event:  # a plain invoke: prove boto3 reaches the emulator
        import boto3
        boto3.client("s3").put_object(Bucket=BUCKET, Key="invoked", Body=json.dumps(event).encode())
        return {"got": event, "function": context.function_name,
                "remaining_ms": context.get_remaining_time_in_millis()}
    props = event["ResourceProperties"]
    stack = event["StackId"].split("/")[1]
    _put(f"events/{stack}/{time.time_ns()}", json.dumps(event).encode())
    if props.get("Sleep"):
        _put(f"pids/{stack}", str(os.getpid()).encode())
        time.sleep(float(props["Sleep"]))
    if props.get("Gate"):
        _wait_for(props["Gate"])
    answer = {
        "Status": "FAILED" if props.get("FailWith") else "SUCCESS",
        "Reason": props.get("FailWith", ""),
        "PhysicalResourceId": props.get("Id") or event.get("PhysicalResourceId") or event["LogicalResourceId"],
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Echo": props.get("Echo", "")},
    }
    urllib.request.urlopen(urllib.request.Request(
        event["ResponseURL"], data=json.dumps(answer).encode(), method="PUT", headers={"content-type": ""})).read()
"""


@dataclass
class Emulator:
    moto: MotoServer
    s3: Any
    cfn: Any
    lam: Any
    functions: dict[str, str]  # name -> ARN


def _handler_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("recorder.py", HANDLER)
    return buf.getvalue()


def _start(moto: MotoServer, functions: tuple[str, ...] = ("recorder", "quick", "node")) -> Emulator:
    kwargs = moto.boto3_kwargs()
    s3 = boto3.client("s3", **kwargs)
    s3.create_bucket(Bucket=BUCKET)
    role = boto3.client("iam", **kwargs).create_role(RoleName="handler", AssumeRolePolicyDocument="{}")[
        "Role"
    ]["Arn"]
    lam = boto3.client("lambda", **kwargs)
    arns = {}
    for name, runtime, timeout in (
        ("recorder", "python3.12", 30),
        ("quick", "python3.12", 1),
        ("node", "nodejs20.x", 30),
    ):
        if name not in functions:
            continue
        arns[name] = lam.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role,
            Handler="recorder.handler",
            Code={"ZipFile": _handler_zip()},
            Timeout=timeout,
            Environment={"Variables": {"RECORD_BUCKET": BUCKET}},
        )["FunctionArn"]
    return Emulator(moto, s3, boto3.client("cloudformation", **kwargs), lam, arns)


@pytest.fixture(scope="module")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    # The server's log (handler output included) is kept in pytest's temporary folder.
    with MotoServer(log_path=tmp_path_factory.mktemp("moto") / "moto.log") as moto:
        yield _start(moto)


def _template(em: Emulator, resources: dict[str, dict[str, Any]], function: str = "recorder") -> str:
    """A template of ``Custom::Recorder`` resources with the given properties, and their Echo outputs.

    Resources whose logical id starts with ``Kept`` have ``DeletionPolicy: Retain``.
    """
    return json.dumps(
        {
            # As in every CDK template: a parameter left at its default, sent back as UsePreviousValue.
            "Parameters": {"BootstrapVersion": {"Type": "String", "Default": "21"}},
            "Resources": {
                logical_id: {
                    "Type": "Custom::Recorder",
                    "Properties": {"ServiceToken": em.functions[function], **props},
                    **({"DeletionPolicy": "Retain"} if logical_id.startswith("Kept") else {}),
                }
                for logical_id, props in resources.items()
            },
            "Outputs": {
                f"{logical_id}Echo": {"Value": {"Fn::GetAtt": [logical_id, "Echo"]}}
                for logical_id in resources
            },
        }
    )


def _wait(em: Emulator, stack: str, timeout_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        description = em.cfn.describe_stacks(StackName=stack)["Stacks"][0]
        if not description["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
            return description
        time.sleep(0.1)


def _requests(em: Emulator, stack: str) -> list[tuple[Any, ...]]:
    """The requests the handler received for ``stack``, in order, without the ServiceToken."""
    keys = sorted(
        o["Key"] for o in em.s3.list_objects_v2(Bucket=BUCKET, Prefix=f"events/{stack}/").get("Contents", [])
    )
    seen = []
    for key in keys:
        event = json.loads(em.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        props = {k: v for k, v in event["ResourceProperties"].items() if k != "ServiceToken"}
        old = event.get("OldResourceProperties")
        old = {k: v for k, v in old.items() if k != "ServiceToken"} if old is not None else None
        seen.append(
            (event["RequestType"], event["LogicalResourceId"], event.get("PhysicalResourceId"), props, old)
        )
    return seen


def _pid_gone(pid: int, within_s: float = 5) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def test_moto_lambda_invoke_runs_the_python_handler_against_the_emulator(emulator: Emulator) -> None:
    # GIVEN a python3.12 function whose handler uses boto3 without any endpoint configured
    # WHEN it is invoked through the Lambda API
    response = emulator.lam.invoke(FunctionName="recorder", Payload=json.dumps({"n": 7}).encode())

    # THEN the handler really ran: its result comes back, and its boto3 call landed in the emulator
    result = json.loads(response["Payload"].read())
    assert "FunctionError" not in response
    assert result["got"] == {"n": 7}
    assert result["function"] == "recorder"
    assert 0 < result["remaining_ms"] <= 30_000
    assert json.loads(emulator.s3.get_object(Bucket=BUCKET, Key="invoked")["Body"].read()) == {"n": 7}


def test_moto_lambda_custom_resource_lifecycle_is_cloudformations(emulator: Emulator) -> None:
    em = emulator
    # GIVEN a stack with three custom resources, A's Create held until a gate object exists, and
    # Kept with DeletionPolicy Retain
    em.cfn.create_stack(
        StackName="life",
        TemplateBody=_template(
            em, {"A": {"V": "1", "Gate": "gates/life"}, "B": {"V": "1", "Id": "b-1"}, "Kept": {"V": "1"}}
        ),
    )
    # THEN the stack is not complete, and shows no outputs, before A answered
    time.sleep(0.5)
    pending = em.cfn.describe_stacks(StackName="life")["Stacks"][0]
    assert pending["StackStatus"] == "CREATE_IN_PROGRESS"
    assert "Outputs" not in pending
    em.s3.put_object(Bucket=BUCKET, Key="gates/life", Body=b"")
    assert _wait(em, "life")["StackStatus"] == "CREATE_COMPLETE"

    # WHEN A's properties change (same physical id) and B answers its Update with a new physical id
    em.cfn.update_stack(
        StackName="life",
        Parameters=[{"ParameterKey": "BootstrapVersion", "UsePreviousValue": True}],
        TemplateBody=_template(
            em,
            {
                "A": {"V": "2", "Gate": "gates/life"},
                "B": {"V": "2", "Id": "b-2", "Echo": "hi"},
                "Kept": {"V": "1"},
            },
        ),
    )
    updated = _wait(em, "life")
    # AND B is removed while A is left unchanged
    em.cfn.update_stack(
        StackName="life",
        TemplateBody=_template(em, {"A": {"V": "2", "Gate": "gates/life"}, "Kept": {"V": "1"}}),
    )
    assert _wait(em, "life")["StackStatus"] == "UPDATE_COMPLETE"
    # AND the stack is deleted
    em.cfn.delete_stack(StackName="life")
    deleted = _wait(em, updated["StackId"])

    # THEN the handler saw exactly CloudFormation's requests: Update only for changed properties,
    # with the old ones and the physical id; the replaced B deleted after the update; B deleted
    # when removed; A deleted with the stack, Kept (Retain) never
    assert updated["StackStatus"] == "UPDATE_COMPLETE"
    assert {o["OutputKey"]: o["OutputValue"] for o in updated["Outputs"]} == {
        "AEcho": "",
        "BEcho": "hi",
        "KeptEcho": "",
    }
    assert deleted["StackStatus"] == "DELETE_COMPLETE"
    a1, a2 = {"V": "1", "Gate": "gates/life"}, {"V": "2", "Gate": "gates/life"}
    b1, b2 = {"V": "1", "Id": "b-1"}, {"V": "2", "Id": "b-2", "Echo": "hi"}
    requests = _requests(em, "life")
    assert sorted(requests[:3]) == [
        ("Create", "A", None, a1, None),
        ("Create", "B", None, b1, None),
        ("Create", "Kept", None, {"V": "1"}, None),
    ]
    assert sorted(requests[3:5]) == [("Update", "A", "A", a2, a1), ("Update", "B", "b-1", b2, b1)]
    assert requests[5:] == [
        ("Delete", "B", "b-1", b1, None),
        ("Delete", "B", "b-2", b2, None),
        ("Delete", "A", "A", a2, None),
    ]


def test_moto_lambda_failed_custom_resource_fails_the_change_set_with_its_reason(emulator: Emulator) -> None:
    em = emulator
    # GIVEN a CREATE change set (the CDK CLI's path) whose custom resource answers FAILED
    change_set = em.cfn.create_change_set(
        StackName="fails",
        ChangeSetName="deploy",
        ChangeSetType="CREATE",
        TemplateBody=_template(em, {"Copy": {"FailWith": "source archive s3://x/y.tar.gz not found"}}),
    )
    # WHEN it is executed
    em.cfn.execute_change_set(ChangeSetName=change_set["Id"])
    stack = _wait(em, "fails")

    # THEN the stack fails, and the handler's reason is in its status reason and its events
    assert stack["StackStatus"] == "CREATE_FAILED"
    assert "[Copy]" in stack["StackStatusReason"]
    assert "source archive s3://x/y.tar.gz not found" in stack["StackStatusReason"]
    events = em.cfn.describe_stack_events(StackName="fails")["StackEvents"]
    failed = [
        e for e in events if e["LogicalResourceId"] == "Copy" and e["ResourceStatus"] == "CREATE_FAILED"
    ]
    assert len(failed) == 1
    assert "Message returned: source archive s3://x/y.tar.gz not found" in failed[0]["ResourceStatusReason"]
    assert [r[0] for r in _requests(em, "fails")] == ["Create"]


def test_moto_lambda_handler_past_its_timeout_is_killed_and_fails_the_stack(emulator: Emulator) -> None:
    em = emulator
    # GIVEN a custom resource whose handler (Timeout 1 s) sleeps 30 s before answering
    em.cfn.create_stack(
        StackName="slow", TemplateBody=_template(em, {"Slow": {"Sleep": "30"}}, function="quick")
    )
    # WHEN the stack operation ends
    stack = _wait(em, "slow")

    # THEN the handler was killed at its timeout and the stack failed, saying so
    pid = int(em.s3.get_object(Bucket=BUCKET, Key="pids/slow")["Body"].read())
    assert _pid_gone(pid, within_s=0.5)
    assert stack["StackStatus"] == "CREATE_FAILED"
    assert "Task timed out after 1.00 seconds" in stack["StackStatusReason"]


def test_moto_lambda_non_python_runtime_fails_with_a_clear_reason(emulator: Emulator) -> None:
    em = emulator
    # GIVEN a custom resource served by a Node.js function
    em.cfn.create_stack(StackName="node", TemplateBody=_template(em, {"Js": {}}, function="node"))
    # WHEN the stack operation ends
    stack = _wait(em, "node")
    # THEN it failed, naming the runtime and what the emulator runs instead
    assert stack["StackStatus"] == "CREATE_FAILED"
    assert "runtime nodejs20.x" in stack["StackStatusReason"]
    assert "python3.x" in stack["StackStatusReason"]
    # AND a direct invoke reports the same as a function error
    response = emulator.lam.invoke(FunctionName="node", Payload=b"{}")
    assert response["FunctionError"] == "Handled"
    assert json.loads(response["Payload"].read())["errorType"] == "Runtime.Unsupported"


def test_moto_lambda_server_stop_leaves_no_handler_running() -> None:
    # GIVEN a server whose custom resource handler is running (it sleeps 30 s)
    with MotoServer() as moto:
        em = _start(moto, functions=("recorder",))
        em.cfn.create_stack(StackName="stop", TemplateBody=_template(em, {"Slow": {"Sleep": "30"}}))
        deadline = time.monotonic() + 20
        while not em.s3.list_objects_v2(Bucket=BUCKET, Prefix="pids/stop").get("KeyCount"):
            assert time.monotonic() < deadline, "the handler never started"
            time.sleep(0.1)
        pid = int(em.s3.get_object(Bucket=BUCKET, Key="pids/stop")["Body"].read())
        os.kill(pid, 0)  # alive now
    # WHEN the server has stopped (leaving the with block)
    # THEN the handler process is gone too
    assert _pid_gone(pid)


def test_moto_lambda_extensions_refuse_another_moto_version(monkeypatch: pytest.MonkeyPatch) -> None:
    import moto

    from rehearsal import moto_extensions

    # GIVEN a moto release other than the one the hooks were written for
    monkeypatch.setattr(moto, "__version__", "9.9.9")
    # WHEN the extensions are installed
    # THEN they refuse before patching anything, naming both versions and the fix
    with pytest.raises(
        RuntimeError,
        match=r"patches moto 5\.2\.5, but moto 9\.9\.9 is installed\. Install moto\[server\]==5\.2\.5",
    ):
        moto_extensions.install()
    from moto.awslambda.models import LambdaFunction

    assert LambdaFunction._invoke_lambda is not moto_extensions.invoke_python_function


def test_moto_lambda_stack_delete_sends_custom_resources_delete_before_their_function_goes() -> None:
    # GIVEN a resource map (moto's own parser, no server) of a function, a custom resource whose
    # ServiceToken is that function, and a second custom resource that depends on the first
    from moto.cloudformation.parsing import ResourceMap

    from rehearsal import moto_extensions

    template = {
        "Resources": {
            "Fn": {"Type": "AWS::Lambda::Function", "Properties": {}},
            "First": {
                "Type": "Custom::Thing",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}},
            },
            "Second": {
                "Type": "AWS::CloudFormation::CustomResource",
                "Properties": {"ServiceToken": {"Fn::GetAtt": ["Fn", "Arn"]}, "After": {"Ref": "First"}},
            },
        }
    }
    resource_map = ResourceMap.__new__(ResourceMap)
    resource_map._resource_json_map = template["Resources"]
    deleted: list[str] = []

    class Recorder:
        def __init__(self, logical_id: str) -> None:
            self.logical_id = logical_id

        def _request(self, *args: Any) -> None:
            raise AssertionError("not called here")

    resource_map._parsed_resources = {"First": Recorder("First"), "Second": Recorder("Second"), "Fn": object()}
    resource_map._delete_resource = lambda parsed, _json: deleted.append(parsed.logical_id)  # type: ignore[method-assign]

    # WHEN the custom resources are deleted first
    moto_extensions._delete_custom_resources_first(resource_map)

    # THEN the dependent one goes before the one it needs, both before the function, which stays
    assert deleted == ["Second", "First"]
    assert list(resource_map._parsed_resources) == ["Fn"]
    assert moto_extensions._references({"Fn::Sub": "arn:${Fn.Arn}/${AWS::Region}/${First}"}) >= {"Fn", "First"}
