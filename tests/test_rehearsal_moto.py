"""rehearsal.moto_server: moto's server as a real HTTP control plane in its own process."""

from __future__ import annotations

import socket

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from rehearsal.moto_server import ACCOUNT_ID, MotoServer

pytestmark = pytest.mark.slow


def test_moto_server_answers_boto3_and_stops_cleanly() -> None:
    # GIVEN a started server
    with MotoServer() as moto:
        url = moto.endpoint_url
        # WHEN boto3 creates and lists a bucket through it
        s3 = boto3.client("s3", **moto.boto3_kwargs())
        s3.create_bucket(Bucket="rehearsal-moto-test")
        # THEN the server is a real HTTP service on localhost that keeps the state
        assert url.startswith("http://localhost:")
        assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["rehearsal-moto-test"]
        assert moto.running
        port = moto.port
    # THEN after leaving, the process is gone and the port is free again: a new server can listen
    # on it. With SO_REUSEADDR, as every server sets it (moto's werkzeug too): moto answers with
    # `Connection: close`, and when its FIN goes out before the client's (a loaded machine) the
    # closed connection waits in TIME_WAIT on this port for 60 s, which blocks a bind without it.
    # A process still listening on the port would block this bind all the same.
    assert not moto.running
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen()
    with pytest.raises(EndpointConnectionError):
        boto3.client(
            "s3",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ).list_buckets()


def test_two_moto_servers_have_isolated_state() -> None:
    # GIVEN two servers at once (parallel rehearsals must not see each other's resources)
    with MotoServer() as first, MotoServer() as second:
        # WHEN a bucket is created in the first
        boto3.client("s3", **first.boto3_kwargs()).create_bucket(Bucket="only-in-first")
        # THEN the second does not see it, and the ports differ
        assert boto3.client("s3", **second.boto3_kwargs()).list_buckets()["Buckets"] == []
        assert first.port != second.port


def test_env_points_clients_at_the_server_with_dummy_credentials() -> None:
    with MotoServer() as moto:
        # GIVEN a developer environment with a real profile and a service-specific endpoint
        base = {"PATH": "/usr/bin", "AWS_PROFILE": "prod", "AWS_SESSION_TOKEN": "x", "AWS_ENDPOINT_URL_S3": "https://s3"}
        # WHEN the subprocess environment is derived from it
        env = moto.subprocess_env(base)
        # THEN everything that could reach a real account is gone and the emulator is targeted
        assert env["AWS_ENDPOINT_URL"] == moto.endpoint_url
        assert env["CDK_DEFAULT_ACCOUNT"] == ACCOUNT_ID == "123456789012"
        assert env["CDK_DEFAULT_REGION"] == env["AWS_REGION"] == "us-east-1"
        assert env["AWS_ACCESS_KEY_ID"] == "testing"
        assert {"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"}.isdisjoint(env)
        assert env["PATH"] == "/usr/bin"
        # THEN boto3 configured only from that environment reaches the emulator
        session = boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_REGION"],
        )
        identity = session.client("sts", endpoint_url=env["AWS_ENDPOINT_URL"]).get_caller_identity()
        assert identity["Account"] == ACCOUNT_ID


def test_reset_drops_all_resources() -> None:
    with MotoServer() as moto:
        s3 = boto3.client("s3", **moto.boto3_kwargs())
        s3.create_bucket(Bucket="to-be-reset")
        # WHEN the emulator is reset
        moto.reset()
        # THEN nothing is left
        assert s3.list_buckets()["Buckets"] == []


def test_stop_twice_and_properties_after_stop_are_safe() -> None:
    moto = MotoServer().start()
    moto.stop()
    moto.stop()
    with pytest.raises(RuntimeError, match="not running"):
        _ = moto.endpoint_url
