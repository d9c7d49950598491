// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* What /proc says of a VMM process: when it started, what QEMU -name it has. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

/*
 * Field 22 of /proc/PID/stat: the start time in clock ticks since boot, the
 * same clock the trap reads from task_struct, so pid reuse shows.
 */
int proc_start_ticks(__u32 pid, __u64 *ticks)
{
	char path[64], buf[1024], *p;
	unsigned long long start;
	size_t n;
	FILE *f;
	int i;

	if (!pid)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	for (i = 2; i < 22 && p; i++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p, " %llu", &start) != 1)
		return -EIO;
	*ticks = start;
	return 0;
}

int proc_tgid(__u32 pid, __u32 *tgid)
{
	char path[64], line[128];
	unsigned int t = 0;
	FILE *f;

	if (!pid)
		return -ESRCH;
	/* /proc shows threads too, by their id, though readdir does not list them. */
	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f) && sscanf(line, "Tgid: %u", &t) != 1)
		;
	fclose(f);
	if (!t)
		return -EIO;
	*tgid = t;
	return 0;
}

int proc_check_vmm(__u32 pid)
{
	__u32 tgid;
	int err = proc_tgid(pid, &tgid);

	if (err)
		return err;
	if (tgid != pid) {
		pr_warn("%u is a thread of process %u, not a process: give the VMM's pid\n",
			pid, tgid);
		return -EINVAL;
	}
	return 0;
}

/* The element of a QEMU option at *@s, up to a lone ',', with ",," made ',', in place. */
static char *next_element(char **s)
{
	char *in = *s, *out = *s, *elem = *s;

	while (*in && !(*in == ',' && in[1] != ',')) {
		if (*in == ',')
			in++;
		*out++ = *in++;
	}
	*s = *in ? in + 1 : in;
	*out = '\0';
	return elem;
}

/* -name's value is "NAME[,...]" or "guest=NAME[,...]", among other options. */
static char *guest_name(char *opt)
{
	char *elem, *s = opt;
	bool first = true;

	while (*s) {
		elem = next_element(&s);
		if (first && !strchr(elem, '='))
			return elem;
		if (!strncmp(elem, "guest=", 6))
			return elem + 6;
		first = false;
	}
	return NULL;
}

/* The value of process @pid's last -name (QEMU takes the last); free() it. */
static int name_arg(__u32 pid, char **value)
{
	char path[64], *arg = NULL;
	bool next = false;
	size_t size = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%u/cmdline", pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	*value = NULL;
	while (getdelim(&arg, &size, '\0', f) > 0) {
		if (next) {
			free(*value);
			*value = strdup(arg);
		}
		next = !strcmp(arg, "-name") || !strcmp(arg, "--name");
	}
	free(arg);
	fclose(f);
	return *value ? 0 : -ENOENT;
}

int mmiotrap_vm_name(__u32 pid, char *buf, size_t size)
{
	char *value, *name;
	int err = name_arg(pid, &value);

	if (err)
		return err;
	name = guest_name(value);
	if (name)
		snprintf(buf, size, "%s", name);
	free(value);
	return name ? 0 : -ENOENT;
}

/* Does process @pid hold a KVM VM fd? A -name alone is anyone's to give. */
static bool holds_vm(unsigned long pid)
{
	char path[64], link[32];
	struct dirent *de;
	bool found = false;
	ssize_t n;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%lu/fd", pid);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n < 0)
			continue;
		link[n] = '\0';
		found = !strcmp(link, "anon_inode:kvm-vm");
	}
	closedir(d);
	return found;
}

int mmiotrap_find_vm(const char *name, __u32 *pids, int max)
{
	struct dirent *de;
	char *value, *guest, *end;
	unsigned long pid;
	int n = 0;
	DIR *d;

	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		pid = strtoul(de->d_name, &end, 10);
		if (*end || !pid || pid > 0x7fffffff || name_arg(pid, &value))
			continue;
		guest = guest_name(value);
		if (guest && !strcmp(guest, name) && holds_vm(pid) && n++ < max)
			pids[n - 1] = pid;
		free(value);
	}
	closedir(d);
	return n;
}
