// SPDX-License-Identifier: GPL-2.0
/*
 * The example emulator: what a device model in a VMM does with
 * libmmiotrap. Fast writes wake its thread through the region's eventfd;
 * slow ones reach the same callback from the vCPU thread that took the
 * exit. Either way it expects the guest's writes in order.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <linux/kvm.h>
#include <mmiotrap.h>
#include "emulator.h"

#define MAX_RAW		64

struct emu {
	struct emu_config cfg;
	const struct script *script;
	int vm_fd;
	struct mmiotrap *mt;
	struct mmiotrap_sub *sub;
	struct mmiotrap_fast *fast[EMU_MAX_REGIONS];
	__u32 region_id[EMU_MAX_REGIONS];
	int raw_efd;
	struct kvm_ioeventfd raw[MAX_RAW];
	int nraw;
	uint32_t until_step;	/* the release step, or the end */
	int quit_efd;		/* wakes the thread: it is done, or must stop */
	pthread_t thread;
	bool thread_started;
	bool stop;		/* atomic: the thread returns at its next wakeup */

	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	bool done;
	struct cursor cur;	/* the next write the callback expects */
	uint64_t expected;
	uint64_t events, fast_events, lost, lost_events, kicks, mismatches;
	uint64_t *lat_ns;
	uint64_t nlat;
	uint64_t dropped;
	bool latest_ok;
};

static bool region_has(const struct emu_region *r, const struct access *a)
{
	uint8_t widths = r->widths ? r->widths : 0xf;

	if (a->bus != r->bus || a->addr < r->addr || a->addr - r->addr + a->width > r->len)
		return false;
	if (!(widths & a->width))
		return false;
	/* A bare ioeventfd sees its own address and width, nothing else. */
	return r->kind != EMU_IOEVENTFD || !((a->addr - r->addr) % mmiotrap_fast_stride(widths));
}

static int region_of(const struct emu *e, const struct access *a)
{
	int i;

	for (i = 0; i < e->cfg.nregions; i++)
		if (region_has(&e->cfg.regions[i], a))
			return i;
	return -1;
}

bool emu_owns(const struct access *a, uint32_t step, const void *ctx)
{
	const struct emu *e = ctx;

	return step < e->until_step && region_of(e, a) >= 0;
}

/* Called with e->lock held or from the only consumer. */
static void finish_if_done(struct emu *e)
{
	uint64_t one = 1;

	if (e->done || e->events + e->lost + e->kicks < e->expected)
		return;
	pthread_mutex_lock(&e->lock);
	e->done = true;
	pthread_cond_broadcast(&e->done_cv);
	pthread_mutex_unlock(&e->lock);
	if (write(e->quit_efd, &one, sizeof(one)) < 0)
		perror("emulator: quit");
}

static void mismatch(struct emu *e, const struct mmiotrap_event *ev)
{
	struct access want = {};

	if (!e->mismatches++) {
		if (!cursor_done(&e->cur))
			cursor_expected(&e->cur, &want);
		fprintf(stderr, "emulator: event %" PRIu64 ": wanted %s 0x%" PRIx64
			" width %u value 0x%" PRIx64 ", got %s 0x%llx width %u value 0x%llx\n",
			e->events, want.bus == BUS_PIO ? "pio" : "mmio", want.addr, want.width,
			want.value, ev->bus == MMIOTRAP_BUS_PIO ? "pio" : "mmio",
			(unsigned long long)ev->addr, ev->width, (unsigned long long)ev->value);
	}
}

static bool should_be_fast(const struct emu *e, const struct mmiotrap_event *ev)
{
	const struct access a = { .bus = ev->bus, .addr = ev->addr, .width = ev->width };
	const struct emu_region *r;
	int i = region_of(e, &a);
	uint8_t fast;

	if (i < 0)
		return false;
	r = &e->cfg.regions[i];
	fast = r->fast_widths ? r->fast_widths : r->widths ? r->widths : 0xf;
	return (r->kind == EMU_FAST || r->kind == EMU_ADOPTED) && (fast & ev->width) &&
	       !((ev->addr - r->addr) % mmiotrap_fast_stride(fast));
}

static int on_event(void *ctx, const struct mmiotrap_event *ev, const struct mmiotrap_region *r)
{
	struct emu *e = ctx;
	struct access want;
	uint64_t i;

	/* Its regions live as long as it runs: the subscriber's view has each. */
	if ((!r || r->id != ev->region || r->gen != ev->gen || ev->addr - r->addr >= r->len) &&
	    !e->mismatches++)
		fprintf(stderr, "emulator: event %" PRIu64 " of region %u: wanted its region"
			" from the subscriber, got %s\n", e->events, ev->region,
			r ? "another" : "none");

	if (ev->flags & MMIOTRAP_EVENT_LOST) {
		/* Doorbells are state: skip what was lost, the newest value wins. */
		for (i = 0; i < ev->lost && !cursor_done(&e->cur); i++)
			cursor_advance(&e->cur);
		e->lost += ev->lost;
		e->lost_events++;
		finish_if_done(e);
		return 0;
	}
	if (e->nlat < e->expected)
		e->lat_ns[e->nlat++] = mmiotrap_now_ns() - ev->ts_ns;
	if (cursor_done(&e->cur)) {
		mismatch(e, ev);
		return 0;
	}
	cursor_expected(&e->cur, &want);
	if (want.bus != ev->bus || want.addr != ev->addr || want.width != ev->width ||
	    want.value != ev->value || should_be_fast(e, ev) != !!(ev->flags & MMIOTRAP_EVENT_FAST))
		mismatch(e, ev);
	e->fast_events += !!(ev->flags & MMIOTRAP_EVENT_FAST);
	e->events++;
	cursor_advance(&e->cur);
	finish_if_done(e);
	if (e->cfg.delay_us)
		usleep(e->cfg.delay_us);
	return 0;
}

static void *subscriber(void *arg)
{
	struct emu *e = arg;
	int n;

	/*
	 * No timeout: a record the wakeups stranded would hang here, and the
	 * quit eventfd wakes it to stop. Busy polling has no wakeup to wait
	 * for: it looks at the flag between rounds.
	 */
	while (!e->done && !__atomic_load_n(&e->stop, __ATOMIC_ACQUIRE)) {
		n = mmiotrap_sub_poll(e->sub, e->cfg.busy_poll ? 100 : -1);
		if (n < 0 && n != -EINTR) {
			fprintf(stderr, "emulator: poll: %s\n", strerror(-n));
			break;
		}
	}
	return NULL;
}

/* A bare ioeventfd's reader: it learns how many writes, never their values. */
static void *kick_reader(void *arg)
{
	struct emu *e = arg;
	struct pollfd fds[2] = {
		{ .fd = e->raw_efd, .events = POLLIN },
		{ .fd = e->quit_efd, .events = POLLIN },
	};
	uint64_t n;

	while (!e->done && !__atomic_load_n(&e->stop, __ATOMIC_ACQUIRE) &&
	       poll(fds, 2, -1) >= 0) {
		if (read(e->raw_efd, &n, sizeof(n)) == sizeof(n)) {
			e->kicks += n;
			finish_if_done(e);
		}
	}
	return NULL;
}

static int add_raw(struct emu *e, const struct emu_region *r)
{
	uint8_t widths = r->widths ? r->widths : 0xf;
	uint64_t a;
	int w;

	for (w = 1; w <= 8; w <<= 1) {
		for (a = r->addr; (widths & w) && a - r->addr + w <= r->len; a += mmiotrap_fast_stride(widths)) {
			if (e->nraw == MAX_RAW)
				return -E2BIG;
			e->raw[e->nraw] = (struct kvm_ioeventfd){
				.addr = a,
				.len = w,
				.fd = e->raw_efd,
				.flags = r->bus == BUS_PIO ? KVM_IOEVENTFD_FLAG_PIO : 0,
			};
			if (ioctl(e->vm_fd, KVM_IOEVENTFD, &e->raw[e->nraw]))
				return -errno;
			e->nraw++;
		}
	}
	return 0;
}

static int add_region(struct emu *e, int i)
{
	const struct emu_region *r = &e->cfg.regions[i];
	int id, err;

	switch (r->kind) {
	case EMU_FAST: {
		MMIOTRAP_OPTS(mmiotrap_fast_opts, o, .widths = r->widths,
			      .fast_widths = r->fast_widths);

		err = mmiotrap_fast_add(&e->fast[i], e->mt, e->vm_fd, (enum mmiotrap_bus)r->bus,
					r->addr, r->len, &o);
		if (err)
			return err;
		e->region_id[i] = mmiotrap_fast_region(e->fast[i]);
		return mmiotrap_sub_watch(e->sub, mmiotrap_fast_eventfd(e->fast[i]));
	}
	case EMU_ADOPTED:
		err = mmiotrap_fast_adopt(&e->fast[i], e->mt, e->vm_fd, e->region_id[i]);
		if (err)
			return err;
		return mmiotrap_sub_watch(e->sub, mmiotrap_fast_eventfd(e->fast[i]));
	case EMU_SLOW: {
		MMIOTRAP_OPTS(mmiotrap_region_opts, o, .widths = r->widths, .dispatched = true);

		id = mmiotrap_region_add(e->mt, getpid(), (enum mmiotrap_bus)r->bus, r->addr,
					 r->len, &o);
		if (id < 0)
			return id;
		e->region_id[i] = id;
		return 0;
	}
	case EMU_GIVEN:
		return 0;
	default:
		return add_raw(e, r);
	}
}

