#!/usr/bin/python3
"""Generate the tiny ONNX models Izwi's sherpa-onnx tests load.

Usage: /usr/bin/python3 scripts/gen-test-models.py --out testdata/gen [--force]

Runs genmodels.asr, genmodels.speaker and genmodels.tts; each writes model
directories under --out, and this driver writes a manifest.json (file ->
sha256, size; roles; meta) into each. It is idempotent and fast when up to
date: a stamp file holds the hash of this script and every genmodels/*.py,
and nothing is regenerated while it matches and every listed model's
manifest is present. Needs Debian's python3-onnx and python3-numpy.
"""

import argparse
import fcntl
import hashlib
import importlib
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

GENERATORS = ("asr", "speaker", "tts")
STAMP = ".stamp.json"


def source_hash():
    """Hash of the generator sources: any edit regenerates everything."""
    h = hashlib.sha256()
    paths = [os.path.abspath(__file__)]
    pkg = os.path.join(HERE, "genmodels")
    paths += sorted(os.path.join(pkg, n) for n in os.listdir(pkg) if n.endswith(".py"))
    for p in paths:
        h.update(os.path.basename(p).encode() + b"\0")
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def up_to_date(out, digest):
    try:
        with open(os.path.join(out, STAMP)) as f:
            stamp = json.load(f)
    except (OSError, ValueError):
        return False
    if stamp.get("source_sha256") != digest:
        return False
    return all(os.path.isfile(os.path.join(out, m, "manifest.json")) for m in stamp.get("models", []))


def run_generator(name, out):
    try:
        mod = importlib.import_module("genmodels." + name)
    except ModuleNotFoundError as e:
        if e.name == "genmodels." + name:
            print("gen-test-models: genmodels.%s not present yet; skipped" % name, file=sys.stderr)
            return {}
        raise
    import genmodels

    before = set(os.listdir(out))
    desc = mod.generate(out)
    if desc is None:
        new = sorted(set(os.listdir(out)) - before)
        desc = [d for d in new if os.path.isdir(os.path.join(out, d))]
    if isinstance(desc, dict):
        for model, d in desc.items():
            genmodels.write_manifest(os.path.join(out, model), model, d.get("family", name),
                                     d.get("roles"), d.get("meta"))
        return list(desc)
    # A list of names: the generator wrote its own manifests, or relies on
    # the default (roles from file names).
    for model in desc:
        if not os.path.isfile(os.path.join(out, model, "manifest.json")):
            genmodels.write_manifest(os.path.join(out, model), model, name)
    return list(desc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="directory to write models under")
    ap.add_argument("--force", action="store_true", help="regenerate even when up to date")
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    digest = source_hash()
    # One generator at a time per directory: parallel `go test` processes may
    # all find the models missing at once.
    with open(os.path.join(out, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not args.force and up_to_date(out, digest):
            print("gen-test-models: %s up to date" % out)
            return 0
        t0 = time.time()
        models = []
        for name in GENERATORS:
            models += sorted(run_generator(name, out))
        stamp = {"source_sha256": digest, "models": models}
        with open(os.path.join(out, STAMP + ".tmp"), "w") as f:
            json.dump(stamp, f, indent=2)
        os.replace(os.path.join(out, STAMP + ".tmp"), os.path.join(out, STAMP))
        print("gen-test-models: wrote %s to %s in %.1fs" % (", ".join(models), out, time.time() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
