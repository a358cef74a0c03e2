/*
 * Teaching AddressSanitizer and ThreadSanitizer about stack switches.
 * Every switch is bracketed: fiber_switch_begin() right before the jump,
 * fiber_switch_end() first thing on the new stack. Without sanitizers these
 * compile to nothing. Both are always inlined: a separate function would
 * enter on one fiber and return on another, unbalancing TSan's shadow stack.
 */
#ifndef GORO_FIBER_SANITIZER_H
#define GORO_FIBER_SANITIZER_H

#include <stddef.h>

#ifndef __has_feature
#define __has_feature(x) 0
#endif
#if defined(__SANITIZE_ADDRESS__) || __has_feature(address_sanitizer)
#define GORO_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(__SANITIZE_THREAD__) || __has_feature(thread_sanitizer)
#define GORO_TSAN 1
#include <sanitizer/tsan_interface.h>
#endif

/* fake_stack_save: where ASan keeps the leaving fiber's fake stack; NULL
 * when the leaving fiber's frames are dead for good (goroutine exit). */
static inline __attribute__((always_inline)) void fiber_switch_begin(void **fake_stack_save, uintptr_t lo, uintptr_t size, void *tsan_fiber)
{
#ifdef GORO_ASAN
    __sanitizer_start_switch_fiber(fake_stack_save, (const void *)lo, size);
#else
    (void)fake_stack_save, (void)lo, (void)size;
#endif
#ifdef GORO_TSAN
    __tsan_switch_to_fiber(tsan_fiber, 0);
#else
    (void)tsan_fiber;
#endif
}

static inline __attribute__((always_inline)) void fiber_switch_end(void *fake_stack_save)
{
#ifdef GORO_ASAN
    __sanitizer_finish_switch_fiber(fake_stack_save, NULL, NULL);
#else
    (void)fake_stack_save;
#endif
}

static inline void *fiber_create(void)
{
#ifdef GORO_TSAN
    return __tsan_create_fiber(0);
#else
    return NULL;
#endif
}

static inline void *fiber_current(void)
{
#ifdef GORO_TSAN
    return __tsan_get_current_fiber();
#else
    return NULL;
#endif
}

static inline void fiber_destroy(void *fiber)
{
#ifdef GORO_TSAN
    if (fiber)
        __tsan_destroy_fiber(fiber);
#else
    (void)fiber;
#endif
}

/* Memory about to be unmapped: ASan's shadow outlives the mapping, and a
 * later mapping at the same address would inherit stale stack poison. */
static inline void sanitizer_unpoison(uintptr_t addr, size_t len)
{
#ifdef GORO_ASAN
    __asan_unpoison_memory_region((void *)addr, len);
#else
    (void)addr, (void)len;
#endif
}

/* Threads a sanitizer runs for itself once the process has threads (TSan
 * starts a background thread at the first pthread_create). */
static inline int sanitizer_threads(void)
{
#ifdef GORO_TSAN
    return 1;
#else
    return 0;
#endif
}

/* A dead goroutine's TSan fiber still holds the shadow frames it never
 * returned from; its next life gets a fresh fiber. */
static inline void fiber_recycle(void **fiber)
{
#ifdef GORO_TSAN
    __tsan_destroy_fiber(*fiber);
    *fiber = __tsan_create_fiber(0);
#else
    (void)fiber;
#endif
}

/* A goroutine that leaves through goro_exit abandons poisoned frames. */
static inline void fiber_abandon_frames(void)
{
#ifdef GORO_ASAN
    __asan_handle_no_return();
#endif
}

#endif
