"""Time the handler's forward-pass size in-process: all texts sorted by length, as the handler
sorts a TorchServe batch, then cut into passes of each size. Prints items/s per size and
repeat; asserts nothing. ``ArchiveConfig.inference_batch_size`` comes from this
(docs/PERFORMANCE.md).

    python scripts/forward_pass.py --model models/v1 [--texts FILE] [--n-texts 512] [--sizes 12,16,24,32] [--repeats 3]
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from training import bench, paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--texts", type=Path, default=paths.external_eval_file())
    parser.add_argument("--n-texts", type=int, default=512)
    parser.add_argument("--sizes", default="12,16,24,32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from training.inference import load_model, model_inputs

    loaded = load_model(args.model)
    ids = model_inputs(loaded.tokenizer, bench.load_texts(args.texts, args.n_texts), loaded.max_length, **loaded.text_settings)
    sizes = [int(s) for s in args.sizes.split(",")]
    print("| forward pass | " + " | ".join(f"run {r + 1} items/s" for r in range(args.repeats)) + " |")
    print("|---:|" + "---:|" * args.repeats)
    rates: dict[int, list[float]] = {size: [] for size in sizes}
    with bench.torch_threads(args.threads):
        for _ in range(args.repeats):  # sizes interleaved, so a slow minute of the machine hits all of them
            for size in sizes:
                rates[size].append(bench.inprocess_rate(loaded.model, loaded.tokenizer, ids, size, sort=True))
    for size in sizes:
        print(f"| {size} | " + " | ".join(f"{rate:.1f}" for rate in rates[size]) + " |")


if __name__ == "__main__":
    main()
