// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Where an instance lives: its pin root on bpffs, and the mounts it needs. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include "internal.h"

#define BPFFS_MOUNT	"/sys/fs/bpf"
#define TRACEFS_MOUNT	"/sys/kernel/tracing"

const char *pin_root_of(const struct mmiotrap_opts *opts)
{
	const char *root = OPTS_GET(opts, pin_root, NULL);

	return root && *root ? root : MMIOTRAP_PIN_ROOT_DEFAULT;
}

int pin_path(char *buf, size_t size, const char *root, const char *dir, const char *name)
{
	int n;

	if (name)
		n = snprintf(buf, size, "%s/%s/%s", root, dir, name);
	else
		n = snprintf(buf, size, "%s/%s", root, dir);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static bool fs_is(const char *path, long magic)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == magic;
}

/* The parent directory must already be on bpffs: pins cannot live elsewhere. */
static int parent_on_bpffs(const char *root)
{
	char parent[PATH_MAX];
	char *slash;

	if (strlen(root) >= sizeof(parent))
		return -ENAMETOOLONG;
	strcpy(parent, root);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -ENOTDIR;
	*slash = '\0';
	return fs_is(parent, BPF_FS_MAGIC) ? 0 : -ENOTDIR;
}

/*
 * Make sure @root can hold pins: mount bpffs at its usual place when the
 * pin root is below it and nothing is mounted there yet.
 */
int mmiotrap_prepare_bpffs(const char *root)
{
	size_t n = strlen(BPFFS_MOUNT);

	if (!parent_on_bpffs(root))
		return 0;
	if (strncmp(root, BPFFS_MOUNT, n) || root[n] != '/' || fs_is(BPFFS_MOUNT, BPF_FS_MAGIC))
		return -ENOTDIR;
	if (mount("bpf", BPFFS_MOUNT, "bpf", 0, "mode=0700"))
		return -errno;
	return parent_on_bpffs(root);
}

int tracefs_prepare(void)
{
	if (fs_is(TRACEFS_MOUNT, TRACEFS_MAGIC))
		return 0;
	return mount("tracefs", TRACEFS_MOUNT, "tracefs", 0, NULL) ? -errno : 0;
}
