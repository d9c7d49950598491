build-san/lib/fastpath.o: lib/fastpath.c lib/internal.h \
 include/mmiotrap.h include/mmiotrap_abi.h include/mmiotrap_decode.h \
 include/mmiotrap_rules.h lib/pins.h
lib/internal.h:
include/mmiotrap.h:
include/mmiotrap_abi.h:
include/mmiotrap_decode.h:
include/mmiotrap_rules.h:
lib/pins.h:
