#!/bin/sh
# submit.sh MODEL.ir DATA TOTAL SHARD: calibrate TOTAL samples of DATA in
# shards of SHARD samples as a Slurm array, then merge them into m.cal.ir.
set -eu
[ $# -eq 4 ] || { echo "usage: submit.sh MODEL.ir DATA TOTAL SHARD" >&2; exit 2; }
here=$(dirname "$0")
shards=$((($3 + $4 - 1) / $4))
array=$(MODEL=$1 DATA=$2 SHARD=$4 sbatch --parsable --export=ALL,MODEL="$1",DATA="$2",SHARD="$4" \
	--array=0-$((shards - 1)) "$here/calibrate-shard.sbatch")
sbatch --dependency=afterok:"$array" --export=ALL,SHARDS="$shards" "$here/merge.sbatch"
echo "submitted $shards shards (job $array) and their merge"
