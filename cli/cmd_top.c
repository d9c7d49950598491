// SPDX-License-Identifier: GPL-2.0
/*
 * mmiotrap top [--vm PID] [--sort KEY] [--interval MS] [--once]
 *
 * Doorbell rates per VM and region, from two snapshots of the counters: no
 * subscription, so it costs the guests nothing and runs beside any
 * subscriber. On a terminal it refreshes in place (s: next sort key, q:
 * quit); otherwise, or with --once, it prints frames one after another,
 * JSON Lines with -j.
 */
#define _GNU_SOURCE	/* qsort_r, strchrnul */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include "cli.h"

static volatile sig_atomic_t stop, resized;

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		resized = 1;
	else
		stop = 1;
}

enum sort_key { SORT_WRITES, SORT_EXITS, SORT_LOST, SORT_NAME, SORT_ID, NR_SORT };

static const char *const sort_names[NR_SORT] = {
	[SORT_WRITES] = "writes",
	[SORT_EXITS] = "exits",
	[SORT_LOST] = "lost",
	[SORT_NAME] = "name",
	[SORT_ID] = "id",
};

/* A VM (the sum of its regions) or one of its regions. */
struct row {
	const struct mmiotrap_stats_region *sr;	/* NULL: a VM */
	struct row *vm;				/* a region's VM */
	__u32 pid;
	__u32 id;				/* a region's; 0 for a VM */
	const char *name;			/* region name, or the VM's -name */
	double rate;				/* writes per second, < 0: not yet known */
	__u64 writes, kernel, exits, lost;
};

struct frame {
	struct row *vms, *regions;
	int nvms, nregions;
	double secs;		/* what the rates are over; 0: a first frame */
	double unmatched_rate, exit_rate;
};

struct top {
	const struct cli *cli;
	__u32 vm;		/* only this VM; 0: all */
	enum sort_key sort;
	__u64 interval_ms;
	bool once;
	bool screen;		/* refreshing in place on a terminal */
	struct termios saved;
};

/* How many writes region @sr had in @prev (0 if it is new since). */
static __u64 writes_before(const struct mmiotrap_stats *prev, const struct mmiotrap_stats_region *sr)
{
	const struct mmiotrap_stats_region *p;
	int i;

	mmiotrap_stats_for_each(p, prev, i)
		if (p->region.id == sr->region.id && p->region.gen == sr->region.gen)
			return p->counters.matched <= sr->counters.matched ? p->counters.matched : 0;
	return 0;
}

static double per_sec(__u64 now, __u64 before, double secs)
{
	return secs > 0 ? (double)(now - before) / secs : -1;
}

/* How many writes queue @q of region @sr had in @prev (0 if it is new since). */
static __u64 queue_writes_before(const struct mmiotrap_stats *prev,
				 const struct mmiotrap_stats_region *sr,
				 const struct mmiotrap_stats_queue *q)
{
	const struct mmiotrap_stats_region *p;
	const struct mmiotrap_stats_queue *pq;
	int i, j;

	mmiotrap_stats_for_each(p, prev, i) {
		if (p->region.id != sr->region.id || p->region.gen != sr->region.gen)
			continue;
		for (j = 0; (pq = mmiotrap_stats_queue(p, j)); j++)
			if (pq->queue == q->queue && pq->kind == q->kind)
				return pq->writes <= q->writes ? pq->writes : 0;
	}
	return 0;
}

/* Its queues' latency histograms added up: the region's. */
static void region_lat(const struct mmiotrap_stats_region *sr, __u64 lat[MMIOTRAP_LAT_BUCKETS])
{
	const struct mmiotrap_stats_queue *q;
	int i, b;

	memset(lat, 0, MMIOTRAP_LAT_BUCKETS * sizeof(*lat));
	for (i = 0; (q = mmiotrap_stats_queue(sr, i)); i++)
		for (b = 0; b < MMIOTRAP_LAT_BUCKETS; b++)
			lat[b] += q->lat[b];
}