/* The trap is needed unless every region is a bare ioeventfd. */
static bool uses_trap(const struct emu_config *cfg)
{
	int i;

	for (i = 0; i < cfg->nregions; i++)
		if (cfg->regions[i].kind != EMU_IOEVENTFD)
			return true;
	return false;
}

/*
 * The regions someone (a policy) added for this process: their writes come
 * to this emulator, and those that want to be fast are adopted.
 */
static int find_given(struct emu *e)
{
	struct mmiotrap_region r;
	struct emu_region *er;
	int err;

	mmiotrap_for_each_region(&r, e->mt, err) {
		if (r.vm != (__u32)getpid())
			continue;
		if (e->cfg.nregions == EMU_MAX_REGIONS)
			return -E2BIG;
		er = &e->cfg.regions[e->cfg.nregions];
		*er = (struct emu_region){
			.kind = r.want_fast ? EMU_ADOPTED : EMU_GIVEN,
			.bus = r.bus, .addr = r.addr, .len = r.len,
			.widths = r.widths, .fast_widths = r.want_fast,
		};
		e->region_id[e->cfg.nregions++] = r.id;
	}
	return err;
}

static int subscribe(struct emu *e)
{
	struct mmiotrap_opts o = { .sz = sizeof(o), .pin_root = e->cfg.pin_root };
	/*
	 * The emulator serves this VM's regions: it owns them, and is woken by
	 * their ioeventfds and its own exits, not by the ring per record.
	 */
	MMIOTRAP_OPTS(mmiotrap_subscribe_opts, so, .busy_poll = e->cfg.busy_poll,
		      .vm = getpid(), .owner = true);
	int err;

	err = mmiotrap_open(&e->mt, &o);
	if (!err)
		err = mmiotrap_subscribe(&e->sub, e->mt, on_event, e, &so);
	if (!err)
		err = mmiotrap_sub_watch(e->sub, e->quit_efd);
	return err;
}

int emu_start(struct emu **ep, const struct emu_config *cfg, int vm_fd,
	      const struct script *script)
{
	struct emu *e;
	int i, err;

	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->cfg = *cfg;
	e->script = script;
	e->vm_fd = vm_fd;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->done_cv, NULL);
	for (e->until_step = 0; e->until_step < script->nsteps; e->until_step++)
		if (script->steps[e->until_step].bus == BUS_PIO &&
		    script->steps[e->until_step].addr == RELEASE_PORT)
			break;
	e->quit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	e->raw_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	err = e->quit_efd < 0 || e->raw_efd < 0 ? -ENOMEM : 0;
	if (!err && (cfg->adopt || uses_trap(cfg)))
		err = subscribe(e);
	if (!err && cfg->adopt)
		err = find_given(e);
	/* Which writes are the emulator's depends on the regions, adopted ones too. */
	cursor_init(&e->cur, script, emu_owns, e);
	e->expected = script_writes(script, emu_owns, e);
	e->lat_ns = calloc(e->expected + 1, sizeof(*e->lat_ns));
	if (!err && !e->lat_ns)
		err = -ENOMEM;
	for (i = 0; !err && i < e->cfg.nregions; i++)
		err = add_region(e, i);
	if (!err) {
		err = -pthread_create(&e->thread, NULL, e->sub ? subscriber : kick_reader, e);
		e->thread_started = !err;
	}
	*ep = e;
	return err;
}

int emu_dispatch(struct emu *e, const struct kvm_run *run)
{
	return e->sub ? mmiotrap_sub_dispatch_exit(e->sub, run) : 0;
}

/*
 * Does the latest-value slot of region @i hold the last value written
 * there? 1 or 0, or -errno if it cannot be read: that proves nothing.
 */
static int latest_matches(struct emu *e, int i)
{
	const struct emu_region *r = &e->cfg.regions[i];
	struct mmiotrap_slot slot;
	struct access a, last = {};
	struct cursor c;
	int err;

	err = mmiotrap_region_latest(e->mt, e->region_id[i], &slot);
	if (err)
		return err;
	for (cursor_init(&c, e->script, emu_owns, e); !cursor_done(&c); cursor_advance(&c)) {
		cursor_expected(&c, &a);
		if (region_has(r, &a))
			last = a;
	}
	return slot.value == last.value;
}

