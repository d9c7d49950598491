// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The subscriber: the one consumer of an instance's ring buffer.
 *
 * It sleeps in epoll on the ring (woken by the ring's own adaptive wakeup,
 * for capture regions) and on the eventfds of fast regions (signalled by
 * KVM after the trap has committed the record, so nothing is stranded).
 * Slow writes of fast regions are consumed by the vCPU thread that took
 * the exit, in mmiotrap_sub_dispatch_exit().
 *
 * It keeps its own view of the region table, so that neither an event nor
 * an exit sends it to the maps: the table's version, in shared memory,
 * says when the view is old, and a record's generation says when the
 * region it names is newer than the view.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/timerfd.h>
#include <linux/kvm.h>
#include <bpf/libbpf.h>
#include "internal.h"

#define MAX_WATCHED	64
/* An exit delivers at most this many records: its own and those before it. */
#define DISPATCH_BATCH	64
/* Ends a bounded delivery; never reaches a caller. */
#define BATCH_FULL	(-EAGAIN)

/* One of this process's regions, for matching its exits. */
struct span {
	__u64 addr;
	__u64 len;
	__u32 id;
	__u8 bus;
};

/* What the subscriber knows of one region id. */
struct view {
	/* The id's region; len 0 and the last generation known gone if none. */
	struct mmiotrap_region r;
	/* What was delivered of the id's region, what was reported lost. */
	struct mmiotrap_event last;
	__u64 next_seq;
	__u64 lost;
	bool seen;
	bool listed;	/* in seen_ids */
};

struct mmiotrap_sub {
	struct mmiotrap *mt;
	struct ring_buffer *ring;
	pthread_mutex_t lock;	/* one consumer at a time: poller or vCPU */
	int epfd;
	int lock_fd;
	int kick_fd;	/* a dispatch left records that may wake no one */
	int tick_fd;	/* every latency_ms, or -1 */
	int watched[MAX_WATCHED];
	int nwatched;
	mmiotrap_event_fn fn;
	void *ctx;
	__u32 vm;
	__u32 region;
	__u32 pid;
	bool busy_poll;
	__u64 deadline_ns;	/* 0: none */
	int delivered;
	int budget;		/* records this delivery may still take; 0: all */
	bool batch_full;
	__u64 version;		/* of the table when the view was last synced */
	int nquiet;		/* live regions whose records wake no one */
	int nmine;
	struct span mine[MMIOTRAP_MAX_REGIONS];	/* by bus, then address */
	int nseen;
	__u32 seen_ids[MMIOTRAP_MAX_REGIONS];
	struct view view[MMIOTRAP_MAX_REGIONS];
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->bus != y->bus)
		return x->bus < y->bus ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* This process's regions in order, for exits; and how many regions are quiet. */
static void index_view(struct mmiotrap_sub *sub)
{
	const struct mmiotrap_region *r;
	__u32 id;

	sub->nmine = sub->nquiet = 0;
	for (id = 1; id < MMIOTRAP_MAX_REGIONS; id++) {
		r = &sub->view[id].r;
		if (!r->len)
			continue;
		sub->nquiet += !!(r->action & MMIOTRAP_ACTION_QUIET);
		if (r->vm == sub->pid)
			sub->mine[sub->nmine++] = (struct span){
				.addr = r->addr, .len = r->len, .id = id, .bus = r->bus,
			};
	}
	qsort(sub->mine, sub->nmine, sizeof(sub->mine[0]), cmp_span);
}

/* The maps' region @id into the view; with none, generation @gone is known gone. */
static int view_load(struct mmiotrap_sub *sub, __u32 id, __u64 gone)
{
	struct mmiotrap_region *v = &sub->view[id].r, r;
	int err = mmiotrap_region_get(sub->mt, id, &r);

	if (!err)
		*v = r;
	else if (err == -ENOENT)
		*v = (struct mmiotrap_region){ .id = id, .gen = gone > v->gen ? gone : v->gen };
	return err == -ENOENT ? 0 : err;
}

