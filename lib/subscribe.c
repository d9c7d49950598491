// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A subscriber: the one consumer of a ring of its own, into which the trap
 * puts the records of the regions its filter selects (lib/routes.c).
 *
 * It sleeps in epoll on its ring (woken per record or per batch, as its
 * options say), on its timer (the tail of a batch), on the eventfds of
 * fast regions (signalled by KVM after the trap has committed the record,
 * so nothing is stranded) and on the pin root (an unload). Slow writes of
 * fast regions are consumed by the vCPU thread that took the exit, in
 * mmiotrap_sub_dispatch_exit().
 *
 * What its ring had no room for, the trap counts in drops[slot], an array
 * this subscriber maps: losses are reported from those counts, exactly,
 * never guessed from gaps in seq (vCPUs commit out of seq order). A gap
 * the counts account for is reported in place, before the record after it;
 * the rest after the ring's records.
 *
 * It keeps its own view of the region table, so that neither an event nor
 * an exit sends it to the maps: the table's version, in shared memory,
 * says when the view is old, and a record's generation says when the
 * region it names is newer than the view.
 */
#define _GNU_SOURCE	/* gettid() */
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
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/timerfd.h>
#include <linux/kvm.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

#define MAX_WATCHED	64
/* vCPU threads a subscriber tracks; beyond, the one longest out of an exit goes. */
#define MAX_VCPUS	64
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

#define RING_SIZE	(1U << 20)
#define BATCH_LATENCY_MS	100

/* What the subscriber knows of one region id. */
struct view {
	/* The id's region; len 0 and the last generation known gone if none. */
	struct mmiotrap_region r;
	/* The last record delivered of the id's region, and the seq after it. */
	struct mmiotrap_event last;
	__u64 next_seq;
	__u64 lost;	/* drops of this id reported */
};

/*
 * A vCPU thread that dispatches exits. It waits in each exit until its
 * dispatch returns, so a record of its newer than that return is of the
 * exit it is in: if the poller or another thread's dispatch read it
 * first, the thread's own dispatch finds it here.
 */
struct vcpu {
	__u32 tid;	/* 0: free */
	__u64 left_ns;	/* when its last dispatch returned */
	__u64 ts_ns;	/* the record read first (0: none), and its write: */
	__u64 addr;
	__u32 width;
	__u8 bus;
};

struct mmiotrap_sub {
	struct mmiotrap *mt;
	struct ring_buffer *ring;
	pthread_mutex_t lock;	/* one consumer at a time: poller or vCPU */
	int slot;		/* in the instance's subs, or -1 */
	int ring_fd;
	int drops_fd;
	const __u64 *drops;	/* drops[slot], mmap'ed: [0] is their sum */
	size_t drops_size;
	__u64 lost;		/* of drops[0], reported */
	int epfd;
	int kick_fd;	/* a dispatch left records, or mmiotrap_sub_wake() */
	int tick_fd;	/* every latency_ms, or -1 */
	int unload_fd;	/* inotify on the pin root: an unload wakes us */
	bool gone;	/* the GONE event was delivered */
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
	int nmine;
	struct span *mine;	/* by bus, then address */
	struct view *view;	/* by region id */
	/* The exit being dispatched, its thread, and whether its record was delivered. */
	const struct kvm_run *exit;
	__u32 exit_region;
	struct vcpu *exit_vcpu;
	bool exit_seen;
	struct vcpu vcpus[MAX_VCPUS];
};

