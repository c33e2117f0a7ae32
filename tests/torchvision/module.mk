# Torchvision model tests (tests/cli/torchvision.bats) and the onnx2ir
# memory benchmark (bench/onnx2ir_memory.sh, docs/performance.md).
#
# The big models are generated, not committed: tests/torchvision/gen.sh runs
# tests/fixtures/gen/make_torchvision.py once into build/torchvision/ (always
# that directory, whatever BUILD is, so every build tree shares one copy) when
# /usr/bin/python3 has torch and torchvision; without them it prints a note
# and the tests skip.

.PHONY: torchvision-fixtures bench-onnx2ir-memory

torchvision-fixtures:
	@tests/torchvision/gen.sh $(CURDIR)/build/torchvision || [ $$? -eq 3 ]

check: torchvision-fixtures

bench: bench-onnx2ir-memory

bench-onnx2ir-memory: $(BIN)/onnx2ir torchvision-fixtures
	@bench/onnx2ir_memory.sh $(BIN)/onnx2ir $(CURDIR)/build/torchvision/resnet50_opset17.onnx
