#!/usr/bin/env bats
# keras2ir: real Keras models from ../shared/testdata/keras/ (references computed
# by an independent numpy implementation of Keras, see its MANIFEST.md) and
# error paths.
load test_helper

KERAS="$SHARED/testdata/keras"

need_keras() {
	[ -d "$KERAS" ] || skip "../shared/testdata/keras not present"
	need_numpy
}

check_model() {
	check_keras "$KERAS/$1"
}

@test "keras2ir: Keras 3 .keras Sequential CNN matches the reference within 1e-4" {
	need_keras
	check_model k3_keras_seq_fashion_cnn.keras
}

@test "keras2ir: Keras 3 .h5 Sequential CNN matches the reference within 1e-4" {
	need_keras
	check_model k3_h5_seq_mnist_cnn.h5
}

# The other real models: Functional graphs (residual Add, shared tensors),
# Keras 2 .h5 and Keras 2.13 .keras, Conv1D, DepthwiseConv2D,
# Conv2DTranspose, UpSampling2D, BatchNormalization, Rescaling,
# ZeroPadding2D, GlobalAveragePooling, Reshape, AveragePooling2D.
@test "keras2ir: Keras 2 .h5 Functional ResNet-8 matches the reference within 1e-4" {
	need_keras
	check_model k2_h5_tiny_resnet8_cifar10.h5
}

@test "keras2ir: Keras 2 .h5 Functional DS-CNN (DepthwiseConv2D) matches within 1e-4" {
	need_keras
	check_model k2_h5_tiny_str_ww_dscnn.h5
}

@test "keras2ir: Keras 2 .hdf5 dense autoencoder (BatchNormalization on vectors) matches within 1e-4" {
	need_keras
	check_model k2_h5_tiny_toycar_dense_ae.hdf5
}

@test "keras2ir: Keras 2.13 .keras conv autoencoder (Conv2DTranspose, UpSampling2D) matches within 1e-4" {
	need_keras
	check_model k2_keras_v213_conv_autoencoder.keras
}

@test "keras2ir: Keras 3 .keras MobileNetV3-Small (Rescaling, ZeroPadding2D, Reshape) matches within 1e-4" {
	need_keras
	check_model k3_keras_mobilenetv3small_min.keras
}

@test "keras2ir: ZeroPadding2D before a 'valid' convolution folds into the convolution's pads" {
	need_keras
	# the model has 4 ZeroPadding2D layers, each before a strided depthwise conv
	[ "$(unzip -p "$KERAS/k3_keras_mobilenetv3small_min.keras" config.json |
		grep -o '"class_name": "ZeroPadding2D"' | wc -l)" -eq 4 ]
	keras2ir "$KERAS/k3_keras_mobilenetv3small_min.keras" -o m.ir
	run -0 irdump m.ir
	[[ "$output" != *"Pad("* ]]
	[[ "$output" == *"expanded_conv_depthwise: Conv("* ]]
}

@test "keras2ir: Keras 3 .keras ResNet-1D (Conv1D, MaxPooling1D) matches within 1e-4" {
	need_keras
	check_model k3_keras_resnet1d.keras
}

@test "keras2ir: the input is marked NHWC and the graph computes in NCHW" {
	need_keras
	run -0 keras2ir "$KERAS/k3_keras_seq_fashion_cnn.keras" -o m.ir
	run -0 irdump m.ir
	[[ "$output" == *"[1, 1, 28, 28] NHWC"* ]]
}

@test "keras2ir: reads the model from standard input and writes to a pipe" {
	need_keras
	run -0 bash -c "keras2ir < '$KERAS/k3_keras_seq_fashion_cnn.keras' | irdump -"
	[[ "$output" == *"Conv"* ]]
}

@test "keras2ir: a file that is not a Keras model is an error, no output" {
	printf 'garbage' > g.keras
	run -1 --separate-stderr keras2ir g.keras -o out.ir
	[ "$stderr" = "keras2ir: g.keras: not a keras model: expected a .keras zip archive or an HDF5 .h5 file" ]
	[ ! -e out.ir ]
	[ -z "$(ls -A | grep -v '^g.keras$')" ]
}

@test "keras2ir: a damaged .h5 that crashes the HDF5 library is one error line, exit 1, no output" {
	f="$FIXTURES/keras_fuzz/hdf5_crash.h5"
	run -1 --separate-stderr keras2ir "$f" -o out.ir
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "keras2ir: $f: "* ]]
	[ ! -e out.ir ]
	# with Debian 12's HDF5 1.10.8 this is the crash guard's message
	if [[ "$(dpkg-query -W -f '${Version}' libhdf5-103-1 2>/dev/null)" == 1.10.8* ]]; then
		[ "$stderr" = "keras2ir: $f: the HDF5 library crashed reading the file (damaged HDF5 data)" ]
	fi
}

@test "keras2ir: a missing file is an error" {
	run -1 --separate-stderr keras2ir nope.h5 -o out.ir
	[ "$stderr" = "keras2ir: nope.h5: cannot open: No such file or directory" ]
	[ ! -e out.ir ]
}

