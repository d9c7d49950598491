/* SPDX-License-Identifier: GPL-2.0 */
/* The mmiotrap command line: shared by the object files cmd_*.c. */
#ifndef MMIOTRAP_CLI_H
#define MMIOTRAP_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <jansson.h>
#include "mmiotrap.h"

struct cli {
	bool json;
	bool pretty;
	struct mmiotrap_opts opts;	/* the pin root */
	int argc;
	char **argv;
};

struct cmd {
	const char *name;
	int (*fn)(struct cli *cli);
	bool needs_root;
};

/* Run the command named by the next word of cli->argv, from @cmds. */
int cli_dispatch(struct cli *cli, const struct cmd *cmds, const char *object);

/* One line naming the problem: stderr, or {"error": ...} with -j. Returns 1. */
int cli_error(const struct cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * The library's warnings are kept, not printed: the last one, once, or
 * NULL. cli_lib_error() says it as the command's one error line, or else
 * "FMT: strerror(-err)".
 */
int cli_print(enum mmiotrap_print_level level, const char *fmt, va_list ap);
const char *cli_lib_msg(void);
int cli_lib_error(const struct cli *cli, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* @v as a JSON number, above INT64_MAX too (for cli_json() only). */
json_t *cli_u64_json(__u64 v);
/* The number cli_u64_json() made @v of: false if it is none. */
bool cli_u64_of(const json_t *v, __u64 *val);

/* Print @obj as one JSON document (a line of JSON Lines) and free it. */
void cli_json(const struct cli *cli, json_t *obj);

/* The next word of argv, or NULL. */
const char *cli_next(struct cli *cli);
bool cli_is(const char *arg, const char *word);

/*
 * @arg as a number (mmiotrap_parse_u64) for option @what, at most @max;
 * cli_u64 takes any 64-bit number, cli_pid a process id. 1 after an error.
 */
#define CLI_PID_MAX	0x7fffffff
int cli_number(const struct cli *cli, const char *what, const char *arg, __u64 max, __u64 *val);
int cli_u64(const struct cli *cli, const char *what, const char *arg, __u64 *val);
int cli_pid(const struct cli *cli, const char *what, const char *arg, __u32 *pid);

/* A single-valued option @what, a bit of *@seen: given twice is an error. */
int cli_once(const struct cli *cli, const char *what, unsigned int *seen, unsigned int bit);

/*
 * @s as one line of valid UTF-8 in @buf: control characters and bytes that
 * are not UTF-8 become \xNN, and a character that does not fit is left
 * out. jansson refuses bad UTF-8, and an error is one line. cli_str() is
 * the JSON string of it, for any text that comes from outside.
 */
const char *cli_clean(const char *s, char *buf, size_t size);
json_t *cli_str(const char *s);

/* Open the instance, with one line of error when nothing is loaded. */
int cli_open(const struct cli *cli, struct mmiotrap **mt);

/* Resolve NAME or ID to a region. */
int cli_region(const struct cli *cli, struct mmiotrap *mt, const char *arg,
	       struct mmiotrap_region *r);

const char *bus_str(__u8 bus);
/* A region's decoder parameters as its row names them: {"bar0": ..., ...}. */
json_t *params_json(const struct mmiotrap_region *r);
/* [1, 2, 4, 8] of the widths in @widths. */
json_t *widths_json(__u8 widths);

/* @st in Prometheus's text exposition format (cmd_stats.c). */
void prom_write(FILE *f, const struct mmiotrap_stats *st);

int do_load(struct cli *cli);
int do_unload(struct cli *cli);
int do_status(struct cli *cli);
int do_doctor(struct cli *cli);
int do_region(struct cli *cli);
int do_events(struct cli *cli);
int do_stats(struct cli *cli);
int do_top(struct cli *cli);
int do_exporter(struct cli *cli);
int do_policy(struct cli *cli);
/* policy apply --watch FILE: until SIGINT or SIGTERM. */
int policy_watch(const struct cli *cli, const char *file);
int do_vm(struct cli *cli);

#endif /* MMIOTRAP_CLI_H */
