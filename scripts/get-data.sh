#!/usr/bin/env bash
# Obtains Fashion-MNIST: the Debian package where apt and root are available, else the official download.
set -euo pipefail
debian_dir=/usr/share/datasets/fashion-mnist
if [ -z "${FASHION_MNIST_DIR:-}" ] && [ ! -f "$debian_dir/t10k-labels-idx1-ubyte.gz" ] \
   && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "installing the Debian package dataset-fashion-mnist"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist) \
    || echo "apt could not install dataset-fashion-mnist; falling back to the official download"
fi
# Finds the files (downloading them into the user cache if needed) and verifies their checksums.
.venv/bin/fashion-tfx data
