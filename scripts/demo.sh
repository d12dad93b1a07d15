#!/usr/bin/env bash
# demo.sh [BUILD_DIR] - the README demo job: import Fashion-MNIST into shrink
# corpora (skipped when they exist), then train a small ViT with a token
# selector on 2 MPI ranks (configs/fmnist-vit-demo.yaml). Outputs: runs/demo/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${1:-build}
shrink="$build/cli/shrink"
fm=/usr/share/datasets/fashion-mnist
. "$root/scripts/mpi_env.sh"
mkdir -p data
for split in train:train t10k:test; do
  src=${split%%:*}; dst=data/fmnist-${split##*:}.h5
  [ -f "$dst" ] || "$shrink" prepare --set prepare.format=idx \
      --set prepare.input=$fm/$src-images-idx3-ubyte.gz \
      --set prepare.labels=$fm/$src-labels-idx1-ubyte.gz \
      --set prepare.output="$dst"
done
"$shrink" inspect data/fmnist-train.h5 | head -8
rm -rf runs/demo
mpirun -np 2 "$shrink" train --config configs/fmnist-vit-demo.yaml
echo "demo: metrics in runs/demo/metrics.jsonl, summary in runs/demo/summary.json"
cat runs/demo/summary.json
