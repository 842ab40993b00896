"""moto's server, extended so that Lambda-backed CloudFormation custom resources really run.

``python -m rehearsal.moto_extensions -H 127.0.0.1 -p PORT`` installs the extensions below into
moto and then runs moto's own server (``moto.server.main``) with the same arguments.
:class:`rehearsal.moto_server.MotoServer` starts it this way.

What moto 5.2.5 lacks, and what is added here:

* **Lambda code runs.** moto runs functions only in Docker, and there is no Docker here. A
  ``python3.x`` function now runs in a child process of the server (its own process group, killed
  at the function's ``Timeout``, after the handler returns, and when the server stops): the code
  zip moto keeps (ZipFile or S3) is unpacked into a temporary folder and
  ``rehearsal/lambda_bootstrap.py`` calls the handler with the event and a context object. The
  environment is the function's variables plus ``AWS_ENDPOINT_URL`` (this server), dummy
  credentials, ``AWS_REGION`` and no AWS config files, so a handler can only reach the emulator.
  Other runtimes (and container images) fail the invocation with a message that says so.
* **Custom resources get CloudFormation's whole lifecycle.** moto sends only ``Create`` and never
  waits for the answer on updates. Here ``Custom::*`` and ``AWS::CloudFormation::CustomResource``
  get Create, Update (only when the resolved properties changed, with ``OldResourceProperties``
  and the ``PhysicalResourceId``), Delete (on removal from the template, done in the update's
  cleanup phase, and on stack delete), and replacement (an Update answering a new
  ``PhysicalResourceId`` sends a Delete for the old id in the cleanup phase). Every request waits
  for the handler's cfn-response PUT to ``ResponseURL``; ``FAILED`` fails the stack operation
  (``CREATE_FAILED``/``UPDATE_FAILED``/``DELETE_FAILED``, no rollback, as with ``--no-rollback``)
  with the reason in the stack events and ``StackStatusReason``.
* **``AWS::CloudWatch::Alarm`` is created.** moto's CloudFormation skipped it (and failed a
  whole stack whose dashboard has an alarm widget: ``Fn::GetAtt`` of the alarm's ``Arn``). It is
  now put into moto's CloudWatch with ``PutMetricAlarm``'s own code path (``AlarmName`` or a
  generated one, ``Ref`` = the name, ``GetAtt Arn``), replaced on update and deleted with its
  stack, so ``DescribeAlarms`` lists what a deploy created (moto evaluates no alarm: each stays
  ``INSUFFICIENT_DATA``). An action that references a resource moto skipped (an Application Auto
  Scaling policy) is left out of the alarm's actions.
* **Generated SageMaker names fit SageMaker's limit.** moto names a resource without a name
  ``<stack>-<logical id>-<suffix>`` whatever its length; SageMaker names (Model, EndpointConfig,
  Endpoint) are at most 63 characters, and a stack in a CDK Pipelines stage (``Staging-…``) got
  longer ones, which AWS never generates and the post-deploy check refuses. They are cut to 63 the
  way moto cuts S3 bucket names (the stack and logical id shortened, the random suffix kept).
* **Shadow variants are kept.** ``CreateEndpointConfig`` and ``AWS::SageMaker::EndpointConfig``
  dropped ``ShadowProductionVariants``; they are now stored, checked (Model exists, one production
  and one shadow variant) and returned by ``DescribeEndpointConfig`` and ``DescribeEndpoint``, so
  the local data plane mirrors traffic to them (:func:`_patch_shadow_variants`).
  ``InferenceExecutionConfig`` of multi-container Models is kept the same way
  (:func:`_patch_multi_container_models`).
* Stack operations on templates that hold a custom resource run in a worker thread, as on AWS:
  the API call returns at once with ``*_IN_PROGRESS`` and the status turns ``*_COMPLETE`` or
  ``*_FAILED`` when every custom resource answered. Stacks without one behave exactly as in moto.

The hooks, each the narrowest place that owns the behaviour (see :func:`install`):
``LambdaFunction._invoke_lambda`` (moto's Docker call: ``lambda invoke`` and every internal
invocation go through it), ``parsing.resource_class_from_type`` (which model a custom resource
type gets), ``parsing.generate_resource_name`` (the names of resources without one),
``CloudFormationResponse.process_cfn_response`` (the ResponseURL route: moto dropped
FAILED, Reason and PhysicalResourceId), and the four stack operations ``Stack.create_resources``,
``Stack.update``, ``CloudFormationBackend.execute_change_set`` and ``.delete_stack`` (made
asynchronous only for templates with custom resources), plus ``Stack.outputs`` and
``Stack.stack_resources`` (which would otherwise create resources lazily from a reader's thread
while the worker creates them, or after an operation failed). One moto bug is fixed on the way:
``CloudFormationBackend._resolve_update_parameters`` answered HTTP 500 to an UpdateStack passing
``UsePreviousValue`` for a parameter left at its default (the CDK's ``BootstrapVersion``, in every
``cdk deploy --method direct`` update).

``DeletionPolicy``/``UpdateReplacePolicy: Retain`` send no Delete. A handler that ends without
answering fails its resource at once (CloudFormation would wait an hour). A function's
``Timeout`` counts from the handler's call; the init phase (interpreter start, imports) has a
limit of its own, as on Lambda.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

#: The moto release these patches were written against (requirements.txt pins it).
PATCHED_MOTO_VERSION = "5.2.5"
CUSTOM_RESOURCE_TYPE = "AWS::CloudFormation::CustomResource"
ALARM_TYPE = "AWS::CloudWatch::Alarm"
_BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
#: What lambda_bootstrap.py prints when the init phase is over (its READY_LINE).
_READY_LINE = "\x1erehearsal-lambda-invoke-starts\x1e"
#: How long a handler's init phase (interpreter start, imports) may take (10 s on Lambda; more
#: here, where two cores are shared with builds and servers).
_INIT_LIMIT_S = 60.0
#: CloudFormation refuses a custom resource response body longer than this.
_RESPONSE_LIMIT_BYTES = 4096
#: After a handler returned without answering, how long its answer may still arrive (its PUT
#: normally completes before it returns; this covers one still in flight).
_RESPONSE_GRACE_S = 0.2
#: Variables a function's own environment may not set: they would send its AWS calls elsewhere.
_FORBIDDEN_PREFIXES = ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE")

_installed = False


# -- running Python Lambda functions -----------------------------------------------------------

_live_handlers: set[subprocess.Popen[bytes]] = set()
_live_lock = threading.Lock()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def kill_all_handlers() -> None:
    """SIGKILL every running handler's process group (registered with ``atexit`` by :func:`install`)."""
    with _live_lock:
        procs = list(_live_handlers)
    for proc in procs:
        _kill_group(proc)


