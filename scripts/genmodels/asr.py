#!/usr/bin/python3
"""Tiny, deterministic sherpa-onnx ASR models for Izwi's tests.

Run with Debian's python3 (it has onnx and numpy):

    /usr/bin/python3 scripts/genmodels/asr.py OUT_DIR

or import it and call generate(out_dir). It writes one directory per model,
each with a manifest.json listing every file with its sha256 and size, so
tests can build a verified speech.ResolvedModel without hard-coded hashes.

The graphs are nearly trivial (fixed-seed random weights) but have exactly
the inputs, outputs, state tensors and metadata that sherpa-onnx v1.13.8
reads for each model type, so they load and run with correct shapes. Their
words are meaningless; only shapes, timing and determinism are real.

Models:
  streaming-zipformer2-tiny/  online transducer, model_type zipformer2
                              (encoder.onnx, decoder.onnx, joiner.onnx,
                              tokens.txt, bpe.vocab for hotwords)
  streaming-lstm-tiny/        online LSTM transducer, model_type lstm
  streaming-zipformer2-ctc-tiny/  online zipformer2 CTC (model.onnx,
                              tokens.txt)
  streaming-paraformer-tiny/  online paraformer (encoder.onnx, decoder.onnx,
                              tokens.txt)
  offline-paraformer-tiny/    offline paraformer (model.onnx, tokens.txt)
  offline-nemo-ctc-tiny/      offline NeMo CTC, model_type nemo_ctc
                              (model.onnx, tokens.txt)
  offline-parakeet-tdt-tiny/  offline NeMo TDT transducer (parakeet-tdt),
                              model_type nemo_transducer (encoder.onnx,
                              decoder.onnx, joiner.onnx, tokens.txt)
  offline-whisper-tiny/       offline whisper, English-only (encoder.onnx,
                              decoder.onnx, base64 tokens.txt)
  offline-moonshine-tiny/     offline moonshine v1 (preprocess.onnx,
                              encode.onnx, uncached_decode.onnx,
                              cached_decode.onnx, tokens.txt)
"""

import base64
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
IR_VERSION = 8  # readable by every onnxruntime sherpa-onnx 1.13.x ships

FEAT_DIM = 80

# A small BPE-style vocabulary: "▁" marks a word start, as in sentencepiece.
TOKENS = [
    "<blk>", "<sos/eos>", "<unk>",
    "▁THE", "▁A", "▁AND", "▁OF", "▁TO", "▁IN", "▁HE", "▁WAS", "▁IT",
    "▁S", "▁T", "▁M", "▁B", "▁W", "▁C",
    "S", "ED", "ING", "E", "A", "O", "I", "N", "R", "L", "ER", "Y", "AN", "ON",
]
VOCAB = len(TOKENS)

BLANK_BIAS = 9.0


def _write_bpe_vocab(path):
    """sentencepiece-style vocabulary (piece<TAB>log-score) for hotwords.

    sherpa-onnx encodes per-stream hotwords with it when modeling_unit is
    bpe. Longer pieces score higher, so whole words win over letters.
    """
    with open(path, "w", encoding="utf-8") as f:
        for i, t in enumerate(TOKENS):
            score = 0.0 if t.startswith("<") else -10.0 + len(t)
            f.write(f"{t}\t{score}\n")


def _write_tokens(path, tokens=None):
    with open(path, "w", encoding="utf-8") as f:
        for i, t in enumerate(tokens or TOKENS):
            f.write(f"{t} {i}\n")


def _save(graph, path, meta):
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="izwi-genmodels")
    model.ir_version = IR_VERSION
    for k, v in sorted(meta.items()):
        p = model.metadata_props.add()
        p.key, p.value = k, str(v)
    onnx.checker.check_model(model)
    # Deterministic bytes: no doc strings, fixed order.
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def _init(name, arr):
    return numpy_helper.from_array(np.ascontiguousarray(arr), name)


def _const_i64(name, values):
    return _init(name, np.array(values, dtype=np.int64))


def _csv(values):
    return ",".join(str(v) for v in values)


