// SPDX-License-Identifier: GPL-2.0
/*
 * Tiny KVM VMM library: one VM, RAM around an MMIO hole, one vCPU in flat 32-bit
 * protected mode. See kvm_vm.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <asm/processor-flags.h>

#include "kvm_vm.h"

/* Record what failed and hand the caller the errno of the failed call. */
static int fail(struct kvm_vm *vm, const char *op)
{
	vm->err_op = op;
	return -errno;
}

/* Map [gpa, end) of guest RAM as memslot @slot. */
static int add_slot(struct kvm_vm *vm, uint32_t slot, uint32_t gpa, uint32_t end)
{
	struct kvm_userspace_memory_region region = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = end - gpa,
		.userspace_addr = (uintptr_t)vm->ram + gpa,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail(vm, "KVM_SET_USER_MEMORY_REGION");
	return 0;
}

static int setup_ram(struct kvm_vm *vm)
{
	void *ram;
	int ret;

	ram = mmap(NULL, KVM_VM_RAM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		return fail(vm, "mmap guest RAM");
	vm->ram = ram;
	ret = add_slot(vm, 0, 0, KVM_VM_HOLE_START);
	if (!ret)
		ret = add_slot(vm, 1, KVM_VM_HOLE_END, KVM_VM_RAM_SIZE);
	return ret;
}

bool kvm_vm_is_ram(uint64_t gpa, uint64_t len)
{
	uint64_t end = gpa + len;

	return gpa < KVM_VM_RAM_SIZE &&
	       !(gpa >= KVM_VM_HOLE_START && end <= KVM_VM_HOLE_END);
}

static int setup_vcpu(struct kvm_vm *vm)
{
	void *run;
	int size;

	vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
	if (vm->vcpu_fd < 0)
		return fail(vm, "KVM_CREATE_VCPU");
	size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < 0)
		return fail(vm, "KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		   vm->vcpu_fd, 0);
	if (run == MAP_FAILED)
		return fail(vm, "mmap kvm_run");
	vm->run = run;
	vm->run_size = size;
	return 0;
}

/*
 * Enter 32-bit protected mode directly with flat 4 GiB segments and no
 * paging. The guest never reloads a segment register and runs with
 * interrupts off, so it needs neither a GDT nor an IDT in its memory.
 */
static int setup_protected_mode(struct kvm_vm *vm)
{
	struct kvm_segment seg = {
		.base = 0,
		.limit = 0xffffffff,
		.selector = 0x10,
		.type = 3,		/* data: read/write, accessed */
		.present = 1,
		.s = 1,
		.db = 1,
		.g = 1,
	};
	struct kvm_sregs sregs;

	/* Start from the reset state: its TR and LDTR pass VM entry checks. */
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
		return fail(vm, "KVM_GET_SREGS");
	sregs.ds = seg;
	sregs.es = seg;
	sregs.fs = seg;
	sregs.gs = seg;
	sregs.ss = seg;
	seg.selector = 0x08;
	seg.type = 11;			/* code: execute/read, accessed */
	sregs.cs = seg;
	/* Reset leaves caching disabled (CD/NW); a benchmark wants it on. */
	sregs.cr0 = (sregs.cr0 | X86_CR0_PE) & ~(X86_CR0_CD | X86_CR0_NW);
	if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sregs) < 0)
		return fail(vm, "KVM_SET_SREGS");
	return 0;
}

int kvm_vm_create(struct kvm_vm *vm, bool irqchip)
{
	int ret;

	*vm = (struct kvm_vm){ .kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1, .irqchip = irqchip };
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return fail(vm, "/dev/kvm");
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		ret = fail(vm, "KVM_CREATE_VM");
		goto err;
	}
	ret = setup_ram(vm);
	if (ret)
		goto err;
	/* Before the vCPU: KVM gives it a local APIC only if the irqchip is there. */
	if (irqchip && ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		ret = fail(vm, "KVM_CREATE_IRQCHIP");
		goto err;
	}
	ret = setup_vcpu(vm);
	if (ret)
		goto err;
	ret = setup_protected_mode(vm);
	if (ret)
		goto err;
	return 0;
err:
	kvm_vm_destroy(vm);
	return ret;
}

void kvm_vm_destroy(struct kvm_vm *vm)
{
	if (vm->run)
		munmap(vm->run, vm->run_size);
	if (vm->vcpu_fd >= 0)
		close(vm->vcpu_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->ram)
		munmap(vm->ram, KVM_VM_RAM_SIZE);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->run = NULL;
	vm->ram = NULL;
	vm->kvm_fd = -1;
	vm->vm_fd = -1;
	vm->vcpu_fd = -1;
}

/* Copy @len bytes to guest physical @gpa, which must lie within RAM. */
int kvm_vm_write(struct kvm_vm *vm, uint32_t gpa, const void *src, size_t len)
{
	if (gpa > KVM_VM_RAM_SIZE || len > KVM_VM_RAM_SIZE - gpa ||
	    (gpa < KVM_VM_HOLE_END && gpa + len > KVM_VM_HOLE_START)) {
		vm->err_op = "guest RAM write";
		return -EFAULT;
	}
	memcpy((char *)vm->ram + gpa, src, len);
	return 0;
}

/* Point the vCPU at @rip with stack @rsp and one argument in %eax. */
int kvm_vcpu_set_entry(struct kvm_vm *vm, uint32_t rip, uint32_t rsp,
		       uint32_t eax)
{
	struct kvm_regs regs = {
		.rax = eax,
		.rsp = rsp,
		.rip = rip,
		.rflags = X86_EFLAGS_FIXED,	/* IF clear: no interrupts */
	};

	if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &regs) < 0)
		return fail(vm, "KVM_SET_REGS");
	return 0;
}

/* Run the vCPU until its next exit to userspace; see vm->run->exit_reason. */
int kvm_vcpu_run(struct kvm_vm *vm)
{
	int ret;

	/*
	 * A stop/continue or a debugger attaching makes KVM_RUN fail with
	 * EINTR before the guest reaches a real exit; just enter it again.
	 */
	do {
		ret = ioctl(vm->vcpu_fd, KVM_RUN, 0);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return fail(vm, "KVM_RUN");
	return 0;
}
