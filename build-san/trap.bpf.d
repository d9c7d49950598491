build-san/trap.bpf.o: bpf/trap.bpf.c build-san/vmlinux.h \
  include/mmiotrap_abi.h include/mmiotrap_decode.h \
  include/mmiotrap_rules.h

build-san/vmlinux.h:

include/mmiotrap_abi.h:

include/mmiotrap_decode.h:

include/mmiotrap_rules.h:
