"""The model definition of the factory example: a small classifier and a function that builds it.

A factory is what you write when you have a model's Python class and a ``torch.save()`` state
dict (``model.state_dict()``), rather than a TorchScript or ONNX file: ``make`` builds the module
and loads the weights. ``factory.toml`` names it as ``target = "classifier_net.py:make"``.
"""

from __future__ import annotations

from pathlib import Path

import torch

FEATURES = 16
CLASSES = 3


class TinyClassifier(torch.nn.Module):
    """Two linear layers: ``features`` FP32 ``[batch, 16]`` → ``logits`` FP32 ``[batch, 3]``."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.hidden = torch.nn.Linear(FEATURES, hidden)
        self.out = torch.nn.Linear(hidden, CLASSES)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return the class logits."""
        return self.out(torch.relu(self.hidden(features)))


def make(weights: str = "classifier_weights.pt", hidden: int = 32) -> torch.nn.Module:
    """Build the classifier and load its state dict (a path relative to this file).

    Args:
        weights: The ``torch.save(model.state_dict())`` file.
        hidden: Width of the hidden layer; must match the weights.
    """
    model = TinyClassifier(hidden)
    state = torch.load(Path(__file__).parent / weights, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()
