#!/usr/bin/env python3
"""Writes the corpus of broken ONNX models and bad input data for qcc.

Usage:
    python3 tests/bad_models/make_bad_models.py [OUT_DIR]

OUT_DIR defaults to this script's folder. Every case writes its file(s) there
and adds one entry to OUT_DIR/expected.json:

    {"file": model file name,
     "command": "inspect" | "run",
     "input": data file for "run" (absent: good_input.npy),
     "input_kind": "empty_dir" (the checker makes a fresh empty folder),
     "args": extra command-line arguments,
     "expect": "error" (default) | "success" (control cases),
     "must_contain": substrings of stderr; an inner list means "any one of",
     "why": what is broken}

check_bad_models.py runs qcc on every entry. The output is deterministic
(fixed seeds, no timestamps) so regenerating does not churn the repository.
"""
import io
import json
import os
import struct
import sys
import zipfile
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
F32 = TensorProto.FLOAT

# Wording accepted for "these two shapes do not fit together".
MISMATCH = ["mismatch", "does not match", "do not match", "incompatible", "differ", "expected"]


def tensor_info(name, shape, elem=F32):
    return helper.make_tensor_value_info(name, elem, shape)


def make_model(nodes, inputs, outputs, initializers=(), opsets=(("", OPSET),), name="bad"):
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    model.ir_version = 8
    return model


def const_f32(name, shape, seed=0):
    rng = np.random.default_rng(seed)
    return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), name)


def external_tensor(name, dims, location, offset=None, length=None):
    t = TensorProto()
    t.name = name
    t.data_type = F32
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", offset), ("length", length)):
        if value is not None:
            entry = t.external_data.add()
            entry.key = key
            entry.value = str(value)
    return t


def add_model(init, input_shape=(1, 4), node_name="add_init"):
    """x + init -> y, the smallest model that carries one initializer."""
    node = helper.make_node("Add", ["x", init.name], ["y"], name=node_name)
    return make_model([node], [tensor_info("x", list(input_shape))], [tensor_info("y", None)], [init])


def single_node_model(op, node_name, inputs, initializers, out_shape=None, **attrs):
    """One `op` node over graph inputs (name, shape) and initializers."""
    node = helper.make_node(op, [n for n, _ in inputs] + [t.name for t in initializers], ["y"],
                            name=node_name, **attrs)
    return make_model([node], [tensor_info(n, s) for n, s in inputs], [tensor_info("y", out_shape)],
                      initializers)


class Corpus:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.entries = []

    def path(self, name):
        return os.path.join(self.out_dir, name)

    def write_bytes(self, name, data):
        with open(self.path(name), "wb") as f:
            f.write(data)

    def save(self, name, model):
        self.write_bytes(name, model.SerializeToString())

    def expect(self, file, why, must_contain, command="inspect", **extra):
        entry = {"file": file, "command": command}
        entry.update(extra)
        entry["expect"] = entry.get("expect", "error")
        entry["must_contain"] = must_contain
        entry["why"] = why
        self.entries.append(entry)

    def write_expected(self):
        with open(self.path("expected.json"), "w") as f:
            json.dump(self.entries, f, indent=1)
            f.write("\n")


def not_protobuf(data):
    """True when onnx cannot parse `data` as a ModelProto."""
    try:
        onnx.ModelProto().ParseFromString(data)
    except Exception:
        return True
    return False


