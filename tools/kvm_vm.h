/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tiny KVM VMM library in the spirit of tools/testing/selftests/kvm:
 * one VM, RAM at guest physical 0 (two memslots around a hole), one vCPU in flat 32-bit
 * protected mode. Every function returns 0 or -errno and records in
 * vm->err_op what failed, so that the caller can print the error.
 */
#ifndef MMIOTRAP_KVM_VM_H
#define MMIOTRAP_KVM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

/*
 * Guest RAM spans [0, KVM_VM_RAM_SIZE) but for a hole; the hole and all
 * above RAM is MMIO. The hole's addresses are port numbers too, so that an
 * MMIO and a PIO doorbell can share one number.
 */
#define KVM_VM_RAM_SIZE		(1U << 20)
#define KVM_VM_HOLE_START	0xc000U
#define KVM_VM_HOLE_END		0x10000U

struct kvm_vm {
	int kvm_fd;		/* /dev/kvm */
	int vm_fd;		/* for VM ioctls, e.g. KVM_IOEVENTFD */
	int vcpu_fd;
	struct kvm_run *run;	/* the vCPU's shared exit information */
	size_t run_size;
	void *ram;		/* host mapping of guest physical 0 */
	const char *err_op;	/* operation that failed last */
	/*
	 * An in-kernel irqchip (for irqfds): the local APIC is KVM's, so a
	 * hlt with interrupts off waits in the kernel for good, no exit.
	 */
	bool irqchip;
};

/* Does [gpa, gpa + len) touch guest RAM? */
bool kvm_vm_is_ram(uint64_t gpa, uint64_t len);

int kvm_vm_create(struct kvm_vm *vm, bool irqchip);
void kvm_vm_destroy(struct kvm_vm *vm);
int kvm_vm_write(struct kvm_vm *vm, uint32_t gpa, const void *src, size_t len);
int kvm_vcpu_set_entry(struct kvm_vm *vm, uint32_t rip, uint32_t rsp,
		       uint32_t eax);
int kvm_vcpu_run(struct kvm_vm *vm);

#endif /* MMIOTRAP_KVM_VM_H */
