# make bench: calibrate's memory and throughput on MobileNetV2
# (docs/performance.md, "calibrate").
bench: bench-calibrate
.PHONY: bench-calibrate
bench-calibrate: all
	stages/calibrate/bench.sh $(BIN) $(BUILD)
