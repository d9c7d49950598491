build-san/lib/policy_apply.o: lib/policy_apply.c lib/policy.h \
 lib/internal.h include/mmiotrap.h include/mmiotrap_abi.h \
 include/mmiotrap_decode.h include/mmiotrap_rules.h lib/pins.h
lib/policy.h:
lib/internal.h:
include/mmiotrap.h:
include/mmiotrap_abi.h:
include/mmiotrap_decode.h:
include/mmiotrap_rules.h:
lib/pins.h:
