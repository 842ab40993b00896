"""Resource use during a measurement: the client's CPU and the GPU's utilization.

A load generator that saturates its own CPU measures itself, not the server. DEVICE.md's
reference run was limited by JSON encoding in the client, so every result carries the
client's CPU use next to the server's figures. Both probes degrade to ``None`` ("n/a" in
reports) when their library or tool is missing, as on the GPU machine without psutil.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CpuUse:
    """CPU used by the load generator (this process and its worker processes).

    Attributes:
        cpu_seconds: User + system CPU seconds consumed during the window.
        wall_seconds: Window length.
        cores: Logical cores on the machine.
    """

    cpu_seconds: float
    wall_seconds: float
    cores: int

    @property
    def percent_of_one_core(self) -> float:
        """CPU seconds per wall second * 100 (200 = two busy cores)."""
        return 100.0 * self.cpu_seconds / self.wall_seconds if self.wall_seconds > 0 else float("nan")

    @property
    def percent_of_machine(self) -> float:
        """Share of all cores the client used; near 100 means the run is client-bound."""
        return self.percent_of_one_core / self.cores if self.cores else float("nan")


class ClientCpuMeter:
    """Measures CPU time of this process and given child processes over a window.

    psutil reads children's CPU time while they run (``os.times`` only reports children
    after they are reaped), so without psutil only the parent's share is counted and the
    result says so through ``None``.
    """

    def __init__(self, pids: list[int] | None = None) -> None:
        try:
            import psutil
        except ImportError:  # the GPU machine may lack psutil
            self._procs: list[Any] | None = None
        else:
            self._procs = [psutil.Process()]
            for pid in pids or []:
                try:
                    self._procs.append(psutil.Process(pid))
                except psutil.Error:  # a worker that already exited has nothing left to measure
                    continue
        self._start_cpu = 0.0
        self._start_wall = 0.0

    def _cpu(self) -> float:
        total = 0.0
        for proc in self._procs or []:
            try:
                times = proc.cpu_times()
            except Exception:  # a worker that already exited contributes its last reading
                continue
            total += times.user + times.system
        return total

    def start(self) -> None:
        """Mark the beginning of the window."""
        self._start_cpu = self._cpu()
        self._start_wall = time.monotonic()

    def stop(self) -> CpuUse | None:
        """CPU used since :meth:`start`, or ``None`` without psutil."""
        if self._procs is None:
            return None
        return CpuUse(
            cpu_seconds=self._cpu() - self._start_cpu,
            wall_seconds=time.monotonic() - self._start_wall,
            cores=os.cpu_count() or 1,
        )


class GpuSampler:
    """Samples GPU utilization (percent, mean over GPUs) in a background thread.

    Uses NVML through ``pynvml`` when importable, else ``nvidia-smi --query-gpu``; on a
    machine with neither (or no GPU) :meth:`stop` returns ``None``. NVML's
    ``utilization.gpu`` is the share of time any kernel ran in the last sample period, so
    100 % does not mean the tensor cores are busy: compare throughput with the FLOP bound
    for that.
    """

    def __init__(self, interval_s: float = 0.5) -> None:
        self._interval_s = interval_s
        self._samples: list[float] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._read = self._probe()

    @staticmethod
    def _probe() -> Any:
        try:
            import pynvml

            pynvml.nvmlInit()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
            if handles:
                return lambda: [float(pynvml.nvmlDeviceGetUtilizationRates(h).gpu) for h in handles]
        except Exception:  # no pynvml, no driver or no GPU: try nvidia-smi
            pass
        smi = shutil.which("nvidia-smi")
        if smi is None:
            return None

        def read_smi() -> list[float]:
            out = subprocess.run(
                [smi, "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"],
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout
            return [float(line) for line in out.split() if line.strip()]

        try:
            return read_smi if read_smi() else None
        except Exception:
            return None

    @property
    def available(self) -> bool:
        """Whether a GPU could be read."""
        return self._read is not None

    def start(self) -> None:
        """Start sampling."""
        if self._read is None:
            return
        self._samples.clear()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="gpu-sampler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                values = self._read()
            except Exception:
                continue
            if values:
                self._samples.append(sum(values) / len(values))

    def stop(self) -> float | None:
        """Stop sampling; mean utilization in percent, or ``None`` without a GPU."""
        if self._thread is None:
            return None
        self._stop.set()
        self._thread.join(timeout=10)
        self._thread = None
        return sum(self._samples) / len(self._samples) if self._samples else None
