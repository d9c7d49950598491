// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The subscriber: the one consumer of an instance's ring buffer. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>
#include <bpf/libbpf.h>
#include "internal.h"

struct mmiotrap_sub {
	struct ring_buffer *ring;
	int lock_fd;
	mmiotrap_event_fn fn;
	void *ctx;
	__u32 vm;
	__u32 region;
	int delivered;
};

static int on_record(void *ctx, void *data, size_t size)
{
	const struct mmiotrap_event *ev = data;
	struct mmiotrap_sub *sub = ctx;

	if (size < sizeof(*ev) || ev->abi != MMIOTRAP_ABI_VERSION)
		return -EPROTO;
	if ((sub->vm && ev->vm != sub->vm) || (sub->region && ev->region != sub->region))
		return 0;
	sub->delivered++;
	return sub->fn(sub->ctx, ev);
}

int mmiotrap_subscribe(struct mmiotrap_sub **subp, struct mmiotrap *mt,
		       mmiotrap_event_fn fn, void *ctx,
		       const struct mmiotrap_subscribe_opts *opts)
{
	struct mmiotrap_sub *sub;
	int err;

	if (!subp || !fn || !OPTS_VALID(opts, struct mmiotrap_subscribe_opts))
		return -EINVAL;
	sub = calloc(1, sizeof(*sub));
	if (!sub)
		return -ENOMEM;
	sub->lock_fd = -1;
	sub->fn = fn;
	sub->ctx = ctx;
	sub->vm = OPTS_GET(opts, vm, 0);
	sub->region = OPTS_GET(opts, region, 0);
	/*
	 * Two consumers of one ring would each see a part of it: the one
	 * subscriber holds a lock on the pin root.
	 */
	sub->lock_fd = open(mt->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sub->lock_fd < 0 || flock(sub->lock_fd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto cleanup;
	}
	sub->ring = ring_buffer__new(mt->map_fd[MAP_EVENTS], on_record, sub, NULL);
	if (!sub->ring) {
		err = -errno;
		goto cleanup;
	}
	*subp = sub;
	return 0;

cleanup:
	mmiotrap_sub_free(sub);
	return err;
}

int mmiotrap_sub_fd(const struct mmiotrap_sub *sub)
{
	return ring_buffer__epoll_fd(sub->ring);
}

static int delivered(struct mmiotrap_sub *sub, int err)
{
	int n = sub->delivered;

	sub->delivered = 0;
	return err < 0 ? err : n;
}

int mmiotrap_sub_poll(struct mmiotrap_sub *sub, int timeout_ms)
{
	return delivered(sub, ring_buffer__poll(sub->ring, timeout_ms));
}

int mmiotrap_sub_consume(struct mmiotrap_sub *sub)
{
	return delivered(sub, ring_buffer__consume(sub->ring));
}

void mmiotrap_sub_free(struct mmiotrap_sub *sub)
{
	if (!sub)
		return;
	ring_buffer__free(sub->ring);
	if (sub->lock_fd >= 0)
		close(sub->lock_fd);
	free(sub);
}

