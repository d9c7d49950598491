// SPDX-License-Identifier: GPL-2.0
/* The start signal of the test VMM and the injector. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "go.h"

int wait_for_go(const char *prog, const char *path)
{
	ssize_t n;
	char c;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	do {
		n = read(fd, &c, 1);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
	close(fd);
	return n < 0 ? -1 : 0;
}
