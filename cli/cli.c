// SPDX-License-Identifier: GPL-2.0
/* What every mmiotrap command shares: words, numbers, errors, JSON. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "cli.h"

/* The library's last warning: the command says it as its one error line. */
static char lib_msg[512];

int cli_print(enum mmiotrap_print_level level, const char *fmt, va_list ap)
{
	size_t n;

	if (level != MMIOTRAP_WARN)
		return 0;
	vsnprintf(lib_msg, sizeof(lib_msg), fmt, ap);
	n = strlen(lib_msg);
	if (n && lib_msg[n - 1] == '\n')
		lib_msg[n - 1] = '\0';
	return n;
}

const char *cli_lib_msg(void)
{
	static char msg[sizeof(lib_msg)];

	if (!*lib_msg)
		return NULL;
	strcpy(msg, lib_msg);
	*lib_msg = '\0';
	return msg;
}

int cli_lib_error(const struct cli *cli, int err, const char *fmt, ...)
{
	const char *lib = cli_lib_msg();
	char msg[512];
	va_list ap;

	if (lib)
		return cli_error(cli, "%s", lib);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cli_error(cli, "%s: %s", msg, strerror(-err));
}

int cli_error(const struct cli *cli, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cli->json)
		cli_json(cli, json_pack("{s:s}", "error", msg));
	else
		fprintf(stderr, "mmiotrap: %s\n", msg);
	return 1;
}

void cli_json(const struct cli *cli, json_t *obj)
{
	size_t flags = cli->pretty ? JSON_INDENT(2) : JSON_COMPACT;

	json_dumpf(obj, stdout, flags | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	fflush(stdout);
	json_decref(obj);
}

const char *cli_next(struct cli *cli)
{
	if (!cli->argc)
		return NULL;
	cli->argc--;
	return *cli->argv++;
}

bool cli_is(const char *arg, const char *word)
{
	return arg && !strcmp(arg, word);
}

bool parse_u64(const char *s, size_t len, __u64 *val)
{
	char buf[32], *end;

	if (!len || len >= sizeof(buf) || !isxdigit((unsigned char)*s))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	/* 0x hex or decimal; a leading 0 is not octal. */
	errno = 0;
	*val = strtoull(buf, &end, strncasecmp(buf, "0x", 2) ? 10 : 16);
	return !errno && !*end;
}

int cli_u64(const struct cli *cli, const char *what, const char *arg, __u64 *val)
{
	if (!arg)
		return cli_error(cli, "%s needs a value", what);
	if (!parse_u64(arg, strlen(arg), val))
		return cli_error(cli, "bad %s '%s': not a number", what, arg);
	return 0;
}

int cli_open(const struct cli *cli, struct mmiotrap **mt)
{
	const char *root = cli->opts.pin_root;
	int err = mmiotrap_open(mt, &cli->opts);

	if (err == -ENOENT)
		return cli_error(cli, "not loaded at %s (run 'mmiotrap load')", root);
	if (err == -EUCLEAN)
		return cli_error(cli, "half an instance is pinned at %s (a crash's?): run 'mmiotrap unload' first",
				 root);
	if (err == -EPROTO)
		return cli_error(cli, "%s was loaded by an incompatible mmiotrap", root);
	if (err)
		return cli_error(cli, "cannot open %s: %s", root, strerror(-err));
	return 0;
}

int cli_region(const struct cli *cli, struct mmiotrap *mt, const char *arg,
	       struct mmiotrap_region *r)
{
	char *end;
	unsigned long id;

	if (!arg)
		return cli_error(cli, "which region? give its name or id");
	id = strtoul(arg, &end, 10);
	if (*arg && !*end ? mmiotrap_region_get(mt, id, r) : mmiotrap_region_find(mt, arg, r))
		return cli_error(cli, "no region '%s'", arg);
	return 0;
}

const char *bus_str(__u8 bus)
{
	return bus == MMIOTRAP_BUS_PIO ? "pio" : "mmio";
}

json_t *widths_json(__u8 widths)
{
	json_t *arr = json_array();
	int w;

	for (w = 1; w <= 8; w <<= 1)
		if (widths & w)
			json_array_append_new(arr, json_integer(w));
	return arr;
}

/* Usage for @object: asked for, it goes to stdout and succeeds. */
static int help(const struct cli *cli, const struct cmd *cmds, const char *object, bool asked)
{
	FILE *out = asked ? stdout : stderr;
	int i;

	if (cli->json && !asked)
		return cli_error(cli, "%s: give a command", *object ? object : "mmiotrap");
	fprintf(out, "Usage: mmiotrap [-j|-p] [--pin-root DIR] %s%s{", object, *object ? " " : "");
	for (i = 0; cmds[i].name; i++)
		fprintf(out, "%s%s", i ? " | " : " ", cmds[i].name);
	fprintf(out, " | help }\n");
	return !asked;
}

int cli_dispatch(struct cli *cli, const struct cmd *cmds, const char *object)
{
	const char *word = cli_next(cli);
	int i;

	if (!word || cli_is(word, "help"))
		return help(cli, cmds, object, word);
	for (i = 0; cmds[i].name; i++) {
		if (strcmp(cmds[i].name, word))
			continue;
		if (cmds[i].needs_root && geteuid())
			return cli_error(cli, "'%s' needs root", word);
		return cmds[i].fn(cli);
	}
	if (*object)
		return cli_error(cli, "unknown %s command '%s' (try 'mmiotrap %s help')",
				 object, word, object);
	return cli_error(cli, "unknown command '%s' (try 'mmiotrap help')", word);
}
