"""A tiny statistics-pooling speaker-embedding model for sherpa-onnx.

sherpa-onnx computes 80-bin log-mel fbank features, subtracts their
per-utterance mean ("global-mean", as for 3D-Speaker CAM++/ERes2Net) and
feeds x [1, T, 80]; the graph returns embedding [1, DIM]:

  mean and std over time (statistics pooling) -> [mean, log std]
  -> fixed projection: a DCT-II to cepstral coefficients 1..19 of each,
     liftered by k so higher coefficients count as much as the low ones.

No weights are learned. After global-mean normalisation the mean half is
about zero, so identity rides on the spectral shape of each band's
variability: crude, but it separates the five shared LibriSpeech/LibriVox
speakers (recording channel included) well enough to test the plumbing.
Metadata keys follow sherpa-onnx's speaker-embedding-extractor-model.cc.
"""

import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from genmodels import save_model

NAME = "speaker-stats-tiny"
FEAT_DIM = 80
N_CEPS = 19  # coefficients 1..19 of each statistic
DIM = 2 * N_CEPS
SAMPLE_RATE = 16000


def projection():
    n = np.arange(FEAT_DIM)
    k = np.arange(1, N_CEPS + 1)
    dct = np.cos(np.pi / FEAT_DIM * (n[None, :] + 0.5) * k[:, None])  # [19, 80]
    lifted = (dct * k[:, None]).T.astype(np.float32)  # [80, 19]
    w = np.zeros((2 * FEAT_DIM, DIM), dtype=np.float32)
    w[:FEAT_DIM, :N_CEPS] = lifted
    w[FEAT_DIM:, N_CEPS:] = lifted
    return w


def build_graph():
    inits = [
        numpy_helper.from_array(projection(), "proj"),
        numpy_helper.from_array(np.array(1e-5, dtype=np.float32), "eps"),
    ]
    n = helper.make_node
    nodes = [
        n("ReduceMean", ["x"], ["mean_k"], axes=[1], keepdims=1),  # [1, 1, 80]
        n("Sub", ["x", "mean_k"], ["centred"]),
        n("Mul", ["centred", "centred"], ["sq"]),
        n("ReduceMean", ["sq"], ["var"], axes=[1], keepdims=0),  # [1, 80]
        n("Add", ["var", "eps"], ["var_eps"]),
        n("Sqrt", ["var_eps"], ["std"]),
        n("Log", ["std"], ["log_std"]),
        n("ReduceMean", ["x"], ["mean"], axes=[1], keepdims=0),  # [1, 80]
        n("Concat", ["mean", "log_std"], ["stats"], axis=1),  # [1, 160]
        n("MatMul", ["stats", "proj"], ["embedding"]),  # [1, DIM]
    ]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "T", FEAT_DIM])]
    outputs = [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, DIM])]
    return helper.make_graph(nodes, "izwi_speaker_stats", inputs, outputs, inits)


def generate(out_dir):
    d = os.path.join(out_dir, NAME)
    os.makedirs(d, exist_ok=True)
    meta = {
        "framework": "3d-speaker",
        "model_type": "stats-pooling",
        "comment": "izwi generated test model: statistics pooling, no training",
        "language": "English",
        "sample_rate": SAMPLE_RATE,
        "output_dim": DIM,
        "normalize_samples": 1,
        "feature_normalize_type": "global-mean",
    }
    save_model(build_graph(), os.path.join(d, "model.onnx"), meta)
    return {NAME: {
        "family": "speaker-embedding",  # package models' family name
        "roles": {"model": "model.onnx"},
        "meta": {"sample_rate": str(SAMPLE_RATE), "dim": str(DIM)},
    }}
