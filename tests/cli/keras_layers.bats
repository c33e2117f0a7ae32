#!/usr/bin/env bats
# keras2ir layer coverage: one small generated model per layer or attribute
# (tests/fixtures/gen/make_keras_fixtures.py), each checked against the
# expected output computed there by numpy/PyTorch from the Keras semantics
# (never by qpipe): keras2ir -> irrun -> max |diff| <= 1e-4.
#
# Fixture convention: NAME.input.npy / NAME.output.npy, or for several
# inputs/outputs NAME.input_0.npy, NAME.input_1.npy, ... and NAME.output_0.npy,
# ... in the order of the model's input_layers / output_layers.
load test_helper

KFIX="$FIXTURES/keras"

# check_fixture NAME: one input, one output
check_fixture() {
	check_keras "$KFIX/$1"
}

@test "keras_layers: Keras 3 SeparableConv2D: depth_multiplier 1 'same' strides 2 bias relu, then depth_multiplier 2 'valid' no bias tanh (k3_separable_conv.keras)" {
	check_fixture k3_separable_conv.keras
}

@test "keras_layers: Keras 2 .h5 SeparableConv2D: depth_multiplier 2 'same' strides 2, then 'valid' with relu (k2_separable_conv.h5)" {
	check_fixture k2_separable_conv.h5
}

@test "keras_layers: LayerNormalization on a Dense output (rank 2, axis [1], epsilon 1e-5) (k3_layernorm_dense.keras)" {
	check_fixture k3_layernorm_dense.keras
}

@test "keras_layers: LayerNormalization on an NHWC image: axis [-1], axis [1, 2, 3], and center=False (k3_layernorm_image.keras)" {
	check_fixture k3_layernorm_image.keras
}

@test "keras_layers: Keras 2 .h5 LayerNormalization (axis [3] on an image, center=False on a vector) (k2_layernorm.h5)" {
	check_fixture k2_layernorm.h5
}

@test "keras_layers: Keras 3 LeakyReLU (negative_slope 0.3 on an image, 0.2 on a vector) (k3_leaky_relu.keras)" {
	check_fixture k3_leaky_relu.keras
}

@test "keras_layers: Keras 2 .h5 LeakyReLU (config key alpha, 0.1) (k2_leaky_relu.h5)" {
	check_fixture k2_leaky_relu.h5
}

@test "keras_layers: PReLU with alpha (H, W, C) and with shared_axes [1, 2] (alpha (1, 1, C)) (k3_prelu.keras)" {
	check_fixture k3_prelu.keras
}

@test "keras_layers: PReLU on a Dense output (alpha (units,)) (k3_prelu_vector.keras)" {
	check_fixture k3_prelu_vector.keras
}

@test "keras_layers: Concatenate of NHWC images on axis -1 (channels) and axis 2 (width) (k3_concat_image.keras)" {
	check_fixture k3_concat_image.keras
}

@test "keras_layers: Concatenate of two vectors (axis -1) (k3_concat_vector.keras)" {
	check_fixture k3_concat_vector.keras
}

@test "keras_layers: Cropping2D ((1, 2), (0, 3)), asymmetric, image output (k3_cropping.keras)" {
	check_fixture k3_cropping.keras
}

@test "keras_layers: Permute (2, 1) on a rank-3 input as the output (k3_permute_rank3.keras)" {
	check_fixture k3_permute_rank3.keras
}

@test "keras_layers: Permute (3, 1, 2) on an NHWC image followed by Conv2D, Flatten, Dense (k3_permute_image.keras)" {
	check_fixture k3_permute_image.keras
}

@test "keras_layers: Normalization (mean, variance, count; axis -1) on an image (k3_normalization_image.keras)" {
	check_fixture k3_normalization_image.keras
}

@test "keras_layers: Normalization on a vector (k3_normalization_vector.keras)" {
	check_fixture k3_normalization_vector.keras
}

@test "keras_layers: Dense on a rank-3 input (5, 8) then Flatten and Dense (k3_dense_rank3.keras)" {
	check_fixture k3_dense_rank3.keras
}

