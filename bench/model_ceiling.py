"""The model-alone ceiling for BERT on a GPU, next to its FLOP bound.

Prints, for BERT (seeded random weights, built offline from ``transformers.BertConfig``)
at several batch sizes: sequences/s in eager mode and replayed from a captured CUDA
graph, the achieved TFLOP/s, and both as ratios to the FLOP bound computed from the
model's FLOPs and the GPU's dense fp16 peak. A measured large-GEMM rate is printed
too, so the bound can be read against what the chip really sustains.

Usage (GPU machine): ``python3 bench/model_ceiling.py [--layers 12 --hidden 768 --seq 128]``
"""

from __future__ import annotations

import argparse
import json
import time

# Dense (non-sparse) fp16/bf16 tensor-core peaks from NVIDIA's datasheets, TFLOP/s.
DENSE_FP16_PEAK_TFLOPS = {
    "H100 80GB HBM3": 989.4,  # H100 SXM5
    "H100 PCIe": 756.0,
    "H200": 989.4,
    "A100": 312.0,
    "T4": 65.0,
}


def bert_flops_per_sequence(layers: int, hidden: int, seq: int, intermediate: int | None = None) -> float:
    """Multiply-add FLOPs (2 per MAC) of one BERT encoder forward pass for one sequence.

    Per layer: Q, K, V and output projections 4 x (2*s*h*h), the FFN 2 x (2*s*h*i),
    attention scores Q.K^T and probabilities.V 2 x (2*s*s*h). Embeddings, layer norms,
    softmax and the classifier head are < 1 % and left out.
    """
    i = 4 * hidden if intermediate is None else intermediate
    per_layer = 8 * seq * hidden * hidden + 4 * seq * hidden * i + 4 * seq * seq * hidden
    return float(layers * per_layer)


def main() -> None:
    """Measure and print the table."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batches", default="8,16,32,64,128,256")
    ap.add_argument("--iters", type=int, default=30)
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--compile", default=None, metavar="MODE",
                    help="also time torch.compile with this inductor mode (e.g. default, max-autotune-no-cudagraphs)")
    ap.add_argument("--no-mask", action="store_true", help="omit attention_mask (lets SDPA pick its flash kernel)")
    args = ap.parse_args()

    dev = torch.device("cuda")
    name = torch.cuda.get_device_name(0)
    peak = next((v for k, v in DENSE_FP16_PEAK_TFLOPS.items() if k in name), None)

    # Measured dense fp16 GEMM rate: what the tensor cores sustain on this chip.
    a = torch.randn(8192, 8192, device=dev, dtype=torch.float16)
    b = torch.randn(8192, 8192, device=dev, dtype=torch.float16)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    n = 20
    for _ in range(n):
        a @ b
    torch.cuda.synchronize()
    gemm_tflops = n * 2 * 8192**3 / (time.perf_counter() - t0) / 1e12
    del a, b

    torch.manual_seed(0)
    cfg = BertConfig(
        hidden_size=args.hidden,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        intermediate_size=4 * args.hidden,
        num_labels=2,
        max_position_embeddings=max(512, args.seq),
    )
    model = BertForSequenceClassification(cfg).eval().to(dev).half()
    flops = bert_flops_per_sequence(args.layers, args.hidden, args.seq)
    bound = (peak or gemm_tflops) * 1e12 / flops
    print(f"GPU: {name}; dense fp16 peak {peak} TFLOP/s (datasheet), measured 8k GEMM {gemm_tflops:.0f} TFLOP/s")
    print(f"BERT L={args.layers} H={args.hidden} seq={args.seq}: {flops / 1e9:.2f} GFLOP/sequence; "
          f"FLOP bound {bound:,.0f} seq/s (datasheet peak), {gemm_tflops * 1e12 / flops:,.0f} seq/s (measured GEMM)")
    print(f"{'batch':>5} {'mode':>9} {'ms/batch':>9} {'seq/s':>9} {'TFLOP/s':>8} {'of bound':>8}")
    rows = []
    for bs in [int(x) for x in args.batches.split(",")]:
        ids = torch.randint(0, cfg.vocab_size, (bs, args.seq), device=dev)
        mask = torch.ones_like(ids)
        with torch.inference_mode():
            for _ in range(3):
                model(input_ids=ids, attention_mask=mask)
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(args.iters):
                model(input_ids=ids, attention_mask=mask)
            torch.cuda.synchronize()
            eager = (time.perf_counter() - t0) / args.iters
            # CUDA graph: one launch per batch instead of ~300 kernel launches.
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):
                    model(input_ids=ids, attention_mask=mask)
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                model(input_ids=ids, attention_mask=mask)
            g.replay()
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            for _ in range(args.iters):
                g.replay()
            torch.cuda.synchronize()
            graph = (time.perf_counter() - t0) / args.iters
            del g
        timings = [("eager", eager), ("cudagraph", graph)]
        if args.compile:
            compiled = torch.compile(model, mode=args.compile, dynamic=False)
            with torch.inference_mode():
                for _ in range(3):
                    compiled(input_ids=ids, attention_mask=None if args.no_mask else mask)
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                for _ in range(args.iters):
                    compiled(input_ids=ids, attention_mask=None if args.no_mask else mask)
                torch.cuda.synchronize()
                timings.append(("compiled", (time.perf_counter() - t0) / args.iters))
        for mode, sec in timings:
            sps = bs / sec
            row = {"batch": bs, "mode": mode, "ms": sec * 1e3, "seq_per_s": sps,
                   "tflops": sps * flops / 1e12, "of_bound": sps / bound}
            rows.append(row)
            print(f"{bs:>5} {mode:>9} {sec * 1e3:>9.2f} {sps:>9,.0f} {row['tflops']:>8.0f} {row['of_bound']:>8.1%}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"gpu": name, "peak_tflops": peak, "gemm_tflops": gemm_tflops,
                       "gflop_per_seq": flops / 1e9, "bound_seq_per_s": bound, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()
