"""Where a transformer training step spends its time: the compare.py transformer rows
(a TransformerEncoderLayer(128, 4, 512) step on 16x64x128 and the char-GPT step) and their
parts (self-attention, scaled_dot_product_attention, the feed-forward block and its
activation, LayerNorm, the linear layers, AdamW), each forward+backward at the step's shapes,
plus the fixed cost of a step (the same GPT at tiny sizes: Python and per-op dispatch) and
cProfile's count of the calls it makes.

    python benches/transformer_parts.py                 # rgrad
    /work/torchenv/bin/python benches/transformer_parts.py --torch   # the same with PyTorch
    /work/torchenv/bin/python benches/transformer_parts.py --torch --profile   # PyTorch's ops

Times are process CPU time (all threads) per call, the minimum over --repeats calls: on a
shared machine the wall clock mostly measures the other processes. RAYON_NUM_THREADS=1 (and
--threads 1 for PyTorch) gives single-thread work, the figure that adds up across parts.
"""

import argparse
import cProfile
import io
import pathlib
import pstats
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).parent))


def cpu_ms(fn, repeats):
    for _ in range(2):
        fn()
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch", action="store_true", help="time PyTorch instead of rgrad")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads (PyTorch only)")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="with --torch: only torch.profiler's self-CPU split of the three rows, by op",
    )
    args = parser.parse_args()
    if args.torch:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
    else:
        import rgrad as torch
    from compare import CHAR_GPT

    F = torch.nn.functional
    env = {"torch": torch}
    exec(CHAR_GPT, env)
    torch.manual_seed(0)
    r = args.repeats
    rows = []

    def row(name, fn):
        rows.append((name, cpu_ms(fn, r)))
        print(f"{name:58s} {rows[-1][1]:9.2f} ms", flush=True)

    layer = torch.nn.TransformerEncoderLayer(128, 4, 512, dropout=0.0, batch_first=True)
    x = torch.randn(16, 64, 128, requires_grad=True)
    opt = torch.optim.AdamW(layer.parameters(), lr=1e-3)

    def layer_step():
        opt.zero_grad()
        layer(x).pow(2).mean().backward()
        opt.step()

    if args.profile:
        from cnn_parts import torch_split

        gpt = env["CharGPT"]()
        idx, y = torch.randint(0, 65, (16, 64)), torch.randint(0, 65, (16, 64))
        gopt = torch.optim.AdamW(gpt.parameters(), lr=1e-3)

        def gpt_step():
            gopt.zero_grad()
            F.cross_entropy(gpt(idx).reshape(-1, 65), y.reshape(-1)).backward()
            gopt.step()

        qs = [torch.randn(8, 4, 128, 32, requires_grad=True) for _ in range(3)]
        gs = torch.randn(8, 4, 128, 32)
        for name, fn in [
            ("encoder layer step", layer_step),
            ("char GPT step", gpt_step),
            (
                "causal sdpa 8x4x128x32 fwd+bwd",
                lambda: F.scaled_dot_product_attention(*qs, is_causal=True).backward(gs),
            ),
        ]:
            print(name)
            torch_split(torch, fn, rows=16)
        return
    row("encoder layer step (fwd+bwd+AdamW)", layer_step)
    row("  forward", lambda: layer(x))
    row("  self-attention block fwd+bwd", lambda: layer._sa_block(x, None, None).sum().backward())
    q = torch.randn(16, 4, 64, 32) * 0.5
    q.requires_grad_(True)
    row(
        "    sdpa 16x4x64x32 fwd+bwd",
        lambda: F.scaled_dot_product_attention(q, q, q).sum().backward(),
    )
    w = layer.self_attn.in_proj_weight
    b = layer.self_attn.in_proj_bias
    row("    in-projection linear 128->384 fwd+bwd", lambda: F.linear(x, w, b).sum().backward())
    row("  feed-forward block (relu) fwd+bwd", lambda: layer._ff_block(x).sum().backward())
    h = torch.randn(16, 64, 512, requires_grad=True)
    row("    relu 16x64x512 fwd+bwd", lambda: F.relu(h).sum().backward())
    row("    linear1 128->512 fwd+bwd", lambda: layer.linear1(x).sum().backward())
    row("  LayerNorm(128) fwd+bwd", lambda: layer.norm1(x).sum().backward())
    row("  AdamW step (12 tensors)", lambda: opt.step())

    gpt = env["CharGPT"]()
    idx = torch.randint(0, 65, (16, 64))
    y = torch.randint(0, 65, (16, 64))
    gopt = torch.optim.AdamW(gpt.parameters(), lr=1e-3)

    def gpt_step():
        gopt.zero_grad()
        F.cross_entropy(gpt(idx).reshape(-1, 65), y.reshape(-1)).backward()
        gopt.step()

    row("char GPT step (fwd+bwd+AdamW)", gpt_step)
    block = gpt.blocks.layers[0]
    hid = torch.randn(16, 64, 128, requires_grad=True)
    row(
        "  causal self-attention block fwd+bwd",
        lambda: block._sa_block(hid, gpt.causal, None, True).sum().backward(),
    )
    row(
        "    causal sdpa 16x4x64x32 fwd+bwd",
        lambda: F.scaled_dot_product_attention(q, q, q, is_causal=True).sum().backward(),
    )
    row("  feed-forward block (gelu) fwd+bwd", lambda: block._ff_block(hid).sum().backward())
    row("    gelu 16x64x512 fwd+bwd", lambda: F.gelu(h).sum().backward())
    row(
        "  LayerNorm + head + cross entropy fwd+bwd",
        lambda: F.cross_entropy(gpt.head(gpt.norm(hid)).reshape(-1, 65), y.reshape(-1)).backward(),
    )

    # compare.py's sdpa row: causal attention on 8x4x128x32, forward alone and with backward.
    qs = [torch.randn(8, 4, 128, 32, requires_grad=True) for _ in range(3)]
    gs = torch.randn(8, 4, 128, 32)
    row(
        "causal sdpa 8x4x128x32 forward (inputs need grad)",
        lambda: F.scaled_dot_product_attention(*qs, is_causal=True),
    )
    row(
        "causal sdpa 8x4x128x32 fwd+bwd",
        lambda: F.scaled_dot_product_attention(*qs, is_causal=True).backward(gs),
    )

    # The fixed cost of a step, Python and per-op dispatch: the same GPT at tiny sizes.
    tiny = env["CharGPT"](vocab=65, block=4, d=8, heads=2, layers=2)
    tidx = torch.randint(0, 65, (1, 4))
    topt = torch.optim.AdamW(tiny.parameters(), lr=1e-3)

    def tiny_step():
        topt.zero_grad()
        F.cross_entropy(tiny(tidx).reshape(-1, 65), tidx.reshape(-1)).backward()
        topt.step()

    row("char GPT step at d_model 8, 1x4 tokens (fixed cost)", tiny_step)
    prof = cProfile.Profile()
    prof.enable()
    gpt_step()
    prof.disable()
    stats = pstats.Stats(prof, stream=io.StringIO())
    calls = sum(v[1] for v in stats.stats.values())  # (cc, nc, tt, ct, callers)
    print(f"function calls per GPT step seen by cProfile (Python and bound methods): {calls}")


if __name__ == "__main__":
    main()
