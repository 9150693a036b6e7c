#!/usr/bin/env bash
# The lowest transformers release pyproject.toml allows, tested: it is installed (with the
# dependencies pip resolves for it) into .tools/ and put first on the path, then the tests
# that drive transformers directly run against it. Run by hand when moving the floor; the
# main suite runs on the venv's (newest supported) release. Needs PyPI, about 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
floor=$(sed -n 's/.*"transformers>=\([0-9.]*\),.*/\1/p' pyproject.toml)
[[ -n $floor ]] || { echo "no transformers floor found in pyproject.toml" >&2; exit 1; }
target=.tools/transformers-$floor
if [[ ! -d $target/transformers ]]; then
  .venv/bin/pip install --quiet --target "$target" "transformers==$floor" gguf
fi
found=$(PYTHONPATH=$target .venv/bin/python -c "import transformers; print(transformers.__version__)")
[[ $found == "$floor" ]] || { echo "expected transformers $floor on the path, got $found" >&2; exit 1; }
echo "== pytest on transformers $floor" >&2
PYTHONPATH=$target .venv/bin/pytest -q -p no:cacheprovider \
  tests/core/test_model_loading.py tests/core/test_perplexity.py tests/core/test_iterative.py \
  tests/core/test_compress.py tests/core/test_llmlingua2.py "$@"
