#!/usr/bin/env python3
"""Writes the seeds of fuzz_schedule_state.cpp into tests/fuzz/corpus-state/ (or the folder given).

Each seed is an Ansor-like step sequence on one of the target's DAGs, encoded the way the target decodes
it: a DAG byte, then per step a kind byte (the StepKind number, +14 to go through the State's builder) and
one byte per field. A field decoded as "a value in [low, high]" is written as value - low, so the seeds do
not depend on the target's ranges as long as each value is valid. The output is the same on every run.
"""
import os
import sys

KINDS = ["AN", "FU", "PR", "RE", "SP", "FSP", "FFSP", "SA", "CA", "CI", "CR", "CHR", "CHW", "RF"]
SCOPES = ["shared", "local", "global", ""]
PRAGMAS = ["auto_unroll_max_step$16", "auto_unroll_max_step$0", "debug_skip_region"]
DAGS = ["matmul", "conv2d", "pool_avg", "softmax", "reduce_max"]


class Seed:
    def __init__(self, dag):
        self.bytes = [DAGS.index(dag)]

    def kind(self, name, builder):
        self.bytes.append(KINDS.index(name) + (14 if builder else 0))

    def an(self, stage, it, annotation, builder=False):
        self.kind("AN", builder)
        self.bytes += [stage + 1, it + 1, annotation]

    def fu(self, stage, ids, builder=False):
        self.kind("FU", builder)
        self.bytes += [stage + 1, ids[0] + 1, len(ids)] + ([0] if ids else [])

    def pr(self, stage, it, pragma, builder=False):
        self.kind("PR", builder)
        self.bytes += [stage + 1, it + 1, PRAGMAS.index(pragma)]

    def re(self, stage, order, builder=False):
        self.kind("RE", builder)
        self.bytes.append(stage + 1)
        current = list(range(len(order)))
        for i in range(len(order), 1, -1):  # Fisher-Yates from the back, as the target decodes it
            j = current.index(order[i - 1])
            assert j < i
            self.bytes.append(j)
            current[i - 1], current[j] = current[j], current[i - 1]
        assert current == list(order)
        self.bytes.append(0)  # no corruption

    def sp(self, stage, it, lengths, inner_to_outer=True, builder=False):
        self.kind("SP", builder)
        self.bytes += [stage + 1, it + 1, len(lengths)]
        for length in lengths:
            assert 1 <= length <= 16
            self.bytes.append(length - 1)
        self.bytes += [1 if inner_to_outer else 0, 1]  # the logged extent is the loop's

    def fsp(self, stage, it, src, n_split, builder=False):
        self.kind("FSP", builder)
        self.bytes += [stage + 1, it + 1, src + 1, n_split + 1]

    def ffsp(self, stage, it, srcs, level, factor_or_nparts, builder=False):
        self.kind("FFSP", builder)
        self.bytes += [stage + 1, it + 1, len(srcs)] + [s + 1 for s in srcs] + [level + 1, int(factor_or_nparts)]

    def sa(self, stage, it, factor, offset, builder=False):
        self.kind("SA", builder)
        self.bytes += [stage + 1, it + 1, factor + 1, offset + 1]

    def ca(self, stage, target, it, builder=False):
        self.kind("CA", builder)
        self.bytes += [stage + 1, target + 1, it + 1]

    def ci(self, stage, builder=False):
        self.kind("CI", builder)
        self.bytes.append(stage + 1)

    def cr(self, stage, builder=False):
        self.kind("CR", builder)
        self.bytes.append(stage + 1)

    def chr(self, stage, scope, readers, builder=False):
        self.kind("CHR", builder)
        self.bytes += [stage + 1, SCOPES.index(scope), len(readers)] + [r + 1 for r in readers]

    def chw(self, stage, scope, builder=False):
        self.kind("CHW", builder)
        self.bytes += [stage + 1, SCOPES.index(scope)]

    def rf(self, stage, it, factor_iter, builder=False):
        self.kind("RF", builder)
        self.bytes += [stage + 1, it + 1, factor_iter + 1]