def save_npz(path, **arrays):
    """np.savez with a fixed timestamp, so regenerating gives the same bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.save(buf, array)
            z.writestr(zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())


def zip_with_lying_size(name, claimed):
    """A one-entry stored zip of a valid (4,4) float32 .npy whose zip64 size
    fields claim `claimed` bytes (libzip reports that size to the reader)."""
    buf = io.BytesIO()
    np.save(buf, np.zeros((4, 4), np.float32))
    payload = buf.getvalue()
    crc = zlib.crc32(payload)
    fname = name.encode()
    zip64 = struct.pack("<HHQQ", 1, 16, claimed, claimed)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF, len(fname),
                        len(zip64)) + fname + zip64
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 0, 0, 0, crc, 0xFFFFFFFF, 0xFFFFFFFF,
                          len(fname), len(zip64), 0, 0, 0, 0, 0) + fname + zip64
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central), len(local) + len(payload), 0)
    return local + payload + central + end


# ---- controls: these must succeed, so the failures below are the broken part's


def controls(c):
    good = add_model(const_f32("bias", [1, 4]), input_shape=(2, 4), node_name="add_bias")
    c.save("good_add.onnx", good)
    np.save(c.path("good_input.npy"), np.arange(16, dtype=np.float32).reshape(4, 4))
    c.expect("good_add.onnx", "control: a valid model", ["add_bias"], expect="success")
    c.expect("good_add.onnx", "control: a valid model on valid data", [], command="run",
             input="good_input.npy", expect="success")
    save_npz(c.path("good_input.npz"), x=np.arange(16, dtype=np.float32).reshape(4, 4))
    c.expect("good_add.onnx", "control: valid data as .npz", [], command="run", input="good_input.npz",
             expect="success")


# ---- files that are not ONNX models


def broken_files(c):
    valid = add_model(const_f32("big_w", [1, 256]), input_shape=(1, 256)).SerializeToString()
    half = valid[: len(valid) // 2]
    assert not_protobuf(half)
    c.write_bytes("half_model.onnx", half)
    c.expect("half_model.onnx", "a valid model cut in half",
             ["half_model.onnx", "not a valid ONNX model", "truncated"])

    rng = np.random.default_rng(1234)
    noise = rng.integers(0, 256, 1024, dtype=np.uint8).tobytes()
    assert not_protobuf(noise)
    c.write_bytes("random_bytes.onnx", noise)
    c.expect("random_bytes.onnx", "1 KiB of random bytes", ["random_bytes.onnx", "not a valid ONNX model"])

    c.write_bytes("zero_bytes.onnx", b"")
    c.expect("zero_bytes.onnx", "an empty file (which parses as an empty ModelProto)",
             ["zero_bytes.onnx", "empty"])

    no_graph = onnx.ModelProto()
    no_graph.ir_version = 8
    no_graph.opset_import.add().version = OPSET
    c.save("no_graph.onnx", no_graph)
    c.expect("no_graph.onnx", "a ModelProto without a graph", ["no_graph.onnx", "no graph"])


# ---- graph structure


def structure(c):
    cycle = make_model(
        [helper.make_node("Add", ["x", "b_out"], ["a_out"], name="loop_add"),
         helper.make_node("Neg", ["a_out"], ["b_out"], name="loop_neg")],
        [tensor_info("x", [1, 4])], [tensor_info("b_out", None)])
    c.save("two_node_loop.onnx", cycle)
    c.expect("two_node_loop.onnx", "two nodes feed each other", ["two_node_loop.onnx", "loop_add", "(Add)", "cycle"])

    self_loop = make_model([helper.make_node("Neg", ["s"], ["s"], name="eats_itself")],
                           [tensor_info("x", [1, 4])], [tensor_info("s", None)])
    c.save("self_loop.onnx", self_loop)
    c.expect("self_loop.onnx", "a node consumes its own output", ["self_loop.onnx", "eats_itself", "(Neg)", "cycle"])

    missing = make_model([helper.make_node("Add", ["x", "ghost"], ["y"], name="use_ghost")],
                         [tensor_info("x", [1, 4])], [tensor_info("y", None)])
    c.save("missing_input.onnx", missing)
    c.expect("missing_input.onnx", "a node input that nothing defines",
             ["missing_input.onnx", "use_ghost", "(Add)", "'ghost'", "output of any node"])

    no_producer = make_model([helper.make_node("Neg", ["x"], ["y"], name="neg_x")],
                             [tensor_info("x", [1, 4])], [tensor_info("nowhere", None)])
    c.save("output_not_produced.onnx", no_producer)
    c.expect("output_not_produced.onnx", "a graph output that no node produces",
             ["output_not_produced.onnx", "'nowhere'", "not produced"])

    shadow = make_model([helper.make_node("Neg", ["x"], ["w"], name="neg_into_w")],
                        [tensor_info("x", [1, 4])], [tensor_info("w", None)], [const_f32("w", [1, 4])])
    c.save("output_shadows_initializer.onnx", shadow)
    c.expect("output_shadows_initializer.onnx", "a node output reuses an initializer's name",
             ["output_shadows_initializer.onnx", "neg_into_w", "(Neg)", "'w'", "already defined"])

    twice = add_model(const_f32("dup", [1, 4]))
    twice.graph.initializer.append(const_f32("dup", [1, 4], seed=1))
    c.save("initializer_twice.onnx", twice)
    c.expect("initializer_twice.onnx", "two initializers with one name",
             ["initializer_twice.onnx", "'dup'", "defined twice"])


# ---- initializers and external data


def initializers(c):
    raw = const_f32("bad_raw", [4, 4])
    raw.raw_data = raw.raw_data[:12]
    c.save("raw_data_wrong_size.onnx", add_model(raw, input_shape=(4, 4)))
    c.expect("raw_data_wrong_size.onnx", "raw_data holds 3 floats, dims [4,4] need 16",
             ["raw_data_wrong_size.onnx", "'bad_raw'", "3 values", "needs 16"])

    neg = TensorProto(name="neg_w", data_type=F32, dims=[2, -3], raw_data=b"\0" * 24)
    c.save("negative_dim_initializer.onnx", add_model(neg))
    c.expect("negative_dim_initializer.onnx", "an initializer with dims [2,-3]",
             ["negative_dim_initializer.onnx", "'neg_w'", "negative dimension -3"])

    huge = TensorProto(name="huge_w", data_type=F32, dims=[2**31] * 3, raw_data=b"\0" * 4)
    c.save("initializer_2e31_cubed.onnx", add_model(huge))
    c.expect("initializer_2e31_cubed.onnx", "dims [2^31,2^31,2^31]: the element count overflows int64",
             ["initializer_2e31_cubed.onnx", "'huge_w'", "2147483648", ["too large", "absurdly large", "overflow"]])

    # 2^32 floats claimed (the most the loader accepts), 4 bytes given: the size
    # check must come before the 16 GiB buffer is allocated and zeroed.
    big = TensorProto(name="big_w", data_type=F32, dims=[2**16, 2**16], raw_data=b"\0" * 4)
    c.save("raw_data_lies_big.onnx", add_model(big))
    c.expect("raw_data_lies_big.onnx", "dims [65536,65536] with 4 bytes of raw_data",
             ["raw_data_lies_big.onnx", "'big_w'", "1 values", "needs 4294967296"])

    strings = helper.make_tensor("str_w", TensorProto.STRING, [1], [b"hello"])
    c.save("string_initializer.onnx", add_model(strings))
    c.expect("string_initializer.onnx", "an initializer of element type STRING",
             ["string_initializer.onnx", "'str_w'", "unsupported element type STRING"])

    # External data: paths that escape the model's folder are refused before
    # anything is opened; ext_small.bin is a real 16-byte file beside the models.
    c.write_bytes("ext_small.bin", bytes(range(16)))
    c.save("ext_parent_escape.onnx", add_model(external_tensor("ext_w", [1, 4], "../../etc/passwd")))
    c.expect("ext_parent_escape.onnx", "external data location ../../etc/passwd",
             ["ext_parent_escape.onnx", "'ext_w'", "../../etc/passwd", "outside the model's folder"])

    c.save("ext_absolute.onnx", add_model(external_tensor("abs_w", [1, 4], "/etc/passwd")))
    c.expect("ext_absolute.onnx", "external data at an absolute path",
             ["ext_absolute.onnx", "'abs_w'", "/etc/passwd", "outside the model's folder"])

    c.save("ext_past_end.onnx", add_model(external_tensor("tail_w", [1, 4], "ext_small.bin", offset=8, length=16)))
    c.expect("ext_past_end.onnx", "offset 8 + length 16 past the end of a 16-byte file",
             ["ext_past_end.onnx", "'tail_w'", "ext_small.bin", "16 bytes"])

    c.save("ext_offset_past_end.onnx", add_model(external_tensor("far_w", [1, 4], "ext_small.bin", offset=4096)))
    c.expect("ext_offset_past_end.onnx", "offset 4096 in a 16-byte file",
             ["ext_offset_past_end.onnx", "'far_w'", "ext_small.bin", "offset 4096"])

    c.save("ext_length_overflow.onnx",
           add_model(external_tensor("wrap_w", [1, 4], "ext_small.bin", offset=8, length=2**63 - 1)))
    c.expect("ext_length_overflow.onnx", "offset + length overflows int64",
             ["ext_length_overflow.onnx", "'wrap_w'", "ext_small.bin", "16 bytes"])

    c.save("ext_location_dir.onnx", add_model(external_tensor("dir_w", [1, 4], ".")))
    c.expect("ext_location_dir.onnx", "external data location '.' (the model's own folder)",
             ["ext_location_dir.onnx", "'dir_w'", ["not a regular file", "not a file", "is a directory"]])

    c.save("ext_missing_file.onnx", add_model(external_tensor("gone_w", [1, 4], "no_such_weights.bin")))
    c.expect("ext_missing_file.onnx", "external data file that does not exist",
             ["ext_missing_file.onnx", "'gone_w'", "no_such_weights.bin"])


# ---- graph inputs


def graph_inputs(c):
    neg = make_model([helper.make_node("Neg", ["x"], ["y"], name="neg_x")],
                     [tensor_info("x", [1, 0])], [tensor_info("y", None)])
    c.save("input_dim_zero.onnx", neg)
    c.expect("input_dim_zero.onnx", "graph input with shape [1,0]",
             ["input_dim_zero.onnx", "graph input 'x'", "dimension 0"])

    neg = make_model([helper.make_node("Neg", ["x"], ["y"], name="neg_x")],
                     [tensor_info("x", [1, -5])], [tensor_info("y", None)])
    c.save("input_dim_negative.onnx", neg)
    c.expect("input_dim_negative.onnx", "graph input with shape [1,-5]",
             ["input_dim_negative.onnx", "graph input 'x'", "dimension -5"])

    huge = make_model([helper.make_node("Neg", ["x"], ["y"], name="neg_x")],
                      [tensor_info("x", [2**40, 2**40])], [tensor_info("y", None)])
    c.save("input_huge_dims.onnx", huge)
    c.expect("input_huge_dims.onnx", "graph input with shape [2^40,2^40]",
             ["input_huge_dims.onnx", "graph input 'x'", ["too large", "absurdly large", "overflow"]])

    seq = helper.make_tensor_sequence_value_info("s", F32, [1, 4])
    c.save("input_sequence.onnx", make_model([helper.make_node("Neg", ["x"], ["y"], name="neg_x")],
                                             [tensor_info("x", [1, 4]), seq], [tensor_info("y", None)]))
    c.expect("input_sequence.onnx", "a graph input of sequence type",
             ["input_sequence.onnx", "graph input 's'", "not a tensor"])

    c.save("input_undefined_type.onnx",
           make_model([helper.make_node("Neg", ["x"], ["y"], name="neg_x")],
                      [tensor_info("x", [1, 4], TensorProto.UNDEFINED)], [tensor_info("y", None)]))
    c.expect("input_undefined_type.onnx", "a graph input of element type UNDEFINED",
             ["input_undefined_type.onnx", "graph input 'x'", "unsupported element type UNDEFINED"])

    sym = make_model([helper.make_node("Neg", ["x"], ["y"], name="neg_x")],
                     [tensor_info("x", [1, "width"])], [tensor_info("y", None)])
    c.save("input_symbolic_dim.onnx", sym)
    c.expect("input_symbolic_dim.onnx", "a symbolic non-batch dimension without --input-shape",
             ["input_symbolic_dim.onnx", "graph input 'x'", "'width'", "--input-shape"])
    c.expect("input_symbolic_dim.onnx", "--input-shape with a zero dimension",
             ["x=1x0", "not a positive dimension"], args=["--input-shape", "x=1x0"])


# ---- ops, domains and opsets


def ops_and_domains(c):
    x = [("x", [1, 4])]
    c.save("unsupported_op.onnx", single_node_model("FooBar", "mystery", x, []))
    c.expect("unsupported_op.onnx", "a made-up op in the default domain",
             ["unsupported_op.onnx", "mystery", "FooBar", "unsupported op", "opset 13"])

    boxes = [("boxes", [1, 6, 4]), ("scores", [1, 1, 6])]
    c.save("unsupported_nms.onnx", single_node_model("NonMaxSuppression", "nms", boxes, []))
    c.expect("unsupported_nms.onnx", "a real ONNX op qcc does not implement",
             ["unsupported_nms.onnx", "'nms'", "NonMaxSuppression", "unsupported op", "opset 13"])

    node = helper.make_node("Frobnicate", ["x"], ["y"], name="frob", domain="com.example")
    model = make_model([node], [tensor_info("x", [1, 4])], [tensor_info("y", None)],
                       opsets=(("", OPSET), ("com.example", 1)))
    c.save("unknown_domain.onnx", model)
    c.expect("unknown_domain.onnx", "an op in domain com.example (imported at opset 1)",
             ["unknown_domain.onnx", "'frob'", "Frobnicate", "com.example", "unsupported domain", "opset 1"])

    node = helper.make_node("FusedConv", ["x"], ["y"], name="fused", domain="com.microsoft")
    c.save("domain_without_opset.onnx", make_model([node], [tensor_info("x", [1, 4])], [tensor_info("y", None)]))
    c.expect("domain_without_opset.onnx", "a node in a domain with no opset import",
             ["domain_without_opset.onnx", "'fused'", "FusedConv", "com.microsoft", "no opset import"])

    model = single_node_model("Neg", "neg_x", x, [])
    model.opset_import[0].version = 99
    c.save("opset_99.onnx", model)
    c.expect("opset_99.onnx", "default-domain opset 99", ["opset_99.onnx", "opset 99", "not supported"])

    model = single_node_model("Neg", "neg_x", x, [])
    del model.opset_import[:]
    c.save("no_opset_import.onnx", model)
    c.expect("no_opset_import.onnx", "no opset import at all", ["no_opset_import.onnx", "no opset import"])

    c.save("add_2x3_and_4.onnx", single_node_model("Add", "add_mismatch", [("a", [2, 3]), ("b", [4])], []))
    c.expect("add_2x3_and_4.onnx", "Add of [2,3] and [4]: not broadcastable",
             ["add_2x3_and_4.onnx", "add_mismatch", "(Add)", "broadcast"])

    node = helper.make_node("Add", ["x", "x"], ["y"], name="add_graph_attr",
                            body=helper.make_graph([], "inner", [], []))
    c.save("graph_attribute.onnx", make_model([node], [tensor_info("x", [1, 4])], [tensor_info("y", None)]))
    c.expect("graph_attribute.onnx", "a GRAPH-valued attribute on Add",
             ["graph_attribute.onnx", "add_graph_attr", "(Add)", "'body'", "GRAPH"])

    node = helper.make_node("Constant", [], ["y"], name="empty_const")
    c.save("constant_no_value.onnx", make_model([node], [], [tensor_info("y", None)]))
    c.expect("constant_no_value.onnx", "a Constant node without a value attribute",
             ["constant_no_value.onnx", "empty_const", "(Constant)", "value"])


# ---- op-specific shape validation (Conv, Gemm, MatMul, Reshape, Concat)


def op_shapes(c):
    image = [("x", [1, 3, 8, 8])]
    c.save("conv_weight_rank.onnx", single_node_model("Conv", "bad_rank_conv", image, [const_f32("w3", [8, 3, 3])]))
    c.expect("conv_weight_rank.onnx", "Conv weight of rank 3 for a 4-D input",
             ["conv_weight_rank.onnx", "bad_rank_conv", "(Conv)", "rank 3"])

    c.save("conv_w8x4_on_3ch.onnx", single_node_model("Conv", "chan_conv", image, [const_f32("w4", [8, 4, 3, 3])]))
    c.expect("conv_w8x4_on_3ch.onnx", "Conv weight [8,4,3,3] (4 input channels) on a 3-channel input",
             ["conv_w8x4_on_3ch.onnx", "chan_conv", "(Conv)", "channel"])

    c.save("gemm_inner.onnx", single_node_model("Gemm", "gemm_k", [("a", [2, 3])], [const_f32("b", [4, 5])]))
    c.expect("gemm_inner.onnx", "Gemm of [2,3] by [4,5]: inner dimensions 3 and 4",
             ["gemm_inner.onnx", "gemm_k", "(Gemm)", MISMATCH])

    c.save("matmul_inner.onnx", single_node_model("MatMul", "matmul_k", [("a", [2, 3])], [const_f32("b", [4, 5])]))
    c.expect("matmul_inner.onnx", "MatMul of [2,3] by [4,5]: inner dimensions 3 and 4",
             ["matmul_inner.onnx", "matmul_k", "(MatMul)", MISMATCH])

    shape = numpy_helper.from_array(np.array([5, 5], dtype=np.int64), "new_shape")
    c.save("reshape_count.onnx", single_node_model("Reshape", "reshape_x", [("x", [2, 3, 4])], [shape]))
    c.expect("reshape_count.onnx", "Reshape of 24 elements to [5,5] (25 elements)",
             ["reshape_count.onnx", "reshape_x", "(Reshape)", "24", "25"])

    c.save("concat_2x3_4x5.onnx",
           single_node_model("Concat", "concat_bad", [("a", [2, 3]), ("b", [4, 5])], [], axis=1))
    c.expect("concat_2x3_4x5.onnx", "Concat on axis 1 of [2,3] and [4,5]: axis 0 differs",
             ["concat_2x3_4x5.onnx", "concat_bad", "(Concat)", MISMATCH])


# ---- attribute and index validation in other ops


def op_attributes(c):
    image = [("x", [1, 3, 8, 8])]

    def i64(name, values):
        return numpy_helper.from_array(np.array(values, dtype=np.int64), name)

    c.save("conv_group_2_of_3ch.onnx",
           single_node_model("Conv", "g_conv", image, [const_f32("w", [4, 1, 3, 3])], group=2))
    c.expect("conv_group_2_of_3ch.onnx", "Conv group=2 on 3 input channels",
             ["conv_group_2_of_3ch.onnx", "g_conv", "(Conv)", "group 2"])

    c.save("conv_zero_strides.onnx",
           single_node_model("Conv", "s_conv", image, [const_f32("w", [4, 3, 3, 3])], strides=[0, 0]))
    c.expect("conv_zero_strides.onnx", "Conv strides [0,0]", ["conv_zero_strides.onnx", "s_conv", "(Conv)", "strides"])

    c.save("conv_negative_pads.onnx",
           single_node_model("Conv", "p_conv", image, [const_f32("w", [4, 3, 3, 3])], pads=[-1, -1, -1, -1]))
    c.expect("conv_negative_pads.onnx", "Conv pads [-1,-1,-1,-1]",
             ["conv_negative_pads.onnx", "p_conv", "(Conv)", "pads"])

    c.save("maxpool_9x9_on_8x8.onnx", single_node_model("MaxPool", "mp", image, [], kernel_shape=[9, 9]))
    c.expect("maxpool_9x9_on_8x8.onnx", "MaxPool window 9x9 on an 8x8 input",
             ["maxpool_9x9_on_8x8.onnx", "'mp'", "(MaxPool)", ["larger", "exceeds", "too large", "too big"]])

    c.save("transpose_0_0_5.onnx", single_node_model("Transpose", "tp", [("x", [2, 3, 4])], [], perm=[0, 0, 5]))
    c.expect("transpose_0_0_5.onnx", "Transpose perm [0,0,5] on a rank-3 input",
             ["transpose_0_0_5.onnx", "'tp'", "(Transpose)", "perm",
              ["not a permutation", "invalid", "repeat", "out of range", "duplicate"]])

    slice_inputs = [i64("starts", [0]), i64("ends", [4]), i64("axes", [1]), i64("steps", [0])]
    c.save("slice_zero_step.onnx", single_node_model("Slice", "sl", [("x", [2, 6])], slice_inputs))
    c.expect("slice_zero_step.onnx", "Slice with step 0", ["slice_zero_step.onnx", "'sl'", "(Slice)", "step"])

    c.save("reshape_two_minus1.onnx", single_node_model("Reshape", "r2", [("x", [2, 3, 4])], [i64("s", [-1, -1])]))
    c.expect("reshape_two_minus1.onnx", "Reshape to [-1,-1]", ["reshape_two_minus1.onnx", "'r2'", "(Reshape)", "-1"])

    c.save("softmax_axis_4.onnx", single_node_model("Softmax", "sm", [("x", [2, 3])], [], axis=4))
    c.expect("softmax_axis_4.onnx", "Softmax axis 4 on a rank-2 input",
             ["softmax_axis_4.onnx", "'sm'", "(Softmax)", "axis 4", "out of range"])

    # Constant indices: found while folding at import.
    nodes = [helper.make_node("Gather", ["table", "idx"], ["g"], name="gather_const"),
             helper.make_node("Add", ["x", "g"], ["y"], name="add_g")]
    c.save("gather_const_index_7.onnx", make_model(nodes, [tensor_info("x", [1, 2])], [tensor_info("y", None)],
                                                   [const_f32("table", [4, 2]), i64("idx", [[7]])]))
    c.expect("gather_const_index_7.onnx", "Gather of row 7 from a 4-row constant (folded at import)",
             ["gather_const_index_7.onnx", "gather_const", "(Gather)", "index 7", "out of range"])

    # Runtime indices: only the interpreter sees them.
    node = helper.make_node("Gather", ["table", "idx"], ["y"], name="gather_rt")
    c.save("gather_runtime_index.onnx", make_model([node], [tensor_info("idx", [2], TensorProto.INT64)],
                                                   [tensor_info("y", None)], [const_f32("table", [4, 2])]))
    np.save(c.path("data_index_7.npy"), np.array([1, 7], np.int64))
    c.expect("gather_runtime_index.onnx", "runtime Gather index 7 into a 4-row table",
             ["gather_runtime_index.onnx", "gather_rt", "(Gather)", "index 7",
              "out of range"], command="run", input="data_index_7.npy")
    np.save(c.path("data_index_ok.npy"), np.array([1, 3], np.int64))
    c.expect("gather_runtime_index.onnx", "control: in-range runtime Gather indices", [], command="run",
             input="data_index_ok.npy", expect="success")


# ---- bad data for `qcc run` (good_add.onnx expects x: float32 [2,4])


def bad_data(c):
    np.save(c.path("data_wrong_shape.npy"), np.zeros((4, 5), np.float32))
    c.expect("good_add.onnx", "data of shape [4,5] for an input of [N,4]",
             ["data_wrong_shape.npy", "'x'", "[4,5]", "shape"], command="run", input="data_wrong_shape.npy")

    np.save(c.path("data_float64.npy"), np.zeros((4, 4), np.float64))
    c.expect("good_add.onnx", "float64 data for a float32 input",
             ["data_float64.npy", "'x'", "float64", "float32"], command="run", input="data_float64.npy")

    np.save(c.path("data_cut_short.npy"), np.ones((4, 4), np.float32))
    with open(c.path("data_cut_short.npy"), "rb") as f:
        whole = f.read()
    c.write_bytes("data_cut_short.npy", whole[: len(whole) - 24])
    c.expect("good_add.onnx", "an .npy with its last 24 data bytes cut off",
             ["data_cut_short.npy", "truncated"], command="run", input="data_cut_short.npy")

    c.write_bytes("data_not_npy.npy", b"this is not numpy data\n")
    c.expect("good_add.onnx", "a text file named .npy",
             ["data_not_npy.npy", "not an .npy file"], command="run", input="data_not_npy.npy")

    nan = np.zeros((4, 4), np.float32)
    nan[2, 1] = np.nan
    np.save(c.path("data_nan.npy"), nan)
    c.expect("good_add.onnx", "NaN in the input data",
             ["data_nan.npy", "'x'", "NaN"], command="run", input="data_nan.npy")

    np.save(c.path("data_odd_count.npy"), np.zeros((3, 4), np.float32))
    c.expect("good_add.onnx", "3 samples for a batch of 2",
             ["data_odd_count.npy", "'x'", "batches of 2"], command="run", input="data_odd_count.npy")

    np.save(c.path("data_no_samples.npy"), np.zeros((0, 4), np.float32))
    c.expect("good_add.onnx", "zero samples",
             ["data_no_samples.npy", "'x'", "no samples"], command="run", input="data_no_samples.npy")

    # A header that claims 2^40 x 2^22 x 4 floats: the count wraps to 0 in 64 bits.
    header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d, 4), }" % (2**40, 2**22)
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    c.write_bytes("data_huge_shape.npy",
                  b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + b"\0" * 64)
    wide = make_model([helper.make_node("Neg", ["x"], ["y"], name="neg_x")],
                      [tensor_info("x", [1, 2**22, 4])], [tensor_info("y", None)])
    c.save("wide_neg.onnx", wide)
    c.expect("wide_neg.onnx", ".npy header whose element count overflows 64 bits",
             ["data_huge_shape.npy", ["too large", "invalid", "overflow", "truncated"]],
             command="run", input="data_huge_shape.npy")

    os.makedirs(c.path("data_corrupt_pb"), exist_ok=True)
    c.write_bytes("data_corrupt_pb/input_0.pb", b"\xff" * 40)
    c.expect("good_add.onnx", "a folder whose input_0.pb is not a TensorProto",
             ["input_0.pb", "not a valid ONNX TensorProto"], command="run", input="data_corrupt_pb")

    os.makedirs(c.path("data_pb_big"), exist_ok=True)
    big = TensorProto(name="x", data_type=F32, dims=[2**16, 2**16], raw_data=b"\0" * 4)
    c.write_bytes("data_pb_big/input_0.pb", big.SerializeToString())
    c.expect("good_add.onnx", "an input_0.pb claiming 2^32 floats with 4 bytes of data",
             ["input_0.pb", "1 values", "needs 4294967296"], command="run", input="data_pb_big")

    save_npz(c.path("data_unknown_name.npz"), y=np.zeros((4, 4), np.float32))
    c.expect("good_add.onnx", "an .npz whose array is not named after the input",
             ["data_unknown_name.npz", "'y'", "does not name a model input"], command="run",
             input="data_unknown_name.npz")

    c.write_bytes("data_corrupt.npz", b"PK\x03\x04" + bytes(range(60)))
    c.expect("good_add.onnx", "an .npz that is not a zip archive",
             ["data_corrupt.npz", "not a readable .npz"], command="run", input="data_corrupt.npz")

    c.write_bytes("data_zip_size_lie.npz", zip_with_lying_size("x.npy", 2**60))
    c.expect("good_add.onnx", "an .npz entry whose zip64 size field claims 2^60 bytes",
             ["data_zip_size_lie.npz", "x.npy", ["too large", "cannot read", "corrupt", "size"]],
             command="run", input="data_zip_size_lie.npz")

    c.expect("good_add.onnx", "an empty folder as --input",
             ["empty_input_dir", "no .pb"], command="run", input_kind="empty_dir")

    c.expect("good_add.onnx", "a data file that does not exist",
             ["does_not_exist.npy", "no such data file"], command="run", input="does_not_exist.npy")

    c.expect("unsupported_op.onnx", "`run` reports a bad model like `inspect`",
             ["unsupported_op.onnx", "mystery", "FooBar", "unsupported op"], command="run")
    c.expect("two_node_loop.onnx", "`run` reports a cycle like `inspect`",
             ["two_node_loop.onnx", "loop_add", "cycle"], command="run")


def bad_calibration(c):
    """`qcc compile` and `qcc calibrate` with bad calibration data or profiles."""
    c.expect("good_add.onnx", "control: compile a valid model on valid data", [], command="compile",
             input="good_input.npy", expect="success")
    c.expect("good_add.onnx", "calibration data of the wrong shape",
             ["data_wrong_shape.npy", "'x'", "[4,5]"], command="compile", input="data_wrong_shape.npy")
    c.expect("good_add.onnx", "calibration data of the wrong dtype",
             ["data_float64.npy", "float64", "float32"], command="calibrate", input="data_float64.npy")
    c.expect("good_add.onnx", "NaN in the calibration data",
             ["data_nan.npy", "NaN"], command="compile", input="data_nan.npy")
    c.expect("good_add.onnx", "an empty folder as calibration data",
             ["empty_input_dir", "no .pb"], command="calibrate", input_kind="empty_dir")
    c.expect("good_add.onnx", "--calib-samples beyond the data",
             ["good_input.npy", "--calib-samples 100"], command="compile", input="good_input.npy",
             args=["--calib-samples", "100"])
    c.expect("good_add.onnx", "--calib-samples beyond the data (calibrate)",
             ["good_input.npy", "100"], command="calibrate", input="good_input.npy", args=["--calib-samples", "100"])
    c.expect("good_add.onnx", "compile without calibration data", ["--calib"], command="compile")
    # A well-formed profile of another model (its graph hash differs).
    other = {"format": "qcc-calibration-profile", "version": 1,
             "model": {"file": "other.onnx", "graph_hash": "0123456789abcdef"}, "samples": 4, "method": "minmax",
             "percentile": 99.999, "bins": 2048,
             "tensors": {"x": {"range": [0.5, 0.5], "min": 0.5, "max": 0.5, "count": 16, "exponent": 0,
                               "hist": [-1024, 16]}}}
    with open(c.path("profile_other_model.json"), "w") as f:
        json.dump(other, f)
    c.expect("good_add.onnx", "a calibration profile made for another model",
             ["profile_other_model.json", ["another model", "different model", "does not match"]],
             command="compile", args=["--profile", "profile_other_model.json"])
    c.write_bytes("profile_corrupt.json", b'{"format": "qcc-calibration-profile", "vers')
    c.expect("good_add.onnx", "a truncated profile",
             ["profile_corrupt.json"], command="compile", args=["--profile", "profile_corrupt.json"])


def qonnx_quantizers(c):
    """Broken QONNX quantizers (tests/e2e/make_bad_qonnx.py builds them; the
    qonnx executor check runs the same cases)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
    import make_bad_qonnx
    for stem, model, must, why in make_bad_qonnx.cases():
        name = stem + ".onnx"
        c.save(name, model)
        c.expect(name, why, [name] + must)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    os.makedirs(out_dir, exist_ok=True)
    corpus = Corpus(out_dir)
    for family in (controls, broken_files, structure, initializers, graph_inputs, ops_and_domains, op_shapes,
                   op_attributes, bad_data, bad_calibration, qonnx_quantizers):
        family(corpus)
    corpus.write_expected()
    print(f"wrote {len(corpus.entries)} cases to {os.path.join(out_dir, 'expected.json')}")


if __name__ == "__main__":
    main()
