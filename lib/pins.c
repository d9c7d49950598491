// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Where an instance lives: its pin root on bpffs, the pins in it, and the
 * mounts it needs. Every question about the pins (is it loaded, is half of
 * it there, which attach mode) is answered from the one list in pins.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include "internal.h"

#define BPFFS_MOUNT	"/sys/fs/bpf"
#define TRACEFS_MOUNT	"/sys/kernel/tracing"

#define MAP_PIN(id, map)	{ .kind = PIN_MAP, .index = id, .name = #map },
#define LINK_PIN(m, prog, opt)	{ .kind = PIN_LINK, .mode = m, .need = opt, .name = #prog },

const struct pin trap_pins[] = {
	TRAP_MAPS(MAP_PIN)
	TRAP_LINKS(LINK_PIN)
};
const int nr_trap_pins = sizeof(trap_pins) / sizeof(trap_pins[0]);

static const char *const pin_dirs[] = {
	[PIN_MAP]  = "maps",
	[PIN_LINK] = "links",
};

/* @path made absolute, without ".", ".." or empty components, into @buf. */
static int lexical(const char *path, char *buf, size_t size)
{
	char tmp[PATH_MAX], *save, *c;
	size_t n = 0;

	if (path[0] == '/')
		tmp[0] = '\0';
	else if (!getcwd(tmp, sizeof(tmp)))
		return -errno;
	if (strlen(tmp) + 1 + strlen(path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	strcat(strcat(tmp, "/"), path);
	buf[0] = '\0';
	for (c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			while (n && buf[--n] != '/')
				;
			buf[n] = '\0';
			continue;
		}
		if (n + 1 + strlen(c) >= size)
			return -ENAMETOOLONG;
		n += sprintf(buf + n, "/%s", c);
	}
	return n ? 0 : -EINVAL;
}

/*
 * Every spelling of a pin root names one instance: relative, with "." or
 * "..", doubled or trailing slashes, or through a symlinked directory.
 * The pin root itself is never a symlink: pins are not followed elsewhere.
 */
int pin_root_of(const struct mmiotrap_opts *opts, char *buf, size_t size)
{
	const char *root = OPTS_GET(opts, pin_root, NULL) ?: MMIOTRAP_PIN_ROOT_DEFAULT;
	char path[PATH_MAX], parent[PATH_MAX], *base;
	struct stat st;
	int err, n;

	if (!*root) {
		pr_warn("the pin root is an empty path\n");
		return -EINVAL;
	}
	err = lexical(root, path, sizeof(path));
	if (err) {
		pr_warn("pin root '%s' names no directory\n", root);
		return err;
	}
	base = strrchr(path, '/');
	*base++ = '\0';
	if (!realpath(path[0] ? path : "/", parent))
		snprintf(parent, sizeof(parent), "%s", path);
	n = snprintf(buf, size, "%s/%s", strcmp(parent, "/") ? parent : "", base);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	if (!lstat(buf, &st) && S_ISLNK(st.st_mode)) {
		pr_warn("pin root %s is a symlink: not followed\n", buf);
		return -ELOOP;
	}
	return 0;
}

static int path_of(char *buf, size_t size, const char *root, enum pin_kind kind, const char *name)
{
	int n;

	if (name)
		n = snprintf(buf, size, "%s/%s/%s", root, pin_dirs[kind], name);
	else
		n = snprintf(buf, size, "%s/%s", root, pin_dirs[kind]);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int pin_path(char *buf, size_t size, const char *root, const struct pin *p)
{
	return path_of(buf, size, root, p->kind, p->name);
}

int pin_dir(char *buf, size_t size, const char *root, enum pin_kind kind)
{
	return path_of(buf, size, root, kind, NULL);
}

static bool pinned(const char *root, const struct pin *p)
{
	char path[PATH_MAX];

	return !pin_path(path, sizeof(path), root, p) && !access(path, F_OK);
}

/* Every link mode @m needs is pinned. */
static bool mode_whole(const char *root, enum mmiotrap_attach_mode m)
{
	const struct pin *p;

	for_each_pin(p)
		if (p->kind == PIN_LINK && p->mode == m && !p->need && !pinned(root, p))
			return false;
	return true;
}

/* Links of several modes share a program (the exit counter): one file. */
static bool first_of_name(const struct pin *p)
{
	const struct pin *q;

	for_each_pin(q) {
		if (q == p)
			return true;
		if (q->kind == p->kind && !strcmp(q->name, p->name))
			return false;
	}
	return true;
}

enum instance_state pins_state(const char *root, enum mmiotrap_attach_mode *mode)
{
	int need[MMIOTRAP_ATTACH_MAX] = {}, have[MMIOTRAP_ATTACH_MAX] = {};
	int maps = 0, links = 0, m;
	const struct pin *p;

	*mode = MMIOTRAP_ATTACH_NONE;
	for_each_pin(p) {
		bool there = pinned(root, p);

		if (p->kind == PIN_MAP) {
			maps += there;
			continue;
		}
		need[p->mode] += !p->need;
		have[p->mode] += there;
		links += there && first_of_name(p);
	}
	if (!maps && !links)
		return INSTANCE_NONE;
	/* Every map, every link a mode needs, and no link of another mode. */
	for (m = MMIOTRAP_ATTACH_NONE + 1; m < MMIOTRAP_ATTACH_MAX; m++) {
		if (maps == NR_MAPS && have[m] >= need[m] && have[m] && links == have[m] &&
		    mode_whole(root, m)) {
			*mode = m;
			return INSTANCE_WHOLE;
		}
	}
	return INSTANCE_HALF;
}

int pins_unlink(const char *root, enum pin_kind kind)
{
	char path[PATH_MAX];
	const struct pin *p;
	int n = 0;

	for_each_pin(p)
		if (p->kind == kind && !pin_path(path, sizeof(path), root, p))
			n += !unlink(path);
	return n;
}

/* Links first: the trap is detached before its maps go. */
int pins_remove(const char *root)
{
	char path[PATH_MAX];
	int n;

	n = pins_unlink(root, PIN_LINK);
	n += pins_unlink(root, PIN_MAP);
	if (!path_of(path, sizeof(path), root, PIN_LINK, NULL))
		rmdir(path);
	if (!path_of(path, sizeof(path), root, PIN_MAP, NULL))
		rmdir(path);
	return n;
}

/*
 * Pins are as private as the maps behind them: a directory that is there
 * already must be ours, and anyone else's access to it goes.
 */
static int private_dir(const char *path)
{
	struct stat st;

	if (!mkdir(path, 0700))
		return 0;
	if (errno != EEXIST || lstat(path, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode)) {
		pr_warn("%s is not a directory\n", path);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid()) {
		pr_warn("%s belongs to uid %u, not to us\n", path, st.st_uid);
		return -EPERM;
	}
	if ((st.st_mode & 07777) != 0700) {
		pr_info("%s had mode %04o: made 0700\n", path, st.st_mode & 07777);
		if (chmod(path, 0700))
			return -errno;
	}
	return 0;
}

int pins_make_dirs(const char *root)
{
	char path[PATH_MAX];
	int kind, err;

	err = private_dir(root);
	for (kind = PIN_MAP; !err && kind <= PIN_LINK; kind++) {
		err = path_of(path, sizeof(path), root, kind, NULL);
		if (!err)
			err = private_dir(path);
	}
	return err;
}

/* The pin root's parent: the lock must outlive the pin root's removal. */
static int parent_of(const char *root, char *parent, size_t size)
{
	char *slash;

	if (strlen(root) >= size)
		return -ENAMETOOLONG;
	strcpy(parent, root);
	slash = strrchr(parent, '/');
	if (!slash)
		return -ENOTDIR;
	*(slash == parent ? slash + 1 : slash) = '\0';
	return 0;
}

int pins_lock(const char *root, int how)
{
	char parent[PATH_MAX];
	int fd, err;

	err = parent_of(root, parent, sizeof(parent));
	if (err)
		return err;
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, how)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

bool fs_is(const char *path, long magic)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == magic;
}

/* The parent directory must already be on bpffs: pins cannot live elsewhere. */
static int parent_on_bpffs(const char *root)
{
	char parent[PATH_MAX];
	int err;

	err = parent_of(root, parent, sizeof(parent));
	if (err)
		return err;
	return fs_is(parent, BPF_FS_MAGIC) ? 0 : -ENOTDIR;
}

/*
 * Make sure @root can hold pins: mount bpffs at its usual place when the
 * pin root is below it and nothing is mounted there yet.
 */
int mmiotrap_prepare_bpffs(const char *pin_root)
{
	MMIOTRAP_OPTS(mmiotrap_opts, opts, .pin_root = pin_root);
	size_t n = strlen(BPFFS_MOUNT);
	char root[PATH_MAX];
	int err;

	err = pin_root_of(&opts, root, sizeof(root));
	if (err)
		return err;
	if (!parent_on_bpffs(root))
		return 0;
	if (strncmp(root, BPFFS_MOUNT, n) || root[n] != '/' || fs_is(BPFFS_MOUNT, BPF_FS_MAGIC)) {
		pr_warn("pin root %s is not on a bpf filesystem\n", root);
		return -ENOTDIR;
	}
	if (mount("bpf", BPFFS_MOUNT, "bpf", 0, "mode=0700")) {
		int err = -errno;

		pr_warn("cannot mount bpffs at %s: %s\n", BPFFS_MOUNT, strerror(-err));
		return err;
	}
	return parent_on_bpffs(root);
}

int tracefs_prepare(void)
{
	if (fs_is(TRACEFS_MOUNT, TRACEFS_MAGIC))
		return 0;
	return mount("tracefs", TRACEFS_MOUNT, "tracefs", 0, NULL) ? -errno : 0;
}
