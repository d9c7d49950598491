/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Doorbell guest for mmiotrap-testvmm: flat 32-bit protected mode, no
 * paging, interrupts off. It uses only relative jumps and register-based
 * addressing, so it runs wherever the host copies it; it is linked into
 * the host binary as data between doorbell_guest_start and _end.
 *
 * On entry %eax holds the guest physical address of the script, and %esp
 * a stack:
 *
 *	u32 nsteps;			at least 1
 *	u32 rep_buf;			address of the rep steps' elements
 *	struct step steps[nsteps];	laid out as below, 20 bytes each
 *
 * Each step performs count (at least 1) writes of width bytes to an MMIO
 * address (bus 0) or an I/O port (bus 1), writing start + i * step,
 * truncated to the width; an 8-byte write has the complement of that in
 * its top half. A rep step is one rep outs of count elements, which the
 * host put at rep_buf, one rep step after the other. Afterwards the guest
 * halts for good.
 *
 * Keep in sync with struct script and struct script_step in script.h.
 */
#define SCRIPT_REP_BUF	4	/* u32: the next rep step's elements */
#define SCRIPT_STEPS	8
#define STEP_BUS	0	/* u8: 0 mmio, 1 pio */
#define STEP_WIDTH	1	/* u8: 1, 2, 4 or 8 */
#define STEP_REP	2	/* u8: 1 for one rep outs; u8 pad after it */
#define STEP_ADDR	4	/* u32: address or port */
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
 * %eax value, %edi increment, %ebx writes left, %ebp width. The script's
 * address stays on top of the stack.
 */
doorbell_guest_start:
	cld
	pushl	%eax
	movl	(%eax), %ecx
	leal	SCRIPT_STEPS(%eax), %esi
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
	cmpl	$8, %ebp
	je	mmio64
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
/*
 * One 8-byte access needs an 8-byte register: MMX's movq, which KVM's
 * emulator decodes (0f 7f) as one 8-byte write. The value is built on the
 * stack: low half the value, high half its complement.
 */
mmio64:
	pushl	%eax
	notl	(%esp)
	pushl	%eax
	movq	(%esp), %mm0
	addl	$8, %esp
	movq	%mm0, (%edx)
	addl	%edi, %eax
	decl	%ebx
	jnz	mmio64
	jmp	step_done

pio:
	cmpb	$0, STEP_REP(%esi)
	jne	pio_rep
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
	jmp	step_done

/* rep outs takes %esi and %ecx: keep ours under the script's address. */
pio_rep:
	movl	(%esp), %eax
	pushl	%ecx
	pushl	%esi
	movl	SCRIPT_REP_BUF(%eax), %esi
	movl	%ebx, %ecx
	cmpl	$1, %ebp
	je	outs8
	cmpl	$2, %ebp
	je	outs16
	cmpl	$4, %ebp
	je	outs32
	ud2
outs8:
	rep outsb
	jmp	rep_done
outs16:
	rep outsw
	jmp	rep_done
outs32:
	rep outsl
rep_done:
	/* %esi is past the elements: where the next rep step's begin. */
	movl	8(%esp), %eax
	movl	%esi, SCRIPT_REP_BUF(%eax)
	popl	%esi
	popl	%ecx

step_done:
	addl	$STEP_SIZE, %esi
	/* Not loop: next_step is further than its 8-bit reach. */
	decl	%ecx
	jnz	next_step

	/* Script done: each hlt exits to the host (no in-kernel irqchip). */
1:	hlt
	jmp	1b
doorbell_guest_end:

	.section .note.GNU-stack, "", @progbits
