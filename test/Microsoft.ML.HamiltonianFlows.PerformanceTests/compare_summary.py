"""Summarises compare.sh's rounds: the median over rounds of each implementation's median wall time, the ratios
PyTorch / TorchSharp (above 1: this library is faster) by wall and by process CPU time, and the matrix-product
GFLOP/s of this library as a fraction of the practical peak (the 2048^3 float32 product, measured in the same rounds)."""
import statistics
import sys
from collections import defaultdict

times = defaultdict(list)  # (implementation, operation, workload, kinetic) -> per-round median wall ms
cpu_times = defaultdict(list)  # the same for process CPU ms
flops = {}
loads = []
threads = set()
with open(sys.argv[1]) as f:
    for line in f:
        if line.startswith("# load"):
            loads.append(float(line.split()[2]))
            continue
        fields = line.rstrip("\n").split("\t")
        implementation, operation, workload, kinetic, thread_count, median = fields[:6]
        times[(implementation, operation, workload, kinetic)].append(float(median))
        cpu_times[(implementation, operation, workload, kinetic)].append(float(fields[7]))
        threads.add(thread_count)
        if implementation == "torchsharp":
            flops[(operation, workload, kinetic)] = float(fields[8])


def median(implementation, key, table=times):
    values = table.get((implementation,) + key)
    return statistics.median(values) if values else float("nan")


peak = flops[("matmul", "2048", "-")] / median("torchsharp", ("matmul", "2048", "-")) / 1e6
print(f"threads {', '.join(sorted(threads))}; 1-minute load average before each run: "
      f"min {min(loads):.2f}, max {max(loads):.2f}")
print(f"practical peak (2048^3 float32 matmul): TorchSharp {peak:.1f} GFLOP/s, PyTorch "
      f"{flops[('matmul', '2048', '-')] / median('pytorch-autograd', ('matmul', '2048', '-')) / 1e6:.1f} GFLOP/s")
header = ["operation", "workload", "kinetic", "TorchSharp ms", "PyTorch autograd ms", "PyTorch closed ms",
          "x vs autograd", "x vs closed", "x vs autograd (CPU)", "x vs closed (CPU)", "GFLOP/s", "% of peak"]
print("| " + " | ".join(header) + " |")
print("|" + "---|" * len(header))
for (operation, workload, kinetic), count in flops.items():
    if operation == "matmul":
        continue
    key = (operation, workload, kinetic)
    ours, autograd, closed = (median(i, key) for i in ("torchsharp", "pytorch-autograd", "pytorch-closed"))
    cpu_ours, cpu_autograd, cpu_closed = (median(i, key, cpu_times) for i in ("torchsharp", "pytorch-autograd", "pytorch-closed"))
    gflops = count / ours / 1e6
    print(f"| {operation} | {workload} | {kinetic} | {ours:.2f} | {autograd:.2f} | {closed:.2f} | "
          f"{autograd / ours:.2f} | {closed / ours:.2f} | {cpu_autograd / cpu_ours:.2f} | {cpu_closed / cpu_ours:.2f} | "
          f"{gflops:.1f} | {100 * gflops / peak:.0f}% |")
