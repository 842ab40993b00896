"""Named example models, built offline from ``transformers`` configs with seeded weights.

Options are neutral on purpose (sensible ``max_batch_size``, no dynamic batching, one
instance): tuning (``model_build.profile``) is applied by callers.
"""

from __future__ import annotations

from collections.abc import Callable

from model_build.aws import DEFAULT_TRITON_VERSION
from model_build.engine_target import EngineTarget
from model_build.sources import TransformersConfig
from model_build.spec import ModelSpec, Tolerance, TritonOptions
from model_build.user_errors import UserError, did_you_mean

BERT_VOCAB_SIZE = 30522  # bert-base-uncased's WordPiece vocabulary, so real tokenizers fit.
PEGASUS_VOCAB_SIZE = 96103  # google/pegasus-*'s SentencePiece vocabulary, so PegasusTokenizer fits.


def _bert(name: str, *, layers: int, hidden: int, heads: int, seq: int, max_batch_size: int) -> ModelSpec:
    config = {
        "vocab_size": BERT_VOCAB_SIZE,
        "hidden_size": hidden,
        "num_hidden_layers": layers,
        "num_attention_heads": heads,
        "intermediate_size": 4 * hidden,
        "max_position_embeddings": 512,
        "num_labels": 2,
    }
    return ModelSpec(
        name=name,
        source=TransformersConfig(
            architecture="bert-sequence-classification", config=config, seed=0, sequence_length=seq
        ),
        triton=TritonOptions(max_batch_size=max_batch_size),
        # Deep transformers accumulate float32 reordering error (ORT fuses attention and
        # layer norm); 1e-4 absolute on logits of magnitude ~1 is still a tight check.
        tolerance=Tolerance(atol=1e-4, rtol=1e-3),
    )


def _resnet(
    name: str,
    *,
    config: dict[str, object],
    image_size: int,
    max_batch_size: int,
    backend: str = "onnxruntime",
    triton_name: str | None = None,
    warmup_batch_sizes: tuple[int, ...] = (),
    tensorrt_target: EngineTarget | None = None,
) -> ModelSpec:
    return ModelSpec(
        name=name,
        source=TransformersConfig(
            architecture="resnet-image-classification",
            config={"num_labels": 1000, **config},
            seed=0,
            image_size=image_size,
        ),
        triton=TritonOptions(max_batch_size=max_batch_size, warmup_batch_sizes=warmup_batch_sizes),
        # 50 conv layers of float32 reordering on ~N(0,1) inputs: logits drift ~1e-4.
        tolerance=Tolerance(atol=1e-3, rtol=1e-3),
        backend=backend,
        triton_name=triton_name,
        tensorrt_target=tensorrt_target,
    )


# The ResNet of the tests and the demo: basic blocks [1,1,1,1], widths 16-128, 3x64x64 -> 1000.
_RESNET_TINY: dict[str, object] = {
    "embedding_size": 16,
    "hidden_sizes": [16, 32, 64, 128],
    "depths": [1, 1, 1, 1],
    "layer_type": "basic",
}

#: Seed 001's Triton model name: both of its archives hold ``resnet/``, told apart only by the
#: archive name (the ``TargetModel``).
SEED_001_TRITON_NAME = "resnet"

#: Seed 001's instance type (one NVIDIA T4); its TensorRT engines are built for it.
SEED_001_INSTANCE_TYPE = "ml.g4dn.4xlarge"


def _seed_001(name: str, backend: str, *, tiny: bool) -> ModelSpec:
    """One of seed 001's three ResNets: the same seeded model served by ``backend``, all named ``resnet``.

    Seed 001's configs: ``max_batch_size: 128`` for both; only the TensorRT one has the
    ``model_warmup`` block "bs128 Warmup" (batch 128). The engine is pinned to seed 001's
    ``ml.g4dn.4xlarge`` (T4, compute capability 7.5) and the default Triton DLC release.
    """
    return _resnet(
        name,
        config=_RESNET_TINY if tiny else {},
        image_size=64 if tiny else 224,
        max_batch_size=128,
        backend=backend,
        triton_name=SEED_001_TRITON_NAME,
        warmup_batch_sizes=(128,) if backend == "tensorrt" else (),
        tensorrt_target=EngineTarget(instance_type=SEED_001_INSTANCE_TYPE, triton_version=DEFAULT_TRITON_VERSION)
        if backend == "tensorrt"
        else None,
    )


def _pegasus(
    name: str, *, d_model: int, layers: int, heads: int, ffn: int, seq: int, new_tokens: int, max_batch_size: int
) -> ModelSpec:
    config = {
        "vocab_size": PEGASUS_VOCAB_SIZE,
        "d_model": d_model,
        "encoder_layers": layers,
        "decoder_layers": layers,
        "encoder_attention_heads": heads,
        "decoder_attention_heads": heads,
        "encoder_ffn_dim": ffn,
        "decoder_ffn_dim": ffn,
        # google/pegasus-xsum's values (its config.json).
        "max_position_embeddings": 512,
        "scale_embedding": True,
        # PEGASUS initialises with std 0.02; untrained at that scale, every article gets the
        # same summary (one token repeated), which would hide rows mixed up on the way. At 0.5
        # the seeded model's greedy summaries depend on the article.
        "init_std": 0.5,
    }
    return ModelSpec(
        name=name,
        source=TransformersConfig(
            architecture="pegasus-summarization",
            config=config,
            seed=0,
            sequence_length=seq,
            max_new_tokens=new_tokens,
        ),
        triton=TritonOptions(max_batch_size=max_batch_size),
        # Token ids are integers: the ONNX graph must pick exactly the tokens torch picks.
        tolerance=Tolerance(atol=0.0, rtol=0.0),
    )


