/*
 * Stack switching for x86-64 (System V ABI). The gobuf layout is defined in
 * runtime.h (offsets in arch_amd64.h): sp 0, pc 8, bp 16, rbx 24, r12 32,
 * r13 40, r14 48, r15 56, mxcsr 64, x87 control word 68.
 *
 * A switch leaves with an indirect jmp rather than ret: ret after a stack
 * switch always mispredicts the return-stack buffer (8.1 ns vs 2.65 ns per
 * switch on the reference machine, NOTES.md).
 */
    .text

/* void mcall_switch(gobuf *save, uintptr_t sp, gobuf *(*fn)(void *), void *arg)
 * Saves the caller's context in *save so that gogo(save) returns from this
 * call, runs fn(arg) on stack sp (the M's g0 stack) and jumps to the
 * context fn returns. */
    .globl mcall_switch
    .type mcall_switch, @function
    .hidden mcall_switch
mcall_switch:
    .cfi_startproc
    movq (%rsp), %rax           /* return address */
    leaq 8(%rsp), %r8           /* caller's sp once returned */
    movq %r8, 0(%rdi)
    movq %rax, 8(%rdi)
    movq %rbp, 16(%rdi)
    movq %rbx, 24(%rdi)
    movq %r12, 32(%rdi)
    movq %r13, 40(%rdi)
    movq %r14, 48(%rdi)
    movq %r15, 56(%rdi)
    stmxcsr 64(%rdi)
    fnstcw 68(%rdi)
    movq %rsi, %rsp
    xorl %ebp, %ebp             /* end of the frame chain on g0 */
    movq %rcx, %rdi
    call *%rdx
    movq %rax, %rdi
    jmp gogo
    .cfi_endproc
    .size mcall_switch, .-mcall_switch

/* _Noreturn void gogo(gobuf *buf): restore a saved context and jump to it. */
    .globl gogo
    .type gogo, @function
    .hidden gogo
gogo:
    .cfi_startproc
    movq 24(%rdi), %rbx
    movq 32(%rdi), %r12
    movq 40(%rdi), %r13
    movq 48(%rdi), %r14
    movq 56(%rdi), %r15
    movq 16(%rdi), %rbp
    ldmxcsr 64(%rdi)
    fldcw 68(%rdi)
    movq 0(%rdi), %rsp
    jmpq *8(%rdi)
    .cfi_endproc
    .size gogo, .-gogo

/* First instruction of every goroutine: its gobuf has sp at the 16-byte
 * aligned stack top. gostart() runs the goroutine's function and exits it. */
    .globl gostart_trampoline
    .type gostart_trampoline, @function
    .hidden gostart_trampoline
gostart_trampoline:
    .cfi_startproc
    .cfi_undefined rip          /* outermost frame for unwinders */
    xorl %ebp, %ebp
    call gostart
    ud2
    .cfi_endproc
    .size gostart_trampoline, .-gostart_trampoline

/* uintptr_t getcallersp(void): the caller's stack pointer. */
    .globl getcallersp
    .type getcallersp, @function
    .hidden getcallersp
getcallersp:
    .cfi_startproc
    leaq 8(%rsp), %rax
    ret
    .cfi_endproc
    .size getcallersp, .-getcallersp

    .section .note.GNU-stack,"",@progbits