/* A read that fails fails the run: a default would pass the check. */
static int read_counters(struct emu *e)
{
	struct mmiotrap_counters c;
	int i, err;

	e->latest_ok = true;
	for (i = 0; e->mt && i < e->cfg.nregions; i++) {
		if (e->cfg.regions[i].kind == EMU_IOEVENTFD)
			continue;
		err = mmiotrap_region_counters(e->mt, e->region_id[i], &c);
		if (!err) {
			e->dropped += c.dropped;
			err = latest_matches(e, i);
		}
		if (err < 0) {
			fprintf(stderr, "emulator: region %u: %s\n", e->region_id[i],
				strerror(-err));
			e->latest_ok = false;
			return err;
		}
		e->latest_ok &= err;
	}
	return 0;
}

static int wait_done(struct emu *e, unsigned int timeout_ms)
{
	struct timespec deadline;
	int err = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&e->lock);
	while (!e->done && !err)
		err = pthread_cond_timedwait(&e->done_cv, &e->lock, &deadline);
	pthread_mutex_unlock(&e->lock);
	if (!e->done) {
		fprintf(stderr, "emulator: stranded: %" PRIu64 " of %" PRIu64
			" writes arrived\n", e->events + e->lost + e->kicks, e->expected);
		return -ETIMEDOUT;
	}
	return 0;
}

/*
 * Stop the thread with the flag and a wakeup, never by cancelling it: a
 * cancelled subscriber may hold its lock, and unwatching would deadlock.
 */
static int stop_thread(struct emu *e)
{
	uint64_t one = 1;

	if (!e->thread_started)
		return 0;
	__atomic_store_n(&e->stop, true, __ATOMIC_RELEASE);
	if (write(e->quit_efd, &one, sizeof(one)) < 0)
		return -errno;
	pthread_join(e->thread, NULL);
	e->thread_started = false;
	return 0;
}

/* The thread is done with its writes: stop it, and read the counters. */
static int join(struct emu *e)
{
	int err;

	/* Already joined at the release step: the regions are gone since. */
	if (!e->thread_started)
		return 0;
	err = stop_thread(e);
	return err ? err : read_counters(e);
}

static void deregister(struct emu *e)
{
	int i;

	for (i = 0; i < e->nraw; i++) {
		e->raw[i].flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
		ioctl(e->vm_fd, KVM_IOEVENTFD, &e->raw[i]);
	}
	e->nraw = 0;
	for (i = 0; i < e->cfg.nregions; i++) {
		if (e->fast[i]) {
			mmiotrap_sub_unwatch(e->sub, mmiotrap_fast_eventfd(e->fast[i]));
			/* An adopted region stays, the policy's: it only stops being fast. */
			mmiotrap_fast_del(e->fast[i]);
		}
		else if (e->cfg.regions[i].kind == EMU_SLOW && e->region_id[i])
			mmiotrap_region_del(e->mt, e->region_id[i]);
		e->fast[i] = NULL;
		e->region_id[i] = 0;
	}
}

int emu_release(struct emu *e)
{
	int err = wait_done(e, 10000);

	if (!err)
		err = join(e);
	deregister(e);
	return err;
}

int emu_finish(struct emu *e, unsigned int timeout_ms)
{
	int err = wait_done(e, timeout_ms);

	if (!err)
		err = join(e);
	if (err)
		return err;
	return e->mismatches ? -EBADMSG : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void emu_report(const struct emu *e, FILE *out)
{
	uint64_t p50 = 0, p99 = 0;

	if (e->nlat) {
		qsort(e->lat_ns, e->nlat, sizeof(*e->lat_ns), cmp_u64);
		p50 = e->lat_ns[e->nlat / 2];
		p99 = e->lat_ns[e->nlat * 99 / 100];
	}
	fprintf(out, ",\"expected\":%" PRIu64 ",\"events\":%" PRIu64 ",\"fast\":%" PRIu64
		",\"lost\":%" PRIu64 ",\"lost_events\":%" PRIu64 ",\"dropped\":%" PRIu64
		",\"kicks\":%" PRIu64 ",\"emu_mismatches\":%" PRIu64 ",\"latest_ok\":%s"
		",\"lat_p50_ns\":%" PRIu64 ",\"lat_p99_ns\":%" PRIu64,
		e->expected, e->events, e->fast_events, e->lost, e->lost_events, e->dropped,
		e->kicks, e->mismatches, e->latest_ok ? "true" : "false", p50, p99);
}

void emu_stop(struct emu *e)
{
	if (!e)
		return;
	/* Still waiting, in poll, for writes that never came: it wakes to stop. */
	if (stop_thread(e))
		perror("emulator: stop");
	deregister(e);
	mmiotrap_sub_free(e->sub);
	mmiotrap_close(e->mt);
	close(e->quit_efd);
	close(e->raw_efd);
	free(e->lat_ns);
	free(e);
}
