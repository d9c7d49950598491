// SPDX-License-Identifier: GPL-2.0
/*
 * mmiotrap: bpftool-style front end to libmmiotrap.
 *   mmiotrap [-j|-p] [--pin-root DIR] OBJECT COMMAND [ARGS]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include "cli.h"

static const struct cmd objects[] = {
	{ "load",	do_load,	true },
	{ "unload",	do_unload,	true },
	{ "status",	do_status,	true },
	{ "doctor",	do_doctor,	false },
	{ "region",	do_region,	false },
	{ "events",	do_events,	true },
	{ "stats",	do_stats,	true },
	{ "top",	do_top,		true },
	{ "exporter",	do_exporter,	true },
	{ "policy",	do_policy,	false },
	{ "vm",		do_vm,		false },
	{}
};

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json",	no_argument,		NULL, 'j' },
		{ "pretty",	no_argument,		NULL, 'p' },
		{ "pin-root",	required_argument,	NULL, 'r' },
		{ "help",	no_argument,		NULL, 'h' },
		{}
	};
	struct cli cli = { .opts.sz = sizeof(cli.opts) };
	int opt, roots = 0;

	cli.opts.pin_root = getenv("MMIOTRAP_PIN_ROOT");
	if (!cli.opts.pin_root || !*cli.opts.pin_root)
		cli.opts.pin_root = MMIOTRAP_PIN_ROOT_DEFAULT;
	while ((opt = getopt_long(argc, argv, "+jph", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			cli.pretty = true;
			/* fallthrough */
		case 'j':
			cli.json = true;
			break;
		case 'r':
			cli.opts.pin_root = optarg;
			roots++;
			break;
		case 'h':
			cli.argc = 1;
			cli.argv = (char *[]){ "help" };
			return cli_dispatch(&cli, objects, "");
		default:
			return 1;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (roots > 1)
		return cli_error(&cli, "--pin-root given twice");
	if (!*cli.opts.pin_root)
		return cli_error(&cli, "--pin-root '': an empty path names no instance");
	/* The library's say goes into our one error line, in the output mode. */
	mmiotrap_set_print(cli_print);
	cli.argc = argc - optind;
	cli.argv = argv + optind;
	return cli_dispatch(&cli, objects, "");
}
