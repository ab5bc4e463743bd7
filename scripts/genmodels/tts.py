"""A tiny VITS-shaped TTS model that sherpa-onnx's OfflineTts loads.

Graph: inputs x (int64 [1, N] token ids), x_length (int64 [1]), noise_scale,
length_scale, noise_scale_w (float [1]) and sid (int64 [1]) — the six inputs
sherpa-onnx passes a non-Piper VITS model — and output y (float [1, 1, T]).
Each token lasts SAMPLES_PER_TOKEN * length_scale samples, so speed changes
length exactly as in real VITS; a token sounds as a windowed tone whose pitch
depends on the token id and the speaker id, and the blank/pad token (id 0)
is silent. The noise inputs are accepted and multiplied by zero.

Files: model.onnx, tokens.txt (letters, space, punctuation), lexicon.txt
(common English words spelled letter by letter). Metadata follows
sherpa-onnx's offline-tts-vits-model.cc: model_type, sample_rate, add_blank,
n_speakers, punctuation, language, comment, frontend.
"""

import math
import os

import numpy as np
from onnx import TensorProto, helper

from genmodels import save_model, write_text

NAME = "vits-tiny-en"
SAMPLE_RATE = 16000
SAMPLES_PER_TOKEN = 480  # 30 ms; with add_blank a letter takes 60 ms
N_SPEAKERS = 2
PUNCTUATION = ", . ! ? ; :"

WORDS = """
a about after again all also am an and any are as at back be because been
before being best better between both but by call can come could day did do
does done down each even every few find first for from get give go good great
had has have he hello her here him his how i if in into is it its just know
last let like little long look made make many may me more most much must my
name need never new next no not now of off old on once one only or other our
out over own people place please right said same say see she should show
since so some speak speech still such take tell than thank thanks that the
their them then there these they thing think this those three through time
to today too two under up us use very voice want was way we well were what
when where which while who why will with word words work world would year yes
yet you your izwi test testing quick brown fox jumps lazy dog morning evening
captions caption transcript synthesis sentence second hear heard sound
""".split()


def tokens():
    syms = ["_", " "] + PUNCTUATION.split() + list("abcdefghijklmnopqrstuvwxyz'")
    return {s: i for i, s in enumerate(syms)}


