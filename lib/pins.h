/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The pin layout of an instance, in one list: <pin root>/maps/<map> and
 * <pin root>/links/<program>. pins.c names the files from it; load.c takes
 * the same names as the skeleton's typed members, so a program renamed in
 * bpf/trap.bpf.c breaks the build instead of the pin layout.
 */
#ifndef MMIOTRAP_PINS_H
#define MMIOTRAP_PINS_H

#define TRAP_MAPS(X)				\
	X(MAP_REGIONS, regions)			\
	X(MAP_VMS, vms)				\
	X(MAP_VM_BITS, vm_bits)			\
	X(MAP_ADDR_INDEX, addr_index)		\
	X(MAP_SLOTS, slots)			\
	X(MAP_COUNTERS, counters)		\
	X(MAP_TOTALS, totals)			\
	X(MAP_ROUTES, routes)			\
	X(MAP_SUBS, subs)			\
	X(MAP_RINGS, rings)			\
	X(MAP_DROPS, drops)			\
	X(MAP_QUEUES, queues)			\
	X(MAP_IRQS, irqs)

/*
 * The tracepoint an optional program needs; it is loaded where the kernel
 * has it (kvm_fast_mmio is x86's, the interrupt ones need an irqchip):
 * an instance is whole with or without it.
 */
enum pin_need {
	NEED_NONE,
	NEED_FAST_MMIO,
	NEED_IRQ,
};

/* Each attach mode's programs, in order of preference of the modes. */
#define TRAP_LINKS(X)								\
	X(MMIOTRAP_ATTACH_FENTRY, fentry_io_bus_write, NEED_NONE)		\
	X(MMIOTRAP_ATTACH_FENTRY, tp_btf_exit, NEED_NONE)			\
	X(MMIOTRAP_ATTACH_FENTRY, tp_btf_msi, NEED_IRQ)			\
	X(MMIOTRAP_ATTACH_FENTRY, tp_btf_line, NEED_IRQ)			\
	X(MMIOTRAP_ATTACH_TP_BTF, tp_btf_mmio, NEED_NONE)			\
	X(MMIOTRAP_ATTACH_TP_BTF, tp_btf_pio, NEED_NONE)			\
	X(MMIOTRAP_ATTACH_TP_BTF, tp_btf_fast_mmio, NEED_FAST_MMIO)		\
	X(MMIOTRAP_ATTACH_TP_BTF, tp_btf_exit, NEED_NONE)			\
	X(MMIOTRAP_ATTACH_TP_BTF, tp_btf_msi, NEED_IRQ)			\
	X(MMIOTRAP_ATTACH_TP_BTF, tp_btf_line, NEED_IRQ)			\
	X(MMIOTRAP_ATTACH_RAW_TP, raw_tp_mmio, NEED_NONE)			\
	X(MMIOTRAP_ATTACH_RAW_TP, raw_tp_pio, NEED_NONE)			\
	X(MMIOTRAP_ATTACH_RAW_TP, raw_tp_fast_mmio, NEED_FAST_MMIO)		\
	X(MMIOTRAP_ATTACH_RAW_TP, raw_tp_exit, NEED_NONE)			\
	X(MMIOTRAP_ATTACH_RAW_TP, raw_tp_msi, NEED_IRQ)			\
	X(MMIOTRAP_ATTACH_RAW_TP, raw_tp_line, NEED_IRQ)

#define TRAP_MAP_ENUM(id, name)	id,
enum trap_map {
	TRAP_MAPS(TRAP_MAP_ENUM)
	NR_MAPS,
};

enum pin_kind {
	PIN_MAP,
	PIN_LINK,
};

struct pin {
	enum pin_kind kind;
	int index;		/* PIN_MAP: enum trap_map; PIN_LINK: its row in TRAP_LINKS */
	enum mmiotrap_attach_mode mode;	/* PIN_LINK: the attach mode it serves */
	enum pin_need need;		/* PIN_LINK: a tracepoint the kernel may lack */
	const char *name;
};

extern const struct pin trap_pins[];
extern const int nr_trap_pins;

#define for_each_pin(p) for ((p) = trap_pins; (p) < trap_pins + nr_trap_pins; (p)++)

/* What is pinned at a pin root. */
enum instance_state {
	INSTANCE_NONE,		/* no pin of ours */
	INSTANCE_WHOLE,		/* every map and the links of one attach mode */
	INSTANCE_HALF,		/* anything else: a crash's, unload removes it */
};

int pin_path(char *buf, size_t size, const char *root, const struct pin *p);
int pin_dir(char *buf, size_t size, const char *root, enum pin_kind kind);
enum instance_state pins_state(const char *root, enum mmiotrap_attach_mode *mode);
/* Remove every pin of ours and the directories they leave empty; how many there were. */
int pins_remove(const char *root);
/* Remove the pins of one kind; how many there were. */
int pins_unlink(const char *root, enum pin_kind kind);
/* The directories pins go in; they may be there already. */
int pins_make_dirs(const char *root);
/* Take turns with loads and unloads of @root: an fd to close, or -errno. */
int pins_lock(const char *root, int how);

#endif /* MMIOTRAP_PINS_H */
