#!/bin/sh
# Installs the Debian packages qpipe needs that are missing (make deps).
# Build: compilers, pkg-config, protobuf-c, cJSON, HDF5, libzip, OpenBLAS,
# zlib, libpng, libjpeg-turbo.  Tests: bats, jq (checks on irdump --json),
# librsvg2-bin (rsvg-convert renders irdiff's SVG charts) and python3-numpy
# (compares outputs with reference .npy files; an independent reader).
# Data: Fashion-MNIST for the example.
# Fixture generation only (never at run time): python3-torch,
# python3-torchvision, python3-onnx, python3-h5py, python3-pil (writes and
# decodes the reference images); those are listed
# separately and installed with QPIPE_DEPS_PYTHON=1.
set -eu
build="gcc make pkg-config protobuf-c-compiler libprotobuf-c-dev libcjson-dev
libhdf5-dev libzip-dev zlib1g-dev libopenblas-dev libpng-dev libjpeg62-turbo-dev
bats bats-support bats-assert jq librsvg2-bin time python3 python3-numpy dataset-fashion-mnist"
python="python3-torch python3-torchvision python3-onnx python3-h5py python3-pil"
want=$build
[ "${QPIPE_DEPS_PYTHON:-0}" = 1 ] && want="$want $python"
missing=
for p in $want; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing:$missing"
sudo=
[ "$(id -u)" -ne 0 ] && sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
