build-san/decode_test.bpf.o: bpf/decode_test.bpf.c build-san/vmlinux.h \
  include/mmiotrap_decode.h include/mmiotrap_abi.h bpf/decode_test.h

build-san/vmlinux.h:

include/mmiotrap_decode.h:

include/mmiotrap_abi.h:

bpf/decode_test.h:
