/*
 * Memory ordering for memory shared with another CPU: the guest's driver
 * (virtqueues, virtio 1.2 section 2.7.13) or a backend (shq rings). The
 * other side runs concurrently on another core, so the order of our loads
 * and stores as the other core observes them matters, not just the
 * compiler's order. On AArch64 the barriers are DMBs in the inner-shareable
 * domain (Arm ARM B2.3); host builds (unit tests, fuzzing) use the C11
 * fences, which compile to the same or stronger instructions.
 */
#pragma once

#include <stdint.h>
#include <string.h>

/* Order an earlier load (an index the other side published) before later loads and stores. */
static inline void vio_acquire(void)
{
#if defined(__aarch64__)
    __asm__ volatile("dmb ishld" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
#endif
}

/* Order earlier loads and stores before a later store (the index we publish). */
static inline void vio_release(void)
{
#if defined(__aarch64__)
    __asm__ volatile("dmb ish" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_RELEASE);
#endif
}

/* Order an earlier store before a later load (publish, then read the other side's event index). */
static inline void vio_full(void)
{
#if defined(__aarch64__)
    __asm__ volatile("dmb ish" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

/* Single, untorn accesses to naturally aligned shared fields. */
static inline uint16_t vio_load16(const void *p)
{
    return *(const volatile uint16_t *)p;
}

static inline uint32_t vio_load32(const void *p)
{
    return *(const volatile uint32_t *)p;
}

static inline void vio_store16(void *p, uint16_t v)
{
    *(volatile uint16_t *)p = v;
}

static inline void vio_store32(void *p, uint32_t v)
{
    *(volatile uint32_t *)p = v;
}

/*
 * Take a private copy of shared bytes (a descriptor, a ring entry) that is
 * then validated and used: the compiler barrier stops it from re-reading the
 * shared original in place of the copy (time-of-check/time-of-use).
 */
static inline void vio_snapshot(void *dst, const void *src, size_t n)
{
    memcpy(dst, src, n);
    __asm__ volatile("" ::: "memory");
}
