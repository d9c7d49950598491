// SPDX-License-Identifier: GPL-2.0
/*
 * Every KVM VM on the host, read from outside: a task_file iterator that
 * finds each VM file and each eventfd of every process, and writes what KVM
 * keeps of each VM's ioeventfds (doorbells completed in the kernel) and
 * irqfds (interrupts fed through an eventfd). Matching eventfd ids names
 * every process that holds the other end. No VMM change, no ptrace.
 *
 * The lists are walked without KVM's locks, as a snapshot: a VMM that
 * changes them meanwhile may show half-changed, and a freed entry is read
 * through bpf_probe_read_kernel(), which faults safely.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "vms.h"

/* Each list's walk stops here: a cycle read mid-change cannot loop. */
#define MAX_ENTRIES	4096

/* Only this process's VMs (0: all); every process's eventfds still come. */
const volatile __u32 target_tgid;

/*
 * KVM's structs as far as they are read here. CO-RE finds them in the
 * kernel's BTF, or in the kvm module's where KVM is a module, so the build
 * needs no vmlinux.h that has them.
 */
struct kvm___vms {
	struct mm_struct *mm;
	atomic_t online_vcpus;
	struct {
		struct list_head items;
	} irqfds;
	struct list_head ioeventfds;
} __attribute__((preserve_access_index));

struct _ioeventfd___vms {
	struct list_head list;
	u64 addr;
	int length;
	struct eventfd_ctx *eventfd;
	u64 datamatch;
	u8 bus_idx;
	bool wildcard;
} __attribute__((preserve_access_index));

struct kvm_kernel_irqfd___vms {
	int gsi;
	struct eventfd_ctx *resamplefd;
	struct eventfd_ctx *eventfd;
	struct list_head list;
} __attribute__((preserve_access_index));

struct walk {
	struct seq_file *seq;
	struct list_head *head;
	struct list_head *pos;
	__u32 tgid;
	__s32 fd;
	long err;
};

static __always_inline __s32 eventfd_id(struct eventfd_ctx *ctx)
{
	return ctx ? BPF_CORE_READ(ctx, id) : -1;
}

/* The next entry of the walk's list, or NULL at its head. */
static __always_inline struct list_head *walk_next(struct walk *w)
{
	/* The walk's own struct is no kernel type: read pos out before CO-RE. */
	struct list_head *pos = w->pos;
	struct list_head *next = BPF_CORE_READ(pos, next);

	/* An entry list_del_init() took out points to itself. */
	if (!next || next == w->head || next == pos)
		return NULL;
	w->pos = next;
	return next;
}

static __always_inline long emit(struct walk *w, struct vms_rec *rec, __u32 type)
{
	rec->type = type;
	rec->tgid = w->tgid;
	rec->fd = w->fd;
	/* A full seq buffer: the read gets -E2BIG, nothing here can help. */
	w->err = bpf_seq_write(w->seq, rec, sizeof(*rec));
	return w->err ? 1 : 0;
}

static long ioeventfd_one(__u32 i, struct walk *w)
{
	struct list_head *pos = walk_next(w);
	struct _ioeventfd___vms *p;
	struct vms_rec rec;

	if (!pos)
		return 1;
	/* list is its first member, on every kernel with ioeventfds. */
	p = (void *)pos;
	__builtin_memset(&rec, 0, sizeof(rec));
	rec.id = eventfd_id(BPF_CORE_READ(p, eventfd));
	rec.ioeventfd.addr = BPF_CORE_READ(p, addr);
	rec.ioeventfd.datamatch = BPF_CORE_READ(p, datamatch);
	rec.ioeventfd.len = BPF_CORE_READ(p, length);
	rec.ioeventfd.bus = BPF_CORE_READ(p, bus_idx);
	rec.ioeventfd.wildcard = BPF_CORE_READ(p, wildcard);
	return emit(w, &rec, VMS_REC_IOEVENTFD);
}

static long irqfd_one(__u32 i, struct walk *w)
{
	struct list_head *pos = walk_next(w);
	struct kvm_kernel_irqfd___vms *p;
	struct vms_rec rec;

	if (!pos)
		return 1;
	p = (void *)pos - bpf_core_field_offset(struct kvm_kernel_irqfd___vms, list);
	__builtin_memset(&rec, 0, sizeof(rec));
	rec.id = eventfd_id(BPF_CORE_READ(p, eventfd));
	rec.irqfd.gsi = BPF_CORE_READ(p, gsi);
	rec.irqfd.resample_id = eventfd_id(BPF_CORE_READ(p, resamplefd));
	return emit(w, &rec, VMS_REC_IRQFD);
}

static void vm_file(struct walk *w, struct task_struct *task, struct kvm___vms *kvm)
{
	struct vms_rec rec;

	/*
	 * Only the process that made the VM can change it (KVM refuses the
	 * others' ioctls): it is the VMM, another holder of the fd is not.
	 */
	if (BPF_CORE_READ(task, mm) != BPF_CORE_READ(kvm, mm))
		return;
	__builtin_memset(&rec, 0, sizeof(rec));
	rec.vm.vcpus = BPF_CORE_READ(kvm, online_vcpus.counter);
	if (emit(w, &rec, VMS_REC_VM))
		return;
	w->head = w->pos = &kvm->ioeventfds;
	bpf_loop(MAX_ENTRIES, ioeventfd_one, w, 0);
	if (w->err)
		return;
	w->head = w->pos = &kvm->irqfds.items;
	bpf_loop(MAX_ENTRIES, irqfd_one, w, 0);
}

static __always_inline bool name_is(const char *name, const char *want, int len)
{
	int i;

	for (i = 0; i < len; i++)
		if (name[i] != want[i])
			return false;
	return true;
}

SEC("iter/task_file")
int vms(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct walk w = {};
	struct vms_rec rec;
	char name[16];

	if (!task || !file)
		return 0;
	if (bpf_probe_read_kernel_str(name, sizeof(name),
				      BPF_CORE_READ(file, f_path.dentry, d_name.name)) < 0)
		return 0;
	w.seq = ctx->meta->seq;
	w.tgid = BPF_CORE_READ(task, tgid);
	w.fd = ctx->fd;
	/* Anonymous inodes' names, with the NUL: what /proc shows as anon_inode:NAME. */
	if (name_is(name, "[eventfd]", 10)) {
		__builtin_memset(&rec, 0, sizeof(rec));
		rec.id = eventfd_id(BPF_CORE_READ(file, private_data));
		emit(&w, &rec, VMS_REC_EVENTFD);
	} else if (name_is(name, "kvm-vm", 7) && (!target_tgid || w.tgid == target_tgid) &&
		   bpf_core_type_exists(struct kvm___vms)) {
		/* Without KVM's types (no kvm module yet), no VM: the rest still loads. */
		vm_file(&w, task, BPF_CORE_READ(file, private_data));
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
