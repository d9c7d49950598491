// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A QMP client just large enough to ask a VM about its devices: one
 * command at a time, asynchronous events skipped. QMP is JSON, one value
 * per line; jansson reads it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "qmp.h"

/* A VM that does not answer in this long is not going to. */
#define QMP_TIMEOUT_S	2
/*
 * The socket is named by the VM's own command line: whoever runs the VM
 * may serve it. query-pci of a large VM is some tens of KiB; more than
 * this, or endless events, is not QEMU.
 */
#define QMP_REPLY_MAX	(4 << 20)
#define QMP_EVENTS_MAX	256
#define QMP_REPLY_S	10	/* a byte every QMP_TIMEOUT_S is not an answer either */

struct qmp {
	FILE *f;	/* reads; commands are written to its fd */
	size_t left;	/* bytes the reply being read may still take */
	time_t deadline;	/* CLOCK_MONOTONIC seconds it must be read by */
};

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The path= of a chardev or -qmp option's "unix:PATH,..." */
static bool copy_path(const char *s, size_t n, char *buf, size_t size)
{
	if (!n || n >= size)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

/* The value of key @key in QEMU option string @opts ("a=1,key=v,..."). */
static const char *opt_value(const char *opts, const char *key, size_t *len)
{
	size_t klen = strlen(key);
	const char *s = opts;

	while (s && *s) {
		if (!strncmp(s, key, klen) && s[klen] == '=') {
			s += klen + 1;
			*len = strcspn(s, ",");
			return s;
		}
		s = strchr(s, ',');
		s = s ? s + 1 : NULL;
	}
	return NULL;
}

static bool is_opt(const char *arg, const char *name)
{
	/* QEMU takes -name and --name alike. */
	if (arg[0] == '-' && arg[1] == '-')
		arg++;
	return !strcmp(arg, name);
}

/* Read the arguments of @pid into an array of pointers into @buf. */
static int read_args(__u32 pid, char **bufp, char ***argvp, int *argcp)
{
	char path[64], *buf = NULL, **argv;
	size_t size = 0, n = 0, i;
	int argc = 0, k;
	FILE *f;
	ssize_t got;

	*argcp = 0;
	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	got = getdelim(&buf, &size, EOF, f);
	fclose(f);
	if (got <= 0) {
		free(buf);
		return -ESRCH;
	}
	n = got;
	for (i = 0; i < n; i++)
		argc += !buf[i];
	argv = calloc(argc + 1, sizeof(*argv));
	if (!argv) {
		free(buf);
		return -ENOMEM;
	}
	for (i = 0, k = 0; i < n && k < argc; i += strlen(buf + i) + 1)
		argv[k++] = buf + i;
	*bufp = buf;
	*argvp = argv;
	*argcp = k;
	return 0;
}

/* -chardev socket,id=@id,path=PATH,...: PATH. */
static bool chardev_path(char **argv, int argc, const char *id, size_t idlen, char *buf,
			 size_t size)
{
	const char *v, *p;
	size_t len, plen;
	int i;

	for (i = 0; i + 1 < argc; i++) {
		if (!is_opt(argv[i], "-chardev") || strncmp(argv[i + 1], "socket,", 7))
			continue;
		v = opt_value(argv[i + 1] + 7, "id", &len);
		p = opt_value(argv[i + 1] + 7, "path", &plen);
		if (v && p && len == idlen && !strncmp(v, id, len))
			return copy_path(p, plen, buf, size);
	}
	return false;
}

int qmp_socket_of(__u32 pid, char *buf, size_t size)
{
	char *args = NULL, **argv = NULL;
	const char *a, *v, *mode;
	size_t len, mlen;
	bool found = false;
	int argc, i, err;

	err = read_args(pid, &args, &argv, &argc);
	if (err)
		return err;
	for (i = 0; i + 1 < argc && !found; i++) {
		a = argv[i + 1];
		if (is_opt(argv[i], "-qmp") && !strncmp(a, "unix:", 5))
			found = copy_path(a + 5, strcspn(a + 5, ","), buf, size);
		else if (is_opt(argv[i], "-mon")) {
			/* A control monitor is QMP; mode=readline is HMP's. */
			v = opt_value(a, "chardev", &len);
			mode = opt_value(a, "mode", &mlen);
			if (v && mode && mlen == 7 && !strncmp(mode, "control", 7))
				found = chardev_path(argv, argc, v, len, buf, size);
		}
	}
	free(argv);
	free(args);
	return found ? 0 : -ENOENT;
}

/* A byte at a time: the reply ends where its value does, not at a buffer's end. */
static size_t read_byte(void *buf, size_t len, void *data)
{
	struct qmp *q = data;
	int c;

	if (!len || !q->left || now_s() > q->deadline) {
		q->left = 0;
		return (size_t)-1;
	}
	c = getc(q->f);
	if (c == EOF)
		return 0;
	q->left--;
	*(char *)buf = c;
	return 1;
}

/* The next reply: events, which QEMU may send at any time, skipped. */
static json_t *reply(struct qmp *q, char *err, size_t size)
{
	json_error_t jerr;
	json_t *j;
	int events;

	q->left = QMP_REPLY_MAX;
	q->deadline = now_s() + QMP_REPLY_S;
	for (events = 0; events <= QMP_EVENTS_MAX; events++) {
		j = json_load_callback(read_byte, q, JSON_DISABLE_EOF_CHECK, &jerr);
		if (!j) {
			snprintf(err, size, "bad reply: %s", q->left ? jerr.text :
				 "too long or too slow");
			return NULL;
		}
		if (!json_object_get(j, "event"))
			return j;
		json_decref(j);
	}
	snprintf(err, size, "bad reply: more than %d events before it", QMP_EVENTS_MAX);
	return NULL;
}

static int send_all(int fd, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;

	while (len) {
		n = send(fd, s, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		s += n;
		len -= n;
	}
	return 0;
}

json_t *qmp_call(struct qmp *q, const char *cmd, json_t *args, char *err, size_t size)
{
	json_t *req = json_pack("{s:s}", "execute", cmd), *rep, *ret;
	const char *desc;
	char *text;

	if (!req || (args && json_object_set(req, "arguments", args))) {
		json_decref(req);
		snprintf(err, size, "out of memory");
		return NULL;
	}
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text || send_all(fileno(q->f), text) || send_all(fileno(q->f), "\n")) {
		snprintf(err, size, "cannot send %s: %s", cmd, strerror(text ? errno : ENOMEM));
		free(text);
		return NULL;
	}
	free(text);
	rep = reply(q, err, size);
	if (!rep)
		return NULL;
	ret = json_incref(json_object_get(rep, "return"));
	if (!ret) {
		desc = json_string_value(json_object_get(json_object_get(rep, "error"), "desc"));
		snprintf(err, size, "%s: %s", cmd, desc ?: "no return");
	}
	json_decref(rep);
	return ret;
}

struct qmp *qmp_open(const char *path)
{
	struct timeval tv = { .tv_sec = QMP_TIMEOUT_S };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct qmp *q;
	json_t *greeting, *ret;
	char err[128];
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		goto err_fd;
	q = calloc(1, sizeof(*q));
	if (!q)
		goto err_fd;
	q->f = fdopen(fd, "r");
	if (!q->f) {
		free(q);
		goto err_fd;
	}
	greeting = reply(q, err, sizeof(err));
	if (!greeting || !json_object_get(greeting, "QMP"))
		goto err_proto;
	json_decref(greeting);
	greeting = NULL;
	ret = qmp_call(q, "qmp_capabilities", NULL, err, sizeof(err));
	if (!ret)
		goto err_proto;
	json_decref(ret);
	return q;
err_proto:
	json_decref(greeting);
	qmp_close(q);
	errno = EPROTO;
	return NULL;
err_fd:
	close(fd);
	return NULL;
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	fclose(q->f);
	free(q);
}
