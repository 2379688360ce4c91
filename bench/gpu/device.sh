#!/usr/bin/env bash
# On the lent GPU machine, from the repo root: unpack whatever parts of `python -m bench.gpu.pack`
# arrived (.device/partN/pack.tar), install the wheels the image lacks, then run the named steps.
#   bash bench/gpu/device.sh                 # unpack only (a call that just carries a part)
#   bash bench/gpu/device.sh throughput      # python -m bench.gpu.throughput
#   bash bench/gpu/device.sh grid1 | grid2 | targets | window4 | ... | lease3-s0 | lease4-a   # fine-tuning experiments (see below)
# Everything stays under .device/ (ignored, and kept between calls while the machine is warm);
# results go to $OUT. See bench/gpu/README.md.
set -uo pipefail
D=$PWD/.device
PACK=$D/pack
SITE=$D/site
mkdir -p "$PACK"
for tar in "$D"/part*/pack.tar; do
  [ -f "$tar" ] && tar xf "$tar" -C "$PACK" && echo "unpacked $tar"
done
if [ ! -f "$SITE/.installed" ] && ls "$PACK"/wheels/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$PACK"/wheels/*.whl && touch "$SITE/.installed" || exit 1
fi
export PYTHONPATH=$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH} HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HF_HOME=$D/hf PYTHONUNBUFFERED=1 \
  SER_DATA=$PACK/corpora SER_WHISPER=$PACK/backbone SER_FINETUNE_RUNS=$D/runs SER_CACHE=$D/cache
OUT=${OUT:-$D/out}
mkdir -p "$OUT"
for c in RAVDESS SAVEE TESS; do
  printf '%s: %s files  ' "$c" "$(find "$PACK/corpora/$c" -type f 2>/dev/null | wc -l)"
