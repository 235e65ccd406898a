#!/bin/bash
# One device call: fine-tune the embedded recogniser on the GPU (cells rendered by many
# CPU workers), run the CUDA test suite on the real GPU meanwhile, then the CUDA benchmark.
# Settings via env: INIT BUDGET LR WARMUP FOCUS WORKERS BATCH DEVICE OUT (defaults: a 16-core
# H100/H200 machine). See README.md beside this file.
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 TRANSFORMERS_VERBOSITY=error
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}; WORKERS=${WORKERS:-13}; BATCH=${BATCH:-256}; BUDGET=${BUDGET:-400}
LR=${LR:-3e-4}; WORK=${WORK:-/tmp/run}
start=$(date +%s); el() { echo "[$(( $(date +%s) - start )) s] $*"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | head -2
nproc
if [ "$DEVICE" = cuda ]; then tar -xJf .gpu/fonts.tar.xz -C / || exit 1; fi
$PY -c "from training.cells import discover_fonts as d; import collections as c; print(c.Counter(f.split for f in d()))" || exit 1
el fonts ready
if [ "$DEVICE" = cuda ]; then
  [ -d /usr/local/cuda/nvvm ] && export CUDA_HOME=/usr/local/cuda
  (PYTHONPATH=$PWD TABLESCRIBE_CUDA_TESTS=1 NUMBA_ENABLE_CUDASIM=0 timeout ${SUITE_T:-330} $PY -m pytest tests/engine_cuda -q \
     -p no:cacheprovider > "$OUT/cuda_suite.log" 2>&1; echo "exit $?" >> "$OUT/cuda_suite.log") &
fi
rm -rf "$WORK"
$PY -m training.train_recognizer --workdir "$WORK" --init-from ${INIT:-.gpu/init.pt} --device "$DEVICE" \
   --workers "$WORKERS" --threads 2 --batch "$BATCH" --lr "$LR" --warmup ${WARMUP:-300} --focus ${FOCUS:-0} \
   --time-budget "$BUDGET" --snapshot-every 200 --save-every 1000000 --eval-every 1000 \
   --eval-size 300 2>&1 | grep -v "MISSING\|^Notes\|^- \|^$\|Key \|---" | tee "$OUT/train.log" | grep -v '"loss"' 
el training done
cp "$WORK/log.jsonl" "$OUT/"
$PY training/gpu/pack_run.py "$WORK" "$OUT"
el collected
wait
tail -5 "$OUT/cuda_suite.log" 2>/dev/null
el cuda suite done
if [ "$DEVICE" = cuda ] && [ -z "${NOBENCH:-}" ]; then
  timeout 90 $PY -m benchmarks.cuda_engine --repeat 5 --sizes 1024,4096 > "$OUT/cuda_bench.log" 2>&1
  echo "bench exit $?" >> "$OUT/cuda_bench.log"; tail -30 "$OUT/cuda_bench.log"
fi
el all done
