// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The subscriber: the one consumer of an instance's ring buffer.
 *
 * It sleeps in epoll on the ring (woken by the ring's own adaptive wakeup,
 * for capture regions) and on the eventfds of fast regions (signalled by
 * KVM after the trap has committed the record, so nothing is stranded).
 * Slow writes of fast regions are consumed by the vCPU thread that took
 * the exit, in mmiotrap_sub_dispatch_exit().
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <linux/kvm.h>
#include <bpf/libbpf.h>
#include "internal.h"

#define MAX_WATCHED	64

struct mmiotrap_sub {
	struct mmiotrap *mt;
	struct ring_buffer *ring;
	pthread_mutex_t lock;	/* one consumer at a time: poller or vCPU */
	int epfd;
	int lock_fd;
	int watched[MAX_WATCHED];
	int nwatched;
	mmiotrap_event_fn fn;
	void *ctx;
	__u32 vm;
	__u32 region;
	bool busy_poll;
	int delivered;
	/* Per region id: what was delivered, what was reported lost. */
	struct {
		struct mmiotrap_event last;
		__u64 next_seq;
		__u64 lost;
		bool seen;
	} regions[MMIOTRAP_MAX_REGIONS];
};

/* @n writes of region @id, from its next seq on, as one event. */
static int report_lost(struct mmiotrap_sub *sub, __u32 id, __u64 n)
{
	struct mmiotrap_event lost = sub->regions[id].last;
	struct mmiotrap_slot slot;

	lost.flags = MMIOTRAP_EVENT_LOST;
	lost.seq = sub->regions[id].next_seq;
	lost.lost = n;
	if (!mmiotrap_region_latest(sub->mt, id, &slot))
		lost.value = slot.value;
	sub->regions[id].next_seq += n;
	sub->regions[id].lost += n;
	sub->delivered++;
	return sub->fn(sub->ctx, &lost);
}

/*
 * Drops after the last record leave no gap until the next record: the
 * slot counts them. Called with the ring drained; a write still in the
 * trap on another CPU shows up as a late record, never as a loss twice.
 */
static int report_tail_losses(struct mmiotrap_sub *sub)
{
	struct mmiotrap_slot slot;
	__u32 id;
	int err;

	for (id = 1; id < MMIOTRAP_MAX_REGIONS; id++) {
		if (!sub->regions[id].seen || mmiotrap_region_latest(sub->mt, id, &slot) ||
		    slot.dropped <= sub->regions[id].lost)
			continue;
		err = report_lost(sub, id, slot.dropped - sub->regions[id].lost);
		if (err)
			return err;
	}
	return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct mmiotrap_event *ev = data;
	struct mmiotrap_sub *sub = ctx;
	__u32 id = ev->region;
	int err, lost_err = 0;

	if (size < sizeof(*ev) || ev->abi != MMIOTRAP_ABI_VERSION || id >= MMIOTRAP_MAX_REGIONS)
		return -EPROTO;
	if ((sub->vm && ev->vm != sub->vm) || (sub->region && id != sub->region))
		return 0;
	/* Seq 0 is a new region under a reused id. */
	if (!ev->seq)
		memset(&sub->regions[id], 0, sizeof(sub->regions[id]));
	/* The record is consumed: it is delivered even if the callback balks at the loss. */
	if (sub->regions[id].seen && ev->seq > sub->regions[id].next_seq) {
		sub->regions[id].last = *ev;
		lost_err = report_lost(sub, id, ev->seq - sub->regions[id].next_seq);
	}
	sub->regions[id].seen = true;
	sub->regions[id].last = *ev;
	if (ev->seq >= sub->regions[id].next_seq)
		sub->regions[id].next_seq = ev->seq + 1;
	sub->delivered++;
	err = sub->fn(sub->ctx, ev);
	return lost_err ? lost_err : err;
}

