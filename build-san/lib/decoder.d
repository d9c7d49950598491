build-san/lib/decoder.o: lib/decoder.c lib/internal.h include/mmiotrap.h \
 include/mmiotrap_abi.h include/mmiotrap_decode.h \
 include/mmiotrap_rules.h lib/pins.h
lib/internal.h:
include/mmiotrap.h:
include/mmiotrap_abi.h:
include/mmiotrap_decode.h:
include/mmiotrap_rules.h:
lib/pins.h:
