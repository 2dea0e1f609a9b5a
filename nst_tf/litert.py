"""Running TF Lite models fast on a CPU: the LiteRT interpreter and an XNNPACK-friendly graph.

Taught in notebooks/07_fast_style_transfer.

The Magenta transfer network pads by reflection 16 times. XNNPACK (the CPU library TF Lite hands
graphs to) has no reflection pad, so the graph fell apart into 16 pieces and every pad ran in a
slow reference kernel: about half of the time per frame. ``xnnpack_friendly`` rewrites each pad,
in memory, into row/column slices and concatenations that XNNPACK runs; the output is
bit-identical (tested). It also frees the upsampling sizes, which the release hard-codes to 384,
so the network can paint any size.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf


def new_interpreter(model: bytes, num_threads: int, size: tuple[int, int] | None = None):
    """A ready interpreter, built with fd 2 muted: the runtime prints an INFO line nothing else stops."""
    import sys

    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            interpreter = interpreter_class()(model_content=model, num_threads=num_threads)
            if size is not None:
                image = [d for d in interpreter.get_input_details() if d["name"] == "content_image"][0]
                interpreter.resize_tensor_input(image["index"], [1, *size, 3])
            interpreter.allocate_tensors()
            return interpreter
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def interpreter_class():
    """LiteRT's Interpreter; ``tf.lite.Interpreter`` (deprecated in TF 2.21) where it is missing."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # e.g. Colab without ai-edge-litert
        Interpreter = tf.lite.Interpreter
    return Interpreter


def xnnpack_friendly(model_bytes: bytes, size: tuple[int, int] | None = None) -> bytes:
    """Rewrite the transfer model so that XNNPACK runs all of it, optionally for another size.

    XNNPACK has no MIRROR_PAD: each of the 16 reflection pads split the graph and ran in a slow
    reference kernel (about half the time). A reflection is the same rows copied in mirror order,
    so it becomes row slices + concatenations (at most 5 inputs each, XNNPACK's limit): the
    output is bit-identical. ``size``: the upsampling layers have constant output sizes (384);
    patching them lets the fully convolutional network paint any H x W (multiples of 4).
    """
    try:
        from ai_edge_litert import schema_py_generated as S
        from ai_edge_litert.tools import flatbuffer_utils as fu
    except ImportError:  # the same helpers as TensorFlow ships them (Colab without ai-edge-litert)
        from tensorflow.lite.python import schema_py_generated as S
        from tensorflow.lite.tools import flatbuffer_utils as fu

    model = fu.read_model_from_bytearray(bytearray(model_bytes))
    graph, Op = model.subgraphs[0], S.BuiltinOperator

    def opcode(builtin):
        codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in model.operatorCodes]
        if builtin not in codes:
            code = S.OperatorCodeT()
            code.builtinCode, code.deprecatedBuiltinCode, code.version = builtin, min(builtin, 127), 1
            model.operatorCodes.append(code)
            codes.append(builtin)
        return codes.index(builtin)

    def tensor(like, shape, values=None):
        buffer = S.BufferT()
        buffer.data = None if values is None else np.asarray(values, np.int32).tobytes()
        model.buffers.append(buffer)
        t = S.TensorT()
        t.shape, t.buffer, t.name = list(shape), len(model.buffers) - 1, f"nst_{len(graph.tensors)}".encode()
        t.type, t.quantization = (S.TensorType.INT32, None) if values is not None else (like.type, like.quantization)
        graph.tensors.append(t)
        return len(graph.tensors) - 1

    def op(builtin, inputs, output, options_type, options):
        o = S.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = opcode(builtin), list(inputs), [output]
        o.builtinOptionsType, o.builtinOptions = options_type, options
        return o

    mirror, resize, ops = opcode(Op.MIRROR_PAD), opcode(Op.RESIZE_NEAREST_NEIGHBOR), []
    for o in graph.operators:
        if o.opcodeIndex == resize and size is not None:
            target = graph.tensors[o.inputs[1]]
            scale = 2 if np.frombuffer(model.buffers[target.buffer].data, np.int32)[0] == 192 else 1
            model.buffers[target.buffer].data = np.array([size[0] // scale, size[1] // scale], np.int32).tobytes()
        if o.opcodeIndex != mirror or o.builtinOptions.mode != S.MirrorPadMode.REFLECT:
            ops.append(o)
            continue
        pads = np.frombuffer(model.buffers[graph.tensors[o.inputs[1]].buffer].data, np.int32).reshape(-1, 2)
        current = o.inputs[0]
        for axis in (1, 2):
            p, like = int(pads[axis][0]), graph.tensors[current]
            rows = []
            for index in [*range(p, 0, -1), None, *range(-2, -2 - p, -1)]:  # mirror, edge row excluded
                if index is None:
                    rows.append(current)
                    continue
                begin, end = [0] * 4, [0] * 4
                begin[axis], end[axis] = index, index + 1
                options = S.StridedSliceOptionsT()
                options.beginMask = options.endMask = 0b1111 & ~(1 << axis)
                if index == -1:
                    options.endMask |= 1 << axis
                shape = list(like.shape)
                shape[axis] = 1
                rows.append(tensor(like, shape))
                ops.append(op(Op.STRIDED_SLICE, [current, tensor(None, [4], begin), tensor(None, [4], end),
                                                 tensor(None, [4], [1] * 4)], rows[-1],
                              S.BuiltinOptions.StridedSliceOptions, options))
            options = S.ConcatenationOptionsT()
            options.axis = axis
            while len(rows) > 5:
                shape = list(graph.tensors[rows[4]].shape)
                shape[axis] = sum(graph.tensors[r].shape[axis] for r in rows[:5])
                merged = tensor(like, shape)
                ops.append(op(Op.CONCATENATION, rows[:5], merged, S.BuiltinOptions.ConcatenationOptions, options))
                rows = [merged, *rows[5:]]
            shape = list(like.shape)
            shape[axis] += 2 * p
            out = o.outputs[0] if axis == 2 else tensor(like, shape)
            ops.append(op(Op.CONCATENATION, rows, out, S.BuiltinOptions.ConcatenationOptions, options))
            current = out
    graph.operators = ops
    return bytes(fu.convert_object_to_bytearray(model))
