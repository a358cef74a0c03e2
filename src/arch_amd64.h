/* Architecture constants for x86-64 (the only code besides asm_amd64.S that
 * knows the machine). An aarch64 port adds arch_arm64.h and asm_arm64.S. */
#ifndef GORO_ARCH_AMD64_H
#define GORO_ARCH_AMD64_H

/* gobuf layout shared with asm_amd64.S: byte offsets are checked there by
 * static assertions in proc.c. */
#define GOBUF_SP     0
#define GOBUF_PC     8
#define GOBUF_BP     16
#define GOBUF_NREGS  5   /* rbx r12 r13 r14 r15 */
#define STACK_ALIGN  16
#define DEFAULT_MXCSR 0x1F80u
#define DEFAULT_FPUCW 0x037Fu

/* Loads the thread-local tls_g (initial-exec model) in a way the compiler
 * cannot cache across calls: after a stack switch the same code may run on
 * another thread, whose %fs differs. */
static inline void *arch_load_tls_g(void)
{
    void *v;
    __asm__ __volatile__("movq tls_g@gottpoff(%%rip), %0\n\tmovq %%fs:(%0), %0" : "=r"(v) : : "memory");
    return v;
}

static inline void cpu_relax(void) { __asm__ __volatile__("pause" ::: "memory"); }

#endif
