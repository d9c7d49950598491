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
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include "internal.h"
#include "trap.skel.h"

const char *const trap_map_names[NR_MAPS] = {
	[MAP_REGIONS]	 = "regions",
	[MAP_VMS]	 = "vms",
	[MAP_ADDR_INDEX] = "addr_index",
	[MAP_SLOTS]	 = "slots",
	[MAP_COUNTERS]	 = "counters",
	[MAP_TOTALS]	 = "totals",
	[MAP_EVENTS]	 = "events",
};

/* In order of preference: fentry sees every bus write with one program. */
const char *const mode_progs[MMIOTRAP_ATTACH_MAX][MODE_MAX_PROGS] = {
	[MMIOTRAP_ATTACH_FENTRY] = { "fentry_io_bus_write", "tp_btf_exit" },
	[MMIOTRAP_ATTACH_TP_BTF] = { "tp_btf_mmio", "tp_btf_pio", "tp_btf_exit" },
	[MMIOTRAP_ATTACH_RAW_TP] = { "raw_tp_mmio", "raw_tp_pio", "raw_tp_exit" },
};

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

static bool mode_has_prog(enum mmiotrap_attach_mode mode, const char *name)
{
	int i;

	for (i = 0; i < MODE_MAX_PROGS && mode_progs[mode][i]; i++)
		if (!strcmp(mode_progs[mode][i], name))
			return true;
	return false;
}

/* The function prototype behind btf_trace_<tp>, from vmlinux or the kvm module. */
static const struct btf_type *tp_proto(struct btf *btf, const char *tp)
{
	char name[64];
	const struct btf_type *t;
	int id;

	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	id = btf__find_by_name_kind(btf, name, BTF_KIND_TYPEDEF);
	if (id < 0)
		return NULL;
	t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
	if (!t || !btf_is_ptr(t))
		return NULL;
	t = btf__type_by_id(btf, t->type);
	return t && btf_is_func_proto(t) ? t : NULL;
}

static void read_tracepoints(struct btf *btf, struct mmiotrap_tracepoints *tp)
{
	const struct btf_type *mmio = tp_proto(btf, "kvm_mmio");
	const struct btf_type *pio = tp_proto(btf, "kvm_pio");
	const struct btf_type *arg;

	if (mmio && btf_vlen(mmio) == 5) {
		tp->kvm_mmio = true;
		arg = btf__type_by_id(btf, btf_params(mmio)[4].type);
		tp->mmio_val_is_ptr = arg && btf_is_ptr(arg);
	}
	/* (void *, rw, port, size, count[, data]) */
	if (pio && btf_vlen(pio) >= 5) {
		tp->kvm_pio = true;
		tp->pio_has_data = btf_vlen(pio) >= 6;
	}
}

int mmiotrap_probe_tracepoints(struct mmiotrap_tracepoints *tp)
{
	struct btf *vmlinux, *kvm;
	size_t sz;

	if (!tp || tp->sz < offsetofend(struct mmiotrap_tracepoints, sz))
		return -EINVAL;
	sz = tp->sz < sizeof(*tp) ? tp->sz : sizeof(*tp);
	memset((char *)tp + sizeof(tp->sz), 0, sz - sizeof(tp->sz));
	vmlinux = btf__load_vmlinux_btf();
	if (!vmlinux)
		return -errno;
	read_tracepoints(vmlinux, tp);
	if (!tp->kvm_mmio) {
		kvm = btf__load_module_btf("kvm", vmlinux);
		if (kvm) {
			read_tracepoints(kvm, tp);
			btf__free(kvm);
		}
	}
	btf__free(vmlinux);
	return 0;
}

static int open_mode(struct trap_bpf **skelp, enum mmiotrap_attach_mode mode)
{
	struct mmiotrap_tracepoints tp = { .sz = sizeof(tp) };
	struct bpf_program *prog;
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
		bpf_program__set_autoload(prog, mode_has_prog(mode, bpf_program__name(prog)));
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

/* Remove every pin load makes, and only those; returns how many there were. */
static int unpin_all(const char *root)
{
	char path[PATH_MAX];
	int mode, i, n = 0;

	for (mode = 1; mode < MMIOTRAP_ATTACH_MAX; mode++)
		for (i = 0; i < MODE_MAX_PROGS && mode_progs[mode][i]; i++)
			if (!pin_path(path, sizeof(path), root, "links", mode_progs[mode][i]))
				n += !unlink(path);
	for (i = 0; i < NR_MAPS; i++)
		if (!pin_path(path, sizeof(path), root, "maps", trap_map_names[i]))
			n += !unlink(path);
	if (!pin_path(path, sizeof(path), root, "links", NULL))
		rmdir(path);
	if (!pin_path(path, sizeof(path), root, "maps", NULL))
		rmdir(path);
	return n;
}

/* The directories may be there already, left with foreign files in them. */
static int make_dirs(const char *root)
{
	static const char *const dirs[] = { "maps", "links" };
	char path[PATH_MAX];
	size_t i;
	int err;

	if (mkdir(root, 0700) && errno != EEXIST)
		return -errno;
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		err = pin_path(path, sizeof(path), root, dirs[i], NULL);
		if (err)
			return err;
		if (mkdir(path, 0700) && errno != EEXIST)
			return -errno;
	}
	return 0;
}

