// SPDX-License-Identifier: GPL-2.0
/* mmiotrap stats [--format text|json|prometheus]: per-region counters and totals. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "cli.h"

static json_t *counters_json(const struct mmiotrap_counters *c)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "matched", (json_int_t)c->matched,
			 "emitted", (json_int_t)c->emitted, "dropped", (json_int_t)c->dropped,
			 "skipped", (json_int_t)c->skipped, "fast", (json_int_t)c->fast,
			 "slow", (json_int_t)(c->matched - c->fast));
}

static void print_counters(const char *label, const struct mmiotrap_counters *c)
{
	printf("%-24s matched %llu  emitted %llu  dropped %llu  skipped %llu  fast %llu  slow %llu\n",
	       label, (unsigned long long)c->matched, (unsigned long long)c->emitted,
	       (unsigned long long)c->dropped, (unsigned long long)c->skipped,
	       (unsigned long long)c->fast, (unsigned long long)(c->matched - c->fast));
}

/* Only the buckets with counts: {"le_ns": upper bound, "count": n}. */
static json_t *lat_json(const struct mmiotrap_stats_queue *q)
{
	json_t *buckets = json_array();
	int i;

	for (i = 0; i < MMIOTRAP_LAT_BUCKETS; i++)
		if (q->lat[i])
			json_array_append_new(buckets, json_pack("{s:I, s:I}",
				"le_ns", (json_int_t)(i < MMIOTRAP_LAT_BUCKETS - 1 ? 2LL << i : -1),
				"count", (json_int_t)q->lat[i]));
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:b, s:o}", "pairs", (json_int_t)q->pairs,
			 "sum_ns", (json_int_t)q->lat_sum_ns,
			 "p50_ns", (json_int_t)mmiotrap_lat_quantile(q->lat, 0.5),
			 "p99_ns", (json_int_t)mmiotrap_lat_quantile(q->lat, 0.99),
			 "no_slot", (json_int_t)q->no_slot, "open", q->open, "buckets", buckets);
}

/* The interrupt route a queue learned: "irq" null while it has none. */
static json_t *route_json(const struct mmiotrap_stats_queue *q)
{
	char route[64];

	mmiotrap_irq_route_str(q->route, route, sizeof(route));
	return json_pack("{s:s?, s:s, s:b, s:I, s:I, s:I}", "irq", q->route ? route : NULL,
			 "kind", mmiotrap_irq_kind_str(q->route ? MMIOTRAP_ROUTE_KIND(q->route) : 0),
			 "confirmed", q->route_confirmed, "seen", (json_int_t)q->route_seen,
			 "foreign", (json_int_t)q->foreign, "relearns", (json_int_t)q->relearns);
}

static json_t *queues_json(const struct mmiotrap_stats_region *r)
{
	const struct mmiotrap_stats_queue *q;
	json_t *arr = json_array();
	int i;

	for (i = 0; (q = mmiotrap_stats_queue(r, i)); i++)
		json_array_append_new(arr, json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:o, s:o}",
			"queue", (json_int_t)q->queue, "kind", mmiotrap_kind_str(q->kind),
			"writes", (json_int_t)q->writes, "fast", (json_int_t)q->fast,
			"slow", (json_int_t)q->exits, "value", (json_int_t)q->value,
			"latency", lat_json(q), "route", route_json(q)));
	return arr;
}

static void print_json(const struct cli *cli, const struct mmiotrap_stats *st)
{
	const struct mmiotrap_totals *t = mmiotrap_stats_totals(st);
	const struct mmiotrap_stats_region *r;
	json_t *regions = json_array(), *obj;
	int i;

	mmiotrap_stats_for_each(r, st, i) {
		obj = counters_json(&r->counters);
		json_object_set_new(obj, "id", json_integer(r->region.id));
		json_object_set_new(obj, "name", json_string(r->region.name));
		json_object_set_new(obj, "queues", queues_json(r));
		json_array_append_new(regions, obj);
	}
	obj = counters_json(mmiotrap_stats_sum(st));
	json_object_set_new(obj, "unmatched", json_integer(t->unmatched));
	json_object_set_new(obj, "stale", json_integer(t->stale));
	json_object_set_new(obj, "exits", json_integer(t->exits));
	json_object_set_new(obj, "irqs", json_integer(t->irqs));
	json_object_set_new(obj, "queues_full", json_integer(t->queues_full));
	cli_json(cli, json_pack("{s:o, s:o}", "regions", regions, "totals", obj));
}

