// SPDX-License-Identifier: GPL-2.0
/*
 * mmiotrap events [--vm PID] [--region NAME|ID] [--count N] [--duration SECONDS]
 *		   [--latency MS] [--ring-size BYTES] [--owner]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct printer {
	const struct cli *cli;
	__u64 left;	/* events still to print; 0: no limit */
};

/* The decoded fields, as JSON members or as text after the raw write. */
static void decoded(const struct mmiotrap_event *ev, const struct mmiotrap_region *r, json_t *obj,
		    char *text, size_t size)
{
	const struct mmiotrap_decoded *d = &ev->dec;
	const char *names[MMIOTRAP_FIELDS];
	json_t *fields = NULL;
	int i, n = 0;

	text[0] = '\0';
	if (!r || r->decoder == MMIOTRAP_DECODER_RAW)
		return;
	if (obj)
		json_object_set_new(obj, "kind", json_string(mmiotrap_kind_str(d->kind)));
	n += snprintf(text + n, size - n, " %s", mmiotrap_kind_str(d->kind));
	/* Off the grid there is no queue; a bitfield has none. */
	if (d->kind != MMIOTRAP_KIND_OFF_GRID && d->kind != MMIOTRAP_KIND_FIELDS) {
		if (obj)
			json_object_set_new(obj, "queue", json_integer(d->queue));
		n += snprintf(text + n, size - n, " queue %u", d->queue);
	}
	/* The user's names could be the event's own keys: they go apart. */
	if (mmiotrap_decoded_fields(r, names))
		fields = json_object();
	for (i = 0; i < MMIOTRAP_FIELDS; i++) {
		if (!names[i])
			continue;
		if (obj)
			json_object_set_new(fields ? fields : obj, names[i], cli_u64_json(d->field[i]));
		n += snprintf(text + n, size - n, " %s %llu", names[i],
			      (unsigned long long)d->field[i]);
	}
	if (obj && fields)
		json_object_set_new(obj, "fields", fields);
	else
		json_decref(fields);
}

static void print_lost(const struct cli *cli, const struct mmiotrap_event *ev)
{
	if (cli->json)
		cli_json(cli, json_pack("{s:I, s:i, s:o, s:o}", "lost", (json_int_t)ev->lost,
					"region", ev->region, "seq", cli_u64_json(ev->seq),
					"value", cli_u64_json(ev->value)));
	else
		printf("lost %u region %u from seq %llu, newest value 0x%llx\n", ev->lost,
		       ev->region, (unsigned long long)ev->seq, (unsigned long long)ev->value);
}

static void print_write(struct printer *p, const struct mmiotrap_event *ev,
			const struct mmiotrap_region *r)
{
	bool fast = ev->flags & MMIOTRAP_EVENT_FAST;
	char text[256];
	json_t *obj;

	if (!p->cli->json) {
		decoded(ev, r, NULL, text, sizeof(text));
		printf("%llu vm %u vcpu %u %s 0x%llx width %u value 0x%llx region %u seq %llu%s%s%s%s\n",
		       (unsigned long long)ev->ts_ns, ev->vm, ev->vcpu_tid, bus_str(ev->bus),
		       (unsigned long long)ev->addr, ev->width, (unsigned long long)ev->value,
		       ev->region, (unsigned long long)ev->seq, fast ? " fast" : "",
		       ev->flags & MMIOTRAP_EVENT_NO_VALUE ? " no_value" : "",
		       ev->flags & MMIOTRAP_EVENT_REP_TRUNCATED ? " truncated" : "",
		       r ? text : " region_gone");
		return;
	}
	obj = json_pack("{s:o, s:I, s:I, s:s, s:o, s:i, s:o, s:i, s:o, s:b}",
			"ts_ns", cli_u64_json(ev->ts_ns),
			"vm", (json_int_t)ev->vm,
			"vcpu_tid", (json_int_t)ev->vcpu_tid,
			"bus", bus_str(ev->bus),
			"addr", cli_u64_json(ev->addr),
			"width", ev->width,
			"value", cli_u64_json(ev->value),
			"region", ev->region,
			"seq", cli_u64_json(ev->seq),
			"fast", fast);
	/* Rare flags appear only when set: most records stay as they were. */
	if (ev->flags & MMIOTRAP_EVENT_NO_VALUE)
		json_object_set_new(obj, "no_value", json_true());
	if (ev->flags & MMIOTRAP_EVENT_REP_TRUNCATED)
		json_object_set_new(obj, "truncated", json_true());
	/* Its region was deleted, and maybe its id given to another, since the write. */
	if (!r)
		json_object_set_new(obj, "region_gone", json_true());
	decoded(ev, r, obj, text, sizeof(text));
	cli_json(p->cli, obj);
}