static int pin_maps(struct trap_bpf *skel, const char *root)
{
	char path[PATH_MAX];
	struct bpf_map *map;
	int err;

	bpf_object__for_each_map(map, skel->obj) {
		if (bpf_map__is_internal(map))
			continue;
		err = pin_path(path, sizeof(path), root, "maps", bpf_map__name(map));
		if (!err)
			err = bpf_map__pin(map, path);
		if (err)
			return err;
	}
	return 0;
}

static int pin_links(struct trap_bpf *skel, const char *root)
{
	const struct bpf_object_skeleton *s = skel->skeleton;
	char path[PATH_MAX];
	struct bpf_link *link;
	int i, err;

	for (i = 0; i < s->prog_cnt; i++) {
		link = *s->progs[i].link;
		if (!link)
			continue;
		err = pin_path(path, sizeof(path), root, "links", s->progs[i].name);
		if (!err)
			err = bpf_link__pin(link, path);
		if (err)
			return err;
	}
	return 0;
}

/* The first mode that loads and attaches; a mode may load, yet not attach. */
static int load_and_attach(struct trap_bpf **skelp, enum mmiotrap_attach_mode only)
{
	int mode, err = -ENOTSUP;

	for (mode = MMIOTRAP_ATTACH_NONE + 1; mode < MMIOTRAP_ATTACH_MAX; mode++) {
		if (only && mode != (int)only)
			continue;
		err = open_quietly(skelp, mode);
		if (err)
			continue;
		err = trap_bpf__attach(*skelp);
		if (!err)
			return 0;
		trap_bpf__destroy(*skelp);
	}
	return err;
}

static bool is_loaded(const char *root)
{
	char path[PATH_MAX];

	return !pin_path(path, sizeof(path), root, "maps", trap_map_names[MAP_REGIONS]) &&
	       !access(path, F_OK);
}

/* Any pin load makes, of a whole instance or of half of one. */
static bool has_pins(const char *root)
{
	char path[PATH_MAX];
	int mode, i;

	for (mode = 1; mode < MMIOTRAP_ATTACH_MAX; mode++)
		for (i = 0; i < MODE_MAX_PROGS && mode_progs[mode][i]; i++)
			if (!pin_path(path, sizeof(path), root, "links", mode_progs[mode][i]) &&
			    !access(path, F_OK))
				return true;
	for (i = 0; i < NR_MAPS; i++)
		if (!pin_path(path, sizeof(path), root, "maps", trap_map_names[i]) &&
		    !access(path, F_OK))
			return true;
	return false;
}

/*
 * Two loads or unloads of one pin root at once would undo each other's
 * pins: they take turns, with a lock on the pin root's parent directory.
 */
static int lock_parent(const char *root)
{
	char parent[PATH_MAX];
	char *slash;
	int fd;

	if (strlen(root) >= sizeof(parent))
		return -ENAMETOOLONG;
	strcpy(parent, root);
	slash = strrchr(parent, '/');
	if (!slash)
		return -ENOTDIR;
	*(slash == parent ? slash + 1 : slash) = '\0';
	fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX)) {
		close(fd);
		return -errno;
	}
	return fd;
}

static int load_locked(const char *root, enum mmiotrap_attach_mode attach)
{
	struct trap_bpf *skel;
	bool made_root;
	int err;

	if (is_loaded(root))
		return -EEXIST;
	/* Half an instance is a crash's: unload removes it, load does not guess. */
	if (has_pins(root))
		return -EUCLEAN;
	err = tracefs_prepare();
	if (!err)
		err = load_and_attach(&skel, attach);
	if (err)
		return err;
	made_root = access(root, F_OK) != 0;
	err = make_dirs(root);
	if (!err)
		err = pin_maps(skel, root);
	if (!err)
		err = pin_links(skel, root);
	if (err) {
		unpin_all(root);
		if (made_root)
			rmdir(root);
	}
	/* Pinned, the links stay attached after these references go. */
	trap_bpf__destroy(skel);
	return err;
}

int mmiotrap_load(const struct mmiotrap_opts *opts)
{
	const char *root = pin_root_of(opts);
	int lock, err;

	if (!OPTS_VALID(opts, struct mmiotrap_opts) ||
	    (unsigned int)OPTS_GET(opts, attach, 0) >= MMIOTRAP_ATTACH_MAX)
		return -EINVAL;
	err = mmiotrap_prepare_bpffs(root);
	if (err)
		return err;
	lock = lock_parent(root);
	if (lock < 0)
		return lock;
	err = load_locked(root, OPTS_GET(opts, attach, MMIOTRAP_ATTACH_NONE));
	close(lock);
	return err;
}

int mmiotrap_unload(const struct mmiotrap_opts *opts)
{
	const char *root = pin_root_of(opts);
	int lock, err;

	if (!OPTS_VALID(opts, struct mmiotrap_opts))
		return -EINVAL;
	lock = lock_parent(root);
	if (lock == -ENOENT)
		return -ENOENT;
	if (lock < 0)
		return lock;
	/* Whatever is left of an instance, even half of one, goes. */
	if (!unpin_all(root))
		err = -ENOENT;
	else
		err = rmdir(root) ? -errno : 0;
	close(lock);
	return err;
}