def _function_env(fn: Any, *, code_dir: Path, tmp_dir: Path, port: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "HOME": str(tmp_dir),
        "TMPDIR": str(tmp_dir),
        "LAMBDA_TASK_ROOT": str(code_dir),
        "_HANDLER": str(fn.handler),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
    }
    env.update(
        {
            str(k): str(v)
            for k, v in (fn.environment_vars or {}).items()
            if not str(k).startswith(_FORBIDDEN_PREFIXES)
        }
    )
    # Last, so nothing above can override them: the emulator is the only AWS a handler reaches.
    env.update(
        {
            "AWS_ENDPOINT_URL": f"http://localhost:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_CONFIG_FILE": str(tmp_dir / "no-aws-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_dir / "no-aws-credentials"),
        }
    )
    return env


def _log(function_name: str, line: str) -> None:
    sys.stderr.write(f"[lambda {function_name}] {line}\n")
    sys.stderr.flush()


def _error_payload(error_type: str, message: str) -> str:
    return json.dumps({"errorType": error_type, "errorMessage": message})


def invoke_python_function(fn: Any, event: Any = None) -> tuple[str, bool, str]:
    """Run one invocation of a moto ``LambdaFunction`` in a child process.

    Replaces ``LambdaFunction._invoke_lambda`` and keeps its contract.

    Args:
        fn: The function (moto's model: runtime, handler, code bytes, timeout, variables).
        event: The event, already decoded from JSON.

    Returns:
        ``(payload, errored, log tail)``: the handler's result as JSON text (or Lambda's error
        document), whether it is an error, and the invocation's log lines.
    """
    from moto import settings

    fn.logs_backend.ensure_log_group(fn.logs_group_name)  # the function's logs land there, as on AWS
    request_id = str(uuid.uuid4())
    runtime = str(fn.run_time or "")
    if fn.package_type == "Image" or not runtime.startswith("python3"):
        kind = "a container image" if fn.package_type == "Image" else f"runtime {runtime or '(none)'}"
        message = (
            f"Function {fn.function_name} uses {kind}, which the rehearsal's emulator cannot run: it runs "
            "python3.x zip functions only (locally, without Docker). Write the handler in Python, or "
            "deploy to AWS."
        )
        _log(fn.function_name, message)
        fn.save_logs(message)
        return _error_payload("Runtime.Unsupported", message), True, message
    handler = str(fn.handler or "")
    if "." not in handler.strip("."):
        message = f"Function {fn.function_name}: Handler must be module.function (got {handler!r})"
        return _error_payload("Runtime.HandlerNotFound", message), True, message

    work = Path(tempfile.mkdtemp(prefix="lambda-"))
    try:
        code_dir, tmp_dir = work / "task", work / "tmp"
        tmp_dir.mkdir()
        try:
            with zipfile.ZipFile(io.BytesIO(fn.code_bytes)) as archive:
                archive.extractall(code_dir)
        except zipfile.BadZipFile as exc:
            message = f"Function {fn.function_name}: its code is not a zip archive ({exc})"
            return _error_payload("Runtime.InvalidZip", message), True, message
        timeout_s = float(fn.timeout or 3)
        context = {
            "function_name": fn.function_name,
            "function_version": "$LATEST",
            "invoked_function_arn": fn.function_arn,
            "memory_limit_in_mb": fn.memory_size,
            "aws_request_id": request_id,
            "log_group_name": fn.logs_group_name,
            "log_stream_name": f"emulator/[$LATEST]{request_id.replace('-', '')}",
            "timeout_ms": int(timeout_s * 1000),
        }
        result_path = work / "result.json"
        lines = [f"START RequestId: {request_id} Version: $LATEST"]
        _log(fn.function_name, lines[0])
        started = time.monotonic()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-I",
                str(_BOOTSTRAP),
                str(code_dir),
                handler,
                str(result_path),
                json.dumps(context),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=code_dir,
            env=_function_env(fn, code_dir=code_dir, tmp_dir=tmp_dir, port=settings.moto_server_port()),
            start_new_session=True,
        )
        with _live_lock:
            _live_handlers.add(proc)

        invoking = threading.Event()

        def pump() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                if line == _READY_LINE:
                    invoking.set()
                    continue
                lines.append(line)
                _log(fn.function_name, line)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        timed_out = False
        try:
            assert proc.stdin is not None
            try:
                proc.stdin.write(json.dumps(event if event is not None else {}).encode())
                proc.stdin.close()
            except BrokenPipeError:
                pass
            # The init phase (interpreter start, imports) is not counted in Timeout, as on Lambda,
            # where it has a limit of its own; on a loaded 2-core machine it takes seconds.
            init_deadline = time.monotonic() + _INIT_LIMIT_S
            while not invoking.wait(0.02) and proc.poll() is None and time.monotonic() < init_deadline:
                pass
            try:
                proc.wait(
                    timeout=timeout_s if invoking.is_set() else max(0.0, init_deadline - time.monotonic())
                )
            except subprocess.TimeoutExpired:
                timed_out = True
        finally:
            # Also after a normal return: whatever the handler left running stops with it.
            _kill_group(proc)
            proc.wait()
            with _live_lock:
                _live_handlers.discard(proc)
        reader.join(timeout=5)
        duration_ms = (time.monotonic() - started) * 1000
        tail = []
        if timed_out:
            phase = f"Task timed out after {timeout_s:.2f} seconds"
            if not invoking.is_set():
                phase = f"Init phase (interpreter start, imports) timed out after {_INIT_LIMIT_S:.2f} seconds"
            payload, errored = _error_payload("Sandbox.Timedout", phase), True
            tail.append(f"{request_id} {phase}")
        elif result_path.exists():
            outcome = json.loads(result_path.read_text())
            errored = not outcome["ok"]
            payload = outcome["payload"] if outcome["ok"] else json.dumps(outcome["payload"])
        else:
            payload, errored = (
                _error_payload(
                    "Runtime.ExitError", f"Runtime exited with error: exit status {proc.returncode}"
                ),
                True,
            )
        if errored and not timed_out:
            tail.append(payload)
        tail.append(f"END RequestId: {request_id}")
        tail.append(f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms")
        for line in tail:
            _log(fn.function_name, line)
        lines.extend(tail)
        fn.save_logs("\n".join(lines))
        return payload, errored, "\n".join(lines)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# -- custom resources ---------------------------------------------------------------------------


class CustomResourceFailed(Exception):
    """A custom resource answered FAILED, or could not answer; the message is the reason."""


class _Responses:
    """cfn-response bodies received on the ResponseURL route, by RequestId."""

    def __init__(self) -> None:
        self._by_request: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition()

    def put(self, response: dict[str, Any]) -> None:
        with self._cond:
            self._by_request[str(response.get("RequestId"))] = response
            self._cond.notify_all()

    def take(self, request_id: str, timeout_s: float) -> dict[str, Any] | None:
        with self._cond:
            self._cond.wait_for(lambda: request_id in self._by_request, timeout=timeout_s)
            return self._by_request.pop(request_id, None)


_responses = _Responses()


class _Operation:
    """One stack operation running in a worker thread."""

    def __init__(self, stack: Any, kind: str) -> None:
        self.stack = stack
        self.kind = kind  # CREATE | UPDATE | DELETE
        self.failures: dict[str, str] = {}  # logical id -> reason
        self.cleanup: list[tuple[Any, str, dict[str, Any]]] = []  # (resource, physical id, properties)


_local = threading.local()
_busy_stacks: set[str] = set()


def _current_operation() -> _Operation | None:
    return getattr(_local, "operation", None)


def _has_custom_resources(template: Any) -> bool:
    resources = template.get("Resources") if isinstance(template, dict) else None
    return isinstance(resources, dict) and any(
        isinstance(r, dict)
        and (str(r.get("Type", "")).startswith("Custom::") or r.get("Type") == CUSTOM_RESOURCE_TYPE)
        for r in resources.values()
    )


def _stack(account_id: str, region_name: str, stack_id: str) -> Any:
    operation = _current_operation()
    if operation is not None and operation.stack.stack_id == stack_id:
        return operation.stack
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[account_id][region_name].get_stack(stack_id)


def _resource_event(stack: Any, resource: dict[str, Any], status: str, reason: str | None = None) -> None:
    from moto.cloudformation.models import Event

    stack.events.append(
        Event(
            stack_id=stack.stack_id,
            stack_name=stack.name,
            logical_resource_id=resource["logical_id"],
            physical_resource_id=resource.get("physical_id") or "",
            resource_type=resource["resource_type"],
            resource_status=status,
            resource_status_reason=reason,
            resource_properties=json.dumps(resource["properties"]),
        )
    )


def send_request(
    request_type: str,
    *,
    account_id: str,
    region_name: str,
    stack_id: str,
    logical_id: str,
    resource_type: str,
    properties: dict[str, Any],
    physical_id: str | None = None,
    old_properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Send one custom resource request to its Lambda function and wait for the cfn-response.

    Args:
        request_type: ``Create``, ``Update`` or ``Delete``.
        account_id: The stack's account.
        region_name: The stack's region.
        stack_id: The stack's ARN.
        logical_id: The resource's logical id.
        resource_type: ``Custom::...`` or ``AWS::CloudFormation::CustomResource``.
        properties: The resolved properties (``ServiceToken`` included).
        physical_id: The resource's physical id (Update, Delete).
        old_properties: The properties before an Update.

    Returns:
        The handler's SUCCESS response (``PhysicalResourceId``, ``Data``...).

    Raises:
        CustomResourceFailed: The handler answered FAILED, did not answer, or cannot run; resource
            events ``*_IN_PROGRESS`` then ``*_FAILED`` with the reason are on the stack.
    """
    from moto import settings
    from moto.awslambda.utils import get_backend as get_lambda_backend

    verb = {"Create": "CREATE", "Update": "UPDATE", "Delete": "DELETE"}[request_type]
    operation = _current_operation()
    if operation is not None and logical_id in operation.failures:
        # moto retries a failed resource within one operation; CloudFormation sends one request.
        raise CustomResourceFailed(operation.failures[logical_id])
    stack = _stack(account_id, region_name, stack_id)
    resource = {
        "logical_id": logical_id,
        "resource_type": resource_type,
        "properties": properties,
        "physical_id": physical_id,
    }

    def fail(reason: str) -> CustomResourceFailed:
        _resource_event(stack, resource, f"{verb}_FAILED", reason)
        if operation is not None:
            operation.failures[logical_id] = reason
        return CustomResourceFailed(reason)

    if operation is not None and operation.failures and request_type != "Delete":
        raise fail("Resource creation cancelled")
    _resource_event(stack, resource, f"{verb}_IN_PROGRESS")
    service_token = str(properties.get("ServiceToken", ""))
    request_id = str(uuid.uuid4())
    event: dict[str, Any] = {
        "RequestType": request_type,
        "ServiceToken": service_token,
        "ResponseURL": (
            f"http://localhost:{settings.moto_server_port()}/cloudformation_{region_name}/cfnresponse"
            f"?stack={quote(stack_id, safe='')}&request={request_id}"
        ),
        "StackId": stack_id,
        "RequestId": request_id,
        "LogicalResourceId": logical_id,
        "ResourceType": resource_type,
        "ResourceProperties": properties,
    }
    if physical_id is not None:
        event["PhysicalResourceId"] = physical_id
    if old_properties is not None:
        event["OldResourceProperties"] = old_properties
    try:
        fn = get_lambda_backend(account_id, region_name).get_function(service_token)
    except Exception as exc:
        raise fail(
            f"ServiceToken {service_token!r} is not a Lambda function in the emulator ({type(exc).__name__}: {exc}); "
            "only Lambda-backed custom resources run here (no SNS-backed ones)"
        ) from None
    response_headers: dict[str, str] = {}
    result = fn.invoke(json.dumps(event), {"x-amz-invocation-type": "Event"}, response_headers)
    response = _responses.take(request_id, _RESPONSE_GRACE_S)
    if response is None:
        detail = f": {result.decode() if isinstance(result, bytes) else result}" if response_headers else ""
        raise fail(
            f"Custom resource handler {fn.function_name} ended without sending a response to ResponseURL{detail} "
            "(CloudFormation would wait an hour; the emulator fails at once). See the moto log for its output."
        )
    if response.get("Status") != "SUCCESS":
        raise fail(
            f"Received response status [{response.get('Status')}] from custom resource. "
            f"Message returned: {response.get('Reason', '')} (RequestId: {request_id})"
        )
    if request_type != "Delete" and not response.get("PhysicalResourceId"):
        raise fail(f"Invalid PhysicalResourceId: the SUCCESS response to {request_type} has none")
    resource["physical_id"] = response.get("PhysicalResourceId") or physical_id
    _resource_event(stack, resource, f"{verb}_COMPLETE")
    return response


def _custom_model_class() -> type:
    from moto.cloudformation.custom_model import CustomModel

    class LambdaCustomResource(CustomModel):
        """A custom resource whose Create/Update/Delete run its Lambda handler and wait for the answer."""

        # moto's model registry files every model under the service named by its module's second
        # part ("moto.<service>..."): register this one where moto's own CustomModel is.
        __module__ = "moto.cloudformation.custom_model"

        def __init__(
            self,
            *,
            account_id: str,
            region_name: str,
            stack_id: str,
            logical_id: str,
            resource_type: str,
            properties: dict[str, Any],
            response: dict[str, Any],
            policies: dict[str, Any] | None = None,
        ) -> None:
            super().__init__(
                region_name, response.get("RequestId", ""), logical_id, response["PhysicalResourceId"]
            )
            self.account_id = account_id
            self.stack_id = stack_id
            self.resource_type = resource_type
            self.properties = properties
            self.set_data(response.get("Data") or {})
            self.set_policies(policies or {})

        def set_policies(self, resource_json: dict[str, Any]) -> None:
            """Read DeletionPolicy / UpdateReplacePolicy: with "Retain", CloudFormation sends no Delete."""
            self.retain_on_delete = resource_json.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
            self.retain_on_replace = resource_json.get("UpdateReplacePolicy") == "Retain"

        def _request(self, request_type: str, physical_id: str, properties: dict[str, Any]) -> dict[str, Any]:
            return send_request(
                request_type,
                account_id=self.account_id,
                region_name=self.region_name,
                stack_id=self.stack_id,
                logical_id=self.logical_id,
                resource_type=self.resource_type,
                properties=properties,
                physical_id=physical_id,
            )

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[misc, override]
            cls,
            resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            properties = cloudformation_json["Properties"]
            common = {
                "account_id": account_id,
                "region_name": region_name,
                "stack_id": kwargs["StackId"],
                "logical_id": kwargs["LogicalId"],
                "resource_type": kwargs["ResourceType"],
                "properties": properties,
            }
            response = send_request("Create", **common)
            return cls(**common, response=response, policies=cloudformation_json)

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[misc, override]
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: dict[str, Any],
            account_id: str,
            region_name: str,
        ) -> Any:
            properties = cloudformation_json["Properties"]
            if properties == original_resource.properties:
                # CloudFormation sends no Update when no property resolved differently.
                original_resource.set_policies(cloudformation_json)
                return original_resource
            old_id = original_resource.physical_resource_id
            common = {
                "account_id": account_id,
                "region_name": region_name,
                "stack_id": original_resource.stack_id,
                "logical_id": original_resource.logical_id,
                "resource_type": original_resource.resource_type,
                "properties": properties,
            }
            response = send_request(
                "Update", **common, physical_id=old_id, old_properties=original_resource.properties
            )
            updated = cls(**common, response=response, policies=cloudformation_json)
            operation = _current_operation()
            replaced = updated.physical_resource_id != old_id
            if replaced and operation is not None and not updated.retain_on_replace:
                # Replacement: the old physical resource is deleted in the cleanup phase.
                operation.cleanup.append((original_resource, old_id, original_resource.properties))
            return updated

        def delete(self, account_id: str, region_name: str) -> None:
            operation = _current_operation()
            if self.retain_on_delete:
                return
            if operation is not None and operation.kind == "UPDATE":
                # Removed from the template: CloudFormation deletes it after the update, in cleanup.
                operation.cleanup.append((self, self.physical_resource_id, self.properties))
                return
            self._request("Delete", self.physical_resource_id, self.properties)

    return LambdaCustomResource


# -- stack operations in a worker thread ----------------------------------------------------------


def _references(node: Any) -> set[str]:
    """Logical ids a template fragment points at (Ref, Fn::GetAtt, Fn::Sub's ${Id} and ${Id.Attr})."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                target = value[0] if isinstance(value, list) and value else str(value).split(".")[0]
                found.add(str(target))
            elif key == "Fn::Sub":
                text = value[0] if isinstance(value, list) and value else value
                if isinstance(text, str):
                    found.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                found |= _references(value)
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def _delete_custom_resources_first(resource_map: Any) -> None:
    """Send every custom resource its Delete while what it needs (its function, buckets) still exists.

    CloudFormation deletes in reverse dependency order, so a custom resource goes before the Lambda
    function its ServiceToken names. moto's own delete walks the resources in set order and retries
    the ones that raise, which suits resources that refuse to go while used, but a function deleted
    first cannot answer its custom resource's Delete any more (stack DELETE_FAILED, seen
    intermittently on `cdk destroy`). Custom resources that depend on other custom resources go first.
    """
    templates = resource_map._resource_json_map
    parsed = resource_map._parsed_resources
    custom = {
        logical_id
        for logical_id, resource_json in templates.items()
        if isinstance(resource_json, dict)
        and str(resource_json.get("Type", "")).startswith(("Custom::", CUSTOM_RESOURCE_TYPE))
        and hasattr(parsed.get(logical_id), "_request")
    }
    depends: dict[str, set[str]] = {}
    for logical_id in custom:
        resource_json = templates[logical_id]
        needs = _references(resource_json.get("Properties", {}))
        depends_on = resource_json.get("DependsOn", [])
        needs.update([depends_on] if isinstance(depends_on, str) else depends_on)
        depends[logical_id] = needs & custom
    remaining = set(custom)
    while remaining:
        # Those no remaining custom resource depends on go now (a cycle cannot reach CloudFormation).
        wave = sorted(r for r in remaining if not any(r in depends[o] for o in remaining if o != r)) or sorted(remaining)
        for logical_id in wave:
            resource_map._delete_resource(parsed[logical_id], templates[logical_id])
            parsed.pop(logical_id, None)
            remaining.discard(logical_id)


def _refuse_if_busy(stack: Any, action: str) -> None:
    from moto.cloudformation.exceptions import ValidationError

    if stack.stack_id in _busy_stacks:
        raise ValidationError(
            stack.stack_id,
            message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be {action}.",
        )


def _run_operation(stack: Any, kind: str, work: Callable[[], None], succeeded: Callable[[], None]) -> None:
    """Run ``work`` in a daemon thread; the stack is ``<kind>_IN_PROGRESS`` until it ends."""
    operation = _Operation(stack, kind)
    stack.status = f"{kind}_IN_PROGRESS"
    stack.status_reason = None
    _busy_stacks.add(stack.stack_id)

    def target() -> None:
        _local.operation = operation
        try:
            work()
            if kind == "UPDATE" and operation.cleanup:
                stack.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
                stack._add_stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
                for resource, physical_id, properties in operation.cleanup:
                    # As on AWS: a failed cleanup delete leaves a DELETE_FAILED event; the update stands.
                    with contextlib.suppress(CustomResourceFailed):
                        resource._request("Delete", physical_id, properties)
            succeeded()
        except Exception as exc:
            if operation.failures:
                verb = {"CREATE": "create", "UPDATE": "update", "DELETE": "delete"}[kind]
                reason = (
                    f"The following resource(s) failed to {verb}: [{', '.join(operation.failures)}]. "
                    + " ".join(f"{logical_id}: {why}" for logical_id, why in operation.failures.items())
                )
            else:
                reason = f"{type(exc).__name__}: {exc}"
            stack.status = f"{kind}_FAILED"
            stack.status_reason = reason
            stack._add_stack_event(f"{kind}_FAILED", resource_status_reason=reason)
        finally:
            _local.operation = None
            _busy_stacks.discard(stack.stack_id)

    threading.Thread(target=target, daemon=True, name=f"cfn-{kind.lower()}-{stack.name}").start()


def _patch_stack_operations(models: Any) -> None:
    stack_cls, backend_cls = models.Stack, models.CloudFormationBackend
    original_create, original_update = stack_cls.create_resources, stack_cls.update
    original_execute, original_delete = backend_cls.execute_change_set, backend_cls.delete_stack
    original_outputs, original_resources = stack_cls.outputs, stack_cls.stack_resources

    def create_resources(self: Any) -> None:
        if not _has_custom_resources(self.template_dict):
            return original_create(self)

        def work() -> None:
            self.resource_map.create(self.template_dict)
            self.description = self.template_dict.get("Description")

        _run_operation(self, "CREATE", work, self.mark_creation_complete)

    def update(
        self: Any, template: str, role_arn: str | None = None, parameters: Any = None, tags: Any = None
    ) -> None:
        if not (
            _has_custom_resources(self.template_dict) or _has_custom_resources(self.parse_template(template))
        ):
            return original_update(self, template, role_arn, parameters=parameters, tags=tags)
        _refuse_if_busy(self, "updated")
        self._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")

        def work() -> None:
            self.template = template
            self._parse_template()
            self.resource_map.update(self.template_dict, parameters)
            self.output_map = self._create_output_map()
            self.role_arn = role_arn
            if parameters:
                self.parameters = parameters
            if tags is not None:
                self.tags = tags

        def succeeded() -> None:
            self._add_stack_event("UPDATE_COMPLETE")
            self.status = "UPDATE_COMPLETE"

        _run_operation(self, "UPDATE", work, succeeded)

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = self.describe_change_set(change_set_name)
        stack = self.stacks[change_set.stack_id]
        if not (
            _has_custom_resources(stack.template_dict) or _has_custom_resources(change_set.template_dict)
        ):
            return original_execute(self, change_set_name, stack_name)
        _refuse_if_busy(stack, "updated")
        kind = change_set.change_set_type
        stack._add_stack_event(f"{kind}_IN_PROGRESS", resource_status_reason="User Initiated")
        change_set.execution_status = "EXECUTE_IN_PROGRESS"

        def work() -> None:
            change_set.apply()
            stack.template = change_set.template
            stack._parse_template()
            stack.description = stack.template_dict.get("Description")
            stack.output_map = stack._create_output_map()

        def succeeded() -> None:
            stack._add_stack_event(f"{kind}_COMPLETE")
            stack.status = f"{kind}_COMPLETE"
            change_set.execution_status = "EXECUTE_COMPLETE"

        _run_operation(stack, kind, work, succeeded)

    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        stack = self.stacks.get(name_or_stack_id) or next(
            (s for s in self.stacks.values() if s.name == name_or_stack_id), None
        )
        if stack is None or not _has_custom_resources(stack.template_dict):
            return original_delete(self, name_or_stack_id)
        if stack.stack_id in _busy_stacks and stack.status == "DELETE_IN_PROGRESS":
            return None  # DeleteStack is idempotent while a delete runs
        _refuse_if_busy(stack, "deleted")
        stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")

        def succeeded() -> None:
            # Only now does the stack leave the list (the CDK CLI waits until its name is unknown).
            export_names = [export.name for export in stack.exports]
            stack._add_stack_event("DELETE_COMPLETE")
            stack.status = "DELETE_COMPLETE"
            self.stacks.pop(stack.stack_id, None)
            self.deleted_stacks[stack.stack_id] = stack
            for export_name in export_names:
                self.exports.pop(export_name, None)

        def work() -> None:
            _delete_custom_resources_first(stack.resource_map)
            stack.resource_map.delete()

        _run_operation(stack, "DELETE", work, succeeded)

    def settled(stack: Any) -> bool:
        # moto creates a resource lazily when anything reads it (an output's GetAtt, a resource
        # listing). While a worker runs an operation, or after one failed, that would create
        # resources from the reader's thread (and send a custom resource's Create again).
        return stack.stack_id not in _busy_stacks and not str(stack.status).endswith("_FAILED")

    def outputs(self: Any) -> Any:
        # CloudFormation shows outputs once an operation succeeded.
        return original_outputs.fget(self) if settled(self) else None

    def stack_resources(self: Any) -> Any:
        if settled(self):
            return original_resources.fget(self)
        parsed = self.resource_map._parsed_resources
        return [
            parsed[k]
            for k in list(self.resource_map._resource_json_map)
            if hasattr(parsed.get(k), "logical_resource_id")
        ]

    def resolve_update_parameters(
        self: Any, instance: Any, incoming_params: list[dict[str, Any]]
    ) -> dict[str, Any]:
        # moto looks UsePreviousValue up among the parameters given at creation only, so one that
        # took its template default then (the CDK's BootstrapVersion, sent as UsePreviousValue by
        # every `cdk deploy --method direct` update) raised KeyError: HTTP 500. The previous value
        # of such a parameter is its default (for an SSM-typed one, the parameter's name).
        template_parameters = (getattr(instance, "template_dict", None) or {}).get("Parameters") or {}
        previous = {
            **{
                k: v["Default"]
                for k, v in template_parameters.items()
                if isinstance(v, dict) and "Default" in v
            },
            **instance.parameters,
        }
        parameters = {
            p["ParameterKey"]: p["ParameterValue"] for p in incoming_params if "ParameterValue" in p
        }
        parameters.update(
            {
                p["ParameterKey"]: previous[p["ParameterKey"]]
                for p in incoming_params
                if p.get("UsePreviousValue", False)
            }
        )
        return parameters

    backend_cls._resolve_update_parameters = resolve_update_parameters
    stack_cls.create_resources = create_resources
    stack_cls.update = update
    stack_cls.outputs = property(outputs)
    stack_cls.stack_resources = property(stack_resources)
    backend_cls.execute_change_set = execute_change_set
    backend_cls.delete_stack = delete_stack


def _process_cfn_response(self: Any) -> tuple[int, dict[str, Any], str]:
    body = self.body if isinstance(self.body, bytes) else str(self.body or "").encode()
    # Each request has its own ResponseURL: the answer belongs to the request its URL names.
    request_ids = parse_qs(urlsplit(str(getattr(self, "uri", ""))).query).get("request")
    request_id = request_ids[0] if request_ids else None
    try:
        response = json.loads(body or b"{}")
    except ValueError:
        response = {"Status": "FAILED", "Reason": "Response is not valid JSON"}
    if not isinstance(response, dict):
        response = {"Status": "FAILED", "Reason": "Response is not a JSON object"}
    if len(body) > _RESPONSE_LIMIT_BYTES:
        response = {**response, "Status": "FAILED", "Reason": "Response object is too long."}
    if request_id:
        response["RequestId"] = request_id
    _responses.put(response)
    return 200, {}, ""


def _alarm_model_class() -> type:
    from moto.cloudwatch.models import Dimension, Metric, MetricDataQuery, MetricStat, cloudwatch_backends
    from moto.core.common_models import CloudFormationModel

    def queries(metrics: list[Any] | None) -> list[Any] | None:
        if not metrics:
            return None
        out = []
        for query in metrics:
            stat = query.get("MetricStat")
            metric_stat = None
            if stat:
                metric = stat["Metric"]
                metric_stat = MetricStat(
                    metric=Metric(
                        metric_name=metric["MetricName"],
                        namespace=metric.get("Namespace"),
                        dimensions=[Dimension(d["Name"], d["Value"]) for d in metric.get("Dimensions", [])],
                    ),
                    period=stat.get("Period"),
                    stat=stat.get("Stat"),
                    unit=stat.get("Unit"),
                )
            out.append(
                MetricDataQuery(
                    query_id=query.get("Id"),
                    label=query.get("Label"),
                    period=query.get("Period"),
                    return_data=query.get("ReturnData"),
                    expression=query.get("Expression"),
                    metric_stat=metric_stat,
                )
            )
        return out

    class CloudWatchAlarm(CloudFormationModel):
        """``AWS::CloudWatch::Alarm``, put into moto's CloudWatch backend."""

        # moto's model registry files a model under its module's service (see _custom_model_class).
        __module__ = "moto.cloudwatch.models"

        def __init__(self, alarm: Any) -> None:
            self.alarm = alarm

        @property
        def physical_resource_id(self) -> str:
            return str(self.alarm.name)

        @staticmethod
        def cloudformation_type() -> str:
            return ALARM_TYPE

        @staticmethod
        def cloudformation_name_type() -> str:
            return "AlarmName"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return attr == "Arn"

        def get_cfn_attribute(self, attribute_name: str) -> str:
            from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

            if attribute_name == "Arn":
                return str(self.alarm.alarm_arn)
            raise UnformattedGetAttTemplateException()

        @classmethod
        def create_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
        ) -> CloudWatchAlarm:
            props = cloudformation_json.get("Properties", {})

            def actions(key: str) -> list[str]:
                # A Ref to a resource moto skipped resolves to None: that action is left out.
                return [str(a) for a in props.get(key) or [] if a]

            backend = cloudwatch_backends[account_id][region_name]
            alarm = backend.put_metric_alarm(
                name=props.get("AlarmName") or resource_name,
                namespace=props.get("Namespace"),
                metric_name=props.get("MetricName"),
                metric_data_queries=queries(props.get("Metrics")),
                comparison_operator=props.get("ComparisonOperator"),
                evaluation_periods=props.get("EvaluationPeriods"),
                datapoints_to_alarm=props.get("DatapointsToAlarm"),
                period=props.get("Period"),
                threshold=props.get("Threshold"),
                statistic=props.get("Statistic"),
                extended_statistic=props.get("ExtendedStatistic"),
                description=props.get("AlarmDescription"),
                dimensions=props.get("Dimensions") or [],
                alarm_actions=actions("AlarmActions"),
                ok_actions=actions("OKActions"),
                insufficient_data_actions=actions("InsufficientDataActions"),
                unit=props.get("Unit"),
                actions_enabled=props.get("ActionsEnabled", True) not in (False, "false"),
                treat_missing_data=props.get("TreatMissingData"),
                evaluate_low_sample_count_percentile=props.get("EvaluateLowSampleCountPercentile"),
                threshold_metric_id=props.get("ThresholdMetricId"),
                rule=None,
                tags=props.get("Tags"),
            )
            return cls(alarm)

        @classmethod
        def update_from_cloudformation_json(  # type: ignore[override]
            cls, original_resource: Any, new_resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> CloudWatchAlarm:
            cloudwatch_backends[account_id][region_name].delete_alarms([original_resource.alarm.name])
            return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

        @classmethod
        def delete_from_cloudformation_json(  # type: ignore[override]
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> None:
            cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])

        def delete(self, account_id: str, region_name: str) -> None:
            cloudwatch_backends[account_id][region_name].delete_alarms([self.alarm.name])

    return CloudWatchAlarm


#: CloudFormation types whose generated name SageMaker limits to 63 characters.
SAGEMAKER_NAMED_TYPES = ("AWS::SageMaker::Model", "AWS::SageMaker::EndpointConfig", "AWS::SageMaker::Endpoint")
SAGEMAKER_NAME_LIMIT = 63


def _capped_resource_name(generate: Callable[[str, str, str], str]) -> Callable[[str, str, str], str]:
    """Wrap moto's name generator: SageMaker names longer than 63 characters lose the middle, not the suffix."""

    def generate_resource_name(resource_type: str, stack_name: str, logical_id: str) -> str:
        name = generate(resource_type, stack_name, logical_id)
        if resource_type not in SAGEMAKER_NAMED_TYPES or len(name) <= SAGEMAKER_NAME_LIMIT:
            return name
        prefix, suffix = name.rsplit("-", 1)
        return f"{prefix[: SAGEMAKER_NAME_LIMIT - len(suffix) - 1].rstrip('-')}-{suffix}"

    return generate_resource_name


def _patch_multi_container_models() -> None:
    """Keep a Model's ``InferenceExecutionConfig`` and take a multi-container Model from CloudFormation.

    moto 5's ``CreateModel`` drops ``InferenceExecutionConfig`` (so ``DescribeModel`` would not say
    ``Direct`` or ``Serial``), and its ``AWS::SageMaker::Model`` requires ``PrimaryContainer``, which a
    multi-container Model (``Containers``) has not. ``DescribeModel`` renders every attribute of the
    model, so the config is stored as one.
    """
    from moto.sagemaker import models as sagemaker_models
    from moto.sagemaker.responses import SageMakerResponse

    original_create = SageMakerResponse.create_model

    def create_model(self: Any) -> Any:
        result = original_create(self)
        config = self._get_param("InferenceExecutionConfig")
        if config:
            self.sagemaker_backend._models[self._get_param("ModelName")].inference_execution_config = config
        return result

    def create_from_cloudformation_json(  # type: ignore[no-untyped-def]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ):
        properties = cloudformation_json["Properties"]
        model = sagemaker_models.sagemaker_backends[account_id][region_name].create_model(
            model_name=resource_name,
            execution_role_arn=properties["ExecutionRoleArn"],
            primary_container=properties.get("PrimaryContainer"),
            vpc_config=properties.get("VpcConfig", {}),
            containers=properties.get("Containers", []),
            tags=properties.get("Tags", []),
        )
        if properties.get("InferenceExecutionConfig"):
            model.inference_execution_config = properties["InferenceExecutionConfig"]  # type: ignore[attr-defined]
        return model

    SageMakerResponse.create_model = create_model  # type: ignore[method-assign]
    sagemaker_models.Model.create_from_cloudformation_json = classmethod(  # type: ignore[method-assign, assignment]
        create_from_cloudformation_json
    )


def _patch_shadow_variants() -> None:
    """Keep an endpoint config's ``ShadowProductionVariants`` (API and CloudFormation) and show them on its endpoint.

    moto 5's ``CreateEndpointConfig`` and its ``AWS::SageMaker::EndpointConfig`` drop
    ``ShadowProductionVariants``, so ``DescribeEndpointConfig`` never returned them and the data plane
    could not mirror traffic. Here they are stored as an attribute of the config (moto renders every
    attribute), checked as moto checks production variants (the Model exists, a known instance type)
    plus SageMaker's rule from the ``CreateEndpointConfig`` reference ("If you use this field, you can
    only specify one variant for ProductionVariants and one variant for ShadowProductionVariants"),
    and ``DescribeEndpoint`` lists them (``ShadowProductionVariants``, with their current weight and
    instance count) as AWS does.
    """
    from moto.sagemaker import models as sagemaker_models
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.responses import SageMakerResponse

    def attach(backend: Any, config_name: str, shadows: list[dict[str, Any]] | None) -> None:
        if not shadows:
            return
        config = backend.endpoint_configs[config_name]
        try:
            if len(shadows) != 1 or len(config.production_variants) != 1:
                raise ValidationError(
                    message="If you use ShadowProductionVariants, you can only specify one variant for "
                    f"ProductionVariants and one variant for ShadowProductionVariants (got {len(config.production_variants)} "
                    f"and {len(shadows)})."
                )
            config.validate_production_variants(shadows)
            backend.validate_production_variants(shadows)
        except Exception:
            del backend.endpoint_configs[config_name]
            raise
        config.shadow_production_variants = shadows

    original_create_config = SageMakerResponse.create_endpoint_config

    def create_endpoint_config(self: Any) -> Any:
        result = original_create_config(self)
        attach(self.sagemaker_backend, self._get_param("EndpointConfigName"), self._get_param("ShadowProductionVariants"))
        return result

    original_cfn_create = sagemaker_models.FakeEndpointConfig.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create_from_cloudformation_json(  # type: ignore[no-untyped-def]
        cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
    ):
        config = original_cfn_create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        attach(
            sagemaker_models.sagemaker_backends[account_id][region_name],
            config.endpoint_config_name,
            cloudformation_json["Properties"].get("ShadowProductionVariants"),
        )
        return config

    original_create_endpoint = sagemaker_models.SageMakerModelBackend.create_endpoint

    def create_endpoint(self: Any, endpoint_name: str, endpoint_config_name: str, tags: Any) -> Any:
        endpoint = original_create_endpoint(self, endpoint_name, endpoint_config_name, tags)
        shadows = getattr(self.endpoint_configs.get(endpoint_config_name), "shadow_production_variants", None)
        if shadows:
            endpoint.shadow_production_variants = endpoint._process_production_variants(shadows)  # type: ignore[attr-defined]
        return endpoint

    SageMakerResponse.create_endpoint_config = create_endpoint_config  # type: ignore[method-assign]
    sagemaker_models.FakeEndpointConfig.create_from_cloudformation_json = classmethod(  # type: ignore[method-assign, assignment]
        create_from_cloudformation_json
    )
    sagemaker_models.SageMakerModelBackend.create_endpoint = create_endpoint  # type: ignore[method-assign]


def install() -> None:
    """Patch moto (once per process); refuse a moto version other than the one patched.

    Raises:
        RuntimeError: moto is not version :data:`PATCHED_MOTO_VERSION`, or a hooked name is gone.
    """
    global _installed
    if _installed:
        return
    import moto

    if moto.__version__ != PATCHED_MOTO_VERSION:
        raise RuntimeError(
            f"rehearsal.moto_extensions patches moto {PATCHED_MOTO_VERSION}, but moto {moto.__version__} is installed. "
            f"Install moto[server]=={PATCHED_MOTO_VERSION} (requirements.txt), or port the hooks named in "
            "rehearsal/moto_extensions.py to the new version and change PATCHED_MOTO_VERSION."
        )
    from moto.awslambda import models as lambda_models
    from moto.cloudformation import models as cfn_models
    from moto.cloudformation import parsing
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.cloudwatch import models as cloudwatch_models
    from moto.sagemaker import models as sagemaker_models
    from moto.sagemaker import responses as sagemaker_responses

    hooks = [
        (cloudwatch_models.CloudWatchBackend, "put_metric_alarm"),
        (cloudwatch_models.CloudWatchBackend, "delete_alarms"),
        (cloudwatch_models, "MetricDataQuery"),
        (cloudwatch_models, "MetricStat"),
        (lambda_models.LambdaFunction, "_invoke_lambda"),
        (parsing, "resource_class_from_type"),
        (parsing, "generate_resource_name"),
        (CloudFormationResponse, "process_cfn_response"),
        (cfn_models.Stack, "create_resources"),
        (cfn_models.Stack, "update"),
        (cfn_models.Stack, "outputs"),
        (cfn_models.Stack, "stack_resources"),
        (cfn_models.CloudFormationBackend, "execute_change_set"),
        (cfn_models.CloudFormationBackend, "delete_stack"),
        (cfn_models.CloudFormationBackend, "_resolve_update_parameters"),
        (sagemaker_responses.SageMakerResponse, "create_model"),
        (sagemaker_models.Model, "create_from_cloudformation_json"),
        (sagemaker_responses.SageMakerResponse, "create_endpoint_config"),
        (sagemaker_models.FakeEndpointConfig, "create_from_cloudformation_json"),
        (sagemaker_models.SageMakerModelBackend, "create_endpoint"),
    ]
    missing = [
        f"{getattr(owner, '__name__', owner)}.{name}" for owner, name in hooks if not hasattr(owner, name)
    ]
    if missing:
        raise RuntimeError(
            f"moto {moto.__version__} lacks the hooks rehearsal.moto_extensions patches: {missing}"
        )

    lambda_models.LambdaFunction._invoke_lambda = invoke_python_function  # type: ignore[method-assign, assignment]

    custom_class = _custom_model_class()
    alarm_class = _alarm_model_class()
    original_class_from_type = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type.startswith("Custom::") or resource_type == CUSTOM_RESOURCE_TYPE:
            return custom_class
        if resource_type == ALARM_TYPE:
            return alarm_class
        return original_class_from_type(resource_type)

    parsing.resource_class_from_type = resource_class_from_type
    parsing.generate_resource_name = _capped_resource_name(parsing.generate_resource_name)  # type: ignore[assignment]
    CloudFormationResponse.process_cfn_response = _process_cfn_response  # type: ignore[method-assign]
    _patch_stack_operations(cfn_models)
    _patch_multi_container_models()
    _patch_shadow_variants()
    atexit.register(kill_all_handlers)
    _installed = True


def main(argv: list[str] | None = None) -> None:
    """Install the extensions, then run moto's server with ``argv`` (moto's own flags)."""
    install()
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main()
