"""Will it fit, and how long will it take? Memory check and time estimate before a long run.

Taught in notebooks/06_speed_and_scale.

Memory: backpropagating to the pixels keeps every activation of the forward pass and creates a
gradient of the same size, so the peak is roughly ``3 x`` the activations (forward, gradient,
and a temporary per layer) plus the weights. Activations grow with H x W: doubling the long side
quadruples them, which is why 1920x1080 needs coarse-to-fine on small GPUs.
"""

from __future__ import annotations

import os

from .features import layer_names

_BYTES = {"float32": 4, "mixed_bfloat16": 2, "mixed_float16": 2}
_WORKING_SET = 3.0  # forward activations + their gradients + one temporary, measured in notebooks/06


class ResourceError(ValueError):
    """A run that cannot fit in this machine's memory; the message says what would."""


def _channels(network: str, name: str) -> int:
    if network == "squeezenet":
        sizes = {"conv1": 64, "pool1": 64, "fire2": 128, "fire3": 128, "pool3": 128, "fire4": 256,
                 "fire5": 256, "pool5": 256, "fire6": 384, "fire7": 384, "fire8": 512, "fire9": 512}
        return sizes[name]
    block = int(name[5])
    return (64, 128, 256, 512, 512)[block - 1]


def activation_bytes(network: str, height: int, width: int, deepest: str, precision: str = "float32") -> int:
    """Bytes of all activations up to ``deepest`` (a Keras layer name) for one image."""
    total, h, w = 0, height, width
    if network == "squeezenet":
        h, w = (h - 3) // 2 + 1, (w - 3) // 2 + 1  # conv1: 3x3 stride 2, valid
    for name in layer_names(network):
        if "pool" in name:
            h, w = ((h - 3) // 2 + 1, (w - 3) // 2 + 1) if network == "squeezenet" else (h // 2, w // 2)
        channels = _channels(network, name)
        # a fire module also stores its squeeze and both expand outputs
        total += h * w * channels * (2 if name.startswith("fire") else 1)
        if name == deepest:
            break
    return total * _BYTES[precision]


def available_memory() -> tuple[int, str]:
    """(bytes, where): free GPU memory when a GPU is used, else the host's available RAM."""
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        try:
            import subprocess

            out = subprocess.run(["nvidia-smi", "--query-gpu=memory.free", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=10, check=True).stdout
            return int(out.split()[0]) * 2**20, "GPU memory free (nvidia-smi)"
        except (OSError, ValueError, IndexError, subprocess.SubprocessError):
            pass
    try:
        with open("/proc/meminfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024, "RAM available"
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"), "RAM available"


def check_memory(network: str, height: int, width: int, deepest: str, precision: str = "float32",
                 available: int | None = None) -> int:
    """Raise ``ResourceError`` when an optimization at this size will not fit; return the estimate."""
    need = int(_WORKING_SET * activation_bytes(network, height, width, deepest, precision)) + 200 * 2**20
    where = "given"
    if available is None:
        available, where = available_memory()
    if need > available:
        scale = (available / need) ** 0.5
        fits = int(max(height, width) * scale) // 16 * 16
        raise ResourceError(
            f"a {width}x{height} image needs about {need / 2**30:.1f} GiB for {network} "
            f"({precision}, forward + backward) but only {available / 2**30:.1f} GiB is {where}; "
            f"use a long side of at most ~{fits} px or a mixed precision")
    return need
