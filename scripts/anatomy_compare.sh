#!/usr/bin/env bash
# Issue 33's experiment (results/anatomy_hypothesis.md, written before the runs), prepared for a machine that can
# run it (a lent GPU; on this project's 2-core CPU one macaque what-where run on a 112 px canvas takes tens of
# minutes): macaque-markov2014 and mouse-oh2014, uniform blocks against blocks from each one's anatomy at its
# natural size and at the uniform networks' mean parameters and compute, what-where on a 112 px canvas spanning
# 64 deg, 5 seeds. Nothing here is read as a result until a referee has read the tables (the brief's rule).
#
#   scripts/anatomy_compare.sh                   # into runs/anatomy-compare
#   OUT=DIR DEVICE=cuda scripts/anatomy_compare.sh
#
# Resumable: run it again to continue where it stopped.
set -euo pipefail
bin=${VISUALSTREAMS:-.venv/bin/visualstreams}
out=${OUT:-runs/anatomy-compare}
device=${DEVICE:-auto}
"$bin" compare --species macaque-markov2014 mouse-oh2014 --blocks uniform anatomy \
    --budget natural parameters compute --field-degrees 64 --task what-where --canvas 112 \
    --recipe fast --epochs 5 --train-subset 20000 --seeds 5 --device "$device" --quiet --resume --out "$out"
