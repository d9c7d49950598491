// SPDX-License-Identifier: GPL-2.0
/*
 * mmiotrap exporter [--listen ADDR:PORT]: the counters over HTTP, in
 * Prometheus's text exposition format, at /metrics.
 *
 * libmicrohttpd serves it from one thread of its own, so scrapes come one
 * at a time and each is one snapshot of the counters. The instance is
 * opened again when it was unloaded and loaded since; while nothing is
 * loaded a scrape says mmiotrap_up 0.
 */
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <microhttpd.h>
#include "cli.h"

#define LISTEN_DEFAULT	"127.0.0.1:9477"
#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

struct exporter {
	const struct cli *cli;
	struct mmiotrap *mt;	/* NULL while nothing is loaded */
	bool up;		/* what the last scrape found: a change is logged */
};

/* A snapshot, the instance opened first if it is not (or no more). */
static int snapshot(struct exporter *e, struct mmiotrap_stats **st)
{
	int err = -ESTALE, tries;

	for (tries = 0; tries < 2 && err == -ESTALE; tries++) {
		if (!e->mt) {
			err = mmiotrap_open(&e->mt, &e->cli->opts);
			if (err)
				return err;
		}
		err = mmiotrap_stats_read(e->mt, st);
		if (err == -ESTALE) {
			mmiotrap_close(e->mt);
			e->mt = NULL;
		}
	}
	return err;
}

static void say_up(struct exporter *e, bool up, int err)
{
	if (up == e->up)
		return;
	e->up = up;
	if (up)
		fprintf(stderr, "mmiotrap: exporter: reading %s\n", e->cli->opts.pin_root);
	else
		fprintf(stderr, "mmiotrap: exporter: cannot read %s: %s (serving mmiotrap_up 0)\n",
			e->cli->opts.pin_root, err == -ENOENT ? "not loaded" : strerror(-err));
}

/* The metrics page: a malloc'ed text of @size bytes. */
static char *metrics(struct exporter *e, size_t *size)
{
	struct mmiotrap_stats *st = NULL;
	char *text = NULL;
	FILE *f;
	int err;

	f = open_memstream(&text, size);
	if (!f)
		return NULL;
	err = snapshot(e, &st);
	say_up(e, !err, err);
	if (!err)
		prom_write(f, st);
	fprintf(f, "# HELP mmiotrap_up Whether the counters of the instance could be read.\n"
		   "# TYPE mmiotrap_up gauge\nmmiotrap_up %d\n", !err);
	mmiotrap_stats_free(st);
	if (fclose(f)) {
		free(text);
		return NULL;
	}
	return text;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, char *body,
			     size_t size, enum MHD_ResponseMemoryMode mode, const char *type)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(size, body, mode);
	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	static char index_page[] = "mmiotrap exporter: the metrics are at /metrics\n";
	static char not_found[] = "not found: the metrics are at /metrics\n";
	static char not_allowed[] = "GET or HEAD only\n";
	struct exporter *e = cls;
	size_t size;
	char *text;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed,
			     sizeof(not_allowed) - 1, MHD_RESPMEM_PERSISTENT, "text/plain");
	if (!strcmp(url, "/"))
		return reply(conn, MHD_HTTP_OK, index_page, sizeof(index_page) - 1,
			     MHD_RESPMEM_PERSISTENT, "text/plain");
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, not_found, sizeof(not_found) - 1,
			     MHD_RESPMEM_PERSISTENT, "text/plain");
	text = metrics(e, &size);
	if (!text)
		return MHD_NO;
	return reply(conn, MHD_HTTP_OK, text, size, MHD_RESPMEM_MUST_FREE, CONTENT_TYPE);
}

/* ADDR:PORT, [ADDR6]:PORT or :PORT (every address) into @ai; 0 or 1 said. */
static int parse_listen(const struct cli *cli, const char *arg, struct addrinfo **ai)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
	};
	char host[256];
	const char *port;
	size_t len;
	int err;

	port = strrchr(arg, ':');
	if (!port || !port[1])
		return cli_error(cli, "bad --listen '%s': ADDR:PORT", arg);
	len = port - arg;
	if (len && arg[0] == '[' && arg[len - 1] == ']') {
		arg++;
		len -= 2;
	}
	if (len >= sizeof(host))
		return cli_error(cli, "bad --listen '%s': ADDR:PORT", arg);
	memcpy(host, arg, len);
	host[len] = '\0';
	err = getaddrinfo(len ? host : NULL, port + 1, &hints, ai);
	if (err)
		return cli_error(cli, "bad --listen '%s': %s", arg, gai_strerror(err));
	return 0;
}

static struct MHD_Daemon *start(struct exporter *e, const struct addrinfo *ai)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;

	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	/* The port comes from the address. */
	return MHD_start_daemon(flags, 0, NULL, NULL, handle, e,
				MHD_OPTION_SOCK_ADDR, ai->ai_addr,
				MHD_OPTION_CONNECTION_TIMEOUT, 10U,
				MHD_OPTION_END);
}

/* Where it listens: the port the kernel chose for port 0. */
static void say_listening(const struct cli *cli, struct MHD_Daemon *d, const struct addrinfo *ai)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	char host[NI_MAXHOST];
	unsigned int port = info ? info->port : 0;

	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), NULL, 0, NI_NUMERICHOST))
		snprintf(host, sizeof(host), "?");
	if (cli->json)
		cli_json(cli, json_pack("{s:s, s:i}", "address", host, "port", port));
	else
		printf("listening on %s%s%s:%u, metrics at /metrics\n",
		       ai->ai_family == AF_INET6 ? "[" : "", host,
		       ai->ai_family == AF_INET6 ? "]" : "", port);
}

int do_exporter(struct cli *cli)
{
	struct exporter e = { .cli = cli, .up = true };
	const char *listen = LISTEN_DEFAULT, *word;
	struct addrinfo *ai = NULL;
	struct MHD_Daemon *d;
	sigset_t stop;
	int err, sig;

	while ((word = cli_next(cli))) {
		if (!cli_is(word, "--listen"))
			return cli_error(cli, "unknown argument '%s' to exporter", word);
		listen = cli_next(cli);
		if (!listen)
			return cli_error(cli, "--listen needs ADDR:PORT");
	}
	if (parse_listen(cli, listen, &ai))
		return 1;
	/* Blocked before the server's thread starts, so it inherits the mask: sigwait gets them. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	err = mmiotrap_open(&e.mt, &cli->opts);
	say_up(&e, !err, err);
	d = start(&e, ai);
	if (!d) {
		freeaddrinfo(ai);
		mmiotrap_close(e.mt);
		return cli_error(cli, "cannot listen on '%s': %s", listen, strerror(errno));
	}
	say_listening(cli, d, ai);
	freeaddrinfo(ai);
	sigwait(&stop, &sig);
	MHD_stop_daemon(d);
	mmiotrap_close(e.mt);
	return 0;
}
