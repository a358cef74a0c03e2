#ifndef GORO_ARCH_H
#define GORO_ARCH_H
#if defined(__x86_64__)
#include "arch_amd64.h"
#else
#error "goro: unsupported architecture (add arch_<arch>.h and asm_<arch>.S)"
#endif
#endif