/* Rows whose doorbells open intervals: the route they wait for, and how sure. */
static void print_route(const struct mmiotrap_stats_queue *q)
{
	char route[64];

	if (!mmiotrap_kind_asks(q->kind))
		return;
	mmiotrap_irq_route_str(q->route, route, sizeof(route));
	if (q->route_confirmed)
		printf("  route %s", route);
	else if (q->route)
		printf("  route %s (learning %u/%d)", route, q->route_seen,
		       MMIOTRAP_ROUTE_CONFIRM);
	else
		printf("  route any");
	printf("  relearns %llu", (unsigned long long)q->relearns);
}

static void print_queues(const struct mmiotrap_stats_region *r)
{
	const struct mmiotrap_stats_queue *q;
	int i;

	for (i = 0; (q = mmiotrap_stats_queue(r, i)); i++) {
		printf("  queue %-4u %-9s writes %llu  fast %llu  slow %llu  value 0x%llx"
		       "  pairs %llu  p50 %llu ns  p99 %llu ns",
		       q->queue, mmiotrap_kind_str(q->kind), (unsigned long long)q->writes,
		       (unsigned long long)q->fast, (unsigned long long)q->exits,
		       (unsigned long long)q->value, (unsigned long long)q->pairs,
		       (unsigned long long)mmiotrap_lat_quantile(q->lat, 0.5),
		       (unsigned long long)mmiotrap_lat_quantile(q->lat, 0.99));
		print_route(q);
		putchar('\n');
	}
}

static void print_text(const struct mmiotrap_stats *st)
{
	const struct mmiotrap_totals *t = mmiotrap_stats_totals(st);
	const struct mmiotrap_stats_region *r;
	char label[64];
	int i;

	mmiotrap_stats_for_each(r, st, i) {
		snprintf(label, sizeof(label), "region %u %s", r->region.id,
			 *r->region.name ? r->region.name : "-");
		print_counters(label, &r->counters);
		print_queues(r);
	}
	print_counters("total", mmiotrap_stats_sum(st));
	printf("%-24s unmatched %llu  stale %llu  exits %llu\n", "",
	       (unsigned long long)t->unmatched, (unsigned long long)t->stale,
	       (unsigned long long)t->exits);
}

/* A label value of the text exposition format: \, " and newline escaped. */
static void prom_label(FILE *f, const char *name, const char *val)
{
	fprintf(f, "%s=\"", name);
	for (; *val; val++) {
		if (*val == '\\' || *val == '"')
			fprintf(f, "\\%c", *val);
		else if (*val == '\n')
			fputs("\\n", f);
		else
			fputc(*val, f);
	}
	fputc('"', f);
}

/* {vm="PID",vm_name="NAME",region="NAME or ID" */
static void prom_region(FILE *f, const char *metric, const struct mmiotrap_stats_region *r)
{
	char buf[16];

	fprintf(f, "%s{", metric);
	snprintf(buf, sizeof(buf), "%u", r->region.vm);
	prom_label(f, "vm", buf);
	fputc(',', f);
	prom_label(f, "vm_name", r->vm_name);
	fputc(',', f);
	/* Names start with a letter: an id cannot be taken for one. */
	snprintf(buf, sizeof(buf), "%u", r->region.id);
	prom_label(f, "region", *r->region.name ? r->region.name : buf);
}

static void prom_family(FILE *f, const char *metric, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type);
}

/* One counter (or gauge) of every region, read at @offset of the region's stats. */
static void prom_per_region(FILE *f, const struct mmiotrap_stats *st, const char *metric,
			    const char *type, const char *help, size_t offset)
{
	const struct mmiotrap_stats_region *r;
	int i;

	prom_family(f, metric, type, help);
	mmiotrap_stats_for_each(r, st, i) {
		prom_region(f, metric, r);
		fprintf(f, "} %llu\n", (unsigned long long)*(const __u64 *)((const char *)r + offset));
	}
}

/* A queue's labels after its region's: ,queue="N",kind="KIND" */
static void prom_queue(FILE *f, const char *metric, const struct mmiotrap_stats_region *r,
		       const struct mmiotrap_stats_queue *q)
{
	prom_region(f, metric, r);
	fprintf(f, ",queue=\"%u\",kind=\"%s\"", q->queue, mmiotrap_kind_str(q->kind));
}

/* @ns in seconds, exactly: 524288 is 0.000524288. */
static void seconds_str(char *buf, size_t size, __u64 ns)
{
	size_t n = snprintf(buf, size, "%llu.%09llu", (unsigned long long)(ns / 1000000000),
			    (unsigned long long)(ns % 1000000000));

	while (n > 1 && n < size && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 1 && n < size && buf[n - 1] == '.')
		buf[--n] = '\0';
}

