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
#include <bpf/libbpf.h>
#include "internal.h"
#include "trap.skel.h"

/* The skeleton's typed members, in the order of the pin list. */
#define MAP_MEMBER(id, map)	[id] = offsetof(struct trap_bpf, maps.map),
#define PROG_MEMBER(m, prog)	offsetof(struct trap_bpf, progs.prog),
#define LINK_MEMBER(m, prog)	offsetof(struct trap_bpf, links.prog),

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

static int open_mode(struct trap_bpf **skelp, enum mmiotrap_attach_mode mode)
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
		if (p->kind == PIN_LINK && p->mode == mode)
			bpf_program__set_autoload(member(skel, prog_member, p), true);
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
static int open_quietly(struct trap_bpf **skelp, enum mmiotrap_attach_mode mode)
{
	libbpf_print_fn_t old = libbpf_set_print(silent_print);
	int err = open_mode(skelp, mode);

	libbpf_set_print(old);
	return err;
}

int mmiotrap_probe_attach(enum mmiotrap_attach_mode mode)
{
	struct trap_bpf *skel;
	int err;

	if (mode <= MMIOTRAP_ATTACH_NONE || mode >= MMIOTRAP_ATTACH_MAX)
		return -EINVAL;
	err = open_quietly(&skel, mode);
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
		if (p->kind == PIN_LINK && p->mode != mode)
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
static int load_and_attach(struct trap_bpf **skelp, enum mmiotrap_attach_mode *mode)
{
	enum mmiotrap_attach_mode only = *mode;
	int m, err = -ENOTSUP;

	for (m = MMIOTRAP_ATTACH_NONE + 1; m < MMIOTRAP_ATTACH_MAX; m++) {
		if (only && m != (int)only)
			continue;
		err = open_quietly(skelp, m);
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

static int load_locked(const char *root, enum mmiotrap_attach_mode mode)
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
		err = load_and_attach(&skel, &mode);
	if (err)
		return err;
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
	char root[PATH_MAX];
	int lock, err;

	if (!OPTS_VALID(opts, struct mmiotrap_opts))
		return -EINVAL;
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
	err = load_locked(root, mode);
	close(lock);
	return err;
}

int mmiotrap_unload(const struct mmiotrap_opts *opts)
{
	char root[PATH_MAX];
	int lock, err;

	if (!OPTS_VALID(opts, struct mmiotrap_opts))
		return -EINVAL;
	err = pin_root_of(opts, root, sizeof(root));
	if (err)
		return err;
	lock = pins_lock(root, LOCK_EX);
	if (lock < 0)
		return lock;
	/* Whatever is left of an instance, even half of one, goes. */
	if (!pins_remove(root))
		err = -ENOENT;
	else
		err = rmdir(root) ? -errno : 0;
	close(lock);
	return err;
}
