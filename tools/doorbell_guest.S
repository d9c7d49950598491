/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Doorbell guest for mmiotrap-testvmm: flat 32-bit protected mode, no
 * paging, interrupts off. It uses only relative jumps and register-based
 * addressing, so it runs wherever the host copies it; it is linked into
 * the host binary as data between doorbell_guest_start and _end.
 *
 * On entry %eax holds the guest physical address of the script:
 *
 *	u32 nsteps;			at least 1
 *	struct step steps[nsteps];	laid out as below, 20 bytes each
 *
 * Each step performs count (at least 1) writes of width bytes to an MMIO
 * address (bus 0) or an I/O port (bus 1), writing start + i * step,
 * truncated to the width. Afterwards the guest halts for good.
 *
 * Keep in sync with struct script_step in testvmm.c.
 */
#define STEP_BUS	0	/* u8: 0 mmio, 1 pio */
#define STEP_WIDTH	1	/* u8: 1, 2 or 4 */
#define STEP_ADDR	4	/* u32: address or port; u16 pad before it */
#define STEP_COUNT	8	/* u32 */
#define STEP_START	12	/* u32 */
#define STEP_STEP	16	/* u32 */
#define STEP_SIZE	20

	.section .rodata, "a"
	.code32
	.globl	doorbell_guest_start
	.globl	doorbell_guest_end

/*
 * %ecx steps left, %esi current step; per step: %edx address or port,
 * %eax value, %edi increment, %ebx writes left.
 */
doorbell_guest_start:
	movl	(%eax), %ecx
	leal	4(%eax), %esi
next_step:
	movl	STEP_ADDR(%esi), %edx
	movl	STEP_START(%esi), %eax
	movl	STEP_STEP(%esi), %edi
	movl	STEP_COUNT(%esi), %ebx
	movzbl	STEP_WIDTH(%esi), %ebp
	cmpb	$1, STEP_BUS(%esi)
	je	pio
	cmpl	$1, %ebp
	je	mmio8
	cmpl	$2, %ebp
	je	mmio16
	cmpl	$4, %ebp
	je	mmio32
	/* A bad width is a host bug: fault, which shuts the VM down. */
	ud2

/* One doorbell write per iteration; the loops are the benchmark. */
mmio8:
	movb	%al, (%edx)
	addl	%edi, %eax
	decl	%ebx
	jnz	mmio8
	jmp	step_done
mmio16:
	movw	%ax, (%edx)
	addl	%edi, %eax
	decl	%ebx
	jnz	mmio16
	jmp	step_done
mmio32:
	movl	%eax, (%edx)
	addl	%edi, %eax
	decl	%ebx
	jnz	mmio32
	jmp	step_done

pio:
	cmpl	$1, %ebp
	je	pio8
	cmpl	$2, %ebp
	je	pio16
	cmpl	$4, %ebp
	je	pio32
	ud2

pio8:
	outb	%al, %dx
	addl	%edi, %eax
	decl	%ebx
	jnz	pio8
	jmp	step_done
pio16:
	outw	%ax, %dx
	addl	%edi, %eax
	decl	%ebx
	jnz	pio16
	jmp	step_done
pio32:
	outl	%eax, %dx
	addl	%edi, %eax
	decl	%ebx
	jnz	pio32

step_done:
	addl	$STEP_SIZE, %esi
	loop	next_step

	/* Script done: each hlt exits to the host (no in-kernel irqchip). */
1:	hlt
	jmp	1b
doorbell_guest_end:

	.section .note.GNU-stack, "", @progbits
