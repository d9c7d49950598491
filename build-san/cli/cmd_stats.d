build-san/cli/cmd_stats.o: cli/cmd_stats.c cli/cli.h include/mmiotrap.h \
 include/mmiotrap_abi.h include/mmiotrap_decode.h \
 include/mmiotrap_rules.h
cli/cli.h:
include/mmiotrap.h:
include/mmiotrap_abi.h:
include/mmiotrap_decode.h:
include/mmiotrap_rules.h:
