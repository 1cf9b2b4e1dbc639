#!/usr/bin/env bash
# One seed of the occlusion experiment (docs/recurrence.md, "Under occlusion"): the three conditions of one preset
# (gain at T = 1, T = 4 with a loss at every step, and T = 4's matched twin) in a compare directory of their own,
# the feedback cut of its T = 4 run, and the record of both kept (without weights) in results/occlusion, so each
# finished seed is complete on its own and the experiment can be run, and committed, a few seeds at a time.
# Seed k here is seed k of `compare --seeds 5`: the same runs.
#
#   scripts/occlusion_seed.sh macaque-markov2014 0
#   printf '%s\n' "macaque-markov2014 0" "mouse-oh2014 0" ... | xargs -P 2 -L 1 scripts/occlusion_seed.sh
#
# One torch thread per run, so that two seeds side by side fill two cores; fp32 on every machine, so that seeds run
# on different CPUs (with and without fast bf16) are trained alike.
set -euo pipefail
preset=$1
seed=$2
bin=${VISUALSTREAMS:-.venv/bin/visualstreams}
python=${PYTHON:-.venv/bin/python}
out=runs/occlusion/$preset/seed$seed
export OMP_NUM_THREADS=1
"$bin" compare --species "$preset" --steps 1 4 --twins --loss-steps all --task occlusion --occlusion 0,20,40,60 \
    --seed "$seed" --seeds 1 --train-subset 20000 --epochs 4 --test-every 4 --precision fp32 --no-similarity \
    --quiet --out "$out"
"$bin" lesion "$out/$preset/gain-T4-seed$seed" --cut feedback
"$python" scripts/keep_results.py "$out" "results/occlusion/$preset/seed$seed"
