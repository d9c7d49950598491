// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What /proc says of a VMM process. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "internal.h"

/*
 * Field 22 of /proc/PID/stat: the start time in clock ticks since boot, the
 * same clock the trap reads from task_struct, so pid reuse shows.
 */
int proc_start_ticks(__u32 pid, __u64 *ticks)
{
	char path[64], buf[1024], *p;
	unsigned long long start;
	size_t n;
	FILE *f;
	int i;

	if (!pid)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	for (i = 2; i < 22 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %llu", &start) != 1)
		return -EIO;
	*ticks = start;
	return 0;
}