@test "keras2ir: bad usage exits 2" {
	run -2 keras2ir --no-such-option
	run -2 keras2ir a.keras b.keras
}

@test "keras2ir: --help agrees with the man page's options" {
	run -0 keras2ir --help
	for opt in --output --quiet --help --version; do
		[[ "$output" == *"$opt"* ]]
		grep -q -- "$opt" "$QPIPE_TOP/docs/man/keras2ir.md"
	done
}

# ---- generated fixtures (tests/fixtures/gen/make_keras_fixtures.py) --------
# Small models written with h5py/zipfile in the layouts real Keras writes;
# the expected outputs were computed by PyTorch from the Keras semantics
# (NHWC, HWIO kernels, TensorFlow "same" padding, NHWC Flatten order).

KFIX="$FIXTURES/keras"

check_fixture() {
	check_keras "$KFIX/$1"
}

@test "keras2ir: Keras 2 .h5 with strided, dilated 'same' convs, no-bias conv, ReLU layer, 'same' pool, Flatten->Dropout->Dense" {
	need_numpy
	check_fixture k2_cnn.h5
}

@test "keras2ir: Flatten followed by Dense folds the NHWC order into the kernel (no Transpose)" {
	run -0 keras2ir "$KFIX/k2_cnn.h5" -o m.ir
	run -0 irdump m.ir
	[[ "$output" != *"Transpose"* ]]
	[[ "$output" == *"Flatten"* ]]
}

@test "keras2ir: Flatten followed by another layer gets an explicit Transpose, matches the reference" {
	need_numpy
	check_fixture k3_flatten_act.keras
	run -0 irdump m.ir
	[[ "$output" == *"Transpose"* ]]
}

@test "keras2ir: an image output is marked NHWC and comes back in Keras' layout" {
	need_numpy
	check_fixture k3_conv_out.keras
	run -0 irdump m.ir
	[[ "$output" == *"max_pooling2d: float32 [1, 3, 3, 3] NHWC"* ]]
}

@test "keras2ir: same model and arguments give byte-identical output" {
	run -0 keras2ir "$KFIX/k2_cnn.h5" -o a.ir
	mv a.ir b.ir
	run -0 keras2ir "$KFIX/k2_cnn.h5" -o a.ir
	cmp a.ir b.ir
}

@test "keras2ir: every unsupported layer and attribute is reported, one line each, no output" {
	cp "$KFIX/unsupported.h5" m.h5
	run -1 --separate-stderr keras2ir m.h5 -o out.ir
	[ ! -e out.ir ]
	[ -z "$(ls -A | grep -v '^m.h5$')" ]
	grep -qx "keras2ir: m.h5: unsupported layer 'lambda_1' (class 'Lambda')" <<<"$stderr"
	grep -qx "keras2ir: m.h5: unsupported layer 'custom' (class 'MyCustomLayer')" <<<"$stderr"
	grep -qx "keras2ir: m.h5: unsupported layer 'conv3d' (class 'Conv3D')" <<<"$stderr"
	grep -qx "keras2ir: m.h5: unsupported data_format 'channels_first' (layer 'pool', class 'MaxPooling2D')" <<<"$stderr"
	# one line each: four problems, four lines, nothing else
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 4 ]
	[ -z "$(grep -v "^keras2ir: m.h5: unsupported " <<<"$stderr")" ]
}

@test "keras2ir: an HDF5 file without model_config (weights only) is an error" {
	cp "$KFIX/weights_only.h5" w.h5
	run -1 --separate-stderr keras2ir w.h5 -o out.ir
	[ "$stderr" = "keras2ir: w.h5: no 'model_config' attribute: not a whole Keras model (a weights-only file?)" ]
	[ ! -e out.ir ]
}

@test "keras2ir: a .keras zip without model.weights.h5 is an error" {
	cp "$KFIX/no_weights.keras" n.keras
	run -1 --separate-stderr keras2ir n.keras -o out.ir
	[ "$stderr" = "keras2ir: n.keras: not a keras archive: no 'model.weights.h5' in the zip" ]
	[ ! -e out.ir ]
}

@test "keras2ir: weights whose shape disagrees with the config are an error naming both" {
	cp "$KFIX/bad_shape.keras" b.keras
	run -1 --separate-stderr keras2ir b.keras -o out.ir
	[ "$stderr" = "keras2ir: b.keras: weight 'layers/dense/vars/0' has shape [4,3], expected [4,2] (layer 'dense', class 'Dense')" ]
	[ ! -e out.ir ]
}

@test "keras2ir: truncated .keras and .h5 files are one-line errors, no output" {
	for f in k3_conv_out.keras k2_cnn.h5; do
		for n in 0 10 300 1000; do
			head -c $n "$KFIX/$f" > t
			run -1 --separate-stderr keras2ir t -o out.ir
			[[ "$stderr" == "keras2ir: t: "* ]]
			[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
			[ ! -e out.ir ]
		done
	done
}
