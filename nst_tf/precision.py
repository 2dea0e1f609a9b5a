"""Numeric precision of the feature network: float32, mixed bfloat16 or mixed float16.

Taught in notebooks/06_speed_and_scale.

"Mixed" means the convolutions run in 16 bits while the weights stay float32 and everything that
sums many numbers (Gram matrices, losses, the pixels and their gradient) stays float32
(``losses.py`` upcasts). bfloat16 keeps float32's exponent range, so nothing overflows; it is the
fast path on CPUs with AVX512-BF16/AMX and on GPUs of compute capability 8.0+ (A100, L4).

float16 has more mantissa but a tiny range (max 65504, nothing below 6e-8): its gradients need
dynamic *loss scaling* (``loss_scale.py``), which skips a step whenever the scale was too high.
That works, but it is one more moving part that can surprise in a live lecture, so the automatic
choice never picks it: a T4 or V100 (Colab's default GPUs, no bf16 units) runs float32, slower
but safe. ``precision="mixed_float16"`` stays available for whoever opts in.
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
    """The precision ``precision="auto"`` picks: the fastest one that needs no loss scaling.

    GPU: compute capability >= 8.0 (A100, L4, RTX 30xx+) has bf16 tensor cores -> "mixed_bfloat16".
    Every other GPU (T4 and V100: fp16 tensor cores only) -> "float32": float16 would need loss
    scaling, which skips steps and can still surprise in a live lecture, so it is opt-in only.
    CPU: "mixed_bfloat16" with AVX512-BF16 or AMX, else "float32".
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        major = (details.get("compute_capability") or (0, 0))[0]
        return "mixed_bfloat16" if major >= 8 else "float32"
    flags = _cpu_flags()
    return "mixed_bfloat16" if {"avx512_bf16", "amx_bf16"} & flags else "float32"


def precision_from_environment() -> str | None:
    """``NST_PRECISION`` if set to a precision, None if unset or "auto"; ``ValueError`` otherwise.
    Needs no TensorFlow (the command line checks it before the import)."""
    chosen = os.environ.get("NST_PRECISION", "").strip()
    if chosen and chosen != "auto" and chosen not in PRECISIONS:
        raise ValueError(f"the environment variable NST_PRECISION={chosen!r} is not a precision: set it to "
                         f"one of {', '.join(PRECISIONS)} or auto, or unset it")
    return chosen if chosen and chosen != "auto" else None


def resolve_precision(precision: str | None) -> str:
    """``None``/"auto": ``NST_PRECISION`` or the detected default; otherwise validate the name."""
    if precision in (None, "auto"):
        precision = precision_from_environment() or detect_precision()
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