done
echo
[ $# -eq 0 ] && exit 0

PY=python3
LAUNCH=${LAUNCH:-"$PY -m accelerate.commands.launch --config_file finetune/accelerate/gpu.yaml"}
CPU_RECIPE=finetune/recipes/whisper_tiny.json
# grid1, grid2 and targets ran the first lease's finetune/recipes/whisper_tiny_gpu.json (see git history;
# bench/gpu/README.md says what it held); the recipe is one file now, with loader settings for the GPU's cores.
GPU_RECIPE="$CPU_RECIPE --dataloader_num_workers 2 --per_device_eval_batch_size 64"
# The steps below replay the recipe as it was when they ran: whisper_tiny.json was 5 epochs until the
# second lease and has had label smoothing 0.1 since the third.
RECIPE5="$CPU_RECIPE --num_train_epochs 5 --label_smoothing_factor 0"
RECIPE8="$CPU_RECIPE --label_smoothing_factor 0"
DEADLINE=${DEADLINE:-540}   # seconds; what finished by then is collected

finetune() {  # finetune TAG STAGES... -- TRAIN_ARGS
  local tag=$1; shift
  local stages=()
  while [ "$1" != "--" ]; do stages+=("$1"); shift; done; shift
  $PY -m bench.finetune "${stages[@]}" --tag "$tag" --jobs "${JOBS:-5}" --launcher "$LAUNCH" \
    --train-args "$* --save_strategy no --load_best_model_at_end False ${EXTRA:-}" > "$D/log-$tag-${stages[0]}.txt" 2>&1
}

collect() {
  (cd "$D" && find runs -name all_results.json -o -name train.log | tar czf "$OUT/runs.tgz" -T -) 2>/dev/null
  tail -n 5 "$D"/log-*.txt 2>/dev/null | tail -n 60
  nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv 2>/dev/null
}

run_parallel() {  # each argument is one shell command; all run side by side until DEADLINE
  local pids=()
  for cmd in "$@"; do bash -c "$cmd" & pids+=($!); done
  local start=$SECONDS
  while [ $((SECONDS - start)) -lt "$DEADLINE" ] && kill -0 "${pids[@]}" 2>/dev/null; do sleep 5; done
  pkill -f finetune/train.py 2>/dev/null
  wait
}
export -f finetune
export D PY LAUNCH CPU_RECIPE GPU_RECIPE RECIPE5 RECIPE8 EXTRA JOBS

for step in "$@"; do
  case $step in
    throughput) $PY -m bench.gpu.throughput ${THROUGHPUT_ARGS:-} ;;
    # RAVDESS 8 classes on the CPU recipe (equivalence with the CPU figures), the GPU recipe and an
    # ablation; the GPU recipe with more training speakers; SAVEE within-corpus LOSO.
    grid1) run_parallel \
      "finetune cpu ravdess -- $CPU_RECIPE" \
      "finetune gpu ravdess -- $GPU_RECIPE" \
      "finetune gpu-nospec ravdess -- $GPU_RECIPE --augment_spec_masks 0" \
      "finetune gpu ravdess_extra -- $GPU_RECIPE" \
      "finetune gpu savee -- $GPU_RECIPE" ;;
    grid2) run_parallel \
      "finetune gpu all3 -- $GPU_RECIPE" \
      "finetune gpu savee_extra -- $GPU_RECIPE" ;;
    # Every target of the GPU recipe at once (the machine's 16 cores feed the GPU).
    targets) run_parallel \
      "finetune gpu ravdess -- $GPU_RECIPE" \
      "finetune gpu ravdess_extra -- $GPU_RECIPE" \
      "finetune gpu all3 -- $GPU_RECIPE" \
      "finetune gpu savee -- $GPU_RECIPE" \
      "finetune gpu savee_extra -- $GPU_RECIPE" ;;
    # The 4 s recipe shipped from the CPU (whisper_tiny.json) and what a GPU affords beyond it: all
    # four encoder layers trained (f0), a longer schedule (e8), a 5 s window (w5). Goals: RAVDESS 75 %
    # (with and without TESS+SAVEE in training) and the three corpora 75 %.
    window4) run_parallel \
      "finetune gpu-w4 ravdess_extra -- $RECIPE5" \
      "finetune gpu-w4f0 ravdess_extra -- $RECIPE5 --freeze_encoder_layers 0" \
      "finetune gpu-w4f0e8 ravdess_extra -- $RECIPE5 --freeze_encoder_layers 0 --num_train_epochs 8" \
      "finetune gpu-w4f0 all3 -- $RECIPE5 --freeze_encoder_layers 0" \
      "finetune gpu-w4f0e8 all3 -- $RECIPE5 --freeze_encoder_layers 0 --num_train_epochs 8" \
      "finetune gpu-w4 ravdess -- $RECIPE5" \
      "finetune gpu-w4f0 ravdess -- $RECIPE5 --freeze_encoder_layers 0" \
      "finetune gpu-w5f0 ravdess -- $RECIPE5 --freeze_encoder_layers 0 --max_length_seconds 5" ;;
    # After window4: the 5 s window with two layers frozen (the shipped recipe's freezing) and all
    # four trained, with and without TESS+SAVEE, a longer schedule, a 6 s window, a second seed.
    window5) run_parallel \
      "finetune gpu-w5 ravdess -- $RECIPE5 --max_length_seconds 5" \
      "finetune gpu-w5f0s1 ravdess -- $RECIPE5 --freeze_encoder_layers 0 --max_length_seconds 5 --seed 1" \
      "finetune gpu-w5f0e8 ravdess -- $RECIPE5 --freeze_encoder_layers 0 --max_length_seconds 5 --num_train_epochs 8" \
      "finetune gpu-w6f0 ravdess -- $RECIPE5 --freeze_encoder_layers 0 --max_length_seconds 6" \
      "finetune gpu-w5 ravdess_extra -- $RECIPE5 --max_length_seconds 5" \
      "finetune gpu-w5 all3 -- $RECIPE5 --max_length_seconds 5" \
      "finetune gpu-w5e8 all3 -- $RECIPE5 --max_length_seconds 5 --num_train_epochs 8" ;;
    # After window5: longer schedules with two layers frozen (the shipped recipe's freezing) where
    # the shipped model's data lives (three corpora), a second seed, noise + label smoothing.
    schedule) run_parallel \
      "finetune gpu-w4e8 all3 -- $RECIPE5 --num_train_epochs 8" \
      "finetune gpu-w5e12 all3 -- $RECIPE5 --max_length_seconds 5 --num_train_epochs 12" \
      "finetune gpu-w5e8s1 all3 -- $RECIPE5 --max_length_seconds 5 --num_train_epochs 8 --seed 1" \
      "finetune gpu-w5e8ns all3 -- $RECIPE5 --max_length_seconds 5 --num_train_epochs 8 --augment_noise_snr_db 15 --label_smoothing_factor 0.1" \
      "finetune gpu-w5e8 ravdess_extra -- $RECIPE5 --max_length_seconds 5 --num_train_epochs 8" \
      "finetune gpu-w5f0s2 ravdess -- $RECIPE5 --freeze_encoder_layers 0 --max_length_seconds 5 --seed 2" ;;
    # After schedule: the winner (4 s, two layers frozen, 8 epochs) with a second seed, and on RAVDESS.
    seed1) run_parallel \
      "finetune gpu-w4e8s1 all3 -- $RECIPE5 --num_train_epochs 8 --seed 1" \
      "finetune gpu-w4e8 ravdess -- $RECIPE5 --num_train_epochs 8" ;;
    seed2) run_parallel "finetune gpu-w4e8s2 all3 -- $RECIPE5 --num_train_epochs 8 --seed 2" ;;
    # Third lease: what might carry the three corpora past 75 % over three seeds (the recipe, now 8
    # epochs, with 10 or 12 epochs, label smoothing 0.1 or a class-weighted loss), and RAVDESS with
    # TESS + SAVEE in training at 8 epochs. One step per seed, so every finished step pools cleanly.
    lease3-s*) s=${step#lease3-s}; sfx=$([ "$s" = 0 ] || echo "s$s"); run_parallel \
      "finetune gpu-w4e12$sfx all3 -- $RECIPE8 --num_train_epochs 12 --seed $s" \
      "finetune gpu-w4e10$sfx all3 -- $RECIPE8 --num_train_epochs 10 --seed $s" \
      "finetune gpu-w4e8ls$sfx all3 -- $CPU_RECIPE --label_smoothing_factor 0.1 --seed $s" \
      "finetune gpu-w4e8cw$sfx all3 -- $RECIPE8 --class_weighted_loss --seed $s" \
      "finetune gpu-w4e8$sfx ravdess_extra -- $RECIPE8 --seed $s" ;;
    # Fourth lease: the recipe as shipped (label smoothing 0.1) over three seeds where its goals are
    # open or met on one or two CPU seeds only: RAVDESS alone and SAVEE LOSO (a), RAVDESS with TESS +
    # SAVEE in training, and label smoothing with a class-weighted loss on the three corpora (b, c).
    lease4-a) run_parallel \
      "finetune gpu-w4e8ls ravdess -- $CPU_RECIPE --seed 0" \
      "finetune gpu-w4e8lss1 ravdess -- $CPU_RECIPE --seed 1" \
      "finetune gpu-w4e8lss2 ravdess -- $CPU_RECIPE --seed 2" \
      "finetune gpu-w4e8ls savee -- $CPU_RECIPE --seed 0" \
      "finetune gpu-w4e8lss1 savee -- $CPU_RECIPE --seed 1" \
      "finetune gpu-w4e8lss2 savee -- $CPU_RECIPE --seed 2" ;;
    lease4-b) run_parallel \
      "finetune gpu-w4e8ls ravdess_extra -- $CPU_RECIPE --seed 0" \
      "finetune gpu-w4e8lss1 ravdess_extra -- $CPU_RECIPE --seed 1" \
      "finetune gpu-w4e8lss2 ravdess_extra -- $CPU_RECIPE --seed 2" \
      "finetune gpu-w4e8lscw all3 -- $CPU_RECIPE --class_weighted_loss --seed 0" ;;
    lease4-c) run_parallel \
      "finetune gpu-w4e8lscws1 all3 -- $CPU_RECIPE --class_weighted_loss --seed 1" \
      "finetune gpu-w4e8lscws2 all3 -- $CPU_RECIPE --class_weighted_loss --seed 2" ;;
    *) echo "unknown step $step"; exit 2 ;;
  esac
done
collect