def build_graph(piper=False, kokoro=False):
    c = lambda name, value, dt=np.float32: helper.make_tensor(  # noqa: E731
        name, TensorProto.FLOAT if dt == np.float32 else TensorProto.INT64,
        np.asarray(value).shape, np.asarray(value, dtype=dt).flatten().tolist())
    inits = [
        c("one_idx", [1], np.int64), c("zero_i", 0, np.int64), c("one_i", 1, np.int64),
        c("spt", float(SAMPLES_PER_TOKEN)), c("zero_f", 0.0), c("half", 0.5),
        c("two_pi_over_sr", 2 * math.pi / SAMPLE_RATE), c("pi", math.pi),
        c("f_base", 110.0), c("f_tok", 9.0), c("f_spk", 55.0),
        c("out_shape", [1, 1, -1], np.int64), c("flat", [-1], np.int64),
    ]
    n = helper.make_node
    nodes = []
    if piper:
        # Piper packs the three scales into one input and names inputs
        # input, input_lengths, scales, sid.
        inits += [c("i0", [0], np.int64), c("i1", [1], np.int64), c("i2", [2], np.int64)]
        nodes += [
            n("Identity", ["input"], ["x"]),
            n("Identity", ["input_lengths"], ["x_length"]),
            n("Gather", ["scales", "i0"], ["noise_scale"], axis=0),
            n("Gather", ["scales", "i1"], ["length_scale"], axis=0),
            n("Gather", ["scales", "i2"], ["noise_scale_w"], axis=0),
        ]
    if kokoro:
        # Kokoro: tokens, a style vector chosen by sherpa-onnx from voices.bin
        # (its first value is the speaker index here), and speed.
        inits += [c("k0", [0], np.int64), c("one_f", [1.0]), c("flat_style", [-1], np.int64)]
        nodes += [
            n("Identity", ["tokens"], ["x"]),
            n("Div", ["one_f", "speed"], ["length_scale"]),
            n("Reshape", ["style", "flat_style"], ["style_flat"]),
            n("Gather", ["style_flat", "k0"], ["sid_f"], axis=0),
            n("Mul", ["speed", "zero_f"], ["noise_scale"]),
            n("Identity", ["noise_scale"], ["noise_scale_w"]),
            n("Shape", ["tokens"], ["tokens_shape"]),
            n("Gather", ["tokens_shape", "one_idx"], ["x_length"], axis=0),
        ]
    nodes += [
        n("Shape", ["x"], ["x_shape"]),
        n("Gather", ["x_shape", "one_idx"], ["n_tok1"], axis=0),  # [1]
        n("Cast", ["n_tok1"], ["n_tok_f"], to=TensorProto.FLOAT),
        n("Mul", ["spt", "length_scale"], ["tok_len"]),  # [1] samples per token
        n("Mul", ["n_tok_f", "tok_len"], ["total_f"]),
        n("Floor", ["total_f"], ["total_floor"]),
        n("Cast", ["total_floor"], ["total_i1"], to=TensorProto.INT64),
        n("Squeeze", ["total_i1"], ["total_i"]),
        n("Range", ["zero_i", "total_i", "one_i"], ["t_i"]),  # [T]
        n("Cast", ["t_i"], ["t_f"], to=TensorProto.FLOAT),
        n("Div", ["t_f", "tok_len"], ["pos"]),
        n("Floor", ["pos"], ["pos_floor"]),
        n("Sub", ["pos", "pos_floor"], ["frac"]),  # position inside a token
        n("Cast", ["pos_floor"], ["tok_idx0"], to=TensorProto.INT64),
        n("Sub", ["n_tok1", "one_i"], ["last_idx"]),
        n("Min", ["tok_idx0", "last_idx"], ["tok_idx"]),
        n("Reshape", ["x", "flat"], ["x_flat"]),
        n("Gather", ["x_flat", "tok_idx"], ["tok"], axis=0),  # [T] token per sample
        n("Cast", ["tok"], ["tok_f"], to=TensorProto.FLOAT),
        n("Mul", ["tok_f", "f_tok"], ["f1"]),
        n("Mul", ["sid_f", "f_spk"], ["f2"]),
        n("Add", ["f1", "f2"], ["f3"]),
        n("Add", ["f3", "f_base"], ["freq"]),
        n("Mul", ["freq", "two_pi_over_sr"], ["dphase"]),
        n("CumSum", ["dphase", "zero_i"], ["phase"]),
        n("Sin", ["phase"], ["tone"]),
        n("Mul", ["frac", "pi"], ["env_arg"]),
        n("Sin", ["env_arg"], ["env"]),  # rises and falls within each token
        n("Greater", ["tok_f", "zero_f"], ["voiced_b"]),  # blank/pad is silent
        n("Cast", ["voiced_b"], ["voiced"], to=TensorProto.FLOAT),
        n("Mul", ["tone", "env"], ["y1"]),
        n("Mul", ["y1", "voiced"], ["y2"]),
        n("Mul", ["y2", "half"], ["y3"]),
        # Accept the noise inputs as a real VITS does; they change nothing.
        n("Add", ["noise_scale", "noise_scale_w"], ["noise_sum"]),
        n("Mul", ["noise_sum", "zero_f"], ["noise_zero"]),
        n("Add", ["y3", "noise_zero"], ["y4"]),
        n("Cast", ["x_length"], ["xl_f"], to=TensorProto.FLOAT),
        n("Mul", ["xl_f", "zero_f"], ["xl_zero"]),
        n("Add", ["y4", "xl_zero"], ["y5"]),
        n("Reshape", ["y5", "flat" if kokoro else "out_shape"], ["audio" if kokoro else "y"]),
    ]
    if not kokoro:
        nodes.insert(0, n("Cast", ["sid"], ["sid_f"], to=TensorProto.FLOAT))
    f1 = lambda name: helper.make_tensor_value_info(name, TensorProto.FLOAT, [1])  # noqa: E731
    if kokoro:
        inputs = [
            helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, "N"]),
            helper.make_tensor_value_info("style", TensorProto.FLOAT, [1, KOKORO_STYLE_DIM]),
            helper.make_tensor_value_info("speed", TensorProto.FLOAT, [1]),
        ]
    elif piper:
        inputs = [
            helper.make_tensor_value_info("input", TensorProto.INT64, [1, "N"]),
            helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
            helper.make_tensor_value_info("scales", TensorProto.FLOAT, [3]),
            helper.make_tensor_value_info("sid", TensorProto.INT64, [1]),
        ]
    else:
        inputs = [
            helper.make_tensor_value_info("x", TensorProto.INT64, [1, "N"]),
            helper.make_tensor_value_info("x_length", TensorProto.INT64, [1]),
            f1("noise_scale"), f1("length_scale"), f1("noise_scale_w"),
            helper.make_tensor_value_info("sid", TensorProto.INT64, [1]),
        ]
    if kokoro:
        outputs = [helper.make_tensor_value_info("audio", TensorProto.FLOAT, ["T"])]
    else:
        outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, "T"])]
    return helper.make_graph(nodes, "izwi_tiny_vits", inputs, outputs, inits)


