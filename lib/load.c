// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Load the trap: read the tracepoints' prototypes from BTF, pick the first
 * attach mode the kernel accepts, attach, and pin maps and links under the
 * pin root so that the trap outlives this process.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "trap.skel.h"

/* The skeleton's typed members, in the order of the pin list. */
#define MAP_MEMBER(id, map)	[id] = offsetof(struct trap_bpf, maps.map),
#define PROG_MEMBER(m, prog, opt)	offsetof(struct trap_bpf, progs.prog),
#define LINK_MEMBER(m, prog, opt)	offsetof(struct trap_bpf, links.prog),

static const size_t map_member[NR_MAPS] = { TRAP_MAPS(MAP_MEMBER) };
static const size_t prog_member[] = { TRAP_LINKS(PROG_MEMBER) };
static const size_t link_member[] = { TRAP_LINKS(LINK_MEMBER) };

static void *member(struct trap_bpf *skel, const size_t *offs, const struct pin *p)
{
	int i = p->kind == PIN_MAP ? p->index : (int)(p - trap_pins) - NR_MAPS;

	return *(void **)((char *)skel + offs[i]);
}

const char *mmiotrap_attach_mode_str(enum mmiotrap_attach_mode mode)
{
	static const char *const names[MMIOTRAP_ATTACH_MAX] = {
		[MMIOTRAP_ATTACH_NONE]	 = "none",
		[MMIOTRAP_ATTACH_FENTRY] = "fentry",
		[MMIOTRAP_ATTACH_TP_BTF] = "tp_btf",
		[MMIOTRAP_ATTACH_RAW_TP] = "raw_tp",
	};

	return mode < MMIOTRAP_ATTACH_MAX ? names[mode] : "unknown";
}

/* The sizes asked for, or the defaults. */
struct sizes {
	__u32 regions;
	__u32 vms;
	__u32 index;
};

static int size_maps(struct trap_bpf *skel, const struct sizes *sz)
{
	struct bpf_map *by_id[] = {
		skel->maps.regions, skel->maps.slots, skel->maps.counters, skel->maps.routes,
	};
	size_t i;
	int err = 0;

	for (i = 0; i < ARRAY_SIZE(by_id) && !err; i++)
		err = bpf_map__set_max_entries(by_id[i], sz->regions + 1);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.vms, sz->vms);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.irqs, sz->vms);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.addr_index, sz->index);
	return err;
}

static bool has_tracepoint(const struct mmiotrap_tracepoints *tp, enum pin_need need)
{
	switch (need) {
	case NEED_FAST_MMIO:
		return tp->kvm_fast_mmio;
	case NEED_IRQ:
		return tp->kvm_irq;
	default:
		return true;
	}
}

static int open_mode(struct trap_bpf **skelp, enum mmiotrap_attach_mode mode,
		     const struct sizes *sz)
{
	MMIOTRAP_OPTS(mmiotrap_tracepoints, tp);
	struct bpf_program *prog;
	const struct pin *p;
	struct trap_bpf *skel;
	long tick;
	int err;

	err = mmiotrap_probe_tracepoints(&tp);
	if (err)
		return err;
	if (!tp.kvm_mmio || !tp.kvm_pio)
		return -ENOTSUP;
	skel = trap_bpf__open();
	if (!skel)
		return -errno;
	tick = sysconf(_SC_CLK_TCK);
	skel->rodata->mmio_val_is_ptr = tp.mmio_val_is_ptr;
	skel->rodata->pio_has_data = tp.pio_has_data;
	skel->rodata->ns_per_tick = 1000000000 / (tick > 0 ? tick : 100);
	bpf_object__for_each_program(prog, skel->obj)
		bpf_program__set_autoload(prog, false);
	for_each_pin(p)
		if (p->kind == PIN_LINK && p->mode == mode && has_tracepoint(&tp, p->need))
			bpf_program__set_autoload(member(skel, prog_member, p), true);
	err = size_maps(skel, sz);
	if (!err)
		err = trap_bpf__load(skel);
	if (err) {
		trap_bpf__destroy(skel);
		return err;
	}
	*skelp = skel;
	return 0;
}

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

