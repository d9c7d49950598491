build-san/cli/cmd_policy.o: cli/cmd_policy.c cli/cli.h include/mmiotrap.h \
 include/mmiotrap_abi.h include/mmiotrap_decode.h \
 include/mmiotrap_rules.h
cli/cli.h:
include/mmiotrap.h:
include/mmiotrap_abi.h:
include/mmiotrap_decode.h:
include/mmiotrap_rules.h:
