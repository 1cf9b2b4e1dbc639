#!/usr/bin/env bash
# One seed of the occlusion experiment (docs/recurrence.md, "Under occlusion: the experiment on the corrected
# pieces"): the seven conditions of one preset (gain at T = 1; T = 4 with the data's feedback and with intrinsic
# recurrence besides, a loss at every step; each one's twins matched on used parameters and on compute) in a compare
# directory of their own, the feedback cut of both T = 4 runs, and the record kept (without weights) in
# results/occlusion, so each finished seed is complete on its own and the experiment can be run, and committed, a few
# seeds at a time. Seed k here is seed k of `compare --seeds 5`: the same runs. TASK=debris runs the debris task
# into results/debris-0.2 instead.
#
#   scripts/occlusion_seed.sh macaque-markov2014 0
#   printf '%s\n' "macaque-markov2014 0" "mouse-oh2014 0" ... | xargs -P 2 -L 1 scripts/occlusion_seed.sh
#
# Resumable: a seed killed at any moment (the end of a session) continues from its last checkpoint (every 100
# batches) when run again with the same arguments, to the result of one never interrupted.
#
# One torch thread per run, so that two seeds side by side fill two cores; fp32 on every machine, so that seeds run
# on different CPUs (with and without fast bf16) are trained alike.
set -euo pipefail
preset=$1
seed=$2
task=${TASK:-occlusion}
record=results/$task
[ "$task" = occlusion ] || record=results/$task-0.2
bin=${VISUALSTREAMS:-.venv/bin/visualstreams}
python=${PYTHON:-.venv/bin/python}
out=runs/$task/$preset/seed$seed
export OMP_NUM_THREADS=1
"$bin" compare --species "$preset" --steps 1 4 --intrinsic off on --twins parameters compute --loss-steps all \
    --task "$task" --occlusion 0,20,40,60 --seed "$seed" --seeds 1 --train-subset 20000 --epochs 8 --test-every 8 \
    --precision fp32 --no-similarity --quiet --out "$out" --resume --checkpoint-every 100
"$bin" lesion "$out/$preset/gain-T4-seed$seed" "$out/$preset/gain-T4i-seed$seed" --cut feedback
"$python" scripts/keep_results.py "$out" "$record/$preset/seed$seed"