/* Load failures are expected while probing; libbpf need not print them. */
static int open_quietly(struct trap_bpf **skelp, enum mmiotrap_attach_mode mode,
			const struct sizes *sz)
{
	libbpf_print_fn_t old = libbpf_set_print(silent_print);
	int err = open_mode(skelp, mode, sz);

	libbpf_set_print(old);
	return err;
}

int mmiotrap_probe_attach(enum mmiotrap_attach_mode mode)
{
	/* A probe needs no room. */
	static const struct sizes probe_sizes = { .regions = 1, .vms = 1, .index = 1 };
	struct trap_bpf *skel;
	int err;

	if (mode <= MMIOTRAP_ATTACH_NONE || mode >= MMIOTRAP_ATTACH_MAX)
		return -EINVAL;
	err = open_quietly(&skel, mode, &probe_sizes);
	if (!err)
		trap_bpf__destroy(skel);
	return err;
}

/* Maps, then links: an instance is whole once its last link is pinned. */
static int pin_all(struct trap_bpf *skel, const char *root, enum mmiotrap_attach_mode mode)
{
	char path[PATH_MAX];
	const struct pin *p;
	int err;

	for_each_pin(p) {
		if (p->kind == PIN_LINK && (p->mode != mode || !member(skel, link_member, p)))
			continue;
		err = pin_path(path, sizeof(path), root, p);
		if (err)
			return err;
		if (p->kind == PIN_MAP)
			err = bpf_map__pin(member(skel, map_member, p), path);
		else
			err = bpf_link__pin(member(skel, link_member, p), path);
		if (err) {
			pr_warn("cannot pin %s: %s\n", path, strerror(-err));
			return err;
		}
	}
	return 0;
}

/* The first mode that loads and attaches; a mode may load, yet not attach. */
static int load_and_attach(struct trap_bpf **skelp, enum mmiotrap_attach_mode *mode,
			   const struct sizes *sz)
{
	enum mmiotrap_attach_mode only = *mode;
	int m, err = -ENOTSUP;

	for (m = MMIOTRAP_ATTACH_NONE + 1; m < MMIOTRAP_ATTACH_MAX; m++) {
		if (only && m != (int)only)
			continue;
		err = open_quietly(skelp, m, sz);
		if (err) {
			pr_debug("attach mode %s does not load: %s\n",
				 mmiotrap_attach_mode_str(m), strerror(-err));
			continue;
		}
		err = trap_bpf__attach(*skelp);
		if (!err) {
			*mode = m;
			return 0;
		}
		pr_debug("attach mode %s loads, but does not attach: %s\n",
			 mmiotrap_attach_mode_str(m), strerror(-err));
		trap_bpf__destroy(*skelp);
	}
	return err;
}

/* Subscribers see in shared memory whether the instance is there. */
static int mark(int slots_fd, __u64 state)
{
	struct mmiotrap_slot slot = { .reserved = state };
	__u32 zero = 0;

	return bpf_map_update_elem(slots_fd, &zero, &slot, 0) ? -errno : 0;
}

static int load_locked(const char *root, enum mmiotrap_attach_mode mode, const struct sizes *sz)
{
	enum mmiotrap_attach_mode pinned;
	struct trap_bpf *skel;
	bool made_root;
	int err;

	switch (pins_state(root, &pinned)) {
	case INSTANCE_WHOLE:
		return -EEXIST;
	case INSTANCE_HALF:
		/* A crash's: unload removes it, load does not guess. */
		pr_warn("half an instance is pinned at %s: unload it first\n", root);
		return -EUCLEAN;
	case INSTANCE_NONE:
		break;
	}
	err = tracefs_prepare();
	if (!err)
		err = load_and_attach(&skel, &mode, sz);
	if (err)
		return err;
	err = mark(bpf_map__fd(skel->maps.slots), MMIOTRAP_INSTANCE_LIVE);
	if (err) {
		trap_bpf__destroy(skel);
		return err;
	}
	made_root = access(root, F_OK) != 0;
	err = pins_make_dirs(root);
	if (!err)
		err = pin_all(skel, root, mode);
	if (err) {
		pins_remove(root);
		if (made_root)
			rmdir(root);
	}
	/* Pinned, the links stay attached after these references go. */
	trap_bpf__destroy(skel);
	return err;
}

