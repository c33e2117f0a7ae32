# onnx2ir: C for the ONNX protobuf schema is generated at build time from the
# vendored lib/ext/onnx/onnx.proto with protoc-c (Debian protobuf-c-compiler),
# so no generated code is committed.  The header is in GEN_SRCS: every object
# of ours waits for it (order-only), so main.c never compiles before it exists.

ONNX_PROTO := lib/ext/onnx/onnx.proto

$(BUILD)/gen/onnx.pb-c.c $(BUILD)/gen/onnx.pb-c.h &: $(ONNX_PROTO)
	$(call say,PROTOC,$<)mkdir -p $(BUILD)/gen && protoc-c --c_out=$(BUILD)/gen --proto_path=lib/ext/onnx onnx.proto

GEN_SRCS += $(BUILD)/gen/onnx.pb-c.h
onnx2ir_EXTRA_OBJS := $(BUILD)/gen/onnx.pb-c.o
