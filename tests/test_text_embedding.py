import re

import numpy as np
import pytest

from ie_env.data.text_embedding import (
    TextEmbedder,
    bf16_supported,
    cached_embeddings,
    concept_backend,
    concept_embeddings_path,
    duration,
)

TEXTS = ["tabby cat", "a red sports car at night", "goldfish", "Persian cat, a long-haired breed", "violin"]


@pytest.mark.skipif(not bf16_supported(), reason="no native bfloat16 on this CPU")
def test_bf16_backend_is_close_to_fp32_and_cached_apart(tmp_path, monkeypatch):
    monkeypatch.setenv("IE_CACHE_DIR", str(tmp_path))
    fp32 = TextEmbedder()(TEXTS)
    bf16 = TextEmbedder(backend="bf16")(TEXTS)
    assert np.allclose(np.linalg.norm(bf16, axis=1), 1.0, atol=1e-5)
    cos = (fp32 * bf16).sum(axis=1)
    assert cos.min() > 0.995 and not np.array_equal(fp32, bf16)
    # the nearest other text of each text is the same under both backends
    assert np.array_equal(np.argsort(-(fp32 @ fp32.T), axis=1)[:, 1], np.argsort(-(bf16 @ bf16.T), axis=1)[:, 1])
    a = cached_embeddings(TEXTS, "t", progress=False)
    b = cached_embeddings(TEXTS, "t", progress=False, backend="bf16")
    assert len(list((tmp_path / "embeddings").glob("*.npy"))) == 2 and not np.array_equal(a, b)


def test_backend_choice_and_bad_names(monkeypatch):
    with pytest.raises(ValueError, match="backend='fp16'"):
        TextEmbedder(backend="fp16")
    monkeypatch.setenv("IE_CONCEPT_BACKEND", "fp32")
    assert concept_backend() == "fp32"

    class Vocab:
        fingerprint = "abc"

        def __len__(self):
            return 3

    assert "-bf16-" not in concept_embeddings_path(Vocab()).name
    monkeypatch.setenv("IE_CONCEPT_BACKEND", "bf16")
    assert "-bf16-concepts-abc-3" in concept_embeddings_path(Vocab()).name
    monkeypatch.setenv("IE_CONCEPT_BACKEND", "int4")
    with pytest.raises(ValueError, match="IE_CONCEPT_BACKEND='int4'"):
        concept_backend()


def test_a_first_computation_says_what_it_computes_how_long_and_where(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("IE_CACHE_DIR", str(tmp_path))
    cached_embeddings(TEXTS, "notice", what="test texts")
    first = next(line for line in capsys.readouterr().err.splitlines() if "first run" in line)  # on stderr
    assert first.startswith("first run: embedding 5 texts (test texts)")  # the line's start: not mid-bar
    assert re.search(r"about \d+ s at the \d+ texts/s measured here", first)  # an estimate from a timed sample
    assert str(tmp_path / "embeddings") in first
    cached_embeddings(TEXTS, "notice", what="test texts")  # cached: nothing to say
    assert "first run" not in capsys.readouterr().err
    assert (duration(40), duration(600), duration(9000)) == ("40 s", "10 min", "2.5 h")
