// SPDX-License-Identifier: GPL-2.0
/* mmiotrap stats: per-region counters and totals. */
#include <stdio.h>
#include <string.h>
#include "cli.h"

static void add(struct mmiotrap_counters *sum, const struct mmiotrap_counters *c)
{
	sum->matched += c->matched;
	sum->emitted += c->emitted;
	sum->dropped += c->dropped;
	sum->skipped += c->skipped;
	sum->fast += c->fast;
}

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

int do_stats(struct cli *cli)
{
	struct mmiotrap_counters c, sum = {};
	json_t *regions = json_array(), *obj;
	struct mmiotrap_totals t = {};
	struct mmiotrap_region r;
	struct mmiotrap *mt;
	char label[64];
	__u32 id = 0;
	int err = 0;

	if (cli->argc) {
		json_decref(regions);
		return cli_error(cli, "unexpected argument '%s'", cli_next(cli));
	}
	if (cli_open(cli, &mt)) {
		json_decref(regions);
		return 1;
	}
	mmiotrap_for_each_region(&r, mt, err) {
		id = r.id;
		err = mmiotrap_region_counters(mt, id, &c);
		if (err)
			break;
		add(&sum, &c);
		if (cli->json) {
			obj = counters_json(&c);
			json_object_set_new(obj, "id", json_integer(id));
			json_object_set_new(obj, "name", json_string(r.name));
			json_array_append_new(regions, obj);
		} else {
			snprintf(label, sizeof(label), "region %u %s", id, *r.name ? r.name : "-");
			print_counters(label, &c);
		}
	}
	if (!err)
		err = mmiotrap_totals(mt, &t);
	if (err) {
		cli_error(cli, "cannot read counters: %s", strerror(-err));
	} else if (cli->json) {
		obj = counters_json(&sum);
		json_object_set_new(obj, "unmatched", json_integer(t.unmatched));
		json_object_set_new(obj, "stale", json_integer(t.stale));
		json_object_set_new(obj, "exits", json_integer(t.exits));
		cli_json(cli, json_pack("{s:O, s:o}", "regions", regions, "totals", obj));
	} else {
		print_counters("total", &sum);
		printf("%-24s unmatched %llu  stale %llu  exits %llu\n", "",
		       (unsigned long long)t.unmatched, (unsigned long long)t.stale,
		       (unsigned long long)t.exits);
	}
	json_decref(regions);
	mmiotrap_close(mt);
	return !!err;
}
