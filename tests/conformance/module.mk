# The ONNX conformance runner (tests/conformance/run drives it).  It lives in
# $(BUILD)/conformance, not $(BUILD)/tests: everything named test_* there is
# run as a unit test.  It reads the tests' TensorProto files with the same
# generated protobuf-c code onnx2ir uses.

CONFORMANCE_RUNNER := $(BUILD)/conformance/node_runner
CONFORMANCE_OBJS := $(BUILD)/tests/conformance/node_runner.o
ALL_OBJS += $(CONFORMANCE_OBJS)

$(CONFORMANCE_OBJS): $(BUILD)/gen/onnx.pb-c.h

$(CONFORMANCE_RUNNER): $(CONFORMANCE_OBJS) $(BUILD)/gen/onnx.pb-c.o $(LIBQPIPE) $(LIBQPRT)
	$(call say,LINK,$@)mkdir -p $(@D) && $(CC) $(LDFLAGS_ALL) -o $@ $(CONFORMANCE_OBJS) $(BUILD)/gen/onnx.pb-c.o $(LIBQPIPE) $(LIBQPRT) $(LDLIBS_ALL)

unit-tests: $(CONFORMANCE_RUNNER)
