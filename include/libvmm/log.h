/*
 * Logging with levels. Lines go to the Microkit debug console prefixed with
 * the protection domain's name: "vmm|ERROR: ...". Nothing is printed on hot
 * paths at the default level; guest-triggerable messages are rate limited.
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
};

/* Messages above this level are dropped. Default LOG_LEVEL_INFO. */
extern enum log_level vmm_log_level;

void vmm_log(enum log_level level, const char *func, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * Rate-limited variant for messages a guest can trigger at will: the first
 * LOG_RATE_BURST from one call site are printed, then one in LOG_RATE_EVERY,
 * each with the number suppressed since the last one.
 */
#define LOG_RATE_BURST 8
#define LOG_RATE_EVERY 1024
struct log_ratelimit {
    unsigned long count;
};
void vmm_log_limited(struct log_ratelimit *rl, enum log_level level, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOG_ERR(...) vmm_log(LOG_LEVEL_ERROR, __func__, __VA_ARGS__)
#define LOG_WARN(...) vmm_log(LOG_LEVEL_WARN, __func__, __VA_ARGS__)
#define LOG_INFO(...) vmm_log(LOG_LEVEL_INFO, __func__, __VA_ARGS__)
#define LOG_DEBUG(...) vmm_log(LOG_LEVEL_DEBUG, __func__, __VA_ARGS__)

/* For conditions a guest controls: rate limited per call site. */
#define LOG_GUEST(level, ...)                                                                                          \
    do {                                                                                                               \
        static struct log_ratelimit log_rl_;                                                                           \
        vmm_log_limited(&log_rl_, (level), __func__, __VA_ARGS__);                                                     \
    } while (0)

/* snprintf subset used by the logger: %d %i %u %x %X %p %s %c %% with l/ll/z/h modifiers, width, '0', '-'. */
int vmm_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int vmm_snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
