// SPDX-License-Identifier: GPL-2.0
/*
 * The policy reader over any bytes: it returns, in bounded time and memory,
 * a policy or -errno; every problem has a line and a message within its
 * buffer; a policy without problems holds no more regions than an instance.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "mmiotrap.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const struct mmiotrap_policy_problem *e;
	struct mmiotrap_policy *p;
	char path[64];
	int fd, i, n;

	fd = memfd_create("policy", MFD_CLOEXEC);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (mmiotrap_policy_read(&p, path)) {
		close(fd);
		return 0;
	}
	close(fd);
	n = mmiotrap_policy_problems(p, &e);
	for (i = 0; i < n; i++)
		if (e[i].line < 0 || strnlen(e[i].message, sizeof(e[i].message)) ==
		    sizeof(e[i].message) || !*e[i].message)
			abort();
	if (!n && mmiotrap_policy_regions(p) > MMIOTRAP_POLICY_MAX_REGIONS)
		abort();
	mmiotrap_policy_free(p);
	return 0;
}