@test "keras_layers: Dense on an NHWC image (rank 4) as the output (k3_dense_rank4.keras)" {
	check_fixture k3_dense_rank4.keras
}

@test "keras_layers: Keras 3 Sequential used as a layer inside a Functional model (k3_nested_seq_in_func.keras)" {
	check_fixture k3_nested_seq_in_func.keras
}

@test "keras_layers: Keras 3 Functional used as a layer inside a Sequential model (k3_nested_func_in_seq.keras)" {
	check_fixture k3_nested_func_in_seq.keras
}

@test "keras_layers: Keras 2 .h5 Sequential used as a layer inside a Functional model (k2_nested_seq_in_func.h5)" {
	check_fixture k2_nested_seq_in_func.h5
}

@test "keras_layers: a Dense shared by two calls on different tensors (two inbound nodes) (k3_shared_dense.keras)" {
	check_fixture k3_shared_dense.keras
	# both calls use the one copy of the weights
	run -0 irdump m.ir
	[[ "$output" == *"shared/call1: Gemm(dense_b, shared/kernel, shared/bias)"* ]]
}

@test "keras_layers: a Conv2D called twice, the second time on its own output (k3_shared_conv.keras)" {
	check_fixture k3_shared_conv.keras
	run -0 irdump m.ir
	[[ "$output" == *"tensors: 6 (2 constants, 4 activations)"* ]]
}

@test "keras_layers: Conv2D activation hard_swish, then Activation softmax over an NHWC image's channels (k3_act_image.keras)" {
	check_fixture k3_act_image.keras
}

@test "keras_layers: Conv2D groups=2, then dilation_rate 2 'same' on an odd input (k3_conv_groups_dilation.keras)" {
	check_fixture k3_conv_groups_dilation.keras
}

@test "keras_layers: UpSampling2D (2, 3) bilinear (half-pixel centres) (k3_upsampling_bilinear.keras)" {
	check_fixture k3_upsampling_bilinear.keras
}

@test "keras_layers: GlobalAveragePooling2D keepdims=True followed by a 1x1 conv (k3_global_avg_pool_keepdims.keras)" {
	check_fixture k3_global_avg_pool_keepdims.keras
}

@test "keras_layers: GlobalMaxPooling2D keepdims=True followed by a 1x1 conv (k3_global_max_pool_keepdims.keras)" {
	check_fixture k3_global_max_pool_keepdims.keras
}

@test "keras_layers: AveragePooling2D 3x3/2 'same' (pads not counted in the average) (k3_avgpool_same.keras)" {
	check_fixture k3_avgpool_same.keras
}

@test "keras_layers: Softmax layer (axis -1) on an NHWC image (k3_softmax_layer.keras)" {
	check_fixture k3_softmax_layer.keras
}

@test "keras_layers: Subtract merge of two conv branches (k3_merge_subtract.keras)" {
	check_fixture k3_merge_subtract.keras
}

@test "keras_layers: Multiply merge of two conv branches (k3_merge_multiply.keras)" {
	check_fixture k3_merge_multiply.keras
}

@test "keras_layers: Average merge of three conv branches (k3_merge_average.keras)" {
	check_fixture k3_merge_average.keras
}

@test "keras_layers: Maximum merge of three conv branches (k3_merge_maximum.keras)" {
	check_fixture k3_merge_maximum.keras
}

@test "keras_layers: Minimum merge of two conv branches (k3_merge_minimum.keras)" {
	check_fixture k3_merge_minimum.keras
}

@test "keras_layers: Keras 3 activation 'relu' on Dense and as an Activation layer (k3_act_relu.keras)" {
	check_fixture k3_act_relu.keras
}

@test "keras_layers: Keras 3 activation 'relu6' on Dense and as an Activation layer (k3_act_relu6.keras)" {
	check_fixture k3_act_relu6.keras
}

@test "keras_layers: Keras 3 activation 'sigmoid' on Dense and as an Activation layer (k3_act_sigmoid.keras)" {
	check_fixture k3_act_sigmoid.keras
}