static void ns_str(char *buf, size_t size, __u64 ns)
{
	if (ns < 1000)
		snprintf(buf, size, "%lluns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, size, "%.0fus", ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, size, "%.1fms", ns / 1e6);
	else
		snprintf(buf, size, "%.1fs", ns / 1e9);
}

/* LAT: p50/p99, each the upper bound of its log2 bucket; "-" before any pair. */
static void lat_str(char *buf, size_t size, const __u64 *lat)
{
	char p50[16], p99[16];

	if (!mmiotrap_lat_quantile(lat, 1)) {
		snprintf(buf, size, "-");
		return;
	}
	ns_str(p50, sizeof(p50), mmiotrap_lat_quantile(lat, 0.5));
	ns_str(p99, sizeof(p99), mmiotrap_lat_quantile(lat, 0.99));
	snprintf(buf, size, "%s/%s", p50, p99);
}

/* A raw region has one row, queue 0: the region's own line says it all. */
static bool shows_queues(const struct mmiotrap_stats_region *sr)
{
	return sr->region.decoder != MMIOTRAP_DECODER_RAW;
}

static int cmp_key(const struct row *a, const struct row *b, enum sort_key key)
{
	int c = 0;

	switch (key) {
	case SORT_WRITES:
		c = (a->rate < b->rate) - (a->rate > b->rate);
		break;
	case SORT_EXITS:
		c = (a->exits < b->exits) - (a->exits > b->exits);
		break;
	case SORT_LOST:
		c = (a->lost < b->lost) - (a->lost > b->lost);
		break;
	case SORT_NAME:
		c = strcmp(a->name, b->name);
		break;
	default:
		break;
	}
	if (c)
		return c;
	if (a->pid != b->pid)
		return a->pid < b->pid ? -1 : 1;
	return (a->id > b->id) - (a->id < b->id);
}

/* Regions by their VM's place, then their own: each VM's follow it. */
static int cmp_rows(const void *pa, const void *pb, void *ctx)
{
	const struct row *a = pa, *b = pb;
	enum sort_key key = *(enum sort_key *)ctx;
	int c;

	if (a->vm && b->vm && a->vm != b->vm) {
		c = cmp_key(a->vm, b->vm, key);
		if (c)
			return c;
	}
	return cmp_key(a, b, key);
}

static struct row *vm_row(struct frame *f, const struct mmiotrap_stats_region *sr)
{
	struct row *v;
	int i;

	for (i = 0; i < f->nvms; i++)
		if (f->vms[i].pid == sr->region.vm)
			return &f->vms[i];
	v = &f->vms[f->nvms++];
	*v = (struct row){ .pid = sr->region.vm, .name = sr->vm_name, .rate = f->secs > 0 ? 0 : -1 };
	return v;
}

static void add_region(struct frame *f, const struct mmiotrap_stats *prev,
		       const struct mmiotrap_stats_region *sr)
{
	struct row *r = &f->regions[f->nregions++], *v = vm_row(f, sr);

	*r = (struct row){
		.sr = sr, .vm = v, .pid = sr->region.vm, .id = sr->region.id,
		.name = sr->region.name,
		.rate = prev ? per_sec(sr->counters.matched, writes_before(prev, sr), f->secs) : -1,
		.writes = sr->counters.matched, .kernel = sr->counters.fast,
		.exits = sr->exits, .lost = sr->counters.dropped,
	};
	if (r->rate >= 0)
		v->rate += r->rate;
	v->writes += r->writes;
	v->kernel += r->kernel;
	v->exits += r->exits;
	v->lost += r->lost;
}

/* The rows of @cur, rates since @prev (NULL: none yet), sorted. */
static int frame_build(struct frame *f, const struct top *t, const struct mmiotrap_stats *prev,
		       const struct mmiotrap_stats *cur)
{
	const struct mmiotrap_totals *now = mmiotrap_stats_totals(cur);
	const struct mmiotrap_stats_region *sr;
	int i, n = mmiotrap_stats_regions(cur);

	memset(f, 0, sizeof(*f));
	f->vms = calloc(n ?: 1, sizeof(*f->vms));
	f->regions = calloc(n ?: 1, sizeof(*f->regions));
	if (!f->vms || !f->regions)
		return -ENOMEM;
	if (prev) {
		f->secs = (mmiotrap_stats_ts_ns(cur) - mmiotrap_stats_ts_ns(prev)) / 1e9;
		f->unmatched_rate = per_sec(now->unmatched, mmiotrap_stats_totals(prev)->unmatched,
					    f->secs);
		f->exit_rate = per_sec(now->exits, mmiotrap_stats_totals(prev)->exits, f->secs);
	}
	mmiotrap_stats_for_each(sr, cur, i)
		if (!t->vm || sr->region.vm == t->vm)
			add_region(f, prev, sr);
	qsort_r(f->vms, f->nvms, sizeof(*f->vms), cmp_rows, (void *)&t->sort);
	/* The regions point at their VM rows, which have moved: find them again. */
	for (i = 0; i < f->nregions; i++)
		f->regions[i].vm = vm_row(f, f->regions[i].sr);
	qsort_r(f->regions, f->nregions, sizeof(*f->regions), cmp_rows, (void *)&t->sort);
	return 0;
}

static void frame_free(struct frame *f)
{
	free(f->vms);
	free(f->regions);
}

static void rate_str(char *buf, size_t size, double rate)
{
	if (rate < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.1f", rate);
}

/* A name as the terminal shows it: a QEMU -name may hold escape sequences. */
static void printable(char *buf, size_t size, const char *name)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < size; i++)
		buf[i] = (unsigned char)name[i] < 0x20 || name[i] == 0x7f ? '?' : name[i];
	buf[i] = '\0';
}

