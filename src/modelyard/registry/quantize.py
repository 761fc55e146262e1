"""Dynamic int8 quantization of an ONNX package, kept only with its measurements.

``onnxruntime.quantization.quantize_dynamic`` stores float32 MatMul weights as
int8 (linear models, the MLP). Our graphs compute in double (so they match the
native model to 1e-4), so each double MatMul with a constant weight is first
rewritten to float32 between two Casts; the rest of the graph stays double. Tree ensembles have no such weights, so for them the
result says so and nothing is kept. When it applies, the accuracy delta and the
speed-up against the float ONNX package (itself within the parity tolerance of
the native model) are measured on the registration sample and recorded with the
package; without sample targets there is no delta, so no int8 package either.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["QUANTIZED_OPS", "quantize_onnx"]

QUANTIZED_OPS = frozenset({"MatMulInteger", "DynamicQuantizeLinear", "QLinearMatMul"})


class NothingToQuantize(Exception):
    """The graph has no weights dynamic quantization applies to."""


def quantize_onnx(model_bytes: bytes) -> bytes:
    """The model with its MatMul/Gemm weights quantized to int8.

    Raises:
        NothingToQuantize: No operator was quantized (e.g. a tree ensemble).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="modelyard-quant-") as tmp:
        src, dst = Path(tmp) / "model.onnx", Path(tmp) / "model.int8.onnx"
        src.write_bytes(_float32_matmuls(model_bytes))
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
        quantized = dst.read_bytes()
    ops = {node.op_type for node in onnx.load_from_string(quantized).graph.node}
    if not ops & QUANTIZED_OPS:
        raise NothingToQuantize("no MatMul/Gemm weights to quantize (tree models have none)")
    return quantized


def _float32_matmuls(model_bytes: bytes) -> bytes:
    """Double MatMuls with a constant weight become float32 MatMuls between Casts."""
    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    nodes = []
    for node in graph.node:
        weight = weights.get(node.input[1]) if node.op_type == "MatMul" else None
        if weight is None or weight.data_type != TensorProto.DOUBLE:
            nodes.append(node)
            continue
        f32 = numpy_helper.from_array(
            numpy_helper.to_array(weight).astype(np.float32), f"{weight.name}_f32"
        )
        graph.initializer.append(f32)
        x, out = node.input[0], node.output[0]
        nodes += [
            helper.make_node("Cast", [x], [f"{x}_{out}_f32"], to=TensorProto.FLOAT),
            helper.make_node("MatMul", [f"{x}_{out}_f32", f32.name], [f"{out}_f32"]),
            helper.make_node("Cast", [f"{out}_f32"], [out], to=TensorProto.DOUBLE),
        ]
    del graph.node[:]
    graph.node.extend(nodes)
    data: bytes = model.SerializeToString()
    return data