EXAMPLES: dict[str, Callable[[], ModelSpec]] = {
    # 2 layers, hidden 128: seconds to build; for tests and the demo.
    "bert-tiny": lambda: _bert("bert-tiny", layers=2, hidden=128, heads=2, seq=128, max_batch_size=64),
    "bert-base": lambda: _bert("bert-base", layers=12, hidden=768, heads=12, seq=128, max_batch_size=64),
    # Seed 000: bert-large-uncased as a binary classifier, 512 tokens, ~336M parameters.
    "bert-large": lambda: _bert("bert-large", layers=24, hidden=1024, heads=16, seq=512, max_batch_size=64),
    "resnet-tiny": lambda: _resnet("resnet-tiny", config=_RESNET_TINY, image_size=64, max_batch_size=128),
    # Seed 001: ResNet-50 (ResNetConfig defaults), FP32 3x224x224 → 1000 classes, max_batch_size 128.
    "resnet50": lambda: _resnet("resnet50", config={}, image_size=224, max_batch_size=128),
    # Seed 001's multi-model endpoint: one ResNet-50 served three ways, each archive holding `resnet/`:
    # TorchScript on pytorch_libtorch, a TensorRT engine (needs TensorRT and the target GPU to build),
    # and the ONNX path. The -tiny twins are the same three on resnet-tiny, for tests and the demo.
    "resnet50-pt": lambda: _seed_001("resnet50-pt", "pytorch", tiny=False),
    "resnet50-trt": lambda: _seed_001("resnet50-trt", "tensorrt", tiny=False),
    "resnet50-onnx": lambda: _seed_001("resnet50-onnx", "onnxruntime", tiny=False),
    "resnet-tiny-pt": lambda: _seed_001("resnet-tiny-pt", "pytorch", tiny=True),
    "resnet-tiny-trt": lambda: _seed_001("resnet-tiny-trt", "tensorrt", tiny=True),
    "resnet-tiny-onnx": lambda: _seed_001("resnet-tiny-onnx", "onnxruntime", tiny=True),
    # Seed 002: a stand-in for PEGASUS summarization (the seed uses google/pegasus-xsum as is):
    # the real architecture and vocabulary, seeded weights, 128 article tokens -> 8 summary
    # tokens by greedy decoding inside the graph; for the async demo and tests. 8, not 16:
    # the unrolled graph's export, ONNX Runtime load (Triton's model load) and per-request
    # time grow with it, and the demo builds it cold within its 2 minutes (figures in
    # docs/model_build.md).
    "pegasus-tiny": lambda: _pegasus(
        "pegasus-tiny", d_model=64, layers=2, heads=2, ffn=128, seq=128, new_tokens=8, max_batch_size=8
    ),
}

EXAMPLE_DESCRIPTIONS: dict[str, str] = {
    "bert-tiny": "BERT 2 layers, hidden 128, 2 heads, seq 128, 2 labels (~4.4M params)",
    "bert-base": "BERT 12 layers, hidden 768, 12 heads, seq 128, 2 labels (~110M params)",
    "bert-large": "BERT 24 layers, hidden 1024, 16 heads, seq 512, 2 labels (~336M params; seed 000)",
    "resnet-tiny": "ResNet basic blocks [1,1,1,1], widths 16-128, 3x64x64 -> 1000",
    "resnet50": "ResNet-50, FP32 3x224x224 -> 1000 (~25.6M params; seed 001)",
    "resnet50-pt": "seed 001's ResNet-50 as TorchScript (pytorch_libtorch, INPUT__0/OUTPUT__0), Triton name 'resnet'",
    "resnet50-trt": (
        "seed 001's ResNet-50 as a TensorRT FP16 engine (tensorrt_plan, bs128 warmup), Triton name 'resnet'; "
        "needs TensorRT and the target GPU"
    ),
    "resnet50-onnx": "seed 001's ResNet-50 through the ONNX path (onnxruntime_onnx), Triton name 'resnet'",
    "resnet-tiny-pt": "resnet-tiny as TorchScript (pytorch_libtorch), Triton name 'resnet' (seed 001 twin)",
    "resnet-tiny-trt": "resnet-tiny as a TensorRT engine (bs128 warmup), Triton name 'resnet' (seed 001 twin)",
    "resnet-tiny-onnx": "resnet-tiny through the ONNX path, Triton name 'resnet' (seed 001 twin)",
    "pegasus-tiny": (
        "PEGASUS 2+2 layers, d_model 64, 2 heads, vocab 96103, 128 tokens -> 8-token greedy summary "
        "(~6.4M params; seed 002)"
    ),
}


def get_example(name: str) -> ModelSpec:
    """Return the spec of a named example.

    Args:
        name: One of :data:`EXAMPLES`.

    Raises:
        UserError: For an unknown name, listing the known ones (a ``ValueError``).
    """
    try:
        factory = EXAMPLES[name]
    except (KeyError, TypeError):
        raise UserError(
            f"Unknown example {name!r}; choose one of {', '.join(EXAMPLES)}"
            f"{did_you_mean(str(name), list(EXAMPLES))}, or write a spec file for your own model "
            "(docs/your-model.md)"
        ) from None
    return factory()