/* Bucket i holds [2^i, 2^(i+1)) ns; the last one everything longer: +Inf. */
static void prom_histogram(FILE *f, const char *metric, const struct mmiotrap_stats_region *r,
			   const struct mmiotrap_stats_queue *q)
{
	char name[128], le[32];
	__u64 sum = 0;
	int i;

	snprintf(name, sizeof(name), "%s_bucket", metric);
	for (i = 0; i < MMIOTRAP_LAT_BUCKETS - 1; i++) {
		sum += q->lat[i];
		seconds_str(le, sizeof(le), 2ULL << i);
		prom_queue(f, name, r, q);
		fprintf(f, ",le=\"%s\"} %llu\n", le, (unsigned long long)sum);
	}
	prom_queue(f, name, r, q);
	fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)q->pairs);
	snprintf(name, sizeof(name), "%s_sum", metric);
	seconds_str(le, sizeof(le), q->lat_sum_ns);
	prom_queue(f, name, r, q);
	fprintf(f, "} %s\n", le);
	snprintf(name, sizeof(name), "%s_count", metric);
	prom_queue(f, name, r, q);
	fprintf(f, "} %llu\n", (unsigned long long)q->pairs);
}

static void prom_queues(FILE *f, const struct mmiotrap_stats *st)
{
	static const char *const lat = "mmiotrap_doorbell_interrupt_latency_seconds";
	const struct mmiotrap_stats_region *r;
	const struct mmiotrap_stats_queue *q;
	char route[64];
	int i, j;

	prom_family(f, "mmiotrap_queue_writes_total", "counter",
		    "Doorbell writes to a decoded queue by where they completed: in the kernel (an ioeventfd) or by an exit to the VMM.");
	mmiotrap_stats_for_each(r, st, i)
		for (j = 0; (q = mmiotrap_stats_queue(r, j)); j++) {
			prom_queue(f, "mmiotrap_queue_writes_total", r, q);
			fprintf(f, ",path=\"kernel\"} %llu\n", (unsigned long long)q->fast);
			prom_queue(f, "mmiotrap_queue_writes_total", r, q);
			fprintf(f, ",path=\"exit\"} %llu\n", (unsigned long long)q->exits);
		}
	prom_family(f, "mmiotrap_queue_last_value", "gauge",
		    "The newest value written to a decoded queue's doorbell (exact below 2^53).");
	mmiotrap_stats_for_each(r, st, i)
		for (j = 0; (q = mmiotrap_stats_queue(r, j)); j++) {
			prom_queue(f, "mmiotrap_queue_last_value", r, q);
			fprintf(f, "} %llu\n", (unsigned long long)q->value);
		}
	prom_family(f, lat, "histogram",
		    "Time from a queue's first doorbell since its last answer to the next interrupt of its route, or of its VM while it learns one (docs/latency.md).");
	/* Only rows whose writes open intervals have one. */
	mmiotrap_stats_for_each(r, st, i)
		for (j = 0; (q = mmiotrap_stats_queue(r, j)); j++)
			if (mmiotrap_kind_asks(q->kind))
				prom_histogram(f, lat, r, q);
	prom_family(f, "mmiotrap_queue_unmeasured_total", "counter",
		    "Doorbell-to-interrupt intervals not measured: every slot of their VM was taken.");
	mmiotrap_stats_for_each(r, st, i)
		for (j = 0; (q = mmiotrap_stats_queue(r, j)); j++) {
			if (!mmiotrap_kind_asks(q->kind))
				continue;
			prom_queue(f, "mmiotrap_queue_unmeasured_total", r, q);
			fprintf(f, "} %llu\n", (unsigned long long)q->no_slot);
		}
	prom_family(f, "mmiotrap_queue_route_confirmed", "gauge",
		    "1 if a queue waits for the interrupt route it learned (label route), 0 while it takes any interrupt of its VM.");
	mmiotrap_stats_for_each(r, st, i)
		for (j = 0; (q = mmiotrap_stats_queue(r, j)); j++) {
			if (!mmiotrap_kind_asks(q->kind))
				continue;
			mmiotrap_irq_route_str(q->route, route, sizeof(route));
			prom_queue(f, "mmiotrap_queue_route_confirmed", r, q);
			fputc(',', f);
			prom_label(f, "route", q->route_confirmed ? route : "");
			fprintf(f, "} %d\n", q->route_confirmed);
		}
	prom_family(f, "mmiotrap_queue_route_relearns_total", "counter",
		    "Confirmed interrupt routes a queue dropped after other routes' interrupts passed its open interval, to learn again.");
	mmiotrap_stats_for_each(r, st, i)
		for (j = 0; (q = mmiotrap_stats_queue(r, j)); j++) {
			if (!mmiotrap_kind_asks(q->kind))
				continue;
			prom_queue(f, "mmiotrap_queue_route_relearns_total", r, q);
			fprintf(f, "} %llu\n", (unsigned long long)q->relearns);
		}
}