def matmul_gpu():
    """matmul 6x5x7 (A, B, compute): the multi-level tiling sketch of the matmul_layer logs."""
    s = Seed("matmul")
    s.chw(2, "local")                       # 0: A B compute.local compute
    s.sp(2, 0, [1, 2, 1])                   # 1: x_c (6)
    s.sp(2, 4, [1, 7, 1])                   # 2: y_c (7)
    s.sp(2, 8, [5])                         # 3: k (5)
    s.re(2, [0, 4, 1, 5, 8, 2, 6, 9, 3, 7])
    s.fsp(3, 0, 1, 3)
    s.fsp(3, 4, 2, 3)
    s.re(3, [0, 4, 1, 5, 2, 6, 3, 7])
    s.ca(2, 3, 5)
    s.chr(1, "shared", [2])                 # A B B.shared compute.local compute
    s.ca(2, 3, 6)
    s.chr(0, "shared", [3], builder=True)   # A A.shared B B.shared compute.local compute
    s.ca(1, 4, 6)
    s.fu(5, [0, 1])
    s.an(5, 0, 5)
    s.fu(5, [1, 2])
    s.an(5, 1, 4)
    s.fu(5, [2, 3])
    s.an(5, 2, 6)
    s.fu(3, [0, 1])
    s.sp(3, 0, [1], builder=True)
    s.an(3, 1, 2)
    s.ffsp(3, 0, [2, 1], 1, True)
    s.an(3, 1, 6)
    s.pr(4, 0, "auto_unroll_max_step$16")
    return s


def conv2d_gpu():
    """conv2d 1x2x4x4, 2 filters of 3x3, padding 1: the sketch of the conv2d_layer logs, shortened."""
    s = Seed("conv2d")
    s.chw(3, "local")                       # 0: data pad_temp kernel compute.local compute
    s.sp(3, 1, [1, 2])                      # 1: ff_c (2)
    s.sp(3, 4, [2, 1])                      # 2: yy_c (4)
    s.sp(3, 7, [1, 4])                      # 3: xx_c (4)
    s.sp(3, 10, [2])                        # 4: rc (2)
    s.fsp(4, 1, 1, 2)
    s.fsp(4, 4, 2, 2, builder=True)
    s.ca(3, 4, 3)
    s.chr(2, "shared", [3])                 # data pad_temp kernel kernel.shared compute.local compute
    s.ca(3, 4, 11)
    s.chr(1, "shared", [4])                 # data pad_temp pad_temp.shared kernel kernel.shared compute.local compute
    s.ca(2, 5, 11)
    s.ci(1)
    s.fu(6, [0, 1])
    s.an(6, 0, 5)
    s.fu(4, [0, 1, 2, 3])
    s.sp(4, 0, [2])
    s.an(4, 1, 6)
    s.sa(2, 2, 32, 1)
    s.pr(5, 0, "auto_unroll_max_step$16")
    return s


def pool_cpu():
    """avg pooling 1x2x5x5, 3x3 window, stride 2, padding 1: pad_temp inlined, loops fused and parallel."""
    s = Seed("pool_avg")
    s.ci(1)                                 # data pad_temp tensor tensor
    s.fu(3, [0, 1, 2, 3])
    s.sp(3, 0, [3])
    s.an(3, 0, 3)
    s.ca(2, 3, 1)
    s.re(2, [0, 1, 4, 5, 2, 3])
    s.an(2, 5, 1, builder=True)
    s.pr(3, 0, "auto_unroll_max_step$0")
    return s


def softmax_rfactor():
    """softmax 3x5: the exp sum factored (as the resnet-50 llvm logs do), the max attached."""
    s = Seed("softmax")
    s.sp(3, 1, [2])                         # 0: expsum k (5) → 3, 2
    s.rf(3, 2, 1)                           # data maxelem exp expsum.rf expsum.repl norm
    s.re(3, [0, 2, 1])
    s.ca(1, 2, 0)
    s.ci(2, builder=True)                   # refused: maxelem is attached to exp
    s.cr(1)
    s.chw(5, "local")
    s.an(6, 0, 3)
    return s


def reduce_rfactor():
    """max over two axes of 3x4x5: the reduction axes fused, split with a remainder, and factored."""
    s = Seed("reduce_max")
    s.fu(1, [1, 2])                         # ax0, k1@k2@ (20)
    s.sp(1, 1, [3])                         # 7, 3
    s.rf(1, 2, 1, builder=True)             # data data_red.rf data_red.repl
    s.re(1, [0, 2, 1])
    s.an(1, 0, 3)
    s.chr(1, "local", [2])
    s.pr(2, 0, "auto_unroll_max_step$16")
    return s


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-state")
    os.makedirs(folder, exist_ok=True)
    for name, make in [("matmul_gpu", matmul_gpu), ("conv2d_gpu", conv2d_gpu), ("pool_cpu", pool_cpu),
                       ("softmax_rfactor", softmax_rfactor), ("reduce_rfactor", reduce_rfactor)]:
        with open(os.path.join(folder, name + ".bin"), "wb") as out:
            out.write(bytes(make().bytes))


if __name__ == "__main__":
    main()
