build-san/tools/emulator.o: tools/emulator.c include/mmiotrap.h \
 include/mmiotrap_abi.h include/mmiotrap_decode.h \
 include/mmiotrap_rules.h tools/emulator.h tools/script.h
include/mmiotrap.h:
include/mmiotrap_abi.h:
include/mmiotrap_decode.h:
include/mmiotrap_rules.h:
tools/emulator.h:
tools/script.h:
