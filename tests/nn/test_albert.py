"""course_lib computes the same function as Hugging Face's AlbertModel (issue 11, part 4).

transformers is a dev dependency: this test is meant to run (not skip) in ``make test``.
"""

import pytest
import torch
from transformers import AlbertConfig, AlbertModel

from course_lib import ModelConfig, build_model, count_parameters, formula_parameter_count
from course_lib.nn.albert import config_from_hf, from_hf_albert

SMALL = dict(vocab_size=101, embedding_size=16, hidden_size=48, num_hidden_layers=3,
             num_attention_heads=4, intermediate_size=96, max_position_embeddings=40)  # fmt: skip


def random_albert(seed: int = 0, **changes) -> tuple[AlbertConfig, AlbertModel]:
    """A randomly initialised AlbertModel whose LayerNorms are random too (not 1 and 0)."""
    torch.manual_seed(seed)
    hf_cfg = AlbertConfig(**{**SMALL, **changes})
    hf = AlbertModel(hf_cfg).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return hf_cfg, hf


def test_albert_base_preset_counts_match_albert_model():
    cfg = ModelConfig.preset("albert_base")
    hf_cfg = AlbertConfig(  # albert-base-v2's sizes (AlbertConfig's defaults are xxlarge)
        vocab_size=30000, hidden_size=768, num_attention_heads=12, intermediate_size=3072
    )
    assert config_from_hf(hf_cfg) == cfg
    with torch.device("meta"):  # shapes only: no memory, nothing runs
        hf_full = count_parameters(AlbertModel(hf_cfg))
        hf_bare = count_parameters(AlbertModel(hf_cfg, add_pooling_layer=False))
        ours_full = count_parameters(build_model(cfg))
        ours_bare = count_parameters(build_model(cfg.replace(pooler=False)))
    assert (hf_full, hf_bare) == (11_683_584, 11_092_992)
    assert (ours_full, ours_bare) == (hf_full, hf_bare)
    assert formula_parameter_count(cfg) == ours_full
    assert formula_parameter_count(cfg.replace(pooler=False)) == ours_bare


@pytest.mark.parametrize("attn_impl", ["manual", "sdpa"])
def test_hidden_states_and_pooler_match_hf(attn_impl):
    hf_cfg, hf = random_albert()
    cfg = config_from_hf(hf_cfg).replace(attn_impl=attn_impl)
    ours = from_hf_albert(hf.state_dict(), cfg)
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, SMALL["vocab_size"], (3, 25), generator=g)
    ids[1, 18:] = 0  # padding at the end of one sequence: masked keys in both models
    types = torch.randint(0, 2, (3, 25), generator=g)
    with torch.no_grad():
        ref = hf(input_ids=ids, token_type_ids=types, attention_mask=(ids != 0).long())
        hidden = ours(ids, types)
        no_types = (
            hf(input_ids=ids, attention_mask=(ids != 0).long()).last_hidden_state,
            ours(ids),
        )
    assert hidden.shape == ref.last_hidden_state.shape == (3, 25, SMALL["hidden_size"])
    assert (hidden - ref.last_hidden_state).abs().max().item() <= 1e-5
    assert (ours.pool(hidden) - ref.pooler_output).abs().max().item() <= 1e-5
    assert (no_types[0] - no_types[1]).abs().max().item() <= 1e-5  # type ids default to 0
    assert hidden.std().item() > 0.1  # a real comparison, not of two constant tensors


def test_each_albert_option_matters():
    """Without any one of the options the course model no longer computes HF's function."""
    hf_cfg, hf = random_albert(seed=2)
    cfg = config_from_hf(hf_cfg)
    ids = torch.randint(1, SMALL["vocab_size"], (2, 12))
    with torch.no_grad():
        ref = hf(input_ids=ids).last_hidden_state
        for change in (dict(activation="gelu"), dict(norm_eps=1e-5)):
            off = from_hf_albert(hf.state_dict(), cfg.replace(**change))(ids)
            assert (off - ref).abs().max().item() > 1e-5, change


def test_pretrained_style_keys_and_clear_errors():
    hf_cfg, hf = random_albert(seed=3)
    prefixed = {f"albert.{k}": v for k, v in hf.state_dict().items()}  # e.g. AlbertForMaskedLM
    prefixed["predictions.bias"] = torch.zeros(SMALL["vocab_size"])  # a head: ignored
    ours = from_hf_albert(prefixed, hf_cfg.to_dict())
    ids = torch.randint(1, SMALL["vocab_size"], (2, 10))
    with torch.no_grad():
        assert torch.allclose(ours(ids), hf(input_ids=ids).last_hidden_state, atol=1e-5)
    partial = {k: v for k, v in hf.state_dict().items() if "pooler" not in k}
    with pytest.raises(ValueError, match="missing weights for \\['pooler.bias'"):
        from_hf_albert(partial, hf_cfg)
    with pytest.raises(ValueError, match="num_hidden_groups=2"):
        config_from_hf(AlbertConfig(**SMALL, num_hidden_groups=2))
    with pytest.raises(ValueError, match="embedding_size=48"):
        config_from_hf(AlbertConfig(**{**SMALL, "embedding_size": 48}))
    with pytest.raises(ValueError, match="does the config match"):
        from_hf_albert(hf.state_dict(), config_from_hf(hf_cfg).replace(d_ff=64))


def test_albert_options_are_validated():
    for field, value in (("norm_eps", 0), ("type_vocab_size", -1), ("embed_norm", 1)):
        with pytest.raises(ValueError, match=f"{field}="):
            ModelConfig(**{field: value})
    with pytest.raises(ValueError, match="pooler=True"):
        ModelConfig(task="lm", pooler=True)
    with pytest.raises(ValueError, match="pool\\(\\) needs pooler=True"):
        enc = build_model(ModelConfig.preset("tiny", task="encode"))
        enc.pool(enc(torch.ones(1, 4, dtype=torch.long)))


def test_albert_scale_benchmark_runs_tiny_on_cpu(tmp_path):
    """benchmarks/albert_scale.py (the GPU job's ALBERT timing) checked at a tiny size."""
    import importlib.util
    import json
    import sys
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "benchmarks"
    sys.path.insert(0, str(folder))  # the script imports its sibling _common.py
    try:
        spec = importlib.util.spec_from_file_location(
            "bench_albert_scale", folder / "albert_scale.py"
        )
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
    finally:
        sys.path.remove(str(folder))
    out = tmp_path / "albert.json"
    payload = bench.main(["--tiny", "--device", "cpu", "--repeats", "4", "--warmup", "0",
                          "--out", str(out)])  # fmt: skip
    assert json.loads(out.read_text())["benchmark"] == "albert_scale"
    assert payload["unique_params"]["all"] < payload["unique_params"]["unshared"]
    assert payload["unique_params"]["unshared"] == payload["unique_params"]["unshared_twin"]
    assert set(payload["results"]) == {"train_step", "latency_b1", "latency_b4"}
    for res in payload["results"].values():
        assert res["ratio_vs_unshared"]["unshared"] == 1.0 and res["noise_floor"] >= 0
        assert res["all_verdict"] in ("faster", "slower", "within noise")
    assert {"commit", "torch", "utc", "device"} <= set(payload["machine"])
    assert payload["mfu"]["all"] is None  # no peak known on CPU
    with pytest.raises(SystemExit, match="--repeats=2"):
        bench.main(["--tiny", "--repeats", "2"])


def test_load_local_albert_reads_a_saved_checkpoint_folder(tmp_path):
    """The way notebook 05 tells learners to use pretrained weights: a local folder."""
    from course_lib.nn.albert import load_local_albert

    hf_cfg, hf = random_albert(seed=4)
    hf.save_pretrained(tmp_path / "st")  # config.json + model.safetensors
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "config.json").write_text(hf_cfg.to_json_string())
    torch.save(hf.state_dict(), tmp_path / "bin" / "pytorch_model.bin")
    ids = torch.randint(1, SMALL["vocab_size"], (2, 9))
    with torch.no_grad():
        ref = hf(input_ids=ids).last_hidden_state
        for folder in ("st", "bin"):
            ours = load_local_albert(tmp_path / folder)
            assert (ours(ids) - ref).abs().max().item() <= 1e-5, folder
    with pytest.raises(FileNotFoundError, match="config.json"):
        load_local_albert(tmp_path / "nothing")
    (tmp_path / "bin" / "pytorch_model.bin").unlink()
    with pytest.raises(FileNotFoundError, match="neither model.safetensors"):
        load_local_albert(tmp_path / "bin")
