"""Numeric precision of the feature network: float32, mixed bfloat16 or mixed float16.

Taught in notebooks/06_speed_and_scale.

"Mixed" means the convolutions run in 16 bits while the weights stay float32 and everything that
sums many numbers (Gram matrices, losses, the pixels and their gradient) stays float32
(``losses.py`` upcasts). bfloat16 keeps float32's exponent range, so nothing overflows; it is the
fast path on CPUs with AVX512-BF16/AMX and on recent GPUs. float16 has more mantissa but a tiny
range (max 65504): on GPUs without bf16 (Colab's T4) it needs *loss scaling*, done in
``optimize.py``.
"""

from __future__ import annotations

import contextlib
import os

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def detect_precision() -> str:
    """The fastest precision that is safe on this machine's hardware.

    GPU: compute capability >= 8.0 (A100, L4, RTX 30xx+) has bf16 tensor cores; 7.x (T4, V100)
    has fp16 tensor cores only. CPU: bf16 needs AVX512-BF16 or AMX, else float32.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        major = (details.get("compute_capability") or (0, 0))[0]
        return "mixed_bfloat16" if major >= 8 else "mixed_float16" if major >= 7 else "float32"
    flags = _cpu_flags()
    return "mixed_bfloat16" if {"avx512_bf16", "amx_bf16"} & flags else "float32"


def resolve_precision(precision: str | None) -> str:
    """``None``/"auto": ``NST_PRECISION`` or the detected default; otherwise validate the name."""
    if precision in (None, "auto"):
        precision = os.environ.get("NST_PRECISION", "").strip() or detect_precision()
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} or 'auto', got {precision!r}")
    return precision


def compute_dtype(precision: str):
    import tensorflow as tf

    return {"float32": tf.float32, "mixed_bfloat16": tf.bfloat16, "mixed_float16": tf.float16}[precision]


@contextlib.contextmanager
def dtype_policy(precision: str):
    """Build Keras layers under ``precision``, then restore the global policy."""
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