@test "keras_layers: Keras 3 activation 'hard_sigmoid' on Dense and as an Activation layer (Keras 3: relu6(x + 3) / 6) (k3_act_hard_sigmoid.keras)" {
	check_fixture k3_act_hard_sigmoid.keras
}

@test "keras_layers: Keras 3 activation 'swish' on Dense and as an Activation layer (k3_act_swish.keras)" {
	check_fixture k3_act_swish.keras
}

@test "keras_layers: Keras 3 activation 'silu' on Dense and as an Activation layer (k3_act_silu.keras)" {
	check_fixture k3_act_silu.keras
}

@test "keras_layers: Keras 3 activation 'hard_swish' on Dense and as an Activation layer (k3_act_hard_swish.keras)" {
	check_fixture k3_act_hard_swish.keras
}

@test "keras_layers: Keras 3 activation 'hard_silu' on Dense and as an Activation layer (k3_act_hard_silu.keras)" {
	check_fixture k3_act_hard_silu.keras
}

@test "keras_layers: Keras 3 activation 'tanh' on Dense and as an Activation layer (k3_act_tanh.keras)" {
	check_fixture k3_act_tanh.keras
}

@test "keras_layers: Keras 3 activation 'softmax' on Dense and as an Activation layer (k3_act_softmax.keras)" {
	check_fixture k3_act_softmax.keras
}

@test "keras_layers: Keras 3 activation 'gelu' on Dense and as an Activation layer (exact, approximate=False) (k3_act_gelu.keras)" {
	check_fixture k3_act_gelu.keras
}

@test "keras_layers: Keras 3 activation 'elu' on Dense and as an Activation layer (k3_act_elu.keras)" {
	check_fixture k3_act_elu.keras
}

@test "keras_layers: Keras 3 activation 'linear' on Dense and as an Activation layer (k3_act_linear.keras)" {
	check_fixture k3_act_linear.keras
}

@test "keras_layers: Keras 2 activation 'hard_sigmoid' on Dense and as an Activation layer (Keras 2: clip(0.2x + 0.5, 0, 1)) (k2_act_hard_sigmoid.h5)" {
	check_fixture k2_act_hard_sigmoid.h5
}

@test "keras_layers: Keras 2 activation 'swish' on Dense and as an Activation layer (k2_act_swish.h5)" {
	check_fixture k2_act_swish.h5
}

@test "keras_layers: Keras 2 activation 'gelu' on Dense and as an Activation layer (k2_act_gelu.h5)" {
	check_fixture k2_act_gelu.h5
}

@test "keras_layers: ReLU layer with max_value 1.5 (k3_relu_max.keras)" {
	check_fixture k3_relu_max.keras
}

@test "keras_layers: ReLU layer with threshold 0.4 (k3_relu_threshold.keras)" {
	check_fixture k3_relu_threshold.keras
}

@test "keras_layers: ReLU layer with negative_slope 0.1, threshold 0.5 (k3_relu_slope_threshold.keras)" {
	check_fixture k3_relu_slope_threshold.keras
}

@test "keras_layers: ReLU layer with max_value 2, negative_slope 0.2, threshold 0.3 (k3_relu_all.keras)" {
	check_fixture k3_relu_all.keras
}

@test "keras_layers: Functional with two inputs and two outputs (image + vector in, vector + NHWC image out)" {
	local m=$KFIX/k3_multi_io.keras
	need_numpy
	run -0 keras2ir "$m" -o m.ir
	run -0 irrun m.ir --input "$m.input_0.npy" --input "$m.input_1.npy" -o y0.npy -o y1.npy
	run -0 npy_close y0.npy "$m.output_0.npy" 1e-4
	run -0 npy_close y1.npy "$m.output_1.npy" 1e-4
}

