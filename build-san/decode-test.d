build-san/decode-test: selftests/decode/decode_test.c \
 include/mmiotrap_decode.h include/mmiotrap_abi.h bpf/decode_test.h \
 include/mmiotrap_abi.h build-san/decode_test.skel.h
include/mmiotrap_decode.h:
include/mmiotrap_abi.h:
bpf/decode_test.h:
include/mmiotrap_abi.h:
build-san/decode_test.skel.h:
