/*
 * Cache maintenance by VA (Arm ARM D7.5.9 "Data and unified caches", CTR_EL0
 * D17.2.34 gives the minimum line sizes).
 */
#include "cache.h"

#if defined(__aarch64__)

static inline uint64_t read_ctr(void)
{
    uint64_t ctr;
    __asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
    return ctr;
}

static size_t dcache_line(void)
{
    return (size_t)4 << ((read_ctr() >> 16) & 0xf); /* DminLine, log2 words */
}

static size_t icache_line(void)
{
    return (size_t)4 << (read_ctr() & 0xf); /* IminLine, log2 words */
}

void cache_clean_to_poc(uintptr_t start, size_t len)
{
    size_t line = dcache_line();
    uintptr_t end = start + len;
    for (uintptr_t p = start & ~(uintptr_t)(line - 1); p < end; p += line) {
        __asm__ volatile("dc cvac, %0" ::"r"(p) : "memory");
    }
    __asm__ volatile("dsb sy" ::: "memory");
}

void cache_sync_icache(uintptr_t start, size_t len)
{
    size_t dline = dcache_line();
    size_t iline = icache_line();
    uintptr_t end = start + len;
    for (uintptr_t p = start & ~(uintptr_t)(dline - 1); p < end; p += dline) {
        __asm__ volatile("dc cvau, %0" ::"r"(p) : "memory");
    }
    __asm__ volatile("dsb ish" ::: "memory");
    for (uintptr_t p = start & ~(uintptr_t)(iline - 1); p < end; p += iline) {
        __asm__ volatile("ic ivau, %0" ::"r"(p) : "memory");
    }
    __asm__ volatile("dsb ish\n\tisb" ::: "memory");
}

#else

void cache_clean_to_poc(uintptr_t start, size_t len)
{
    (void)start;
    (void)len;
}

void cache_sync_icache(uintptr_t start, size_t len)
{
    (void)start;
    (void)len;
}

#endif
