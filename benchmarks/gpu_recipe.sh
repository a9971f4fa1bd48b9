#!/usr/bin/env bash
# The fine-tuning recipe (mixup 0.4, 40 head warm-up epochs, database dither chosen on validation) at
# 224 px on a CUDA machine: several seeds and schedules in one call, each run's training log and
# db_dither.py rows written to OUT as soon as that run ends (so a call cut short keeps what finished).
#
# Usage: benchmarks/gpu_recipe.sh OUT DATA_DIR [DEVICE] [RUN ...]
#   RUN is NAME:SEED:EPOCHS:SIZE (default: the four runs reported in BENCHMARKS.md).
# Extra `csdh train` options can be passed in CSDH_TRAIN_ARGS (the CPU smoke test uses tiny settings);
# CSDH_WORKERS image-loading processes (default 0, as in the run reported; 4 was fastest on the H200).
set -u
OUT=$1
DATA=$2
DEVICE=${3:-cuda}
shift $(( $# < 3 ? $# : 3 ))
RUNS=("$@")
[ ${#RUNS[@]} -eq 0 ] && RUNS=(r224s0:0:20:224 r224e40s0:0:40:224 r224s1:1:20:224 r224e40s1:1:40:224)
PY=${PYTHON:-python3}
WORK=${CSDH_WORK:-$(mktemp -d)}
mkdir -p "$OUT" "$WORK"
summary="$OUT/summary.jsonl"
for spec in "${RUNS[@]}"; do
    IFS=: read -r name seed epochs size <<<"$spec"
    run="$WORK/$name"
    log="$OUT/$name.log"
    t0=$(date +%s)
    # shellcheck disable=SC2086
    if ! $PY -m csdh train --dataset fashion-mnist --data-dir "$DATA" --no-download --bits 48 --finetune \
            --input-size "$size" --epochs "$epochs" --eval-every 5 --mixup 0.4 --seed "$seed" \
            --device "$DEVICE" --workers "${CSDH_WORKERS:-0}" --out "$run" --overwrite ${CSDH_TRAIN_ARGS:-} \
            >"$log" 2>&1; then
        echo "{\"run\": \"$name\", \"error\": \"training failed, see $name.log\"}" >>"$summary"
        tail -5 "$log"
        continue
    fi
    t1=$(date +%s)
    { echo "# log.jsonl"; cat "$run/log.jsonl"; echo "# db_dither.py"; } >>"$log"
    $PY benchmarks/db_dither.py "$run" --spreads 0,0.9,0.95 --device "$DEVICE" --workers "${CSDH_WORKERS:-0}" \
        >>"$log" 2>&1
    t2=$(date +%s)
    $PY - "$log" "$name" "$seed" "$epochs" "$size" "$((t1 - t0))" "$((t2 - t1))" >>"$summary" <<'PYEOF'
import json, sys
log, name, seed, epochs, size, train_s, eval_s = sys.argv[1:]
history, dither = open(log).read().split("# log.jsonl", 1)[1].split("# db_dither.py", 1)
rows = {r["spread"]: r for r in (json.loads(l) for l in dither.splitlines() if l.startswith('{"spread"'))}
vals = [h["val_map"] for h in (json.loads(l) for l in history.splitlines() if l.strip()) if "val_map" in h]
print(json.dumps({"run": name, "seed": int(seed), "epochs": int(epochs), "size": int(size),
                  "train_s": int(train_s), "dither_eval_s": int(eval_s), "best_val_map": max(vals) if vals else None,
                  "map_plain": rows.get(0.0, {}).get("map"),
                  "val_unseen": {str(k): v["val_unseen_map"] for k, v in rows.items()},
                  "map": {str(k): v["map"] for k, v in rows.items()}}))
PYEOF
    tail -1 "$summary"
done
