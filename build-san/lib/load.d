build-san/lib/load.o: lib/load.c lib/internal.h include/mmiotrap.h \
 include/mmiotrap_abi.h include/mmiotrap_decode.h \
 include/mmiotrap_rules.h lib/pins.h build-san/trap.skel.h
lib/internal.h:
include/mmiotrap.h:
include/mmiotrap_abi.h:
include/mmiotrap_decode.h:
include/mmiotrap_rules.h:
lib/pins.h:
build-san/trap.skel.h:
