"""The Flask app SageMaker calls: GET /ping (health) and POST /invocations (inference).

The model is the ONNX file SageMaker extracts from the model data to /opt/ml/model (override
with SM_MODEL_DIR): MODEL_FILE, relative to it, defaults to the only ``.onnx`` file there
(make_model_archive.py writes ``classifier/model.onnx``). It runs with ONNX Runtime on CPU. Request: ``{"inputs": [[...], ...]}`` (JSON, float32, fed to the model's first input);
response: ``{"outputs": [[...], ...]}`` (the first output).
"""

from __future__ import annotations

import glob
import json
import os
from typing import Any

import numpy as np
import onnxruntime
from flask import Flask, Response, request

MODEL_DIR = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")


def model_path() -> str:
    """Return MODEL_FILE under the model directory, else the only .onnx file there."""
    if "MODEL_FILE" in os.environ:
        return os.path.join(MODEL_DIR, os.environ["MODEL_FILE"])
    found = sorted(glob.glob(os.path.join(MODEL_DIR, "**", "*.onnx"), recursive=True))
    if len(found) != 1:
        raise FileNotFoundError(
            f"expected one .onnx file under {MODEL_DIR} (found {len(found)}); set MODEL_FILE"
        )
    return found[0]


app = Flask(__name__)


class Model:
    """Loads the model once per worker, on first use."""

    session: Any = None

    @classmethod
    def get(cls) -> Any:
        """Return the ONNX Runtime session, loading the model on first use."""
        if cls.session is None:
            cls.session = onnxruntime.InferenceSession(model_path(), providers=["CPUExecutionProvider"])
        return cls.session


def _json(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


@app.route("/ping", methods=["GET"])
def ping() -> Response:
    """Healthy when the model loads (SageMaker waits for 200 before sending traffic)."""
    try:
        Model.get()
    except Exception as error:  # any load failure is "unhealthy", with its reason
        return _json({"status": "unhealthy", "error": str(error)}, 503)
    return _json({"status": "healthy"}, 200)


@app.route("/invocations", methods=["POST"])
def invocations() -> Response:
    """Run the model on ``{"inputs": [...]}`` and answer ``{"outputs": [...]}``."""
    if request.content_type != "application/json":
        return _json({"error": f"Content-Type must be application/json (got {request.content_type})"}, 415)
    try:
        inputs = np.asarray(json.loads(request.get_data())["inputs"], dtype=np.float32)
    except (ValueError, KeyError, TypeError) as error:
        return _json({"error": f'expected JSON {{"inputs": [[numbers]]}}: {error}'}, 400)
    session = Model.get()
    try:
        outputs = session.run(None, {session.get_inputs()[0].name: inputs})
    except Exception as error:  # the model refused the input (shape, rank): a client error
        return _json({"error": f"the model refused the input: {error}"}, 400)
    return _json({"outputs": outputs[0].tolist()}, 200)