@test "keras_layers: Keras 3 .keras with Lambda, a custom class, Conv3D and channels_first: each reported on one line, exit 1, no output" {
	cp "$KFIX/unsupported.keras" m.keras
	run -1 --separate-stderr keras2ir m.keras -o out.ir
	[ ! -e out.ir ]
	[ -z "$(ls -A | grep -v '^m.keras$')" ]
	[ -z "$output" ]
	grep -qx "keras2ir: m.keras: unsupported layer 'lambda' (class 'Lambda')" <<<"$stderr"
	grep -qx "keras2ir: m.keras: unsupported layer 'my_custom_layer' (class 'MyCustomLayer')" <<<"$stderr"
	grep -qx "keras2ir: m.keras: unsupported layer 'conv3d' (class 'Conv3D')" <<<"$stderr"
	grep -qx "keras2ir: m.keras: unsupported data_format 'channels_first' (layer 'max_pooling2d', class 'MaxPooling2D')" <<<"$stderr"
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 4 ]
	[ -z "$(grep -v "^keras2ir: m.keras: unsupported " <<<"$stderr")" ]
}

@test "keras_layers: sequences: Conv1D 'same' relu, SpatialDropout1D, AveragePooling1D, MaxPooling1D 'same', GlobalMaxPooling1D, Dense (k3_seq1d.keras)" {
	check_fixture k3_seq1d.keras
}

@test "keras_layers: SpatialDropout2D between convolutions is removed (k3_spatial_dropout2d.keras)" {
	check_fixture k3_spatial_dropout2d.keras
	run -0 irdump m.ir
	[[ "$output" == *"nodes: 3 (Conv 2, Relu 1)"* ]]
}

@test "keras_layers: unsupported layers inside a nested model are reported as '<model>/<layer>', exit 1, no output" {
	cp "$KFIX/unsupported_nested.keras" m.keras
	run -1 --separate-stderr keras2ir m.keras -o out.ir
	[ ! -e out.ir ]
	grep -qx "keras2ir: m.keras: unsupported layer 'block/lambda' (class 'Lambda')" <<<"$stderr"
	grep -qx "keras2ir: m.keras: unsupported layer 'block/my_custom_layer' (class 'MyCustomLayer')" <<<"$stderr"
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 2 ]
}

@test "keras_layers: a cycle and an empty nested model: one line naming the layer, exit 1, no output" {
	[ -x "$PY" ] || skip "needs /usr/bin/python3"
	# two damaged copies of k3_nested_seq_in_func.keras: 'post' reads its own
	# output; the nested Sequential 'block' has no layers
	"$PY" - "$KFIX/k3_nested_seq_in_func.keras" <<'PY'
import json, sys, zipfile
src = zipfile.ZipFile(sys.argv[1])
def damaged(name, change):
    cfg = json.loads(src.read("config.json"))
    for l in cfg["config"]["layers"]:
        change(l)
    with zipfile.ZipFile(name, "w") as z:
        for m in ("metadata.json", "model.weights.h5"):
            z.writestr(m, src.read(m))
        z.writestr("config.json", json.dumps(cfg))
def cycle(l):
    if l["config"]["name"] == "post":
        l["inbound_nodes"][0]["args"][0]["config"]["keras_history"] = ["post", 0, 0]
def empty(l):
    if l["class_name"] == "Sequential":
        l["config"]["layers"] = []
damaged("cycle.keras", cycle)
damaged("empty.keras", empty)
PY
	run -1 --separate-stderr keras2ir cycle.keras -o out.ir
	[ "$stderr" = "keras2ir: cycle.keras: the layer graph has a cycle or an input that is never computed (layer 'post', class 'Dense')" ]
	run -1 --separate-stderr keras2ir empty.keras -o out.ir
	[ "$stderr" = "keras2ir: empty.keras: model has no layers (layer 'block', class 'Sequential')" ]
	[ ! -e out.ir ]
}

@test "keras_layers: the generated fixtures are byte-identical when regenerated" {
	need_numpy
	$PY -c 'import h5py, torch' 2>/dev/null || skip "h5py/torch for /usr/bin/python3 not installed"
	run -0 $PY "$QPIPE_TOP/tests/fixtures/gen/make_keras_fixtures.py" gen
	for f in gen/*; do
		cmp "$f" "$KFIX/${f#gen/}"
	done
	[ "$(ls gen | wc -l)" -eq "$(ls "$KFIX" | wc -l)" ]
}