static int cmp_span(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	if (x->bus != y->bus)
		return x->bus < y->bus ? -1 : 1;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* This process's regions in order, for exits. */
static void index_view(struct mmiotrap_sub *sub)
{
	const struct mmiotrap_region *r;
	__u32 id;

	sub->nmine = 0;
	for (id = 1; id < sub->mt->nids; id++) {
		r = &sub->view[id].r;
		if (!r->len)
			continue;
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

/* The whole view as the maps have it, in one read of the table. */
static int view_scan(struct mmiotrap_sub *sub)
{
	__u64 version = table_version(sub->mt);
	struct mmiotrap_region *tab = table_read(sub->mt), *v;
	__u32 id;

	if (!tab)
		return -errno;
	for (id = 1; id < sub->mt->nids; id++) {
		v = &sub->view[id].r;
		if (tab[id].len)
			*v = tab[id];
		else
			*v = (struct mmiotrap_region){ .id = id, .gen = v->gen };
	}
	free(tab);
	index_view(sub);
	sub->version = version;
	return 0;
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

/* @n records of region @id this ring had no room for, as one event. */
static int report_lost(struct mmiotrap_sub *sub, __u32 id, __u64 n, __u32 gen, __u64 seq)
{
	struct view *v = &sub->view[id];
	struct mmiotrap_event lost = v->last;
	struct mmiotrap_slot slot;

	lost.abi = MMIOTRAP_ABI_VERSION;
	lost.region = id;
	lost.gen = gen;
	lost.flags = MMIOTRAP_EVENT_LOST;
	lost.seq = seq;
	lost.lost = n;
	if (!mmiotrap_region_latest(sub->mt, id, &slot))
		lost.value = slot.value;
	v->lost += n;
	sub->delivered++;
	return sub->fn(sub->ctx, &lost, region_of(sub, id, gen));
}

/*
 * The trap counts what it could not put into this ring, by region id, in
 * memory we map: one load says whether anything was lost since the last
 * look, and each loss is reported once, when it is counted.
 */
static int report_losses(struct mmiotrap_sub *sub)
{
	const volatile __u64 *drops = sub->drops;
	__u64 all = drops[0], n;
	struct view *v;
	__u32 id;
	int err = 0;

	if (all == sub->lost)
		return 0;
	for (id = 1; id < sub->mt->nids && !err; id++) {
		v = &sub->view[id];
		n = drops[id] - v->lost;
		if (!n)
			continue;
		/* The exit's write may be among them: it is accounted for. */
		if (sub->exit && id == sub->exit_region)
			sub->exit_seen = true;
		err = report_lost(sub, id, n, v->r.len ? v->r.gen : v->last.gen, v->next_seq);
	}
	sub->lost = all;
	return err;
}

/* The instance was unloaded: one last event, after the ring's last record. */
static int report_gone(struct mmiotrap_sub *sub)
{
	struct mmiotrap_event gone = { .abi = MMIOTRAP_ABI_VERSION, .flags = MMIOTRAP_EVENT_GONE };

	sub->gone = true;
	sub->delivered++;
	sub->fn(sub->ctx, &gone, NULL);
	return -ESHUTDOWN;
}

static bool is_exit(const struct mmiotrap_sub *sub, const struct mmiotrap_event *ev);

/* Thread @tid's entry, made if new. */
static struct vcpu *vcpu_of(struct mmiotrap_sub *sub, __u32 tid)
{
	struct vcpu *v, *free = NULL, *oldest = &sub->vcpus[0];
	int i;

	for (i = 0; i < MAX_VCPUS; i++) {
		v = &sub->vcpus[i];
		if (v->tid == tid)
			return v;
		if (!v->tid && !free)
			free = v;
		if (v != sub->exit_vcpu && (oldest == sub->exit_vcpu || v->left_ns < oldest->left_ns))
			oldest = v;
	}
	v = free ? free : oldest;
	*v = (struct vcpu){ .tid = tid };
	return v;
}

/*
 * A slow write of this VMM read by the poller, or by another thread's
 * dispatch: its vCPU thread may be on its way to dispatch it.
 */
static void note_early(struct mmiotrap_sub *sub, const struct mmiotrap_event *ev)
{
	struct vcpu *v = vcpu_of(sub, ev->vcpu_tid);

	v->ts_ns = ev->ts_ns;
	v->addr = ev->addr;
	v->width = ev->width;
	v->bus = ev->bus;
}

/* Was the record of the exit being dispatched read already? */
static bool read_early(const struct vcpu *v, __u8 bus, __u64 addr, __u32 width)
{
	return v->ts_ns > v->left_ns && v->bus == bus && v->addr == addr && v->width == width;
}

static int deliver(struct mmiotrap_sub *sub, const struct mmiotrap_event *ev)
{
	struct view *v = &sub->view[ev->region];
	__u64 gap, unreported;
	int err;

	/* A generation not seen under this id is a new region. */
	if (ev->gen != v->last.gen)
		v->next_seq = 0;
	/*
	 * A gap in seq is a loss only as far as the drops say (vCPUs commit
	 * out of seq order); that far, it is reported in its place, before
	 * this record. The trap counted the drop before it made this record.
	 */
	if (ev->seq > v->next_seq) {
		gap = ev->seq - v->next_seq;
		unreported = ((const volatile __u64 *)sub->drops)[ev->region] - v->lost;
		if (gap > unreported)
			gap = unreported;
		if (gap) {
			err = report_lost(sub, ev->region, gap, ev->gen, ev->seq - gap);
			if (err)
				return err;
		}
	}
	v->last = *ev;
	if (ev->seq >= v->next_seq)
		v->next_seq = ev->seq + 1;
	if (sub->exit && is_exit(sub, ev))
		sub->exit_seen = true;
	else if (!(ev->flags & MMIOTRAP_EVENT_FAST) && ev->vm == sub->pid)
		note_early(sub, ev);
	sub->delivered++;
	return sub->fn(sub->ctx, ev, region_of(sub, ev->region, ev->gen));
}

static int on_record(void *ctx, void *data, size_t size)
{
	const struct mmiotrap_event *ev = data;
	struct mmiotrap_sub *sub = ctx;
	int err;

	if (size < sizeof(*ev) || ev->abi != MMIOTRAP_ABI_VERSION || ev->region >= sub->mt->nids)
		return -EPROTO;
	err = deliver(sub, ev);
	if (!err && sub->budget && !--sub->budget) {
		sub->batch_full = true;
		return BATCH_FULL;
	}
	return err;
}

/*
 * Deliver the ring's records, at most @budget of them (0: all), then its
 * losses; once the instance is gone and the ring is drained, say so.
 */
static int drain(struct mmiotrap_sub *sub, int budget)
{
	bool live;
	int err;

	if (sub->gone)
		return -ESHUTDOWN;
	/* Read first: unload detaches the trap before it says the instance is gone. */
	live = instance_live(sub->mt);
	/* One load says whether the table moved: then a record may be of a region gone. */
	err = view_sync(sub);
	if (err)
		return err;
	sub->budget = budget;
	sub->batch_full = false;
	err = ring_buffer__consume(sub->ring);
	if (sub->batch_full)
		return 0;
	if (err >= 0)
		err = report_losses(sub);
	if (err >= 0 && !live)
		err = report_gone(sub);
	return err;
}

static int watch(struct mmiotrap_sub *sub, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };

	return epoll_ctl(sub->epfd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
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
	bool batch = OPTS_GET(opts, wakeup, MMIOTRAP_WAKE_RECORD) == MMIOTRAP_WAKE_BATCH;
	__u32 latency_ms = OPTS_GET(opts, latency_ms, 0) ?: batch ? BATCH_LATENCY_MS : 0;
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
	if (err)
		return err;
	/* An unload removes the pin root's entries: that wakes us, to say so. */
	sub->unload_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (sub->unload_fd < 0 ||
	    inotify_add_watch(sub->unload_fd, sub->mt->root, IN_DELETE | IN_DELETE_SELF) < 0)
		return -errno;
	err = watch(sub, sub->unload_fd);
	if (err || !latency_ms)
		return err;
	every.it_value = every.it_interval;
	sub->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sub->tick_fd < 0 || timerfd_settime(sub->tick_fd, 0, &every, NULL))
		return -errno;
	return watch(sub, sub->tick_fd);
}

/* The ring and the loss counts the trap fills for this subscriber alone. */
static int make_maps(struct mmiotrap_sub *sub, __u32 ring_size)
{
	/* As the trap's template for them says (bpf/trap.bpf.c, drop_counts). */
	LIBBPF_OPTS(bpf_map_create_opts, mmapable, .map_flags = BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	struct mmiotrap *mt = sub->mt;
	long page = getpagesize();

	if (ring_size & (ring_size - 1) || ring_size % page) {
		pr_warn("ring size %u: a power of two of pages\n", ring_size);
		return -EINVAL;
	}
	sub->ring_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "mmiotrap_ring", 0, 0, ring_size, NULL);
	sub->drops_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "mmiotrap_drops", sizeof(__u32),
				       sizeof(__u64), mt->nids, &mmapable);
	if (sub->ring_fd < 0 || sub->drops_fd < 0)
		return -errno;
	sub->drops_size = (mt->nids * sizeof(__u64) + page - 1) & ~(page - 1);
	sub->drops = mmap(NULL, sub->drops_size, PROT_READ, MAP_SHARED, sub->drops_fd, 0);
	if (sub->drops == MAP_FAILED) {
		sub->drops = NULL;
		return -errno;
	}
	return 0;
}

static int claim(struct mmiotrap_sub *sub, const struct mmiotrap_subscribe_opts *opts)
{
	bool batch = OPTS_GET(opts, wakeup, MMIOTRAP_WAKE_RECORD) == MMIOTRAP_WAKE_BATCH;
	__u32 ring_size = OPTS_GET(opts, ring_size, 0) ?: RING_SIZE;
	struct mmiotrap_sub_slot want = {
		.pid = sub->pid,
		.vm = OPTS_GET(opts, vm, 0),
		.region = OPTS_GET(opts, region, 0),
		.flags = (batch ? MMIOTRAP_SUB_BATCHED : 0) |
			 (OPTS_GET(opts, owner, false) ? MMIOTRAP_SUB_OWNER : 0),
		.watermark = ring_size / 8,
	};
	int err;

	err = make_maps(sub, ring_size);
	if (err)
		return err;
	err = regions_lock(sub->mt);
	if (err)
		return err;
	sub->slot = sub_slot_claim(sub->mt, &want, sub->ring_fd, sub->drops_fd);
	regions_unlock(sub->mt);
	return sub->slot < 0 ? sub->slot : 0;
}

int mmiotrap_subscribe(struct mmiotrap_sub **subp, struct mmiotrap *mt,
		       mmiotrap_event_fn fn, void *ctx,
		       const struct mmiotrap_subscribe_opts *opts)
{
	struct mmiotrap_sub *sub;
	int err = -ENOMEM;

	if (!subp || !mt || !fn || !OPTS_VALID(opts, struct mmiotrap_subscribe_opts))
		return -EINVAL;
	sub = calloc(1, sizeof(*sub));
	if (!sub)
		return -ENOMEM;
	pthread_mutex_init(&sub->lock, NULL);
	sub->slot = sub->ring_fd = sub->drops_fd = -1;
	sub->epfd = sub->kick_fd = sub->tick_fd = sub->unload_fd = -1;
	sub->mt = mt;
	sub->fn = fn;
	sub->ctx = ctx;
	sub->pid = getpid();
	sub->busy_poll = OPTS_GET(opts, busy_poll, false);
	sub->view = calloc(mt->nids, sizeof(*sub->view));
	sub->mine = calloc(mt->nids, sizeof(*sub->mine));
	if (!sub->view || !sub->mine)
		goto cleanup;
	err = claim(sub, opts);
	if (err)
		goto cleanup;
	sub->ring = ring_buffer__new(sub->ring_fd, on_record, sub, NULL);
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

/* A wakeup of mmiotrap_sub_wake() is the kick of a dispatch: the poller looks. */
int mmiotrap_sub_wake(struct mmiotrap_sub *sub)
{
	__u64 one = 1;

	if (!sub)
		return -EINVAL;
	return write(sub->kick_fd, &one, sizeof(one)) < 0 ? -errno : 0;
}

static void rearm_inotify(int fd)
{
	char buf[4096];

	while (fd >= 0 && read(fd, buf, sizeof(buf)) > 0)
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
	rearm_inotify(sub->unload_fd);
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
	/* A look at an empty ring costs no system call: every wakeup looks. */
	return mmiotrap_sub_consume(sub);
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

/* The record of the exit being dispatched: the trap ran on this thread, just before. */
static bool is_exit(const struct mmiotrap_sub *sub, const struct mmiotrap_event *ev)
{
	__u8 bus;
	__u64 addr;
	__u32 width;

	return exit_write(sub->exit, &bus, &addr, &width) && ev->bus == bus && ev->addr == addr &&
	       ev->width == width && ev->vm == sub->pid && ev->vcpu_tid == sub->exit_vcpu->tid &&
	       ev->ts_ns > sub->exit_vcpu->left_ns;
}

/*
 * The trap recorded the write before the exit, on this thread: deliver it
 * and what is before it in the ring, up to a batch. What is left behind
 * may be records that woke no one: the kick wakes the poller for them.
 */
static int dispatch(struct mmiotrap_sub *sub, const struct kvm_run *run, __u8 bus,
		    __u64 addr, __u32 width)
{
	__u64 one = 1;
	int err;

	sub->exit = run;
	sub->exit_seen = false;
	err = drain(sub, DISPATCH_BATCH);
	sub->exit = NULL;
	sub->delivered = 0;
	if (err < 0 && err != -ESHUTDOWN)
		return err;
	if (sub->exit_seen || read_early(sub->exit_vcpu, bus, addr, width))
		return 1;
	if (err < 0)
		return err;
	if (sub->batch_full)
		return write(sub->kick_fd, &one, sizeof(one)) < 0 ? -errno : 2;
	return -ENODATA;
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
	if (r && mmiotrap_region_takes(r, addr, width)) {
		sub->exit_vcpu = vcpu_of(sub, gettid());
		sub->exit_region = r->id;
		err = dispatch(sub, run, bus, addr, width);
		/* Its next exit's record is newer than this. */
		sub->exit_vcpu->left_ns = mmiotrap_now_ns();
		sub->exit_vcpu->ts_ns = 0;
	}
	pthread_mutex_unlock(&sub->lock);
	return err;
}

void mmiotrap_sub_free(struct mmiotrap_sub *sub)
{
	if (!sub)
		return;
	if (sub->slot >= 0 && !regions_lock(sub->mt)) {
		sub_slot_release(sub->mt, sub->slot);
		regions_unlock(sub->mt);
	}
	ring_buffer__free(sub->ring);
	if (sub->drops)
		munmap((void *)sub->drops, sub->drops_size);
	if (sub->ring_fd >= 0)
		close(sub->ring_fd);
	if (sub->drops_fd >= 0)
		close(sub->drops_fd);
	if (sub->unload_fd >= 0)
		close(sub->unload_fd);
	free(sub->view);
	free(sub->mine);
	if (sub->epfd >= 0)
		close(sub->epfd);
	if (sub->kick_fd >= 0)
		close(sub->kick_fd);
	if (sub->tick_fd >= 0)
		close(sub->tick_fd);
	pthread_mutex_destroy(&sub->lock);
	free(sub);
}