static void text_row(FILE *out, const struct row *r)
{
	char label[128], name[96], rate[32], last[24];

	if (!r->sr) {
		printable(name, sizeof(name), r->name);
		snprintf(label, sizeof(label), "%u %s", r->pid, name);
		*last = '\0';
	} else {
		printable(name, sizeof(name), r->name);
		if (*name)
			snprintf(label, sizeof(label), "  %s", name);
		else
			snprintf(label, sizeof(label), "  #%u", r->id);
		if (r->writes)
			snprintf(last, sizeof(last), "0x%llx", (unsigned long long)r->sr->value);
		else
			snprintf(last, sizeof(last), "-");
	}
	rate_str(rate, sizeof(rate), r->rate);
	fprintf(out, "%-22s %10s %18s %10llu %10llu %10llu %8llu", label, rate, last,
		(unsigned long long)r->writes, (unsigned long long)r->kernel,
		(unsigned long long)r->exits, (unsigned long long)r->lost);
	if (r->sr) {
		__u64 lat[MMIOTRAP_LAT_BUCKETS];

		region_lat(r->sr, lat);
		lat_str(last, sizeof(last), lat);
		fprintf(out, "  %s", last);
	}
	fputc('\n', out);
}

/* A decoded queue's line under its region's: LOST is the region's alone. */
static void text_queue(FILE *out, const struct frame *f, const struct mmiotrap_stats *prev,
		       const struct row *r, const struct mmiotrap_stats_queue *q)
{
	char label[64], rate[32], last[24], lat[40];

	snprintf(label, sizeof(label), "    q%u %s", q->queue, mmiotrap_kind_str(q->kind));
	rate_str(rate, sizeof(rate), prev ? per_sec(q->writes, queue_writes_before(prev, r->sr, q),
						     f->secs) : -1);
	snprintf(last, sizeof(last), "0x%llx", (unsigned long long)q->value);
	lat_str(lat, sizeof(lat), q->lat);
	fprintf(out, "%-22s %10s %18s %10llu %10llu %10llu %8s  %s\n", label, rate, last,
		(unsigned long long)q->writes, (unsigned long long)q->fast,
		(unsigned long long)q->exits, "", lat);
}

