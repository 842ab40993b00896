"""The deliberately broken model of ``python -m rehearsal.pipeline --broken-model``.

A classifier of sensor readings that reads its input in windows of :data:`WINDOW` readings (a
reshape), while its spec file declares the number of readings dynamic (``dims = [-1]``), so the
Triton config it is served with accepts any length: the model and its config disagree. That is a
real bug, not a staged one: the build verifies the ONNX export against torch at the build's example
length (``model_build.sources.DYNAMIC_DIM_EXAMPLE`` = 8 readings), Triton loads the model (the
dims are compatible), and the endpoint deploys; the first request of another length — the smoke
test sends one reading, which the config allows — fails inside ONNX Runtime ("cannot reshape").
"""

from __future__ import annotations

import torch

WINDOW = 8
CLASSES = 3


class WindowClassifier(torch.nn.Module):
    """``readings`` FP32 ``[batch, n]`` (n a multiple of 8) → ``logits`` FP32 ``[batch, 3]``."""

    def __init__(self) -> None:
        super().__init__()
        self.out = torch.nn.Linear(WINDOW, CLASSES)

    def forward(self, readings: torch.Tensor) -> torch.Tensor:
        """Average the windows of 8 readings, then classify."""
        windows = readings.reshape(readings.shape[0], -1, WINDOW)
        return self.out(windows.mean(dim=1))


def make() -> torch.nn.Module:
    """Build the classifier with seeded weights (the same bytes on every build)."""
    torch.manual_seed(0)
    return WindowClassifier().eval()
