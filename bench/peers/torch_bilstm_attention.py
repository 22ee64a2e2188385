#!/usr/bin/env python3
"""The BiLSTM-attention cost model of bench/bench_cost_model.cpp, built in PyTorch, timed the same way.

Same shape and inputs: 32 real steps of 64 features per candidate, workload 8 and hardware 8 features,
Linear(64)+ReLU embedding, 3-layer bidirectional LSTM (hidden 128), 2-head self-attention with a key
padding mask, mean over real steps, Linear(64)+ReLU, Linear(1). Inference runs under torch.no_grad() in
eval mode; a training step is forward, MSE + pairwise logistic rank loss, backward, gradient clipping
(norm 1) and Adam, as crosstune's TrainStep. Prints one Google-Benchmark-like JSON object.

Usage: torch_bilstm_attention.py THREADS [MIN_SECONDS]   (set OMP_WAIT_POLICY=PASSIVE for 2+ threads
before starting Python; bench/run.sh does)
"""
import json
import os
import sys
import time

import torch

STEPS, STEP_DIMS, WORKLOAD, HARDWARE = 32, 64, 8, 8


class BiLstmAttention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Linear(STEP_DIMS, 64)
        self.lstm = torch.nn.LSTM(64, 128, num_layers=3, bidirectional=True, batch_first=True)
        self.attention = torch.nn.MultiheadAttention(256, 2, batch_first=True)
        self.head1 = torch.nn.Linear(256 + WORKLOAD + HARDWARE, 64)
        self.head2 = torch.nn.Linear(64, 1)

    def forward(self, steps, mask, workload, hardware):
        x = torch.relu(self.embed(steps))
        h, _ = self.lstm(x)
        a, _ = self.attention(h, h, h, key_padding_mask=~mask, need_weights=False)
        m = mask.unsqueeze(-1).float()
        pooled = (a * m).sum(1) / m.sum(1)
        z = torch.relu(self.head1(torch.cat([pooled, workload, hardware], 1)))
        return self.head2(z).squeeze(1)


def inputs(n):
    return (torch.rand(n, STEPS, STEP_DIMS), torch.ones(n, STEPS, dtype=torch.bool), torch.rand(n, WORKLOAD),
            torch.rand(n, HARDWARE))


def timed(fn, min_seconds):
    fn()  # warm-up
    iterations, start = 0, time.perf_counter()
    while True:
        fn()
        iterations += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            return elapsed / iterations, iterations


def main():
    threads = int(sys.argv[1])
    min_seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = BiLstmAttention()
    results = []

    def record(name, n, seconds, iterations):
        results.append({"name": f"{name}/batch:{n}/threads:{threads}", "run_type": "iteration",
                        "iterations": iterations, "real_time": seconds * 1e3, "time_unit": "ms",
                        "items_per_second": n / seconds})

    model.eval()
    for n in (1, 64, 512, 4096):
        x = inputs(n)
        with torch.no_grad():
            record("BM_pytorch_predict", n, *timed(lambda: model(*x), min_seconds))
    model.train()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    for n in (16, 256):
        x, labels = inputs(n), torch.rand(n)

        def step():
            optimiser.zero_grad()
            scores = model(*x)
            mse = torch.mean((scores - labels) ** 2)
            # Pairwise logistic loss over every ordered pair whose labels differ (one task per batch).
            better = (labels.unsqueeze(1) > labels.unsqueeze(0)).float()
            diff = scores.unsqueeze(1) - scores.unsqueeze(0)
            rank = (torch.nn.functional.softplus(-diff) * better).sum() / better.sum().clamp(min=1)
            (mse + rank).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()

        record("BM_pytorch_train_step", n, *timed(step, min_seconds))
    print(json.dumps({"context": {"torch": torch.__version__, "threads": threads,
                                  "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "")},
                      "benchmarks": results}))


if __name__ == "__main__":
    main()
