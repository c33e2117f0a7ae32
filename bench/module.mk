# Accuracy benchmark (issue 21): bench/accuracy.sh runs every family fixture
# and the example model through both targets, evaluates the device binaries
# with simulate on the Fashion-MNIST test images and rewrites docs/accuracy.md.
# Slow (simulate is scalar): ACCURACY_LIMIT=N evaluates the binaries on the
# first N test images only; 0 = all 10,000.

.PHONY: bench-accuracy

ACCURACY_LIMIT ?= 0

bench: bench-accuracy

bench-accuracy: $(addprefix $(BIN)/,onnx2ir irrun calibrate quantize lower emit simulate)
	@bench/accuracy.sh -n $(ACCURACY_LIMIT) $(BIN)
