"""onnxruntime as the float reference for tests: one thread, sample batches."""
import numpy as np
import onnxruntime as ort


def graph_input(model):
    """The first graph input that is not an initializer."""
    inits = {i.name for i in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in inits][0]


def ort_outputs(model, x, shape=None):
    """onnxruntime's first output on x (samples first), batch by batch; `shape`
    overrides the declared input shape (its first entry is the batch)."""
    inp = graph_input(model)
    if shape is not None:
        for d, v in zip(inp.type.tensor_type.shape.dim, shape):
            d.dim_value = v
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    try:
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception:
        # onnxruntime has no kernels for some very old opsets (Gemm-6): the
        # reference runs the model converted by onnx's version converter.
        from onnx import version_converter
        model = version_converter.convert_version(model, 13)
        sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    batch = sess.get_inputs()[0].shape[0]
    batch = batch if isinstance(batch, int) else x.shape[0]
    return np.concatenate([sess.run(None, {inp.name: x[i:i + batch]})[0] for i in range(0, x.shape[0], batch)])