static int watch(struct mmiotrap_sub *sub, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(sub->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* Drops before the subscriber came are history, not its losses. */
static void set_baseline(struct mmiotrap_sub *sub)
{
	struct mmiotrap_slot slot;
	__u32 id;

	for (id = 1; id < MMIOTRAP_MAX_REGIONS; id++)
		if (!mmiotrap_region_latest(sub->mt, id, &slot))
			sub->regions[id].lost = slot.dropped;
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
	pthread_mutex_init(&sub->lock, NULL);
	sub->lock_fd = sub->epfd = -1;
	sub->mt = mt;
	sub->fn = fn;
	sub->ctx = ctx;
	sub->vm = OPTS_GET(opts, vm, 0);
	sub->region = OPTS_GET(opts, region, 0);
	sub->busy_poll = OPTS_GET(opts, busy_poll, false);
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
	sub->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (!sub->ring || sub->epfd < 0) {
		err = -errno;
		goto cleanup;
	}
	err = watch(sub, ring_buffer__epoll_fd(sub->ring));
	if (err)
		goto cleanup;
	set_baseline(sub);
	*subp = sub;
	return 0;

cleanup:
	mmiotrap_sub_free(sub);
	return err;
}

int mmiotrap_sub_watch(struct mmiotrap_sub *sub, int efd)
{
	int err = -ENOSPC;

	pthread_mutex_lock(&sub->lock);
	if (sub->nwatched < MAX_WATCHED)
		err = watch(sub, efd);
	if (!err)
		sub->watched[sub->nwatched++] = efd;
	pthread_mutex_unlock(&sub->lock);
	return err;
}

int mmiotrap_sub_unwatch(struct mmiotrap_sub *sub, int efd)
{
	int i, err = -ENOENT;

	pthread_mutex_lock(&sub->lock);
	for (i = 0; i < sub->nwatched; i++) {
		if (sub->watched[i] != efd)
			continue;
		sub->watched[i] = sub->watched[--sub->nwatched];
		err = epoll_ctl(sub->epfd, EPOLL_CTL_DEL, efd, NULL) ? -errno : 0;
		break;
	}
	pthread_mutex_unlock(&sub->lock);
	return err;
}

int mmiotrap_sub_fd(const struct mmiotrap_sub *sub)
{
	return sub->epfd;
}

int mmiotrap_sub_consume(struct mmiotrap_sub *sub)
{
	__u64 count;
	int i, err, n;

	pthread_mutex_lock(&sub->lock);
	/* Rearm the eventfds first: a kick after this finds the record. */
	for (i = 0; i < sub->nwatched; i++)
		while (read(sub->watched[i], &count, sizeof(count)) > 0)
			;
	err = ring_buffer__consume(sub->ring);
	if (err >= 0)
		err = report_tail_losses(sub);
	n = sub->delivered;
	sub->delivered = 0;
	pthread_mutex_unlock(&sub->lock);
	return err < 0 ? err : n;
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int spin(struct mmiotrap_sub *sub, int timeout_ms)
{
	__u64 deadline = now_ns() + (__u64)timeout_ms * 1000000;
	int n;

	do {
		n = mmiotrap_sub_consume(sub);
	} while (!n && (timeout_ms < 0 || now_ns() < deadline));
	return n;
}

int mmiotrap_sub_poll(struct mmiotrap_sub *sub, int timeout_ms)
{
	struct epoll_event evs[8];

	int n;

	if (sub->busy_poll)
		return spin(sub, timeout_ms);
	/* Only a wakeup says there is something: nothing may depend on timeouts. */
	n = epoll_wait(sub->epfd, evs, 8, timeout_ms);
	if (n < 0)
		return -errno;
	return n ? mmiotrap_sub_consume(sub) : 0;
}

/* The bus, address and width of a write exit; false for anything else. */
static bool exit_write(const struct kvm_run *run, __u8 *bus, __u64 *addr, __u32 *width)
{
	if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write) {
		*bus = MMIOTRAP_BUS_MMIO;
		*addr = run->mmio.phys_addr;
		*width = run->mmio.len;
		return true;
	}
	if (run->exit_reason == KVM_EXIT_IO && run->io.direction == KVM_EXIT_IO_OUT) {
		*bus = MMIOTRAP_BUS_PIO;
		*addr = run->io.port;
		*width = run->io.size;
		return true;
	}
	return false;
}

int mmiotrap_sub_dispatch_exit(struct mmiotrap_sub *sub, const struct kvm_run *run)
{
	struct mmiotrap_region r;
	__u32 width;
	__u64 addr;
	__u8 bus;
	int n;

	if (!exit_write(run, &bus, &addr, &width))
		return 0;
	if (region_at(sub->mt, getpid(), bus, addr, &r) || !(r.widths & width) ||
	    addr - r.addr + width > r.len)
		return 0;
	n = mmiotrap_sub_consume(sub);
	return n < 0 ? n : 1;
}

void mmiotrap_sub_free(struct mmiotrap_sub *sub)
{
	if (!sub)
		return;
	ring_buffer__free(sub->ring);
	if (sub->epfd >= 0)
		close(sub->epfd);
	if (sub->lock_fd >= 0)
		close(sub->lock_fd);
	pthread_mutex_destroy(&sub->lock);
	free(sub);
}