static void text_frame(FILE *out, const struct top *t, const struct frame *f,
		       const struct mmiotrap_stats *prev, const struct mmiotrap_stats *cur)
{
	const struct mmiotrap_stats_queue *q;
	int k;
	double writes = f->secs > 0 ? 0 : -1;
	char w[32], e[32], u[32];
	int i, j;

	for (i = 0; i < f->nvms && writes >= 0; i++)
		writes += f->vms[i].rate;
	rate_str(w, sizeof(w), writes);
	rate_str(e, sizeof(e), f->secs > 0 ? f->exit_rate : -1);
	rate_str(u, sizeof(u), f->secs > 0 ? f->unmatched_rate : -1);
	fprintf(out, "mmiotrap top - %s - ", t->cli->opts.pin_root);
	if (f->secs > 0)
		fprintf(out, "rates over %.3f s", f->secs);
	else
		fprintf(out, "rates in %.1f s", t->interval_ms / 1000.0);
	fprintf(out, " - sort: %s%s\n", sort_names[t->sort], t->screen ? " (s: sort, q: quit)" : "");
	fprintf(out, "VMs %d  regions %d  writes/s %s  VMM exits/s %s  unmatched/s %s  lost %llu\n\n",
		f->nvms, f->nregions, w, e, u,
		(unsigned long long)mmiotrap_stats_sum(cur)->dropped);
	fprintf(out, "%-22s %10s %18s %10s %10s %10s %8s  %s\n", "VM / REGION / QUEUE", "WRITES/S",
		"LAST", "WRITES", "KERNEL", "EXIT", "LOST", "LAT p50/p99");
	/* Each VM, then its regions: they are sorted so that they follow it. */
	for (i = 0, j = 0; i < f->nvms; i++) {
		text_row(out, &f->vms[i]);
		for (; j < f->nregions && f->regions[j].vm == &f->vms[i]; j++) {
			text_row(out, &f->regions[j]);
			if (!shows_queues(f->regions[j].sr))
				continue;
			for (k = 0; (q = mmiotrap_stats_queue(f->regions[j].sr, k)); k++)
				text_queue(out, f, prev, &f->regions[j], q);
		}
	}
}

static json_t *lat_json(const __u64 *lat, __u64 pairs)
{
	return json_pack("{s:I, s:I, s:I}", "pairs", (json_int_t)pairs,
			 "p50_ns", (json_int_t)mmiotrap_lat_quantile(lat, 0.5),
			 "p99_ns", (json_int_t)mmiotrap_lat_quantile(lat, 0.99));
}

static json_t *queues_json(const struct frame *f, const struct mmiotrap_stats *prev,
			   const struct row *r)
{
	const struct mmiotrap_stats_queue *q;
	json_t *arr = json_array();
	int i;

	for (i = 0; (q = mmiotrap_stats_queue(r->sr, i)); i++)
		json_array_append_new(arr, json_pack("{s:I, s:s, s:f, s:o, s:I, s:I, s:I, s:o}",
			"queue", (json_int_t)q->queue, "kind", mmiotrap_kind_str(q->kind),
			"writes_per_sec", prev ? per_sec(q->writes, queue_writes_before(prev, r->sr, q),
							 f->secs) : -1.0,
			"value", cli_u64_json(q->value), "writes", (json_int_t)q->writes,
			"kernel", (json_int_t)q->fast, "exit", (json_int_t)q->exits,
			"latency", lat_json(q->lat, q->pairs)));
	return arr;
}

static json_t *row_json(const struct frame *f, const struct mmiotrap_stats *prev,
			const struct row *r)
{
	__u64 lat[MMIOTRAP_LAT_BUCKETS], pairs = 0;
	int i;
	json_t *obj = json_object();

	if (r->sr) {
		json_object_set_new(obj, "id", json_integer(r->id));
		json_object_set_new(obj, "name", json_string(r->name));
		json_object_set_new(obj, "bus", json_string(bus_str(r->sr->region.bus)));
		json_object_set_new(obj, "addr", cli_u64_json(r->sr->region.addr));
		json_object_set_new(obj, "len", cli_u64_json(r->sr->region.len));
		json_object_set_new(obj, "decoder",
				    json_string(mmiotrap_decoder_str(r->sr->region.decoder)));
	} else {
		json_object_set_new(obj, "vm", json_integer(r->pid));
		json_object_set_new(obj, "name", json_string(r->name));
	}
	json_object_set_new(obj, "writes_per_sec", json_real(r->rate));
	if (r->sr)
		json_object_set_new(obj, "value",
				    r->writes ? cli_u64_json(r->sr->value) : json_null());
	json_object_set_new(obj, "writes", json_integer(r->writes));
	json_object_set_new(obj, "kernel", json_integer(r->kernel));
	json_object_set_new(obj, "exit", json_integer(r->exits));
	json_object_set_new(obj, "lost", json_integer(r->lost));
	if (r->sr) {
		region_lat(r->sr, lat);
		for (i = 0; i < r->sr->nr_queues; i++)
			pairs += r->sr->queues[i].pairs;
		json_object_set_new(obj, "latency", lat_json(lat, pairs));
		json_object_set_new(obj, "queues", queues_json(f, prev, r));
	}
	return obj;
}