/* The whole view as the maps have it: one lookup per id. */
static int view_scan(struct mmiotrap_sub *sub)
{
	__u64 version = table_version(sub->mt);
	__u32 id;
	int err = 0;

	for (id = 1; id < MMIOTRAP_MAX_REGIONS && !err; id++)
		err = view_load(sub, id, 0);
	index_view(sub);
	if (!err)
		sub->version = version;
	return err;
}

/* The table's version is in shared memory: only a change costs lookups. */
static int view_sync(struct mmiotrap_sub *sub)
{
	return table_version(sub->mt) == sub->version ? 0 : view_scan(sub);
}

/*
 * The view's region of a record: looked up once if it was added after the
 * view was synced; NULL if it is gone (deleted, or its id reused).
 */
static const struct mmiotrap_region *region_of(struct mmiotrap_sub *sub, __u32 id, __u64 gen)
{
	const struct mmiotrap_region *r = &sub->view[id].r;

	if (gen > r->gen && gen > sub->version && !view_load(sub, id, gen))
		index_view(sub);
	return r->len && r->gen == gen ? r : NULL;
}

/* This process's region holding @addr on @bus, if the view has one. */
static const struct mmiotrap_region *mine_at(const struct mmiotrap_sub *sub, __u8 bus, __u64 addr)
{
	const struct span *s;
	int lo = 0, hi = sub->nmine, mid;

	/* The last span starting at or before (bus, addr). */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		s = &sub->mine[mid];
		if (s->bus < bus || (s->bus == bus && s->addr <= addr))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	s = &sub->mine[lo - 1];
	return s->bus == bus && addr - s->addr < s->len ? &sub->view[s->id].r : NULL;
}

/* @n writes of region @id, from its next seq on, as one event. */
static int report_lost(struct mmiotrap_sub *sub, __u32 id, __u64 n)
{
	struct view *v = &sub->view[id];
	struct mmiotrap_event lost = v->last;
	struct mmiotrap_slot slot;

	lost.flags = MMIOTRAP_EVENT_LOST;
	lost.seq = v->next_seq;
	lost.lost = n;
	if (!mmiotrap_region_latest(sub->mt, id, &slot))
		lost.value = slot.value;
	v->next_seq += n;
	v->lost += n;
	sub->delivered++;
	return sub->fn(sub->ctx, &lost, region_of(sub, id, lost.gen));
}

/*
 * Drops after the last record leave no gap until the next record: the
 * slot counts them. Called with the ring drained; a write still in the
 * trap on another CPU shows up as a late record, never as a loss twice.
 */
static int report_tail_losses(struct mmiotrap_sub *sub)
{
	struct mmiotrap_slot slot;
	struct view *v;
	__u32 id;
	int i, err;

	for (i = 0; i < sub->nseen; i++) {
		id = sub->seen_ids[i];
		v = &sub->view[id];
		if (!v->seen || mmiotrap_region_latest(sub->mt, id, &slot) || slot.dropped <= v->lost)
			continue;
		err = report_lost(sub, id, slot.dropped - v->lost);
		if (err)
			return err;
	}
	return 0;
}

/* A new region under a reused id starts from nothing. */
static void forget_losses(struct view *v)
{
	memset(&v->last, 0, sizeof(v->last));
	v->next_seq = 0;
	v->lost = 0;
	v->seen = false;
}

static int deliver(struct mmiotrap_sub *sub, const struct mmiotrap_event *ev)
{
	struct view *v = &sub->view[ev->region];
	int err, lost_err = 0;

	if ((sub->vm && ev->vm != sub->vm) || (sub->region && ev->region != sub->region))
		return 0;
	/* Seq 0, or a generation not seen under this id, is a new region. */
	if (!ev->seq || ev->gen != v->last.gen)
		forget_losses(v);
	if (!v->listed) {
		sub->seen_ids[sub->nseen++] = ev->region;
		v->listed = true;
	}
	/* The record is consumed: it is delivered even if the callback balks at the loss. */
	if (v->seen && ev->seq > v->next_seq) {
		v->last = *ev;
		lost_err = report_lost(sub, ev->region, ev->seq - v->next_seq);
	}
	v->seen = true;
	v->last = *ev;
	if (ev->seq >= v->next_seq)
		v->next_seq = ev->seq + 1;
	sub->delivered++;
	err = sub->fn(sub->ctx, ev, region_of(sub, ev->region, ev->gen));
	return lost_err ? lost_err : err;
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct mmiotrap_event *ev = data;
	struct mmiotrap_sub *sub = ctx;
	int err;

	if (size < sizeof(*ev) || ev->abi != MMIOTRAP_ABI_VERSION || ev->region >= MMIOTRAP_MAX_REGIONS)
		return -EPROTO;
	err = deliver(sub, ev);
	if (!err && sub->budget && !--sub->budget) {
		sub->batch_full = true;
		return BATCH_FULL;
	}
	return err;
}

