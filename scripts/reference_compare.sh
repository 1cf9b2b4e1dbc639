#!/usr/bin/env bash
# Issue 34's result, prepared for a machine that can run it (a lent GPU; on this project's 2-core CPU ResNet-18 trains
# at ~35 images/s and CORnet-S at ~10, BENCHMARKS.md): two connectome presets against AlexNet, ResNet-18 and
# CORnet-S on Fashion-MNIST's what task under one recipe, 5 seeds, with the models also matched to macaque's
# parameter budget, then all of them against known-answer recordings. Nothing here is read as a result until a
# referee has read the tables (the brief's rule); the docs and README get their sentence after that.
#
#   scripts/reference_compare.sh                 # into runs/reference-compare
#   OUT=DIR DEVICE=cuda scripts/reference_compare.sh
#   SUBSET=2000 TEST_PER_CLASS=200 scripts/reference_compare.sh   # the CPU-sized run results/reference.md reports
#
# TEST_PER_CLASS=N tests on the first N test images of each class (written once to OUT/fmnist-testK.npz beside
# the whole training set; its checksum is in every run's config.json); DATASET=FILE.npz gives a file of one's own.
#
# The notebook recipe (Adam 1e-3, batch 64), not the fast one: in one trial not kept (2 epochs of 2,000 images, one
# seed) AlexNet stayed at chance under --recipe fast and reached 49.8% under notebook; the fast recipe changes the
# peak rate (3e-3, one-cycle), batch size, label smoothing and flips at once, and which of them did it was not tested.
#
# Resumable: each compare is run again with --resume to continue where it stopped.
set -euo pipefail
bin=${VISUALSTREAMS:-.venv/bin/visualstreams}
python=${PYTHON:-.venv/bin/python}
out=${OUT:-runs/reference-compare}
device=${DEVICE:-auto}
data=()
if [[ -n "${TEST_PER_CLASS:-}" && -z "${DATASET:-}" ]]; then
    DATASET="$out/fmnist-test$((TEST_PER_CLASS * 10)).npz"
    mkdir -p "$out"
    [[ -f "$DATASET" ]] || "$python" - "$DATASET" "$TEST_PER_CLASS" <<'EOF'
import sys

import numpy as np

import visualstreams as vs

path, per_class = sys.argv[1], int(sys.argv[2])
d = vs.load_fashion_mnist()
labels = d.test_labels.numpy()
keep = np.sort(np.concatenate([np.flatnonzero(labels == k)[:per_class] for k in range(10)]))
np.savez_compressed(path, images=d.train_images.numpy(), labels=d.train_labels.numpy(),
                    test_images=d.test_images.numpy()[keep], test_labels=labels[keep], classes=np.array(d.classes))
EOF
fi
if [[ -n "${DATASET:-}" ]]; then data=(--dataset "$DATASET"); fi
recipe=(--recipe notebook --epochs "${EPOCHS:-5}" --train-subset "${SUBSET:-20000}" --seeds 5 --device "$device"
        --quiet --resume "${data[@]}")
# Full-size reference models beside the two presets, then the same models matched to macaque's used parameters.
"$bin" compare --species macaque-markov2014 mouse-oh2014 --models alexnet resnet18 cornet-s "${recipe[@]}" \
    --out "$out/full"
"$bin" compare --species macaque-markov2014 mouse-oh2014 --models alexnet resnet18 cornet-s \
    --match-params macaque-markov2014 "${recipe[@]}" --out "$out/matched"
# Known-answer recordings from the first macaque run's V1 and IT units (docs/brains.md), scored for every run.
"$python" - "$out" <<'EOF'
import sys
from pathlib import Path

import pandas as pd

import visualstreams as vs
from visualstreams.data.stimuli import write_stimulus_images
from visualstreams.testing import known_answer_recordings

out = Path(sys.argv[1])
data = vs.load_fashion_mnist()
labels = data.test_labels[:600].numpy()
csv = write_stimulus_images(data.test_images[:600].numpy(), out / "stimuli", object_names=[str(k) for k in labels],
                            size=64, tint=(1.0, 0.8, 0.6))
table = pd.read_csv(csv)
table["path"] = [str(out / "stimuli" / f) for f in table.pop("filename")]
rec = known_answer_recordings(out / "full" / "macaque-markov2014" / "seed0", table, noise=0.3, repetitions=10,
                              n_neuroids=30)
vs.write_recordings(rec, out / "known.nc")
EOF
"$bin" predict --compare-dir "$out/full" --recordings "$out/known.nc" --out "$out/full/brains" --quiet
