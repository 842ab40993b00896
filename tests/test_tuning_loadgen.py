"""tuning.loadgen accounting (count, latency, errors) against a tiny aiohttp server.

The server imitates nothing but answers: 200 after a short sleep on /ok, 500 on /fail.
Serving itself is tested against the real Triton in test_tuning_matrix.py.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from aiohttp import web

from triton_runtime.kserve import TensorSpec, encode, sample_inputs
from tuning.loadgen import Phase, Schedule, StoppingConditions, run_fixed, run_phased, window
from tuning.transports import HttpTransport

SLEEP_S = 0.005


class _Server:
    def __init__(self) -> None:
        self.received = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _ok(self, request: web.Request) -> web.Response:
        await request.read()
        self.received += 1
        await asyncio.sleep(SLEEP_S)
        return web.json_response({"outputs": []})

    async def _fail(self, request: web.Request) -> web.Response:
        await request.read()
        self.received += 1
        return web.Response(status=500, text="boom")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/ok/invocations", self._ok)
        app.router.add_post("/fail/invocations", self._fail)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> _Server:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def url(self, route: str) -> str:
        return f"http://127.0.0.1:{self.port}/{route}"


@pytest.fixture(scope="module")
def server():
    with _Server() as s:
        yield s


@pytest.fixture(scope="module")
def payload():
    return encode(sample_inputs([TensorSpec("input_ids", "INT64", (8,))]), encoding="binary")


@pytest.mark.parametrize("processes", [1, 2])
def test_fixed_run_counts_every_answer_once(server, payload, processes):
    # GIVEN a server that answers every request with 200
    before = server.received
    # WHEN four users load it for a short window with no warmup
    result = run_fixed(
        HttpTransport.sagemaker(server.url("ok")), payload, concurrency=4, duration_s=1.0, warmup_s=0.0,
        processes=processes, sample_gpu=False,
    )
    # THEN the window holds only successful requests, no more than the server saw
    lat = result.latency
    assert lat.count > 0
    assert lat.errors == 0
    assert lat.count <= server.received - before
    assert lat.throughput_rps == pytest.approx(lat.count / 1.0)
    # latency includes the server's sleep and percentiles are ordered
    assert lat.p50_ms >= SLEEP_S * 1000
    assert lat.p50_ms <= lat.p90_ms <= lat.p99_ms <= lat.max_ms
    assert result.latencies_ms.size == lat.count
    assert result.processes == processes
    assert result.triton is None  # no statistics URL given


def test_fixed_run_counts_errors_and_keeps_examples(server, payload):
    result = run_fixed(
        HttpTransport.sagemaker(server.url("fail")), payload, concurrency=2, duration_s=0.5, warmup_s=0.0,
        sample_gpu=False,
    )
    assert result.latency.count == 0
    assert result.latency.errors > 0
    assert result.latency.error_rate == 1.0
    assert any("HTTP 500" in e for e in result.error_examples)


def test_connection_errors_are_errors_not_crashes(payload):
    result = run_fixed(
        HttpTransport("http://127.0.0.1:9/invocations", timeout_s=1.0), payload, concurrency=1,
        duration_s=0.3, warmup_s=0.0, sample_gpu=False,
    )
    assert result.latency.count == 0
    assert result.latency.errors > 0


def test_phased_run_stops_at_max_invocations(server, payload):
    result = run_phased(
        HttpTransport.sagemaker(server.url("ok")), payload,
        phase=Phase(initial_users=2, spawn_rate=0, duration_s=20),
        stopping=StoppingConditions(max_invocations_per_minute=60, latency_threshold_ms=None, window_s=1.0),
    )
    assert result.stop_reason == "max_invocations"
    assert result.stopped_at_s < 20
    assert result.latency.count > 0


def test_phased_run_stops_at_latency_threshold(server, payload):
    result = run_phased(
        HttpTransport.sagemaker(server.url("ok")), payload,
        phase=Phase(initial_users=1, spawn_rate=0, duration_s=20),
        stopping=StoppingConditions(max_invocations_per_minute=None, latency_threshold_ms=SLEEP_S * 1000 / 2,
                                    latency_percentile=50, window_s=1.0),
    )
    assert result.stop_reason == "latency_threshold"


def test_phased_run_spawns_users_until_its_duration(server, payload):
    # 120 users per minute = one every half second on top of the initial 2
    result = run_phased(
        HttpTransport.sagemaker(server.url("ok")), payload,
        phase=Phase(initial_users=2, spawn_rate=120, duration_s=2.5),
        stopping=StoppingConditions(max_invocations_per_minute=None, latency_threshold_ms=None, window_s=1.0),
    )
    assert result.stop_reason == "duration"
    users = [p.users for p in result.timeline]
    assert users == sorted(users)
    assert users[-1] > 2
    assert result.max_invocations_per_minute_within_threshold > 0


def test_schedule_follows_inference_recommender_phases():
    # Seed 000 §3.4: 2 initial users, 2 more every minute (spread evenly, as Locust spawns), 1500 s
    schedule = Schedule(initial_users=2, spawn_rate_per_minute=2)
    assert schedule.users_at(0) == 2
    assert schedule.users_at(29.9) == 2
    assert schedule.users_at(30) == 3
    assert schedule.users_at(60) == 4
    assert schedule.total_users(1500) == 52
    assert schedule.start_offset(0) == schedule.start_offset(1) == 0
    assert schedule.start_offset(2) == 30.0
    assert Schedule(8).total_users(100) == 8


def test_schedule_rejects_no_users():
    with pytest.raises(ValueError, match="initial_users"):
        Schedule(0)


def test_window_takes_requests_by_completion_time():
    import numpy as np

    samples = np.array([[0.0, 0.5, 1], [0.9, 0.2, 1], [1.5, 0.1, 0], [2.5, 1.0, 1]])
    latencies, errors = window(samples, 1.0, 2.0)
    assert latencies.tolist() == [0.2]
    assert errors == 1