/*
 * Deliver the ring's records, at most @budget of them (0: all). Drops
 * after a region's last record can be told only with the ring drained.
 */
static int drain(struct mmiotrap_sub *sub, int budget)
{
	int err;

	sub->budget = budget;
	sub->batch_full = false;
	err = ring_buffer__consume(sub->ring);
	if (sub->batch_full)
		return 0;
	return err < 0 ? err : report_tail_losses(sub);
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

	for (id = 1; id < MMIOTRAP_MAX_REGIONS; id++) {
		if (mmiotrap_region_latest(sub->mt, id, &slot))
			continue;
		sub->view[id].lost = slot.dropped;
		sub->view[id].last.gen = sub->view[id].r.gen;
	}
}

__u64 mmiotrap_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The timers the options ask for, and the kick of dispatches. */
static int set_wakeups(struct mmiotrap_sub *sub, const struct mmiotrap_subscribe_opts *opts)
{
	__u32 latency_ms = OPTS_GET(opts, latency_ms, 0);
	__u64 duration_ms = OPTS_GET(opts, duration_ms, 0);
	struct itimerspec every = {
		.it_interval.tv_sec = latency_ms / 1000,
		.it_interval.tv_nsec = latency_ms % 1000 * 1000000L,
	};
	int err;

	if (duration_ms)
		sub->deadline_ns = mmiotrap_now_ns() + duration_ms * 1000000;
	sub->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sub->kick_fd < 0)
		return -errno;
	err = watch(sub, sub->kick_fd);
	if (err || !latency_ms)
		return err;
	every.it_value = every.it_interval;
	sub->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sub->tick_fd < 0 || timerfd_settime(sub->tick_fd, 0, &every, NULL))
		return -errno;
	return watch(sub, sub->tick_fd);
}

int mmiotrap_subscribe(struct mmiotrap_sub **subp, struct mmiotrap *mt,
		       mmiotrap_event_fn fn, void *ctx,
		       const struct mmiotrap_subscribe_opts *opts)
{
	struct mmiotrap_sub *sub;
	int err;

	if (!subp || !mt || !fn || !OPTS_VALID(opts, struct mmiotrap_subscribe_opts))
		return -EINVAL;
	sub = calloc(1, sizeof(*sub));
	if (!sub)
		return -ENOMEM;
	pthread_mutex_init(&sub->lock, NULL);
	sub->lock_fd = sub->epfd = sub->kick_fd = sub->tick_fd = -1;
	sub->mt = mt;
	sub->fn = fn;
	sub->ctx = ctx;
	sub->pid = getpid();
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
	if (!err)
		err = set_wakeups(sub, opts);
	if (!err)
		err = view_scan(sub);
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

	if (!sub)
		return -EINVAL;
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

	if (!sub)
		return -EINVAL;
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
	return sub ? sub->epfd : -EINVAL;
}

static void rearm(int fd)
{
	__u64 count;

	while (fd >= 0 && read(fd, &count, sizeof(count)) > 0)
		;
}

int mmiotrap_sub_consume(struct mmiotrap_sub *sub)
{
	int i, err, n;

	if (!sub)
		return -EINVAL;
	pthread_mutex_lock(&sub->lock);
	/* Rearm the eventfds first: a kick after this finds the record. */
	for (i = 0; i < sub->nwatched; i++)
		rearm(sub->watched[i]);
	rearm(sub->kick_fd);
	rearm(sub->tick_fd);
	err = drain(sub, 0);
	n = sub->delivered;
	sub->delivered = 0;
	pthread_mutex_unlock(&sub->lock);
	return err < 0 ? err : n;
}

