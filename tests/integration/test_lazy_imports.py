"""What a cold start imports: sentence-transformers without scikit-learn, a wrong model before torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import MINILM


def _run(code: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"HF_HUB_OFFLINE": "1", "PATH": ""},
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_loading_a_model_does_not_import_scikit_learn_and_its_functions_still_work() -> None:
    pytest.importorskip("sklearn")
    out = _run(
        "import json, sys\n"
        "from legalrag.plugin.models.encoder import DenseEncoder\n"
        f"enc = DenseEncoder.load({MINILM!r}, 'cpu')\n"
        "vec = enc.encode_queries(['개인정보'])\n"
        "loaded = 'sklearn' in sys.modules\n"
        "import torch\n"
        "from sentence_transformers.util import pairwise_manhattan_sim\n"
        "sim = pairwise_manhattan_sim(torch.eye(2).to_sparse(), torch.eye(2).to_sparse()).tolist()\n"
        "import sklearn.metrics\n"
        "print(json.dumps({'loaded': loaded, 'dim': vec.shape[1], 'sim': sim,\n"
        "                  'real': type(sklearn.metrics).__name__, 'ndcg': hasattr(sklearn.metrics, 'ndcg_score')}))"
    )
    assert out == {"loaded": False, "dim": 384, "sim": [0.0, 0.0], "real": "module", "ndcg": True}


def test_a_wrong_model_is_reported_before_torch_is_imported() -> None:
    out = _run(
        "import json, sys\n"
        "from legalrag.plugin.models.encoder import DenseEncoder\n"
        "from legalrag.plugin.errors import ModelLoadError\n"
        "try:\n"
        "    DenseEncoder.load('/no/such/model', 'cpu')\n"
        "except ModelLoadError as exc:\n"
        "    print(json.dumps({'torch': 'torch' in sys.modules, 'message': str(exc)}))"
    )
    assert out["torch"] is False and "/no/such/model" in str(out["message"])


def test_the_trainers_import_neither_the_store_nor_langchain() -> None:
    """``legalrag.train.fit`` needs its pairs' type, not the mining code that makes them (which pulls the
    searcher, qdrant-client and langchain-core: most of a second of imports, and packages a training-only
    machine need not have); ``Mined`` stays importable from ``legalrag.train.mining`` too."""
    out = _run(
        "import json, sys\n"
        "from legalrag.train.fit import fit_reranker\n"
        "from legalrag.train.data import Mined\n"
        "heavy = sorted(m for m in ('qdrant_client', 'qdrant_edge', 'langchain_core') if m in sys.modules)\n"
        "from legalrag.train.mining import Mined as Again\n"
        "print(json.dumps({'heavy': heavy, 'same': Mined is Again}))"
    )
    assert out == {"heavy": [], "same": True}