def _zipformer2_encoder(path, rng, joiner_dim, ctc=False, lstm=False):
    """Streaming zipformer2 encoder: x[N,T,80] + states -> out[N,T/4..,D] + states.

    sherpa feeds T = decode_chunk_len + 7 frames and advances by
    decode_chunk_len; the real model outputs decode_chunk_len/4 frames (40 ms
    each). Here: take the first decode_chunk_len frames, remove each frame's
    mean (digital silence -> zeros -> blanks), group 4 frames, project, tanh.
    States pass through unchanged (Identity), with the shapes sherpa builds.
    """
    chunk = 32
    T = chunk + 7
    enc = dict(encoder_dims=[16], query_head_dims=[4], value_head_dims=[4],
               num_heads=[2], num_encoder_layers=[1], cnn_module_kernels=[3],
               left_context_len=[8])
    key_dim = enc["query_head_dims"][0] * enc["num_heads"][0]
    val_dim = enc["value_head_dims"][0] * enc["num_heads"][0]
    lc = enc["left_context_len"][0]
    d = enc["encoder_dims"][0]
    k2 = enc["cnn_module_kernels"][0] // 2
    embed = (((FEAT_DIM - 1) // 2) - 1) // 2

    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", T, FEAT_DIM])]
    if ctc:  # sherpa reads the vocabulary size from this output's shape
        outputs = [helper.make_tensor_value_info("log_probs", TensorProto.FLOAT, ["N", chunk // 4, VOCAB])]
    else:
        outputs = [helper.make_tensor_value_info("encoder_out", TensorProto.FLOAT, ["N", chunk // 4, joiner_dim])]
    nodes, inits = [], []
    states = [
        ("cached_key_0", TensorProto.FLOAT, [lc, "N", key_dim]),
        ("cached_nonlin_attn_0", TensorProto.FLOAT, [1, "N", lc, 3 * d // 4]),
        ("cached_val1_0", TensorProto.FLOAT, [lc, "N", val_dim]),
        ("cached_val2_0", TensorProto.FLOAT, [lc, "N", val_dim]),
        ("cached_conv1_0", TensorProto.FLOAT, ["N", d, k2]),
        ("cached_conv2_0", TensorProto.FLOAT, ["N", d, k2]),
        ("embed_states", TensorProto.FLOAT, ["N", 128, 3, embed]),
        ("processed_lens", TensorProto.INT64, ["N"]),
    ]
    if lstm:  # icefall lstm_transducer_stateless2: h and c, batch on axis 1
        states = [("h", TensorProto.FLOAT, [1, "N", 8]), ("c", TensorProto.FLOAT, [1, "N", 8])]
    for name, typ, shape in states:
        inputs.append(helper.make_tensor_value_info(name, typ, shape))
        outputs.append(helper.make_tensor_value_info("new_" + name, typ, shape))
        nodes.append(helper.make_node("Identity", [name], ["new_" + name]))

    inits += [_const_i64("starts", [0]), _const_i64("ends", [chunk]),
              _const_i64("axes", [1]), _const_i64("shape", [0, chunk // 4, 4 * FEAT_DIM])]
    w = rng.standard_normal((4 * FEAT_DIM, joiner_dim)).astype(np.float32) * (1.0 / np.sqrt(4 * FEAT_DIM))
    inits.append(_init("w_enc", w))
    nodes += [
        helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["xs"]),
        helper.make_node("ReduceMean", ["xs"], ["mu"], axes=[2], keepdims=1),
        helper.make_node("Sub", ["xs", "mu"], ["xc"]),
        helper.make_node("Reshape", ["xc", "shape"], ["xg"]),
        helper.make_node("MatMul", ["xg", "w_enc"], ["proj"]),
        helper.make_node("Tanh", ["proj"], ["th"]),
        # Energy gate: quiet frames (mean log-mel below about -7.5, the
        # pauses in LibriSpeech) give ~0, hence blanks and endpoints.
        helper.make_node("Reshape", ["mu", "gshape"], ["mug"]),
        helper.make_node("ReduceMean", ["mug"], ["mu4"], axes=[2], keepdims=1),
        helper.make_node("Add", ["mu4", "gate_off"], ["g0"]),
        helper.make_node("Mul", ["g0", "gate_k"], ["g1"]),
        helper.make_node("Sigmoid", ["g1"], ["gate"]),
        helper.make_node("Mul", ["th", "gate"], ["encoder_out"]),
    ]
    if ctc:
        wc = rng.standard_normal((joiner_dim, VOCAB)).astype(np.float32) * 2.0
        bc = np.zeros(VOCAB, dtype=np.float32)
        bc[0] = BLANK_BIAS
        bc[1] = bc[2] = -30.0
        inits += [_init("w_ctc", wc), _init("b_ctc", bc)]
        nodes += [helper.make_node("MatMul", ["encoder_out", "w_ctc"], ["lc"]),
                  helper.make_node("Add", ["lc", "b_ctc"], ["lz"]),
                  helper.make_node("LogSoftmax", ["lz"], ["log_probs"], axis=-1)]
    inits += [_const_i64("gshape", [0, chunk // 4, 4]),
              _init("gate_off", np.array([7.5], dtype=np.float32)),
              _init("gate_k", np.array([2.0], dtype=np.float32))]
    meta = {"model_type": "zipformer2_ctc" if ctc else "zipformer2", "version": "1",
            "model_author": "izwi-genmodels",
            "comment": "tiny generated test model; words are meaningless",
            "T": T, "decode_chunk_len": chunk}
    meta.update({k: _csv(v) for k, v in enc.items()})
    if lstm:
        meta = {"model_type": "lstm", "version": "1", "model_author": "izwi-genmodels",
                "comment": "tiny generated test model; words are meaningless",
                "T": T, "decode_chunk_len": chunk, "num_encoder_layers": 1,
                "rnn_hidden_size": 8, "d_model": 8}
    _save(helper.make_graph(nodes, "encoder", inputs, outputs, inits), path, meta)


def _transducer_decoder(path, rng, joiner_dim, context_size):
    """Stateless decoder: y[N,ctx] int64 -> mean of embeddings [N,D]."""
    emb = rng.standard_normal((VOCAB, joiner_dim)).astype(np.float32) * 0.5
    nodes = [
        helper.make_node("Gather", ["emb", "y"], ["e"], axis=0),
        helper.make_node("ReduceMean", ["e"], ["decoder_out"], axes=[1], keepdims=0),
    ]
    g = helper.make_graph(
        nodes, "decoder",
        [helper.make_tensor_value_info("y", TensorProto.INT64, ["N", context_size])],
        [helper.make_tensor_value_info("decoder_out", TensorProto.FLOAT, ["N", joiner_dim])],
        [_init("emb", emb)])
    _save(g, path, {"vocab_size": VOCAB, "context_size": context_size})


def _transducer_joiner(path, rng, joiner_dim, blank_bias):
    """logit = enc @ We + 0.3 * dec @ Wd + b.

    The encoder term dominates, so silence (encoder output ~0) is blank,
    while speech emits a token now and then.
    """
    we = rng.standard_normal((joiner_dim, VOCAB)).astype(np.float32) * 2.0
    wd = rng.standard_normal((joiner_dim, VOCAB)).astype(np.float32) * 0.3
    b = np.zeros(VOCAB, dtype=np.float32)
    b[0] = blank_bias
    b[1] = b[2] = -30.0  # never emit <sos/eos> or <unk>
    nodes = [
        helper.make_node("MatMul", ["encoder_out", "we"], ["le"]),
        helper.make_node("Tanh", ["decoder_out"], ["dt"]),
        helper.make_node("MatMul", ["dt", "wd"], ["ld"]),
        helper.make_node("Add", ["le", "ld"], ["s"]),
        helper.make_node("Add", ["s", "b"], ["logit"]),
    ]
    g = helper.make_graph(
        nodes, "joiner",
        [helper.make_tensor_value_info("encoder_out", TensorProto.FLOAT, ["N", joiner_dim]),
         helper.make_tensor_value_info("decoder_out", TensorProto.FLOAT, ["N", joiner_dim])],
        [helper.make_tensor_value_info("logit", TensorProto.FLOAT, ["N", VOCAB])],
        [_init("we", we), _init("wd", wd), _init("b", b)])
    _save(g, path, {"joiner_dim": joiner_dim})


def _nemo_ctc(path, rng, subsampling):
    """NeMo EncDecCTCModelBPE: audio_signal[N,80,T], length[N] -> logprobs[N,T/ss,V]."""
    w = rng.standard_normal((FEAT_DIM, VOCAB)).astype(np.float32) * 0.6
    b = np.zeros(VOCAB, dtype=np.float32)
    b[0] = 2.5
    b[1] = b[2] = -30.0  # never emit <sos/eos> or <unk>
    nodes = [
        helper.make_node("Transpose", ["audio_signal"], ["xt"], perm=[0, 2, 1]),
        helper.make_node("Slice", ["xt", "starts", "ends", "axes", "steps"], ["xs"]),
        helper.make_node("MatMul", ["xs", "w"], ["xw"]),
        helper.make_node("Add", ["xw", "b"], ["z"]),
        helper.make_node("LogSoftmax", ["z"], ["logprobs"], axis=-1),
        helper.make_node("Div", ["length", "ss"], ["encoded_lengths"]),
    ]
    inits = [_const_i64("starts", [0]), _const_i64("ends", [np.iinfo(np.int64).max]),
             _const_i64("axes", [1]), _const_i64("steps", [subsampling]),
             _const_i64("ss", [subsampling]), _init("w", w), _init("b", b)]
    g = helper.make_graph(
        nodes, "nemo_ctc",
        [helper.make_tensor_value_info("audio_signal", TensorProto.FLOAT, ["N", FEAT_DIM, "T"]),
         helper.make_tensor_value_info("length", TensorProto.INT64, ["N"])],
        [helper.make_tensor_value_info("logprobs", TensorProto.FLOAT, ["N", "T2", VOCAB]),
         helper.make_tensor_value_info("encoded_lengths", TensorProto.INT64, ["N"])],
        inits)
    _save(g, path, {"model_type": "EncDecCTCModelBPE", "vocab_size": VOCAB,
                    "subsampling_factor": subsampling, "normalize_type": "per_feature",
                    "version": "1", "model_author": "izwi-genmodels",
                    "comment": "tiny generated test model; words are meaningless"})


# NeMo puts the blank last and leaves it out of its vocab_size.
NEMO_TOKENS = TOKENS[1:] + ["<blk>"]
TDT_DURATIONS = 5  # parakeet-tdt predicts skips of 0..4 frames


def _nemo_encoder(path, rng, dim, subsampling):
    """NeMo conformer encoder: audio_signal[N,80,T], length[N] ->
    outputs[N,D,T/ss], encoded_lengths[N].

    Features come normalised per feature (mean 0, std 1 per mel bin), so a
    frame's mean over bins says how loud it is relative to the file; quiet
    frames are gated to ~0 and the joiner then says blank.
    """
    w = rng.standard_normal((FEAT_DIM, dim)).astype(np.float32) * (1.0 / np.sqrt(FEAT_DIM))
    nodes = [
        helper.make_node("Transpose", ["audio_signal"], ["xt"], perm=[0, 2, 1]),
        helper.make_node("Slice", ["xt", "starts", "ends", "axes", "steps"], ["xs"]),
        helper.make_node("ReduceMean", ["xs"], ["mu"], axes=[2], keepdims=1),
        helper.make_node("Sub", ["xs", "mu"], ["xc"]),
        helper.make_node("MatMul", ["xc", "w"], ["proj"]),
        helper.make_node("Tanh", ["proj"], ["th"]),
        helper.make_node("Add", ["mu", "gate_off"], ["g0"]),
        helper.make_node("Mul", ["g0", "gate_k"], ["g1"]),
        helper.make_node("Sigmoid", ["g1"], ["gate"]),
        helper.make_node("Mul", ["th", "gate"], ["enc"]),
        helper.make_node("Transpose", ["enc"], ["outputs"], perm=[0, 2, 1]),
        # ceil(length / ss), the number of frames Slice keeps
        helper.make_node("Add", ["length", "ss_minus_1"], ["lp"]),
        helper.make_node("Div", ["lp", "ss"], ["encoded_lengths"]),
    ]
    inits = [_const_i64("starts", [0]), _const_i64("ends", [np.iinfo(np.int64).max]),
             _const_i64("axes", [1]), _const_i64("steps", [subsampling]),
             _const_i64("ss", [subsampling]), _const_i64("ss_minus_1", [subsampling - 1]),
             _init("w", w), _init("gate_off", np.array([0.2], dtype=np.float32)),
             _init("gate_k", np.array([6.0], dtype=np.float32))]
    g = helper.make_graph(
        nodes, "nemo_encoder",
        [helper.make_tensor_value_info("audio_signal", TensorProto.FLOAT, ["N", FEAT_DIM, "T"]),
         helper.make_tensor_value_info("length", TensorProto.INT64, ["N"])],
        [helper.make_tensor_value_info("outputs", TensorProto.FLOAT, ["N", dim, "T2"]),
         helper.make_tensor_value_info("encoded_lengths", TensorProto.INT64, ["N"])],
        inits)
    _save(g, path, {"model_type": "EncDecRNNTBPEModel", "vocab_size": len(NEMO_TOKENS) - 1,
                    "subsampling_factor": subsampling, "normalize_type": "per_feature",
                    "pred_rnn_layers": 1, "pred_hidden": 8, "feat_dim": FEAT_DIM,
                    "url": "izwi-genmodels/parakeet-tdt-tiny", "version": "1",
                    "model_author": "izwi-genmodels",
                    "comment": "tiny generated test model; words are meaningless"})


def _nemo_decoder(path, rng, dim, layers, hidden):
    """Prediction net: targets[N,1] int32, target_length[N], states ->
    decoder_output[N,D,1], target_length, states (passed through)."""
    emb = rng.standard_normal((len(NEMO_TOKENS), dim)).astype(np.float32) * 0.5
    nodes = [
        helper.make_node("Gather", ["emb", "targets"], ["e"], axis=0),
        helper.make_node("Transpose", ["e"], ["decoder_output"], perm=[0, 2, 1]),
        helper.make_node("Identity", ["target_length"], ["prednet_lengths"]),
        helper.make_node("Identity", ["states.1"], ["states"]),
        helper.make_node("Identity", ["onnx::Slice_3"], ["162"]),
    ]
    st = [layers, "N", hidden]
    g = helper.make_graph(
        nodes, "nemo_decoder",
        [helper.make_tensor_value_info("targets", TensorProto.INT32, ["N", 1]),
         helper.make_tensor_value_info("target_length", TensorProto.INT32, ["N"]),
         helper.make_tensor_value_info("states.1", TensorProto.FLOAT, st),
         helper.make_tensor_value_info("onnx::Slice_3", TensorProto.FLOAT, st)],
        [helper.make_tensor_value_info("decoder_output", TensorProto.FLOAT, ["N", dim, 1]),
         helper.make_tensor_value_info("prednet_lengths", TensorProto.INT32, ["N"]),
         helper.make_tensor_value_info("states", TensorProto.FLOAT, st),
         helper.make_tensor_value_info("162", TensorProto.FLOAT, st)],
        [_init("emb", emb)])
    _save(g, path, {})


def _nemo_joiner(path, rng, dim, blank_bias):
    """TDT joiner: encoder_outputs[N,D,1], decoder_outputs[N,D,1] ->
    outputs[N,1,1,V+durations] (token logits, then duration logits)."""
    v = len(NEMO_TOKENS)
    we = rng.standard_normal((dim, v + TDT_DURATIONS)).astype(np.float32) * 2.0
    wd = rng.standard_normal((dim, v + TDT_DURATIONS)).astype(np.float32) * 0.3
    b = np.zeros(v + TDT_DURATIONS, dtype=np.float32)
    b[v - 1] = blank_bias          # <blk>
    b[NEMO_TOKENS.index("<sos/eos>")] = b[NEMO_TOKENS.index("<unk>")] = -30.0
    b[v:] = [0.0, 3.0, 1.0, 0.0, -1.0]  # mostly advance one frame
    nodes = [
        helper.make_node("Transpose", ["encoder_outputs"], ["et"], perm=[0, 2, 1]),
        helper.make_node("Transpose", ["decoder_outputs"], ["dt0"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["et", "we"], ["le"]),
        helper.make_node("Tanh", ["dt0"], ["dt"]),
        helper.make_node("MatMul", ["dt", "wd"], ["ld"]),
        helper.make_node("Add", ["le", "ld"], ["s"]),
        helper.make_node("Add", ["s", "b"], ["z"]),
        helper.make_node("Unsqueeze", ["z", "ax"], ["outputs"]),
    ]
    g = helper.make_graph(
        nodes, "nemo_joiner",
        [helper.make_tensor_value_info("encoder_outputs", TensorProto.FLOAT, ["N", dim, 1]),
         helper.make_tensor_value_info("decoder_outputs", TensorProto.FLOAT, ["N", dim, 1])],
        [helper.make_tensor_value_info("outputs", TensorProto.FLOAT, ["N", 1, 1, v + TDT_DURATIONS])],
        [_init("we", we), _init("wd", wd), _init("b", b), _const_i64("ax", [2])])
    _save(g, path, {})


# Whisper: byte-level BPE text tokens (leading space = word start), then the
# special tokens, which tokens.txt leaves out as OpenAI's tokenizer does.
WHISPER_TEXT = [t.replace("▁", " ") for t in TOKENS[3:]] + [" "]
W_EOT = len(WHISPER_TEXT)
W_SOT, W_TRANSLATE, W_TRANSCRIBE, W_NO_SPEECH, W_NO_TS = range(W_EOT + 1, W_EOT + 6)
W_VOCAB = W_NO_TS + 1  # so timestamp tokens (no_timestamps + 1 ...) do not exist


def _whisper_encoder(path, rng, layers, state, text_ctx):
    """mel[1,80,T] -> n_layer_cross_k, n_layer_cross_v [L,1,T/2,S]."""
    wk = rng.standard_normal((FEAT_DIM, state)).astype(np.float32) * 0.3
    wv = rng.standard_normal((FEAT_DIM, state)).astype(np.float32) * 0.3
    nodes = [
        helper.make_node("Transpose", ["mel"], ["mt"], perm=[0, 2, 1]),
        helper.make_node("Slice", ["mt", "starts", "ends", "axes", "steps"], ["ms"]),
        helper.make_node("MatMul", ["ms", "wk"], ["k"]),
        helper.make_node("MatMul", ["ms", "wv"], ["v"]),
        helper.make_node("Unsqueeze", ["k", "ax0"], ["n_layer_cross_k"]),
        helper.make_node("Unsqueeze", ["v", "ax0"], ["n_layer_cross_v"]),
    ]
    inits = [_const_i64("starts", [0]), _const_i64("ends", [np.iinfo(np.int64).max]),
             _const_i64("axes", [1]), _const_i64("steps", [2]), _const_i64("ax0", [0]),
             _init("wk", wk), _init("wv", wv)]
    g = helper.make_graph(
        nodes, "whisper_encoder",
        [helper.make_tensor_value_info("mel", TensorProto.FLOAT, [1, FEAT_DIM, "T"])],
        [helper.make_tensor_value_info("n_layer_cross_k", TensorProto.FLOAT, [layers, 1, "T2", state]),
         helper.make_tensor_value_info("n_layer_cross_v", TensorProto.FLOAT, [layers, 1, "T2", state])],
        inits)
    _save(g, path, {
        "model_type": "whisper-tiny-izwi", "version": "1", "maintainer": "izwi-genmodels",
        "comment": "tiny generated test model; words are meaningless",
        "n_mels": FEAT_DIM, "n_audio_ctx": 1500, "n_audio_state": state, "n_audio_head": 1,
        "n_audio_layer": layers, "n_vocab": W_VOCAB, "n_text_ctx": text_ctx,
        "n_text_state": state, "n_text_head": 1, "n_text_layer": layers,
        "sot_sequence": str(W_SOT), "sot": W_SOT, "sot_index": 0, "eot": W_EOT,
        "blank_id": W_EOT - 1, "is_multilingual": 0, "no_speech": W_NO_SPEECH,
        "non_speech_tokens": "", "transcribe": W_TRANSCRIBE, "translate": W_TRANSLATE,
        "sot_prev": W_SOT, "sot_lm": W_SOT, "no_timestamps": W_NO_TS})


def _whisper_decoder(path, rng, layers, state, text_ctx):
    """tokens[1,n], self caches, cross k/v, offset -> logits[1,n,V], caches.

    logits = tanh(embed(token) + mean(cross_k) + offset * p) @ W + b, so the
    words depend on the audio and the position; special tokens other than
    eot are never chosen.
    """
    emb = rng.standard_normal((W_VOCAB, state)).astype(np.float32) * 0.5
    pvec = rng.standard_normal((state,)).astype(np.float32) * 0.2
    w = rng.standard_normal((state, W_VOCAB)).astype(np.float32) * 2.0
    b = np.zeros(W_VOCAB, dtype=np.float32)
    b[W_EOT] = 1.0
    b[W_EOT + 1:] = -30.0
    nodes = [
        helper.make_node("Gather", ["emb", "tokens"], ["e"], axis=0),
        helper.make_node("ReduceMean", ["n_layer_cross_k"], ["ck"], axes=[0, 1, 2], keepdims=0),
        helper.make_node("Cast", ["offset"], ["off_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["off_f", "pvec"], ["pos"]),
        helper.make_node("Add", ["e", "ck"], ["h0"]),
        helper.make_node("Add", ["h0", "pos"], ["h1"]),
        helper.make_node("Tanh", ["h1"], ["h"]),
        helper.make_node("MatMul", ["h", "w"], ["hw"]),
        helper.make_node("Add", ["hw", "b"], ["logits"]),
        helper.make_node("Identity", ["in_n_layer_self_k_cache"], ["out_n_layer_self_k_cache"]),
        helper.make_node("Identity", ["in_n_layer_self_v_cache"], ["out_n_layer_self_v_cache"]),
    ]
    cache = [layers, 1, text_ctx, state]
    cross = [layers, 1, "T2", state]
    g = helper.make_graph(
        nodes, "whisper_decoder",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, "n"]),
         helper.make_tensor_value_info("in_n_layer_self_k_cache", TensorProto.FLOAT, cache),
         helper.make_tensor_value_info("in_n_layer_self_v_cache", TensorProto.FLOAT, cache),
         helper.make_tensor_value_info("n_layer_cross_k", TensorProto.FLOAT, cross),
         helper.make_tensor_value_info("n_layer_cross_v", TensorProto.FLOAT, cross),
         helper.make_tensor_value_info("offset", TensorProto.INT64, [1])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "n", W_VOCAB]),
         helper.make_tensor_value_info("out_n_layer_self_k_cache", TensorProto.FLOAT, cache),
         helper.make_tensor_value_info("out_n_layer_self_v_cache", TensorProto.FLOAT, cache)],
        [_init("emb", emb), _init("pvec", pvec), _init("w", w), _init("b", b)])
    _save(g, path, {})


def _write_whisper_tokens(path):
    with open(path, "w", encoding="utf-8") as f:
        for i, t in enumerate(WHISPER_TEXT):
            f.write(f"{base64.b64encode(t.encode()).decode()} {i}\n")


# Moonshine: sentencepiece pieces; sherpa-onnx hard-codes <s> = 1, </s> = 2.
MOONSHINE_TOKENS = ["<unk>", "<s>", "</s>"] + TOKENS[3:]
M_HOP = 384  # samples per encoder frame, as in the moonshine paper


def _moonshine_models(d, rng, dim):
    """preprocessor, encoder, uncached_decoder, cached_decoder.

    preprocessor: audio[1,n] -> features[1,n/384,D], a strided projection
    gated by frame energy (quiet frames ~0); encoder: features, len ->
    encoder_out = tanh(features @ W); decoders: token[1,1] int32,
    encoder_out, seq_len[1] int32 (+ caches) -> logits[1,1,V] (+ caches,
    passed through). </s> wins when the audio is quiet, so silence says
    nothing and speech says ~6 tokens a second (sherpa's cap).
    """
    v = len(MOONSHINE_TOKENS)
    kern = rng.standard_normal((dim, 1, M_HOP)).astype(np.float32) * (3.0 / np.sqrt(M_HOP))
    ones = np.full((1, 1, M_HOP), 1.0 / M_HOP, dtype=np.float32)
    pre = helper.make_graph([
        helper.make_node("Unsqueeze", ["audio", "ax1"], ["a3"]),
        helper.make_node("Conv", ["a3", "kern"], ["c"], strides=[M_HOP]),
        helper.make_node("Tanh", ["c"], ["ct"]),
        helper.make_node("Mul", ["a3", "a3"], ["sq"]),
        helper.make_node("Conv", ["sq", "ones"], ["energy"], strides=[M_HOP]),
        helper.make_node("Add", ["energy", "eps"], ["e1"]),
        helper.make_node("Log", ["e1"], ["le"]),
        helper.make_node("Add", ["le", "gate_off"], ["g0"]),
        helper.make_node("Mul", ["g0", "gate_k"], ["g1"]),
        helper.make_node("Sigmoid", ["g1"], ["gate"]),
        helper.make_node("Mul", ["ct", "gate"], ["gated"]),
        helper.make_node("Transpose", ["gated"], ["features"], perm=[0, 2, 1]),
    ], "moonshine_preprocessor",
        [helper.make_tensor_value_info("audio", TensorProto.FLOAT, [1, "n"])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, "T", dim])],
        [_const_i64("ax1", [1]), _init("kern", kern), _init("ones", ones),
         _init("eps", np.array([1e-10], dtype=np.float32)),
         _init("gate_off", np.array([9.0], dtype=np.float32)),
         _init("gate_k", np.array([2.0], dtype=np.float32))])
    _save(pre, os.path.join(d, "preprocess.onnx"), {})

    w = rng.standard_normal((dim, dim)).astype(np.float32) * (2.0 / np.sqrt(dim))
    enc = helper.make_graph([
        helper.make_node("MatMul", ["features", "w"], ["p"]),
        helper.make_node("Tanh", ["p"], ["encoder_out"]),
    ], "moonshine_encoder",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, "T", dim]),
         helper.make_tensor_value_info("features_len", TensorProto.INT32, [1])],
        [helper.make_tensor_value_info("encoder_out", TensorProto.FLOAT, [1, "T", dim])],
        [_init("w", w)])
    _save(enc, os.path.join(d, "encode.onnx"), {})

    emb = rng.standard_normal((v, dim)).astype(np.float32) * 0.5
    pvec = rng.standard_normal((dim,)).astype(np.float32) * 0.3
    wo = rng.standard_normal((dim, v)).astype(np.float32) * 1.0
    bo = np.zeros(v, dtype=np.float32)
    bo[0] = bo[1] = -30.0  # never <unk> or <s>
    bo[2] = 8.0            # </s> when quiet ...
    quiet = np.zeros(v, dtype=np.float32)
    quiet[2] = -60.0       # ... but not when the audio is loud
    init = [_init("emb", emb), _init("pvec", pvec), _init("wo", wo), _init("bo", bo),
            _init("quiet", quiet)]

    def logits_nodes():
        return [
            helper.make_node("Gather", ["emb", "tokens"], ["e"], axis=0),    # [1,1,D]
            helper.make_node("Abs", ["encoder_out"], ["ea"]),
            helper.make_node("ReduceMean", ["ea"], ["loud"], keepdims=0),    # scalar
            helper.make_node("ReduceMean", ["encoder_out"], ["ctx"], axes=[1], keepdims=1),
            helper.make_node("Cast", ["seq_len"], ["sl"], to=TensorProto.FLOAT),
            helper.make_node("Mul", ["sl", "pvec"], ["pos"]),
            helper.make_node("Add", ["e", "ctx"], ["h0"]),
            helper.make_node("Add", ["h0", "pos"], ["h1"]),
            helper.make_node("Tanh", ["h1"], ["h"]),
            helper.make_node("MatMul", ["h", "wo"], ["l0"]),
            helper.make_node("Add", ["l0", "bo"], ["l1"]),
            helper.make_node("Mul", ["quiet", "loud"], ["ql"]),
            helper.make_node("Add", ["l1", "ql"], ["logits"]),
        ]

    common_in = [helper.make_tensor_value_info("tokens", TensorProto.INT32, [1, 1]),
                 helper.make_tensor_value_info("encoder_out", TensorProto.FLOAT, [1, "T", dim]),
                 helper.make_tensor_value_info("seq_len", TensorProto.INT32, [1])]
    cache = ["L", 1, "S", dim]
    logits_out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1, v])
    # The uncached decoder starts the caches: here a copy of the context.
    unc = helper.make_graph(
        logits_nodes() + [helper.make_node("Unsqueeze", ["ctx", "ax0"], ["k_cache"]),
                          helper.make_node("Identity", ["k_cache"], ["v_cache"])],
        "moonshine_uncached_decoder", common_in,
        [logits_out, helper.make_tensor_value_info("k_cache", TensorProto.FLOAT, cache),
         helper.make_tensor_value_info("v_cache", TensorProto.FLOAT, cache)],
        init + [_const_i64("ax0", [0])])
    _save(unc, os.path.join(d, "uncached_decode.onnx"), {})
    cac = helper.make_graph(
        logits_nodes() + [helper.make_node("Identity", ["in_k_cache"], ["out_k_cache"]),
                          helper.make_node("Identity", ["in_v_cache"], ["out_v_cache"])],
        "moonshine_cached_decoder",
        common_in + [helper.make_tensor_value_info("in_k_cache", TensorProto.FLOAT, cache),
                     helper.make_tensor_value_info("in_v_cache", TensorProto.FLOAT, cache)],
        [logits_out, helper.make_tensor_value_info("out_k_cache", TensorProto.FLOAT, cache),
         helper.make_tensor_value_info("out_v_cache", TensorProto.FLOAT, cache)],
        init)
    _save(cac, os.path.join(d, "cached_decode.onnx"), {})
    _write_tokens(os.path.join(d, "tokens.txt"), MOONSHINE_TOKENS)


# Paraformer: whole words, "@@" marks a piece glued to the next; 0 = blank.
PARAFORMER_TOKENS = ["<blank>", "<s>", "</s>"] + [
    t[1:] if t.startswith("▁") else t + "@@" for t in TOKENS[3:]]
P_LFR_M, P_LFR_N = 7, 6  # frames stacked, frames shifted (low frame rate)


def _paraformer_models(d, rng, dim):
    """Streaming paraformer encoder and decoder.

    encoder: speech[1,T,560] (LFR + CMVN + positions), speech_lengths ->
    encoder_out[1,T,D], encoder_out_lens, alphas[1,T]; sherpa integrates the
    alphas (CIF) and fires a token each time they sum to 1. Alphas follow
    loudness, so speech fires ~6 tokens a second and pauses none.
    decoder: encoder_out, lens, acoustic_embeds[1,N,D], lens, one fsmn
    cache -> logits[1,N,V], sample_ids[1,N] int64, cache.
    """
    fdim = FEAT_DIM * P_LFR_M
    w = rng.standard_normal((fdim, dim)).astype(np.float32) * (1.0 / np.sqrt(fdim))
    enc = helper.make_graph([
        helper.make_node("MatMul", ["speech", "w"], ["p"]),
        helper.make_node("Tanh", ["p"], ["encoder_out"]),
        helper.make_node("ReduceMean", ["speech"], ["m"], axes=[2], keepdims=0),
        helper.make_node("Mul", ["m", "k"], ["mk"]),
        helper.make_node("Sigmoid", ["mk"], ["sg"]),
        helper.make_node("Mul", ["sg", "amax"], ["alphas"]),
        helper.make_node("Identity", ["speech_lengths"], ["encoder_out_lens"]),
    ], "paraformer_encoder",
        [helper.make_tensor_value_info("speech", TensorProto.FLOAT, [1, "T", fdim]),
         helper.make_tensor_value_info("speech_lengths", TensorProto.INT32, [1])],
        [helper.make_tensor_value_info("encoder_out", TensorProto.FLOAT, [1, "T", dim]),
         helper.make_tensor_value_info("encoder_out_lens", TensorProto.INT32, [1]),
         helper.make_tensor_value_info("alphas", TensorProto.FLOAT, [1, "T"])],
        [_init("w", w), _init("k", np.array([3.0], dtype=np.float32)),
         _init("amax", np.array([0.45], dtype=np.float32))])
    # CMVN: log-mel of 16-bit-scaled samples is ~20.8 above that of [-1, 1]
    # ones; centre LibriSpeech's speech/pause boundary (about -7.5 + 20.8).
    neg_mean = _csv([-13.3] * fdim)
    inv_std = _csv([round(1.0 / np.sqrt(dim), 6)] * fdim)  # sherpa scales by sqrt(D)
    _save(enc, os.path.join(d, "encoder.onnx"), {
        "model_type": "paraformer", "version": "1", "model_author": "izwi-genmodels",
        "comment": "tiny generated test model; words are meaningless",
        "vocab_size": len(PARAFORMER_TOKENS), "lfr_window_size": P_LFR_M,
        "lfr_window_shift": P_LFR_N, "encoder_output_size": dim,
        "decoder_num_blocks": 1, "decoder_kernel_size": 3,
        "neg_mean": neg_mean, "inv_stddev": inv_std})

    v = len(PARAFORMER_TOKENS)
    wd = rng.standard_normal((dim, v)).astype(np.float32) * 2.0
    bd = np.zeros(v, dtype=np.float32)
    bd[1] = bd[2] = -30.0
    dec = helper.make_graph([
        helper.make_node("Tanh", ["acoustic_embeds"], ["h"]),
        helper.make_node("MatMul", ["h", "wd"], ["l0"]),
        helper.make_node("Add", ["l0", "bd"], ["logits"]),
        helper.make_node("ArgMax", ["logits"], ["sample_ids"], axis=-1, keepdims=0),
        helper.make_node("Identity", ["in_cache_0"], ["out_cache_0"]),
    ], "paraformer_decoder",
        [helper.make_tensor_value_info("enc", TensorProto.FLOAT, [1, "T", dim]),
         helper.make_tensor_value_info("enc_len", TensorProto.INT32, [1]),
         helper.make_tensor_value_info("acoustic_embeds", TensorProto.FLOAT, [1, "N", dim]),
         helper.make_tensor_value_info("acoustic_embeds_len", TensorProto.INT32, [1]),
         helper.make_tensor_value_info("in_cache_0", TensorProto.FLOAT, [1, dim, 2])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "N", v]),
         helper.make_tensor_value_info("sample_ids", TensorProto.INT64, [1, "N"]),
         helper.make_tensor_value_info("out_cache_0", TensorProto.FLOAT, [1, dim, 2])],
        [_init("wd", wd), _init("bd", bd)])
    _save(dec, os.path.join(d, "decoder.onnx"), {})
    _write_tokens(os.path.join(d, "tokens.txt"), PARAFORMER_TOKENS)


def _offline_paraformer(path, rng):
    """Non-streaming paraformer: speech[N,T,560], speech_lengths[N] int32 ->
    logits[N,U,V] (one token per 3 LFR frames, 180 ms), token_num[N].

    sherpa reads tokens until </s>; </s> wins everywhere when the whole
    recording is quiet, so silence says nothing.
    """
    fdim = FEAT_DIM * P_LFR_M
    v = len(PARAFORMER_TOKENS)
    w = rng.standard_normal((fdim, v)).astype(np.float32) * (6.0 / np.sqrt(fdim))
    b = np.zeros(v, dtype=np.float32)
    b[0] = b[1] = -30.0   # never <blank> or <s>
    b[2] = 5.0            # </s> when quiet ...
    loud = np.zeros(v, dtype=np.float32)
    loud[2] = -20.0       # ... not when the recording is loud
    g = helper.make_graph([
        helper.make_node("Slice", ["speech", "starts", "ends", "axes", "steps"], ["xs"]),
        helper.make_node("ReduceMean", ["xs"], ["fm"], axes=[2], keepdims=1),
        helper.make_node("Sub", ["xs", "fm"], ["xc"]),  # constant frames -> 0
        helper.make_node("MatMul", ["xc", "w"], ["l0"]),
        helper.make_node("Add", ["l0", "b"], ["l1"]),
        helper.make_node("ReduceMean", ["speech"], ["m"], axes=[1, 2], keepdims=1),
        helper.make_node("Add", ["m", "two_f"], ["m2"]),
        helper.make_node("Add", ["m2", "m2"], ["m4"]),
        helper.make_node("Sigmoid", ["m4"], ["ms"]),
        helper.make_node("Mul", ["ms", "loud"], ["lq"]),
        helper.make_node("Add", ["l1", "lq"], ["logits"]),
        helper.make_node("Add", ["speech_lengths", "two"], ["sl"]),
        helper.make_node("Div", ["sl", "three"], ["token_num"]),
    ], "paraformer_offline",
        [helper.make_tensor_value_info("speech", TensorProto.FLOAT, ["N", "T", fdim]),
         helper.make_tensor_value_info("speech_lengths", TensorProto.INT32, ["N"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", "U", v]),
         helper.make_tensor_value_info("token_num", TensorProto.INT32, ["N"])],
        [_const_i64("starts", [0]), _const_i64("ends", [np.iinfo(np.int64).max]),
         _const_i64("axes", [1]), _const_i64("steps", [3]), _init("w", w), _init("b", b),
         _init("loud", loud), _init("two", np.array([2], dtype=np.int32)),
         _init("two_f", np.array([2.0], dtype=np.float32)),
         _init("three", np.array([3], dtype=np.int32))])
    _save(g, path, {
        "model_type": "paraformer", "version": "1", "model_author": "izwi-genmodels",
        "comment": "tiny generated test model; words are meaningless",
        "vocab_size": v, "lfr_window_size": P_LFR_M, "lfr_window_shift": P_LFR_N,
        "neg_mean": _csv([-13.3] * fdim), "inv_stddev": _csv([0.25] * fdim)})


def _manifest(d, name, family, meta, roles):
    files = {}
    for fn in sorted(os.listdir(d)):
        if fn == "manifest.json":
            continue
        p = os.path.join(d, fn)
        with open(p, "rb") as f:
            data = f.read()
        files[fn] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    for role, fn in roles.items():
        if fn not in files:
            raise ValueError(f"{name}: role {role} names missing file {fn}")
    doc = {"name": name, "family": family, "meta": meta, "files": files, "roles": roles}
    with open(os.path.join(d, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, sort_keys=True)
        f.write("\n")


def generate(out_dir):
    """Writes every tiny ASR model under out_dir; returns the model dir names."""
    made = []

    name = "streaming-zipformer2-tiny"
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(20240601)
    joiner_dim = 16
    _zipformer2_encoder(os.path.join(d, "encoder.onnx"), rng, joiner_dim)
    _transducer_decoder(os.path.join(d, "decoder.onnx"), rng, joiner_dim, 2)
    _transducer_joiner(os.path.join(d, "joiner.onnx"), rng, joiner_dim, BLANK_BIAS)
    _write_tokens(os.path.join(d, "tokens.txt"))
    _write_bpe_vocab(os.path.join(d, "bpe.vocab"))
    _manifest(d, name, "online-transducer", {"model_type": "zipformer2"},
              {"encoder": "encoder.onnx", "decoder": "decoder.onnx",
               "joiner": "joiner.onnx", "tokens": "tokens.txt",
               "bpe_vocab": "bpe.vocab"})
    made.append(name)

    name = "streaming-lstm-tiny"
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(20240608)
    _zipformer2_encoder(os.path.join(d, "encoder.onnx"), rng, joiner_dim, lstm=True)
    _transducer_decoder(os.path.join(d, "decoder.onnx"), rng, joiner_dim, 2)
    _transducer_joiner(os.path.join(d, "joiner.onnx"), rng, joiner_dim, BLANK_BIAS)
    _write_tokens(os.path.join(d, "tokens.txt"))
    _manifest(d, name, "online-transducer", {"model_type": "lstm"},
              {"encoder": "encoder.onnx", "decoder": "decoder.onnx",
               "joiner": "joiner.onnx", "tokens": "tokens.txt"})
    made.append(name)

    name = "streaming-zipformer2-ctc-tiny"
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(20240605)
    _zipformer2_encoder(os.path.join(d, "model.onnx"), rng, 16, ctc=True)
    _write_tokens(os.path.join(d, "tokens.txt"))
    _manifest(d, name, "online-zipformer2-ctc", {"model_type": "zipformer2_ctc"},
              {"model": "model.onnx", "tokens": "tokens.txt"})
    made.append(name)

    name = "streaming-paraformer-tiny"
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    _paraformer_models(d, np.random.default_rng(20240607), 16)
    _manifest(d, name, "online-paraformer", {"model_type": "paraformer"},
              {"encoder": "encoder.onnx", "decoder": "decoder.onnx", "tokens": "tokens.txt"})
    made.append(name)

    name = "offline-paraformer-tiny"
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    _offline_paraformer(os.path.join(d, "model.onnx"), np.random.default_rng(20240609))
    _write_tokens(os.path.join(d, "tokens.txt"), PARAFORMER_TOKENS)
    _manifest(d, name, "offline-paraformer", {"model_type": "paraformer"},
              {"model": "model.onnx", "tokens": "tokens.txt"})
    made.append(name)

    name = "offline-nemo-ctc-tiny"
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(20240602)
    _nemo_ctc(os.path.join(d, "model.onnx"), rng, 4)
    _write_tokens(os.path.join(d, "tokens.txt"))
    _manifest(d, name, "offline-nemo-ctc", {"model_type": "nemo_ctc"},
              {"model": "model.onnx", "tokens": "tokens.txt"})
    made.append(name)

    name = "offline-parakeet-tdt-tiny"
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(20240603)
    dim = 16
    _nemo_encoder(os.path.join(d, "encoder.onnx"), rng, dim, 8)
    _nemo_decoder(os.path.join(d, "decoder.onnx"), rng, dim, 1, 8)
    _nemo_joiner(os.path.join(d, "joiner.onnx"), rng, dim, BLANK_BIAS)
    _write_tokens(os.path.join(d, "tokens.txt"), NEMO_TOKENS)
    _manifest(d, name, "offline-nemo-transducer", {"model_type": "nemo_transducer"},
              {"encoder": "encoder.onnx", "decoder": "decoder.onnx",
               "joiner": "joiner.onnx", "tokens": "tokens.txt"})
    made.append(name)

    name = "offline-whisper-tiny"
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(20240604)
    _whisper_encoder(os.path.join(d, "encoder.onnx"), rng, 1, 8, 64)
    _whisper_decoder(os.path.join(d, "decoder.onnx"), rng, 1, 8, 64)
    _write_whisper_tokens(os.path.join(d, "tokens.txt"))
    _manifest(d, name, "offline-whisper", {"model_type": "whisper", "language": "en", "task": "transcribe"},
              {"encoder": "encoder.onnx", "decoder": "decoder.onnx", "tokens": "tokens.txt"})
    made.append(name)

    name = "offline-moonshine-tiny"
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    _moonshine_models(d, np.random.default_rng(20240606), 16)
    _manifest(d, name, "offline-moonshine", {"model_type": "moonshine", "language": "en"},
              {"preprocessor": "preprocess.onnx", "encoder": "encode.onnx",
               "uncached_decoder": "uncached_decode.onnx",
               "cached_decoder": "cached_decode.onnx", "tokens": "tokens.txt"})
    made.append(name)
    return made


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUT_DIR", file=sys.stderr)
        return 2
    for n in generate(argv[1]):
        print(os.path.join(argv[1], n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
