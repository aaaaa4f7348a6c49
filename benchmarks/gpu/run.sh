#!/usr/bin/env bash
# One call on a lent GPU (benchmarks/gpu/README.md): the importance-ratio check on the device, the training
# check, then fine-tuning runs side by side (by default DDPO with the paper's 256 rollouts per iteration, 3 seeds,
# and with 1,024, 1 seed; RUNS can add DRaFT runs; see below).
# Needs .gpu/ made by prepare.sh; writes $OUT/ratio.json, $OUT/train_check.json, $OUT/runs.tgz and $OUT/log.txt.
set -uo pipefail
PYTHON=${PYTHON:-python3}
LIMIT=${LIMIT:-380}          # seconds each fine-tuning may run (they resume, so a cut run still leaves best/)
ITERATIONS=${ITERATIONS:-}   # empty: the small preset's 60
DEVICE=${DEVICE:-auto}       # for fine-tuning; the ratio check runs on cuda (when there) and cpu
MODEL=${MODEL:-assets/checkpoints/base_small_mdm_guo}  # the base to fine-tune
EXTRA=${EXTRA:-}             # more options for every DDPO run, e.g. "--set first_steps=0"
DRAFT_EXTRA=${DRAFT_EXTRA:-} # more options for every DRaFT run, e.g. "--set adapt_decoder=true"
DRAFT_ITERATIONS=${DRAFT_ITERATIONS:-}  # empty: the preset's
THREADS=${THREADS:-4}        # OMP threads per run (the reward runs on the CPU)
# NAME:SEED:PROMPTS_PER_ITERATION[:METHOD], METHOD ddpo (the default) or draft
RUNS=${RUNS:-"b256_s0:0:64 b256_s1:1:64 b256_s2:2:64 b1024_s0:0:256"}
WORK=${WORK:-/tmp/nomocap_gpu}
OUT=${OUT:-$WORK/out}
mkdir -p "$WORK" "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1

$PYTHON benchmarks/gpu/pack_minilm.py unpack .gpu/site || exit 1
export PYTHONPATH=$PWD/src:$PWD/.gpu/site PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
$PYTHON -c "import torch, peft, accelerate, transformers, sentence_transformers as st
print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), 'peft', peft.__version__,
      'accelerate', accelerate.__version__, 'transformers', transformers.__version__, 'st', st.__version__)"
GPU=$($PYTHON -c "import torch; print('cuda' if torch.cuda.is_available() else '')")
[ "${RATIO_CHECK:-1}" = 1 ] && for d in $GPU cpu; do
  $PYTHON benchmarks/gpu/ratio_check.py --model "$MODEL" --prompts .gpu/prompts/k/annotations.json --device $d | tee -a "$OUT/ratio.json"
done

if [ "${TRAIN_CHECK:-1}" = 1 ]; then  # pretraining / retrieval / evaluator on the GPU, resume, vs the CPU
  $PYTHON benchmarks/gpu/train_check.py --device "${GPU:-cpu}" --out "$WORK/train_check" 2>&1 | grep -v "━" | tail -1 | tee "$OUT/train_check.json"
fi

run() {  # NAME SEED PROMPTS_PER_ITERATION [METHOD]
  local dir=$WORK/$1 iterations=$ITERATIONS method=(--set sample_batch=256 --set train_batch=$(( $3 * 4 )) $EXTRA)
  if [ "${4:-ddpo}" = draft ]; then iterations=$DRAFT_ITERATIONS method=(--method draft $DRAFT_EXTRA); fi
  local iters=()  # --iterations is DDPO's flag; every method takes --set iterations=N
  [ -n "$iterations" ] && iters=(--set iterations="$iterations")
  OMP_NUM_THREADS=$THREADS timeout "$LIMIT" $PYTHON -m nomocap finetune --model "$MODEL" \
    --reward assets/checkpoints/reward_small --annotations .gpu/prompts/k/annotations.json \
    --replay .gpu/prompts/h/annotations.json --preset small --seed "$2" --device "$DEVICE" "${iters[@]}" \
    --set prompts_per_iteration="$3" "${method[@]}" --out "$dir" > "$WORK/$1.log" 2>&1
  echo "$1 exit $?; $(wc -l < "$dir/log.jsonl" 2>/dev/null) iterations logged"
}
start=$(date +%s)
pids=()
for spec in $RUNS; do run ${spec//:/ } & pids+=($!); done
wait "${pids[@]}"  # not a bare wait: that would also wait for the tee above, forever
echo "fine-tuning took $(( $(date +%s) - start )) s"
names=$(for spec in $RUNS; do n=${spec%%:*}; echo "$n $n.log"; done)
tar czf "$OUT/runs.tgz" -C "$WORK" --exclude .text_cache --exclude train_state.safetensors $names
ls -la "$OUT"