# Piper's English phoneme inventory (IPA as espeak-ng writes it), with the
# pad "_", start "^" and end "$" symbols Piper models use.
PIPER_SYMBOLS = (["_", "^", "$", " "] + list("!'(),-.:;?") + list("abcdefhijklmnopqrstuvwxyz")
                 + list("æçðøħŋœǀǁǂǃɐɑɒɓɔɕɖɗɘəɚɛɜɞɟɠɡɢɣɤɥɦɧɨɪɫɬɭɮɯɰɱɲɳɴɵɶɸɹɺɻɽɾʀʁʂʃʄʈʉʊʋʌʍʎʏʐʑʒʔʕʘʙʛʜʝʟʡʢʲˈˌːˑ˞βθχᵻⱱ")
                 + ["\u0303", "\u0327", "\u032a", "\u0329", "\u030a", "\u0361"])

# Debian's espeak-ng-data (apt package espeak-ng-data) and the files of it a
# US English Piper voice needs.
ESPEAK_DATA = "/usr/lib/x86_64-linux-gnu/espeak-ng-data"
ESPEAK_FILES = ["phontab", "phonindex", "phondata", "intonations", "en_dict", "lang/gmw/en-US", "lang/gmw/en"]


def generate_piper(out_dir):
    """A Piper-shaped model using espeak-ng-data; None without the data."""
    if not all(os.path.isfile(os.path.join(ESPEAK_DATA, f)) for f in ESPEAK_FILES):
        print("genmodels.tts: %s missing (apt-get install espeak-ng-data); piper model skipped" % ESPEAK_DATA)
        return None
    name = "piper-tiny-en"
    d = os.path.join(out_dir, name)
    roles = {"model": "model.onnx", "tokens": "tokens.txt"}
    copy_espeak(d, roles)
    lines = [("%s %d" % (s, i)) if s != " " else (" %d" % i) for i, s in enumerate(PIPER_SYMBOLS)]
    write_text(os.path.join(d, "tokens.txt"), "\n".join(lines) + "\n")
    meta = {
        "model_type": "vits",
        "comment": "piper (izwi generated test model, not speech)",
        "language": "English",
        "voice": "en-us",
        "has_espeak": 1,
        "n_speakers": 1,
        "sample_rate": SAMPLE_RATE,
    }
    save_model(build_graph(piper=True), os.path.join(d, "model.onnx"), meta)
    return name, {"family": "tts-vits", "roles": roles,
                  "meta": {"language": "en", "gender": "neutral", "sample_rate": str(SAMPLE_RATE)}}