static bool expired(const struct mmiotrap_sub *sub)
{
	return sub->deadline_ns && mmiotrap_now_ns() >= sub->deadline_ns;
}

/* @timeout_ms, or less if the subscription ends sooner. */
static int wait_ms(const struct mmiotrap_sub *sub, int timeout_ms)
{
	__u64 now = mmiotrap_now_ns(), left;

	if (!sub->deadline_ns)
		return timeout_ms;
	left = now < sub->deadline_ns ? (sub->deadline_ns - now + 999999) / 1000000 : 0;
	if (left > INT_MAX)
		left = INT_MAX;
	return timeout_ms >= 0 && (__u64)timeout_ms < left ? timeout_ms : (int)left;
}

static int spin(struct mmiotrap_sub *sub, int timeout_ms)
{
	__u64 deadline = mmiotrap_now_ns() + (__u64)timeout_ms * 1000000;
	int n;

	do {
		n = mmiotrap_sub_consume(sub);
	} while (!n && !expired(sub) && (timeout_ms < 0 || mmiotrap_now_ns() < deadline));
	return !n && expired(sub) ? -ETIME : n;
}

/*
 * The tick is for the records of quiet regions whose wakeups go to another
 * process: every other record wakes the subscriber, so a tick alone looks
 * at the ring only while the table has quiet regions.
 */
static bool tick_only(struct mmiotrap_sub *sub, const struct epoll_event *evs, int n)
{
	bool quiet;
	int i;

	for (i = 0; i < n; i++)
		if (evs[i].data.fd != sub->tick_fd)
			return false;
	pthread_mutex_lock(&sub->lock);
	rearm(sub->tick_fd);
	quiet = view_sync(sub) || sub->nquiet;
	pthread_mutex_unlock(&sub->lock);
	return !quiet;
}

int mmiotrap_sub_poll(struct mmiotrap_sub *sub, int timeout_ms)
{
	struct epoll_event evs[8];
	int n;

	if (!sub)
		return -EINVAL;
	if (expired(sub))
		return -ETIME;
	if (sub->busy_poll)
		return spin(sub, timeout_ms);
	/* Only a wakeup says there is something: nothing may depend on timeouts. */
	n = epoll_wait(sub->epfd, evs, 8, wait_ms(sub, timeout_ms));
	if (n < 0)
		return -errno;
	if (!n)
		return expired(sub) ? -ETIME : 0;
	return tick_only(sub, evs, n) ? 0 : mmiotrap_sub_consume(sub);
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

/*
 * The trap recorded the write before the exit: deliver it and what is
 * before it in the ring, up to a batch. What is left behind may be records
 * that woke no one: the kick wakes the poller for them.
 */
static int dispatch(struct mmiotrap_sub *sub)
{
	__u64 one = 1;
	int err;

	err = drain(sub, DISPATCH_BATCH);
	if (!err && sub->batch_full && write(sub->kick_fd, &one, sizeof(one)) < 0)
		err = -errno;
	sub->delivered = 0;
	return err ? err : 1;
}

int mmiotrap_sub_dispatch_exit(struct mmiotrap_sub *sub, const struct kvm_run *run)
{
	const struct mmiotrap_region *r;
	__u32 width;
	__u64 addr;
	__u8 bus;
	int err;

	if (!sub || !run)
		return -EINVAL;
	if (!exit_write(run, &bus, &addr, &width))
		return 0;
	pthread_mutex_lock(&sub->lock);
	/* No system call unless the table changed since the view was synced. */
	err = view_sync(sub);
	r = err ? NULL : mine_at(sub, bus, addr);
	if (r && (r->widths & width) && addr - r->addr + width <= r->len)
		err = dispatch(sub);
	pthread_mutex_unlock(&sub->lock);
	return err;
}

void mmiotrap_sub_free(struct mmiotrap_sub *sub)
{
	if (!sub)
		return;
	ring_buffer__free(sub->ring);
	if (sub->epfd >= 0)
		close(sub->epfd);
	if (sub->kick_fd >= 0)
		close(sub->kick_fd);
	if (sub->tick_fd >= 0)
		close(sub->tick_fd);
	if (sub->lock_fd >= 0)
		close(sub->lock_fd);
	pthread_mutex_destroy(&sub->lock);
	free(sub);
}