static int print_event(void *ctx, const struct mmiotrap_event *ev,
		       const struct mmiotrap_region *r)
{
	struct printer *p = ctx;

	/* A loss is said, but --count counts writes. */
	if (ev->flags & MMIOTRAP_EVENT_LOST) {
		print_lost(p->cli, ev);
		return 0;
	}
	if (ev->flags & MMIOTRAP_EVENT_GONE)
		return 0;
	print_write(p, ev, r);
	/* Stop at the limit: what is left stays in the ring. */
	return p->left && !--p->left ? -ECANCELED : 0;
}

struct events_args {
	struct mmiotrap_subscribe_opts sub;
	const char *region;
	__u64 count;
};

static int parse_events(struct cli *cli, struct events_args *a)
{
	const char *word, *val;
	unsigned int seen = 0;
	__u64 n;

	while ((word = cli_next(cli))) {
		val = cli_next(cli);
		if (cli_is(word, "--vm")) {
			if (cli_once(cli, word, &seen, 1) || cli_pid(cli, word, val, &a->sub.vm))
				return 1;
		} else if (cli_is(word, "--region")) {
			if (cli_once(cli, word, &seen, 2))
				return 1;
			if (!val)
				return cli_error(cli, "--region needs a value");
			a->region = val;
		} else if (cli_is(word, "--count")) {
			if (cli_once(cli, word, &seen, 4) || cli_u64(cli, word, val, &a->count))
				return 1;
			if (!a->count)
				return cli_error(cli, "bad --count '%s': at least 1", val);
		} else if (cli_is(word, "--duration")) {
			if (cli_once(cli, word, &seen, 8) || cli_u64(cli, word, val, &n))
				return 1;
			if (!n || n > 86400 * 365)
				return cli_error(cli, "bad --duration '%s': seconds, at least 1", val);
			a->sub.duration_ms = n * 1000;
		} else if (cli_is(word, "--latency")) {
			if (cli_u64(cli, word, val, &n))
				return 1;
			if (!n || n > 60000)
				return cli_error(cli, "bad --latency '%s': milliseconds, 1 to 60000", val);
			a->sub.latency_ms = n;
		} else if (cli_is(word, "--ring-size")) {
			if (cli_u64(cli, word, val, &n))
				return 1;
			if (n < 4096 || n > 1U << 30 || n & (n - 1))
				return cli_error(cli, "bad --ring-size '%s': a power of two from 4096 to 1073741824",
						 val);
			a->sub.ring_size = n;
		} else if (cli_is(word, "--owner")) {
			/*
			 * An owner is woken per record; the records of quiet
			 * regions wake the VMM, not us: the tick takes them.
			 */
			a->sub.owner = true;
			a->sub.wakeup = MMIOTRAP_WAKE_RECORD;
			if (!a->sub.latency_ms)
				a->sub.latency_ms = 100;
			/* A flag: the word after it is the next option. */
			if (val) {
				cli->argc++;
				cli->argv--;
			}
		} else {
			return cli_error(cli, "unknown argument '%s' to events", word);
		}
	}
	return 0;
}

static int run(const struct cli *cli, struct mmiotrap_sub *sub)
{
	int n = 0;

	while (!stop) {
		n = mmiotrap_sub_poll(sub, -1);
		if (n == -ECANCELED || n == -ETIME)
			break;
		if (n == -EINTR)
			continue;
		if (n == -ESHUTDOWN)
			return cli_error(cli, "%s was unloaded", cli->opts.pin_root);
		if (n < 0)
			return cli_error(cli, "reading events: %s", strerror(-n));
	}
	/* Stopped by a signal or the clock: what is in the ring is still said. */
	if ((stop || n == -ETIME) && (n = mmiotrap_sub_consume(sub)) < 0 && n != -ECANCELED && n != -ESHUTDOWN)
		return cli_error(cli, "reading events: %s", strerror(-n));
	return 0;
}

int do_events(struct cli *cli)
{
	/* An observer: woken per batch, so that watching costs the guests nothing. */
	struct events_args a = { .sub.sz = sizeof(a.sub), .sub.wakeup = MMIOTRAP_WAKE_BATCH };
	static struct printer p;
	struct mmiotrap_sub *sub = NULL;
	struct mmiotrap_region r;
	struct mmiotrap *mt;
	int err;

	if (parse_events(cli, &a) || cli_open(cli, &mt))
		return 1;
	p.cli = cli;
	err = a.region ? cli_region(cli, mt, a.region, &r) : 0;
	if (!err) {
		a.sub.region = a.region ? r.id : 0;
		p.left = a.count;
		err = mmiotrap_subscribe(&sub, mt, print_event, &p, &a.sub);
		if (err)
			err = cli_lib_error(cli, err, "cannot subscribe");
	}
	if (!err) {
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
		err = run(cli, sub);
	}
	mmiotrap_sub_free(sub);
	mmiotrap_close(mt);
	return err;
}