int mmiotrap_load(const struct mmiotrap_opts *opts)
{
	enum mmiotrap_attach_mode mode = OPTS_GET(opts, attach, MMIOTRAP_ATTACH_NONE);
	const struct sizes sz = {
		.regions = OPTS_GET(opts, max_regions, 0) ?: MMIOTRAP_DEFAULT_REGIONS,
		.vms = OPTS_GET(opts, max_vms, 0) ?: MMIOTRAP_DEFAULT_VMS,
		.index = OPTS_GET(opts, index_entries, 0) ?: MMIOTRAP_DEFAULT_INDEX,
	};
	char root[PATH_MAX];
	int lock, err;

	if (!OPTS_VALID(opts, struct mmiotrap_opts))
		return -EINVAL;
	/* Region ids are array keys below the map's size: it cannot reach 2^32. */
	if (sz.regions >= 1U << 24) {
		pr_warn("max regions %u: at most %u\n", sz.regions, (1U << 24) - 1);
		return -EINVAL;
	}
	err = pin_root_of(opts, root, sizeof(root));
	if (err)
		return err;
	if ((unsigned int)mode >= MMIOTRAP_ATTACH_MAX) {
		pr_warn("no attach mode %d\n", mode);
		return -EINVAL;
	}
	err = mmiotrap_prepare_bpffs(root);
	if (err)
		return err;
	lock = pins_lock(root, LOCK_EX);
	if (lock < 0)
		return lock;
	err = load_locked(root, mode, &sz);
	close(lock);
	return err;
}

/*
 * A live VMM's fast region: without the trap its ioeventfds complete writes
 * nobody sees. Unload refuses, naming the VMM, unless forced.
 */
static int held_fast(struct mmiotrap *mt)
{
	struct mmiotrap_region r;
	int err;

	mmiotrap_for_each_region(&r, mt, err) {
		if (r.fast_widths && mmiotrap_region_stale(mt, &r) == 0) {
			pr_warn("VMM %u holds fast region %u (%s): unloading would lose its writes\n",
				r.vm, r.id, *r.name ? r.name : "-");
			return -EBUSY;
		}
	}
	return err;
}

int mmiotrap_unload(const struct mmiotrap_opts *opts)
{
	MMIOTRAP_OPTS(mmiotrap_opts, open_opts);
	struct mmiotrap *mt;
	char root[PATH_MAX];
	int lock, n, err = 0;

	if (!OPTS_VALID(opts, struct mmiotrap_opts))
		return -EINVAL;
	err = pin_root_of(opts, root, sizeof(root));
	if (err)
		return err;
	/* A whole instance may have subscribers to tell: half of one has none. */
	open_opts.pin_root = root;
	if (mmiotrap_open(&mt, &open_opts))
		mt = NULL;
	if (mt && !OPTS_GET(opts, force, false))
		err = held_fast(mt);
	lock = err ? err : pins_lock(root, LOCK_EX);
	if (lock < 0) {
		mmiotrap_close(mt);
		return lock;
	}
	/*
	 * Detach, then say so in shared memory: no record follows the mark.
	 * The subscribers' watch on the pin root wakes them when it goes.
	 */
	n = pins_unlink(root, PIN_LINK);
	if (mt)
		mark(mt->map_fd[MAP_SLOTS], 0);
	mmiotrap_close(mt);
	/* Whatever is left of an instance, even half of one, goes. */
	n += pins_remove(root);
	if (!n)
		err = -ENOENT;
	else
		err = rmdir(root) ? -errno : 0;
	close(lock);
	return err;
}