static json_t *json_frame(const struct top *t, const struct frame *f,
			  const struct mmiotrap_stats *prev, const struct mmiotrap_stats *cur)
{
	const struct mmiotrap_totals *tot = mmiotrap_stats_totals(cur);
	json_t *vms = json_array(), *vm, *regions;
	double writes = 0;
	int i, j;

	for (i = 0, j = 0; i < f->nvms; i++) {
		writes += f->vms[i].rate;
		vm = row_json(f, prev, &f->vms[i]);
		regions = json_array();
		for (; j < f->nregions && f->regions[j].vm == &f->vms[i]; j++)
			json_array_append_new(regions, row_json(f, prev, &f->regions[j]));
		json_object_set_new(vm, "regions", regions);
		json_array_append_new(vms, vm);
	}
	return json_pack("{s:I, s:f, s:s, s:{s:f, s:f, s:f, s:I, s:I, s:I, s:I}, s:o}",
			 "ts_ns", (json_int_t)mmiotrap_stats_ts_ns(cur),
			 "secs", f->secs,
			 "sort", sort_names[t->sort],
			 "totals",
			 "writes_per_sec", writes,
			 "exits_per_sec", f->exit_rate,
			 "unmatched_per_sec", f->unmatched_rate,
			 "lost", (json_int_t)mmiotrap_stats_sum(cur)->dropped,
			 "unmatched", (json_int_t)tot->unmatched,
			 "stale", (json_int_t)tot->stale,
			 "exits", (json_int_t)tot->exits,
			 "vms", vms);
}

/* Over the last frame, from the top: each line cut to the width, no scrolling. */
static void screen_draw(const char *text)
{
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	const char *line = text, *nl;
	int row = 0;
	size_t len;

	ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
	fputs("\033[H", stdout);
	for (; *line && row < ws.ws_row; line = nl + 1, row++) {
		nl = strchrnul(line, '\n');
		len = nl - line;
		if (row)
			fputs("\r\n", stdout);
		fwrite(line, 1, len < ws.ws_col ? len : ws.ws_col, stdout);
		fputs("\033[K", stdout);
		if (!*nl)
			break;
	}
	fputs("\033[J", stdout);
	fflush(stdout);
}

static int show(const struct top *t, const struct mmiotrap_stats *prev,
		const struct mmiotrap_stats *cur)
{
	struct frame f;
	size_t size;
	char *text;
	FILE *out;
	int err;

	err = frame_build(&f, t, prev, cur);
	if (err)
		goto cleanup;
	if (t->cli->json) {
		cli_json(t->cli, json_frame(t, &f, prev, cur));
		goto cleanup;
	}
	if (!t->screen) {
		text_frame(stdout, t, &f, prev, cur);
		if (!t->once)
			putchar('\n');
		fflush(stdout);
		goto cleanup;
	}
	out = open_memstream(&text, &size);
	if (!out) {
		err = -errno;
		goto cleanup;
	}
	text_frame(out, t, &f, prev, cur);
	fclose(out);
	screen_draw(text);
	free(text);
cleanup:
	frame_free(&f);
	return err;
}

/* On the terminal: its own screen, keys read one by one and not echoed. */
static int screen_enter(struct top *t)
{
	struct termios raw;

	if (isatty(STDIN_FILENO)) {
		if (tcgetattr(STDIN_FILENO, &t->saved))
			return -errno;
		raw = t->saved;
		raw.c_lflag &= ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw))
			return -errno;
	}
	fputs("\033[?1049h\033[?25l", stdout);
	return 0;
}

static void screen_leave(const struct top *t)
{
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (isatty(STDIN_FILENO))
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t->saved);
}

enum wake { WAKE_TIME, WAKE_REDRAW, WAKE_QUIT };