#define REGION_FIELD(field) offsetof(struct mmiotrap_stats_region, field)

void prom_write(FILE *f, const struct mmiotrap_stats *st)
{
	const struct mmiotrap_totals *t = mmiotrap_stats_totals(st);
	const struct mmiotrap_stats_region *r;
	int i;

	prom_family(f, "mmiotrap_doorbell_writes_total", "counter",
		    "Doorbell writes to a region by where they completed: in the kernel (an ioeventfd) or by an exit to the VMM.");
	mmiotrap_stats_for_each(r, st, i) {
		prom_region(f, "mmiotrap_doorbell_writes_total", r);
		fprintf(f, ",path=\"kernel\"} %llu\n", (unsigned long long)r->counters.fast);
		prom_region(f, "mmiotrap_doorbell_writes_total", r);
		fprintf(f, ",path=\"exit\"} %llu\n", (unsigned long long)r->exits);
	}
	prom_per_region(f, st, "mmiotrap_doorbell_lost_total", "counter",
			"Records of doorbell writes that a subscriber's ring had no room for.",
			REGION_FIELD(counters.dropped));
	prom_per_region(f, st, "mmiotrap_doorbell_records_total", "counter",
			"Records of doorbell writes committed, one per subscriber ring.",
			REGION_FIELD(counters.emitted));
	prom_per_region(f, st, "mmiotrap_doorbell_skipped_total", "counter",
			"Writes inside a region at a width it does not accept.",
			REGION_FIELD(counters.skipped));
	prom_per_region(f, st, "mmiotrap_doorbell_last_value", "gauge",
			"The newest value written to the region's doorbells (exact below 2^53).",
			REGION_FIELD(value));
	prom_queues(f, st);
	prom_family(f, "mmiotrap_unmatched_writes_total", "counter",
		    "MMIO and port writes in no region.");
	fprintf(f, "mmiotrap_unmatched_writes_total %llu\n", (unsigned long long)t->unmatched);
	prom_family(f, "mmiotrap_stale_writes_total", "counter",
		    "Writes by a process reusing the pid of a region's exited VMM.");
	fprintf(f, "mmiotrap_stale_writes_total %llu\n", (unsigned long long)t->stale);
	prom_family(f, "mmiotrap_vmm_exits_total", "counter",
		    "Exits to userspace of VMMs that have regions.");
	fprintf(f, "mmiotrap_vmm_exits_total %llu\n", (unsigned long long)t->exits);
	prom_family(f, "mmiotrap_vmm_interrupts_total", "counter",
		    "Interrupts signalled by VMMs while they had doorbell-to-interrupt intervals.");
	fprintf(f, "mmiotrap_vmm_interrupts_total %llu\n", (unsigned long long)t->irqs);
	prom_family(f, "mmiotrap_queue_rows_full_total", "counter",
		    "Matched writes of a queue the trap had no room to count.");
	fprintf(f, "mmiotrap_queue_rows_full_total %llu\n", (unsigned long long)t->queues_full);
	prom_family(f, "mmiotrap_regions", "gauge", "Regions registered.");
	fprintf(f, "mmiotrap_regions %d\n", mmiotrap_stats_regions(st));
}

enum stats_format { FORMAT_TEXT, FORMAT_JSON, FORMAT_PROMETHEUS };

static int parse_stats(struct cli *cli, enum stats_format *format)
{
	const char *word, *val;

	*format = cli->json ? FORMAT_JSON : FORMAT_TEXT;
	while ((word = cli_next(cli))) {
		if (!cli_is(word, "--format"))
			return cli_error(cli, "unexpected argument '%s'", word);
		val = cli_next(cli);
		if (cli_is(val, "text"))
			*format = FORMAT_TEXT;
		else if (cli_is(val, "json"))
			*format = FORMAT_JSON;
		else if (cli_is(val, "prometheus"))
			*format = FORMAT_PROMETHEUS;
		else
			return cli_error(cli, "bad --format '%s': text, json or prometheus",
					 val ? val : "");
	}
	return 0;
}

int do_stats(struct cli *cli)
{
	struct mmiotrap_stats *st;
	enum stats_format format;
	struct mmiotrap *mt;
	int err;

	if (parse_stats(cli, &format) || cli_open(cli, &mt))
		return 1;
	err = mmiotrap_stats_read(mt, &st);
	mmiotrap_close(mt);
	if (err)
		return cli_error(cli, "cannot read counters: %s", strerror(-err));
	if (format == FORMAT_JSON)
		print_json(cli, st);
	else if (format == FORMAT_PROMETHEUS)
		prom_write(stdout, st);
	else
		print_text(st);
	mmiotrap_stats_free(st);
	return 0;
}
