// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A handle on a loaded instance: its pinned maps, and how it is attached. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"

/* The value size each map must have, so an older instance is refused. */
static const __u32 map_value_size[NR_MAPS] = {
	[MAP_REGIONS]	 = sizeof(struct mmiotrap_region),
	[MAP_VMS]	 = sizeof(struct mmiotrap_vm),
	[MAP_VM_BITS]	 = sizeof(__u64),
	[MAP_ADDR_INDEX] = sizeof(__u32),
	[MAP_SLOTS]	 = sizeof(struct mmiotrap_slot),
	[MAP_COUNTERS]	 = sizeof(struct mmiotrap_counters),
	[MAP_TOTALS]	 = sizeof(struct mmiotrap_totals),
	[MAP_ROUTES]	 = sizeof(struct mmiotrap_route),
	[MAP_SUBS]	 = sizeof(struct mmiotrap_sub_slot),
	[MAP_RINGS]	 = sizeof(__u32),
	[MAP_DROPS]	 = sizeof(__u32),
	[MAP_QUEUES]	 = sizeof(struct mmiotrap_queue_stats),
	[MAP_IRQS]	 = sizeof(struct mmiotrap_vm_irqs),
};

/* The sizes load chose are the maps' own. */
static void read_sizes(struct mmiotrap *mt, const struct pin *p, const struct bpf_map_info *info)
{
	switch (p->index) {
	case MAP_REGIONS:
		mt->nids = info->max_entries;
		break;
	case MAP_VMS:
		mt->max_vms = info->max_entries;
		break;
	case MAP_ADDR_INDEX:
		mt->index_entries = info->max_entries;
		break;
	default:
		break;
	}
}

static int open_map(struct mmiotrap *mt, const struct pin *p)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, err;

	err = pin_path(path, sizeof(path), mt->root, p);
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	mt->map_fd[p->index] = fd;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.value_size != map_value_size[p->index]) {
		pr_warn("%s was pinned by an incompatible mmiotrap\n", path);
		return -EPROTO;
	}
	read_sizes(mt, p, &info);
	return 0;
}

/* A whole instance, or why not; loads and unloads wait. */
static int open_maps(struct mmiotrap *mt)
{
	const struct pin *p;
	int lock, err = 0;

	lock = pins_lock(mt->root, LOCK_SH);
	if (lock < 0)
		return lock;
	switch (pins_state(mt->root, &mt->mode)) {
	case INSTANCE_NONE:
		err = -ENOENT;
		break;
	case INSTANCE_HALF:
		pr_warn("half an instance is pinned at %s (a crash's?): unload removes it\n",
			mt->root);
		err = -EUCLEAN;
		break;
	case INSTANCE_WHOLE:
		for_each_pin(p) {
			if (p->kind != PIN_MAP)
				continue;
			err = open_map(mt, p);
			if (err)
				break;
		}
		break;
	}
	close(lock);
	return err;
}

#define VM_BITS_SIZE	(MMIOTRAP_VM_BITS_WORDS * sizeof(__u64))

/* A map indexed by region id, whole, in pages. */
size_t by_id_size(const struct mmiotrap *mt, size_t value_size)
{
	size_t page = getpagesize();

	return (mt->nids * value_size + page - 1) & ~(page - 1);
}

static int map_by_id(struct mmiotrap *mt, enum trap_map m, size_t value_size, const void **at)
{
	/* Populated at once: a walk of the table then takes no page faults. */
	void *p = mmap(NULL, by_id_size(mt, value_size), PROT_READ, MAP_SHARED | MAP_POPULATE,
		       mt->map_fd[m], 0);

	if (p == MAP_FAILED)
		return -errno;
	*at = p;
	return 0;
}

int mmiotrap_open(struct mmiotrap **mtp, const struct mmiotrap_opts *opts)
{
	char path[PATH_MAX];
	struct mmiotrap *mt;
	int i, err;

	if (!OPTS_VALID(opts, struct mmiotrap_opts) || !mtp)
		return -EINVAL;
	mt = calloc(1, sizeof(*mt));
	if (!mt)
		return -ENOMEM;
	err = pin_root_of(opts, mt->root, sizeof(mt->root));
	if (err) {
		free(mt);
		return err;
	}
	pthread_mutex_init(&mt->lock, NULL);
	mt->maps_dir_fd = -1;
	for (i = 0; i < NR_MAPS; i++)
		mt->map_fd[i] = -1;

	err = open_maps(mt);
	if (err)
		goto cleanup;
	/* Region changes lock the maps directory (regions_lock()); unload does not. */
	err = pin_dir(path, sizeof(path), mt->root, PIN_MAP);
	if (err)
		goto cleanup;
	mt->maps_dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mt->maps_dir_fd < 0) {
		err = -errno;
		goto cleanup;
	}
	mt->ncpus = libbpf_num_possible_cpus();
	if (mt->ncpus < 0) {
		err = mt->ncpus;
		goto cleanup;
	}
	err = map_by_id(mt, MAP_SLOTS, sizeof(*mt->slots), (const void **)&mt->slots);
	if (!err)
		err = map_by_id(mt, MAP_REGIONS, sizeof(*mt->regions), (const void **)&mt->regions);
	if (!err)
		err = map_by_id(mt, MAP_ROUTES, sizeof(*mt->routes), (const void **)&mt->routes);
	if (err)
		goto cleanup;
	mt->vm_bits = mmap(NULL, VM_BITS_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			   mt->map_fd[MAP_VM_BITS], 0);
	if (mt->vm_bits == MAP_FAILED) {
		mt->vm_bits = NULL;
		err = -errno;
		goto cleanup;
	}
	/* A change cut short is repaired before anyone reads the table. */
	if (mt->slots[0].value) {
		err = regions_lock(mt);
		if (err)
			goto cleanup;
		regions_unlock(mt);
	}
	*mtp = mt;
	return 0;

cleanup:
	mmiotrap_close(mt);
	return err;
}

void mmiotrap_close(struct mmiotrap *mt)
{
	int i;

	if (!mt)
		return;
	if (mt->slots)
		munmap((void *)mt->slots, by_id_size(mt, sizeof(*mt->slots)));
	if (mt->regions)
		munmap((void *)mt->regions, by_id_size(mt, sizeof(*mt->regions)));
	if (mt->routes)
		munmap((void *)mt->routes, by_id_size(mt, sizeof(*mt->routes)));
	if (mt->vm_bits)
		munmap(mt->vm_bits, VM_BITS_SIZE);
	for (i = 0; i < NR_MAPS; i++)
		if (mt->map_fd[i] >= 0)
			close(mt->map_fd[i]);
	if (mt->maps_dir_fd >= 0)
		close(mt->maps_dir_fd);
	pthread_mutex_destroy(&mt->lock);
	free(mt);
}

const char *mmiotrap_pin_root(const struct mmiotrap *mt)
{
	return mt ? mt->root : NULL;
}

int mmiotrap_limits(const struct mmiotrap *mt, struct mmiotrap_limits *lim)
{
	MMIOTRAP_OPTS(mmiotrap_limits, l, .max_regions = mt ? mt->nids - 1 : 0,
		      .max_vms = mt ? mt->max_vms : 0,
		      .index_entries = mt ? mt->index_entries : 0,
		      .max_subs = MMIOTRAP_MAX_SUBS);

	if (!mt || !lim || !OPTS_VALID(lim, struct mmiotrap_limits))
		return -EINVAL;
	memcpy((char *)lim + sizeof(lim->sz), (char *)&l + sizeof(l.sz),
	       (lim->sz < sizeof(l) ? lim->sz : sizeof(l)) - sizeof(l.sz));
	return 0;
}

/* The instance is gone when unload has marked it so, even with its maps still held. */
bool instance_live(const struct mmiotrap *mt)
{
	const volatile struct mmiotrap_slot *s = mt->slots;

	return s->reserved == MMIOTRAP_INSTANCE_LIVE;
}

enum mmiotrap_attach_mode mmiotrap_attach_mode(const struct mmiotrap *mt)
{
	return mt ? mt->mode : MMIOTRAP_ATTACH_NONE;
}

int mmiotrap_region_latest(struct mmiotrap *mt, __u32 id, struct mmiotrap_slot *slot)
{
	const volatile struct mmiotrap_slot *s;

	if (!mt || !slot)
		return -EINVAL;
	if (!id || id >= mt->nids)
		return -ENOENT;
	s = &mt->slots[id];
	slot->value = s->value;
	slot->seq = s->seq;
	slot->dropped = s->dropped;
	slot->reserved = 0;
	return 0;
}

/* Whoever takes the lock first finishes a change a killed process began. */
int regions_lock(struct mmiotrap *mt)
{
	int err;

	pthread_mutex_lock(&mt->lock);
	if (flock(mt->maps_dir_fd, LOCK_EX)) {
		err = -errno;
		pthread_mutex_unlock(&mt->lock);
		return err;
	}
	err = regions_replay(mt);
	if (err)
		regions_unlock(mt);
	return err;
}

void regions_unlock(struct mmiotrap *mt)
{
	flock(mt->maps_dir_fd, LOCK_UN);
	pthread_mutex_unlock(&mt->lock);
}
