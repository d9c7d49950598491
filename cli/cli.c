// SPDX-License-Identifier: GPL-2.0
/* What every mmiotrap command shares: words, numbers, errors, JSON. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	char msg[512], line[4 * sizeof(msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_clean(msg, line, sizeof(line));
	if (cli->json)
		cli_json(cli, json_pack("{s:s}", "error", line));
	else
		fprintf(stderr, "mmiotrap: %s\n", line);
	return 1;
}

/* The bytes of the UTF-8 character at @s that is no control character, or 0. */
static size_t utf8_char(const unsigned char *s)
{
	unsigned int cp, n, i;

	if (*s < 0x80)
		return *s >= 0x20 && *s != 0x7f;
	if (*s >= 0xc2 && *s <= 0xdf)
		n = 2, cp = *s & 0x1f;
	else if (*s >= 0xe0 && *s <= 0xef)
		n = 3, cp = *s & 0x0f;
	else if (*s >= 0xf0 && *s <= 0xf4)
		n = 4, cp = *s & 0x07;
	else
		return 0;
	/* A NUL is no continuation byte: a cut-off character stops here. */
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* What jansson refuses too: overlong forms, surrogates, past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

const char *cli_clean(const char *s, char *buf, size_t size)
{
	const unsigned char *in = (const unsigned char *)s;
	size_t len = 0, n;

	while (*in) {
		n = utf8_char(in);
		if (len + (n ? n : 4) >= size)
			break;
		if (n)
			memcpy(buf + len, in, n);
		else
			snprintf(buf + len, 5, "\\x%02x", *in);
		len += n ? n : 4;
		in += n ? n : 1;
	}
	buf[len] = '\0';
	return buf;
}

json_t *cli_str(const char *s)
{
	size_t size = 4 * strlen(s) + 1;
	char *buf = malloc(size);
	json_t *str;

	if (!buf)
		return NULL;
	str = json_string(cli_clean(s, buf, size));
	free(buf);
	return str;
}

/*
 * jansson's integers are signed: a u64 above INT64_MAX travels as a string
 * with this mark, and cli_json() writes it back as the number it is.
 */
#define U64_MARK	"\x01u64:"
#define U64_DUMPED	"\"\\u0001u64:"

json_t *cli_u64_json(__u64 v)
{
	char buf[32];

	if (v <= INT64_MAX)
		return json_integer(v);
	snprintf(buf, sizeof(buf), U64_MARK "%llu", (unsigned long long)v);
	return json_string(buf);
}

bool cli_u64_of(const json_t *v, __u64 *val)
{
	const char *s = json_string_value(v);

	if (json_is_integer(v)) {
		*val = json_integer_value(v);
		return true;
	}
	if (!s || strncmp(s, U64_MARK, strlen(U64_MARK)))
		return false;
	*val = strtoull(s + strlen(U64_MARK), NULL, 10);
	return true;
}

/* The dump with every marked u64 unquoted. */
static void put_json(const char *text)
{
	const char *mark, *end;

	while ((mark = strstr(text, U64_DUMPED))) {
		fwrite(text, 1, mark - text, stdout);
		mark += strlen(U64_DUMPED);
		end = strchr(mark, '"');
		fwrite(mark, 1, end - mark, stdout);
		text = end + 1;
	}
	fputs(text, stdout);
}

void cli_json(const struct cli *cli, json_t *obj)
{
	size_t flags = cli->pretty ? JSON_INDENT(2) : JSON_COMPACT;
	char *text = json_dumps(obj, flags | JSON_PRESERVE_ORDER);

	if (text)
		put_json(text);
	fputc('\n', stdout);
	fflush(stdout);
	free(text);
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

int cli_number(const struct cli *cli, const char *what, const char *arg, __u64 max, __u64 *val)
{
	int err;

	if (!arg)
		return cli_error(cli, "%s needs a value", what);
	err = mmiotrap_parse_u64(arg, max, val);
	if (err == -ERANGE && max == ~0ULL)
		return cli_error(cli, "bad %s '%s': too large for 64 bits", what, arg);
	if (err == -ERANGE)
		return cli_error(cli, "bad %s '%s': too large, at most %llu", what, arg,
				 (unsigned long long)max);
	if (err)
		return cli_error(cli, "bad %s '%s': not a number", what, arg);
	return 0;
}

int cli_u64(const struct cli *cli, const char *what, const char *arg, __u64 *val)
{
	return cli_number(cli, what, arg, ~0ULL, val);
}

int cli_pid(const struct cli *cli, const char *what, const char *arg, __u32 *pid)
{
	__u64 n;

	if (cli_number(cli, what, arg, CLI_PID_MAX, &n))
		return 1;
	if (!n)
		return cli_error(cli, "bad %s '%s': not a pid", what, arg);
	*pid = n;
	return 0;
}

int cli_once(const struct cli *cli, const char *what, unsigned int *seen, unsigned int bit)
{
	if (*seen & bit)
		return cli_error(cli, "%s given twice", what);
	*seen |= bit;
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
	__u64 id;
	int err;

	if (!arg)
		return cli_error(cli, "which region? give its name or id");
	/* A name starts with a letter: anything else is an id or nothing. */
	err = mmiotrap_parse_u64(arg, 0xffffffff, &id);
	if (err == -ERANGE)
		return cli_error(cli, "bad region id '%s': too large, at most %u", arg, 0xffffffff);
	if (err ? mmiotrap_region_find(mt, arg, r) : mmiotrap_region_get(mt, id, r))
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
