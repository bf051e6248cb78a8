"""What the CPU offers: feature flags and the cores this process may use (embedder, vLLM dtype)."""

from __future__ import annotations

import math
import os
from pathlib import Path

# bf16 matrix math in hardware (Cooper Lake / Sapphire Rapids and later, Zen 4+).
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
# int8 dot products in one instruction (VNNI, AMX); plain AVX2 int8 needs three.
INT8_DOT_FLAGS = frozenset({"avx512_vnni", "avx_vnni", "amx_int8"})
SHOWN_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_bf16", "amx_int8")


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU feature flags the kernel reports (empty where there is no /proc/cpuinfo)."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def cpu_name(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The ``model name`` line of /proc/cpuinfo, else ``unknown``."""
    try:
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return "unknown"


def native_bf16(flags: frozenset[str]) -> bool:
    """True when the CPU multiplies bf16 matrices in hardware (else bf16 is emulated, slower)."""
    return bool(flags & NATIVE_BF16_FLAGS)


def describe_flags(flags: frozenset[str]) -> str:
    """The flags that matter for embedding speed, e.g. ``avx2 fma`` (``none`` when none)."""
    return " ".join(flag for flag in SHOWN_FLAGS if flag in flags) or "none"


def available_cores(cgroup_cpu_max: Path = Path("/sys/fs/cgroup/cpu.max")) -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup v2 CPU quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    try:
        quota, period = cgroup_cpu_max.read_text().split()[:2]
        if quota != "max":
            cores = min(cores, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cores)