/* Wait until @deadline_ns; on a terminal, a key or a resize wakes us. */
static enum wake wait_until(struct top *t, __u64 deadline_ns)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	__u64 now = mmiotrap_now_ns();
	bool keys = t->screen && isatty(STDIN_FILENO);
	char c;
	int n;

	while (!stop && now < deadline_ns) {
		n = poll(&pfd, keys, (deadline_ns - now + 999999) / 1000000);
		if (resized) {
			resized = 0;
			return WAKE_REDRAW;
		}
		if (n > 0 && read(STDIN_FILENO, &c, 1) == 1) {
			if (c == 'q' || c == 'Q')
				return WAKE_QUIT;
			if (c == 's') {
				t->sort = (t->sort + 1) % NR_SORT;
				return WAKE_REDRAW;
			}
		}
		now = mmiotrap_now_ns();
	}
	return stop ? WAKE_QUIT : WAKE_TIME;
}

/*
 * Frames until q, a signal or --once. @old and @cur are the two latest
 * snapshots: a key redraws from them without reading the counters again.
 */
static int run(struct top *t, struct mmiotrap *mt)
{
	struct mmiotrap_stats *old = NULL, *cur = NULL, *next;
	enum wake wake = WAKE_TIME;
	int err;

	err = mmiotrap_stats_read(mt, &cur);
	if (!err && t->screen)
		err = show(t, NULL, cur);
	while (!err) {
		wake = wait_until(t, mmiotrap_stats_ts_ns(cur) + t->interval_ms * 1000000);
		if (wake == WAKE_QUIT)
			break;
		if (wake == WAKE_REDRAW) {
			err = show(t, old, cur);
			continue;
		}
		err = mmiotrap_stats_read(mt, &next);
		if (err)
			break;
		mmiotrap_stats_free(old);
		old = cur;
		cur = next;
		err = show(t, old, cur);
		if (t->once)
			break;
	}
	mmiotrap_stats_free(old);
	mmiotrap_stats_free(cur);
	return err;
}

static int parse_top(struct cli *cli, struct top *t)
{
	const char *word, *val;
	__u64 n;
	int i;

	while ((word = cli_next(cli))) {
		if (cli_is(word, "--once")) {
			t->once = true;
			continue;
		}
		val = cli_next(cli);
		if (cli_is(word, "--vm")) {
			if (cli_u64(cli, word, val, &n))
				return 1;
			if (!n || n > 0x7fffffff)
				return cli_error(cli, "bad --vm '%s': not a pid", val);
			t->vm = n;
		} else if (cli_is(word, "--interval")) {
			if (cli_u64(cli, word, val, &t->interval_ms))
				return 1;
			if (t->interval_ms < 100 || t->interval_ms > 3600000)
				return cli_error(cli, "bad --interval '%s': milliseconds, 100 to 3600000",
						 val);
		} else if (cli_is(word, "--sort")) {
			for (i = 0; i < NR_SORT && !cli_is(val, sort_names[i]); i++)
				;
			if (i == NR_SORT)
				return cli_error(cli, "bad --sort '%s': writes, exits, lost, name or id",
						 val ? val : "");
			t->sort = i;
		} else {
			return cli_error(cli, "unknown argument '%s' to top", word);
		}
	}
	return 0;
}

int do_top(struct cli *cli)
{
	struct top t = { .cli = cli, .interval_ms = 1000 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct mmiotrap *mt;
	int err;

	if (parse_top(cli, &t) || cli_open(cli, &mt))
		return 1;
	t.screen = !t.once && !cli->json && isatty(STDOUT_FILENO);
	/* No SA_RESTART: poll returns at once to quit or redraw. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	err = t.screen ? screen_enter(&t) : 0;
	if (!err) {
		if (t.screen)
			sigaction(SIGWINCH, &sa, NULL);
		err = run(&t, mt);
		if (t.screen)
			screen_leave(&t);
	}
	mmiotrap_close(mt);
	if (err == -ESTALE)
		return cli_error(cli, "the instance at %s was unloaded", cli->opts.pin_root);
	if (err)
		return cli_error(cli, "cannot read counters: %s", strerror(-err));
	return 0;
}
