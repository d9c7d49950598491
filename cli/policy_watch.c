// SPDX-License-Identifier: GPL-2.0
/*
 * mmiotrap policy apply --watch FILE
 *
 * Keep a policy true as the VMs it names start, stop and restart, and as
 * their devices move: every second, read FILE again and apply it, leaving
 * out what cannot be resolved now (a VM not running, a BAR not mapped yet),
 * so that its regions go while it is away and come back with it. A line
 * for each change, and for each new reason a region is left out or the
 * file cannot be applied; nothing while nothing changes. KVM offers no
 * event for a VM's start and /proc none for a process's: polling it is.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include "cli.h"

#define WATCH_INTERVAL_MS	1000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

struct watch {
	const struct cli *cli;
	const char *file;
	json_t *left_out;	/* region name -> why, as last said */
	json_t *now;		/* this round's */
	char error[512];	/* the last error said; "": none */
};

static void say(const struct watch *w, const char *what, const char *name, const char *why)
{
	if (w->cli->json)
		cli_json(w->cli, why ? json_pack("{s:s, s:s}", what, name, "why", why) :
					json_pack("{s:s}", what, name));
	else if (why)
		printf("%s %s: %s\n", what, name, why);
	else
		printf("%s %s\n", what, name);
	fflush(stdout);
}

static void on_change(void *ctx, enum mmiotrap_policy_change change, const char *name)
{
	static const char *const words[] = {
		[MMIOTRAP_POLICY_REMOVED] = "removed",
		[MMIOTRAP_POLICY_CHANGED] = "changed",
		[MMIOTRAP_POLICY_ADDED] = "added",
	};

	say(ctx, words[change], name, NULL);
}

static void on_skip(void *ctx, const char *name, const char *why)
{
	struct watch *w = ctx;
	const char *was = json_string_value(json_object_get(w->left_out, name));

	if (!was || strcmp(was, why))
		say(w, "left_out", name, why);
	json_object_set_new(w->now, name, json_string(why));
}

/* An error, said once until it changes or goes. */
static void round_error(struct watch *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void round_error(struct watch *w, const char *fmt, ...)
{
	char msg[sizeof(w->error)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strcmp(msg, w->error)) {
		cli_error(w->cli, "%s", msg);
		fflush(stdout);
	}
	snprintf(w->error, sizeof(w->error), "%s", msg);
}

static void problem_error(struct watch *w, const struct mmiotrap_policy *p, int n)
{
	const struct mmiotrap_policy_problem *e;

	mmiotrap_policy_problems(p, &e);
	e += n - 1;
	if (!e->line)
		round_error(w, "%s", e->message);
	else
		round_error(w, "%s:%d: key '%s': %s", e->file, e->line, e->key, e->message);
}

static void watch_round(struct watch *w, struct mmiotrap *mt)
{
	MMIOTRAP_OPTS(mmiotrap_policy_apply_opts, opts, .fn = on_change, .ctx = w,
		      .partial = true, .skip = on_skip);
	const struct mmiotrap_policy_problem *e;
	struct mmiotrap_policy *p;
	int err, n;

	err = mmiotrap_policy_read(&p, w->file);
	if (err) {
		round_error(w, "cannot read %s: %s", w->file, strerror(-err));
		return;
	}
	n = mmiotrap_policy_problems(p, &e);
	if (n) {
		/* An edit half made: the last good one stays applied. */
		problem_error(w, p, 1);
		goto out;
	}
	w->now = json_object();
	err = mmiotrap_policy_apply(mt, p, &opts);
	if (err) {
		problem_error(w, p, mmiotrap_policy_problems(p, &e));
		json_decref(w->now);
	} else {
		*w->error = '\0';
		json_decref(w->left_out);
		w->left_out = w->now;
	}
	w->now = NULL;
out:
	mmiotrap_policy_free(p);
}

int policy_watch(const struct cli *cli, const char *file)
{
	struct timespec interval = { WATCH_INTERVAL_MS / 1000, WATCH_INTERVAL_MS % 1000 * 1000000L };
	struct sigaction sa = { .sa_handler = on_signal };
	struct watch w = { .cli = cli, .file = file };
	struct mmiotrap *mt;

	if (!strcmp(file, "-"))
		return cli_error(cli, "policy apply --watch reads FILE again each round: not '-'");
	if (cli_open(cli, &mt))
		return 1;
	w.left_out = json_object();
	/* No SA_RESTART: the signal ends the sleep, and the loop with it. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop) {
		watch_round(&w, mt);
		nanosleep(&interval, NULL);
	}
	json_decref(w.left_out);
	mmiotrap_close(mt);
	return 0;
}
