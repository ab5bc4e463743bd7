"""Generators of tiny sherpa-onnx-compatible ONNX models for Izwi's tests.

Each submodule (asr, speaker, tts) exposes ``generate(out_dir)``, which writes
one or more model directories under ``out_dir`` and returns a dict mapping
each directory name it wrote to a descriptor::

    {"family": "vits", "roles": {"model": "model.onnx", ...}, "meta": {...}}

``roles`` maps the role names the Go engine understands to paths relative to
the model directory; ``meta`` holds declarative settings (strings only). A
generator may instead return a list of the directory names it wrote, having
written each manifest.json itself (or leaving the default below), or None: the driver then treats every directory it
wrote as a model whose roles are its files' names without extension
("encoder.onnx" -> "encoder"). The driver (scripts/gen-test-models.py) writes
``manifest.json`` (file -> sha256, size, plus roles and meta) into each one.

The models are deterministic (fixed seeds), so their hashes are stable for a
given onnx/numpy version. They are test fixtures, not speech models.
"""

import hashlib
import json
import os

import onnx

# Opset and IR version that onnxruntime 1.2x (bundled with sherpa-onnx 1.13.8)
# and Debian's python3-onnx 1.12 both understand.
OPSET = 13
IR_VERSION = 8


def save_model(graph, path, metadata):
    """Save graph as an ONNX model at path with string metadata props."""
    model = onnx.helper.make_model(
        graph,
        opset_imports=[onnx.helper.make_opsetid("", OPSET)],
        producer_name="izwi-gen-test-models",
    )
    model.ir_version = IR_VERSION
    for key, value in metadata.items():
        prop = model.metadata_props.add()
        prop.key = str(key)
        prop.value = str(value)
    onnx.checker.check_model(model)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(model.SerializeToString())
    os.replace(tmp, path)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def write_text(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def write_manifest(model_dir, name, family="", roles=None, meta=None):
    """Write model_dir/manifest.json listing every file with sha256 and size."""
    files = {}
    for root, _dirs, names in os.walk(model_dir):
        for n in sorted(names):
            full = os.path.join(root, n)
            rel = os.path.relpath(full, model_dir).replace(os.sep, "/")
            if rel == "manifest.json" or rel.endswith(".tmp"):
                continue
            files[rel] = {"sha256": sha256_file(full), "size": os.path.getsize(full)}
    if roles is None:
        roles = {}
        for rel in files:
            role = rel.rsplit(".", 1)[0] if "/" not in rel else rel
            roles[role] = rel
    for role, rel in roles.items():
        if rel not in files:
            raise ValueError("%s: role %s names missing file %s" % (name, role, rel))
    manifest = {
        "name": name,
        "family": family,
        "files": dict(sorted(files.items())),
        "roles": dict(sorted(roles.items())),
        "meta": {str(k): str(v) for k, v in sorted((meta or {}).items())},
    }
    write_text(os.path.join(model_dir, "manifest.json"),
               json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest
