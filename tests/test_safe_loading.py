"""Model files and checkpoints are loaded safely: .npz + JSON only, never pickle, never code.

Each kind of bad file is crafted here, for both model files (tinyae.models.load) and
training checkpoints (tinyae.checkpoint.load_checkpoint, and fit(resume=...)), and must
give a ModelFileError with its OWN message: an object array (made with
np.save(allow_pickle=True), holding an object whose unpickling would create a file), a
missing, extra or misshapen parameter, an unknown layer type such as "os.system", invalid
JSON, a truncated file, a file that is not a zip, an empty file, a damaged entry, an entry
whose header promises more data than it holds. None of them may run code: pickle's
loaders are replaced by tripwires while they are read, and the object array's payload
must not have created its marker file. Finally the package source is searched for
``allow_pickle=True`` and for pickle imports.
"""
from __future__ import annotations

import io
import json
import pickle
import pickletools
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tinyae import checkpoint, layers, models
from tinyae.errors import ModelFileError
from tinyae.train import fit

PACKAGE = Path(__file__).resolve().parent.parent / "tinyae"


def small_model(seed=0):
    return layers.Sequential(layers.Flatten(), layers.Dense(12, 6, rng=seed), layers.ReLU(),
                             layers.Dropout(0.2, seed=3), layers.Dense(6, 12, rng=seed + 1), layers.Sigmoid(),
                             layers.Reshape((3, 4)), input_shape=(3, 4))


class Payload:
    """Unpickling this object opens (creates) the file ``marker``: the code a pickle could run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def npy_bytes(array, allow_pickle=False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def write_zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name + ".npy", data)
    return path


class Kind:
    """How one kind of file is written, read, and where its parameters and JSON live."""

    def __init__(self, name, prefix, json_key, load):
        self.name, self.prefix, self.json_key, self.load = name, prefix, json_key, load

    def write_good(self, folder: Path) -> Path:
        if self.name == "model":
            return models.save(small_model(), folder / "good.npz")
        path = folder / "good.npz"
        x = np.random.default_rng(0).random((8, 3, 4), dtype=np.float32)
        fit(small_model(), x, epochs=1, batch_size=4, verbose=0, checkpoint=path)
        return path

    def get_json(self, arrays):
        return json.loads(arrays[self.json_key].tobytes().decode())

    def architecture(self, meta):
        return meta if self.name == "model" else meta["architecture"]

    def put_json(self, arrays, meta):
        arrays[self.json_key] = np.frombuffer(json.dumps(meta).encode(), np.uint8)


KINDS = {
    "model": Kind("model", "", models.ARCH_KEY, models.load),
    "checkpoint": Kind("checkpoint", "model.", checkpoint.META_KEY, checkpoint.load_checkpoint),
}


def craft(kind: Kind, fault: str, folder: Path) -> Path:
    """Write a file with ``fault`` into ``folder``; returns its path."""
    good = kind.write_good(folder)
    arrays = models.read_npz(good)
    raw = good.read_bytes()
    bad = folder / f"{fault}.npz"
    p = kind.prefix
    if fault == "object-array":
        entries = {name: npy_bytes(a) for name, a in arrays.items()}
        entries[f"{p}1.W"] = npy_bytes(np.array([Payload(folder / "PWNED")], dtype=object), allow_pickle=True)
        return write_zip(bad, entries)
    if fault == "missing-parameter":
        del arrays[f"{p}4.W"]
    elif fault == "extra-parameter":
        arrays[f"{p}9.W"] = np.zeros((2, 2), np.float32)
    elif fault == "wrong-shape":
        arrays[f"{p}1.W"] = arrays[f"{p}1.W"][:, :5]
    elif fault == "integer-parameter":
        arrays[f"{p}1.b"] = arrays[f"{p}1.b"].astype(np.int32)
    elif fault in ("unknown-layer", "dunder-import-layer", "layers-do-not-fit", "config-injection"):
        meta = kind.get_json(arrays)
        specs = kind.architecture(meta)["model"]["layers"]
        if fault == "unknown-layer":
            specs[2]["type"] = "os.system"
        elif fault == "dunder-import-layer":
            specs[2] = {"type": "__import__", "config": {"name": "os"}}
        elif fault == "layers-do-not-fit":
            specs[4]["config"]["in_features"] = 7
            arrays[f"{p}4.W"] = np.zeros((7, 12), np.float32)
        else:
            specs[2]["config"] = {"__class__": "os.system"}
        kind.put_json(arrays, meta)
    elif fault == "invalid-json":
        arrays[kind.json_key] = np.frombuffer(b'{"format": "tinyae', np.uint8)
    elif fault == "truncated":
        bad.write_bytes(raw[: len(raw) // 2])
        return bad
    elif fault == "not-a-zip":
        bad.write_text("import os; os.system('echo hello')\n")
        return bad
    elif fault == "empty":
        bad.write_bytes(b"")
        return bad
    elif fault == "damaged-entry":
        entries = {name: npy_bytes(a) for name, a in arrays.items()}
        write_zip(bad, entries)
        data = bytearray(bad.read_bytes())
        offset = data.index(entries[f"{p}1.W"][-64:])        # inside the stored bytes of 1.W
        data[offset + 10] ^= 0xFF
        bad.write_bytes(bytes(data))
        return bad
    elif fault == "short-entry":
        entries = {name: npy_bytes(a) for name, a in arrays.items()}
        b = arrays[f"{p}1.b"]                            # 6 float32 values, 24 bytes
        buffer = io.BytesIO()
        np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False, "shape": (9999999,)})
        entries[f"{p}1.b"] = buffer.getvalue() + b.astype("<f4").tobytes()
        return write_zip(bad, entries)
    else:
        raise ValueError(fault)
    np.savez(bad, **arrays)
    return bad


# (fault, message fragment as a regex: each distinct)
FAULTS = [
    ("object-array", r"entry '(model\.)?1\.W' is an object array \(dtype object\): loading it would need pickle, "
                     r"which can run arbitrary code; refused"),
    ("missing-parameter", r"missing parameters \['4\.W'\]"),
    ("extra-parameter", r"parameters the architecture does not have: \['9\.W'\]"),
    ("wrong-shape", r"parameter 1\.W has shape \(12, 5\), the architecture needs \(12, 6\)"),
    ("integer-parameter", r"parameter 1\.b has dtype int32, expected floating point"),
    ("unknown-layer", r"layer 2: unknown layer type 'os\.system'; known types: .*Dense"),
    ("dunder-import-layer", r"layer 2: unknown layer type '__import__'; known types"),
    ("config-injection", r"layer 2 \(ReLU\): bad configuration \{'__class__': 'os\.system'\}"),
    ("layers-do-not-fit", r"the architecture is inconsistent: layers do not fit together"),
    ("invalid-json", r"entry is not valid JSON"),
    ("truncated", r"not a readable \.npz file: truncated or damaged, its zip directory is missing or unreadable"),
    ("not-a-zip", r"not a readable \.npz file: it is not a zip archive \(its first bytes are b'impo'"),
    ("empty", r"not a readable \.npz file: it is empty \(0 bytes\)"),
    ("damaged-entry", r"not a readable \.npz file: entry '(model\.)?1\.W' is damaged \(BadZipFile: Bad CRC-32"),
    ("short-entry", r"entry '(model\.)?1\.b' is truncated or padded: its header says float32 \(9999999,\) "
                    r"\(39999996 bytes\), the entry holds 24"),
]


@pytest.fixture
def no_pickle(monkeypatch):
    """Tripwires: any use of pickle's loaders fails the test."""
    def tripwire(*args, **kwargs):
        raise AssertionError("pickle was used to load a file")

    monkeypatch.setattr(pickle, "load", tripwire)
    monkeypatch.setattr(pickle, "loads", tripwire)
    monkeypatch.setattr(pickle, "Unpickler", tripwire)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("fault, message", FAULTS, ids=[f for f, _ in FAULTS])
def test_each_bad_file_gives_its_own_model_file_error_and_runs_no_code(tmp_path, kind, fault, message, no_pickle):
    path = craft(KINDS[kind], fault, tmp_path)
    with pytest.raises(ModelFileError, match=rf"^{re.escape(str(path))}: .*{message}"):
        KINDS[kind].load(path)
    assert not (tmp_path / "PWNED").exists()


def test_the_object_array_really_holds_a_pickled_payload(tmp_path):
    """The crafted file is dangerous: its entry is a pickle that calls open() (checked without unpickling it)."""
    path = craft(KINDS["model"], "object-array", tmp_path)
    with zipfile.ZipFile(path) as archive:
        data = archive.read("1.W.npy")
    assert data.startswith(b"\x93NUMPY") and b"'descr': '|O'" in data
    ops = list(pickletools.genops(data[data.index(b"\n") + 1:]))        # reads the opcodes, runs nothing
    names = [op.name for op, arg, _ in ops]
    strings = [arg for _, arg, _ in ops if isinstance(arg, str)]
    assert "REDUCE" in names and "open" in strings and any(s.endswith("PWNED") for s in strings)
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_messages_are_distinct(tmp_path, kind):
    messages = []
    for fault, _ in FAULTS:
        folder = tmp_path / fault
        folder.mkdir()
        path = craft(KINDS[kind], fault, folder)
        with pytest.raises(ModelFileError) as info:
            KINDS[kind].load(path)
        messages.append(str(info.value).replace(str(path), "FILE"))
    assert len(set(messages)) == len(messages), messages


def test_resume_from_a_crafted_checkpoint_refuses_it_before_touching_the_model(tmp_path, no_pickle):
    path = craft(KINDS["checkpoint"], "object-array", tmp_path)
    model = small_model(seed=4)
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ModelFileError, match="object array"):
        fit(model, np.zeros((4, 3, 4), np.float32), epochs=2, verbose=0, resume=path)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters()))
    assert not (tmp_path / "PWNED").exists()


def test_good_files_still_load(tmp_path, no_pickle):
    for kind in KINDS.values():
        folder = tmp_path / kind.name
        folder.mkdir()
        loaded = kind.load(kind.write_good(folder))
        model = loaded if kind.name == "model" else loaded.model
        assert [type(layer).__name__ for layer in model.layers] == \
            ["Flatten", "Dense", "ReLU", "Dropout", "Dense", "Sigmoid", "Reshape"]


def test_fortran_ordered_and_big_endian_arrays_are_read_correctly(tmp_path):
    a = np.asfortranarray(np.arange(12, dtype=">f4").reshape(3, 4))
    path = write_zip(tmp_path / "a.npz", {"a": npy_bytes(a)})
    got = models.read_npz(path)["a"]
    assert np.array_equal(got, a) and got.shape == (3, 4)


# --- the package source itself ----------------------------------------------------------------

def source_files():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    return files


def test_no_code_path_loads_with_pickle():
    forbidden = [re.compile(p) for p in (r"allow_pickle\s*=\s*True", r"^\s*import\s+(c?pickle|dill|joblib|shelve)\b",
                                          r"^\s*from\s+(c?pickle|dill|joblib|shelve)\b", r"\bpickle\.", r"\bmarshal\.")]
    hits = []
    for path in source_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if any(p.search(line) for p in forbidden):
                hits.append(f"{path.relative_to(PACKAGE.parent)}:{number}: {line.strip()}")
    assert hits == []


def test_every_np_load_in_the_package_refuses_pickle():
    calls = []
    for path in source_files():
        text = path.read_text()
        for match in re.finditer(r"\b(np|numpy)\.load\(", text):
            depth, end = 1, match.end()
            while depth and end < len(text):
                depth += {"(": 1, ")": -1}.get(text[end], 0)
                end += 1
            call = text[match.start():end]
            calls.append(call)
            assert "allow_pickle=False" in call, f"{path}: {call}"