KOKORO_STYLE_DIM = 8
KOKORO_MAX_TOKENS = 510
KOKORO_RATE = 24000


def copy_espeak(d, roles):
    for f in ESPEAK_FILES:
        dst = os.path.join(d, "espeak-ng-data", f)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(os.path.join(ESPEAK_DATA, f), "rb") as src:
            data = src.read()
        with open(dst + ".tmp", "wb") as out:
            out.write(data)
        os.replace(dst + ".tmp", dst)
        roles["espeak-ng-data/" + f] = "espeak-ng-data/" + f


def generate_kokoro(out_dir):
    """A Kokoro-v0.19-shaped model (espeak front end, voices.bin styles)."""
    if not all(os.path.isfile(os.path.join(ESPEAK_DATA, f)) for f in ESPEAK_FILES):
        return None
    name = "kokoro-tiny-en"
    d = os.path.join(out_dir, name)
    roles = {"model": "model.onnx", "tokens": "tokens.txt", "voices": "voices.bin"}
    copy_espeak(d, roles)
    lines = [("%s %d" % (s, i)) if s != " " else (" %d" % i) for i, s in enumerate(PIPER_SYMBOLS)]
    write_text(os.path.join(d, "tokens.txt"), "\n".join(lines) + "\n")
    n_speakers = 2
    styles = np.zeros((n_speakers, KOKORO_MAX_TOKENS, 1, KOKORO_STYLE_DIM), dtype=np.float32)
    for spk in range(n_speakers):
        styles[spk, :, 0, 0] = spk  # the graph reads the speaker from here
    with open(os.path.join(d, "voices.bin.tmp"), "wb") as f:
        f.write(styles.tobytes())
    os.replace(os.path.join(d, "voices.bin.tmp"), os.path.join(d, "voices.bin"))
    meta = {
        "model_type": "kokoro",
        "comment": "kokoro (izwi generated test model, not speech)",
        "language": "English",
        "voice": "en-us",
        "has_espeak": 1,
        "version": 1,
        "n_speakers": n_speakers,
        "sample_rate": KOKORO_RATE,
        "style_dim": "%d,1,%d" % (KOKORO_MAX_TOKENS, KOKORO_STYLE_DIM),
        "speaker_names": "af,am",
    }
    save_model(build_graph(kokoro=True), os.path.join(d, "model.onnx"), meta)
    return name, {"family": "tts-kokoro", "roles": roles,
                  "meta": {"language": "en", "lang": "en-us", "voices": "af:female,am:male",
                           "sample_rate": str(KOKORO_RATE)}}


def generate(out_dir):
    d = os.path.join(out_dir, NAME)
    os.makedirs(d, exist_ok=True)
    tok = tokens()
    lines = []
    for s, i in tok.items():
        lines.append(("%s %d" % (s, i)) if s != " " else (" %d" % i))
    write_text(os.path.join(d, "tokens.txt"), "\n".join(lines) + "\n")
    words = sorted(set(WORDS) | set("abcdefghijklmnopqrstuvwxyz"))
    write_text(os.path.join(d, "lexicon.txt"),
               "".join("%s %s\n" % (w, " ".join(w)) for w in words))
    meta = {
        "model_type": "vits",
        "comment": "izwi generated test model (not speech)",
        "language": "English",
        "add_blank": 1,
        "n_speakers": N_SPEAKERS,
        "sample_rate": SAMPLE_RATE,
        "punctuation": PUNCTUATION,
        "frontend": "",
    }
    save_model(build_graph(), os.path.join(d, "model.onnx"), meta)
    # Families and meta keys follow package models' catalogue (meta.go).
    made = {NAME: {
        "family": "tts-vits",
        "roles": {"model": "model.onnx", "tokens": "tokens.txt", "lexicon": "lexicon.txt"},
        "meta": {"language": "en", "voices": "alto:female,bass:male", "sample_rate": str(SAMPLE_RATE)},
    }}
    for extra in (generate_piper(out_dir), generate_kokoro(out_dir)):
        if extra:
            made[extra[0]] = extra[1]
    return made
