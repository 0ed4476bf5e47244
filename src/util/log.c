/*
 * Levelled, prefixed log lines on the Microkit debug console.
 */
#include <microkit.h>
#include <libvmm/log.h>

enum log_level vmm_log_level = LOG_LEVEL_INFO;

static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

static void log_emit(enum log_level level, const char *func, const char *suffix, const char *fmt, va_list ap)
{
    char line[256];
    int n = vmm_snprintf(line, sizeof(line), "%s|%s: ", microkit_name, level_names[level]);
    if (level == LOG_LEVEL_ERROR && func != NULL && n >= 0 && (size_t)n < sizeof(line)) {
        n += vmm_snprintf(line + n, sizeof(line) - (size_t)n, "%s: ", func);
    }
    if (n >= 0 && (size_t)n < sizeof(line)) {
        n += vmm_vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    }
    if (suffix != NULL && n >= 0 && (size_t)n < sizeof(line)) {
        vmm_snprintf(line + n, sizeof(line) - (size_t)n, "%s", suffix);
    }
    microkit_dbg_puts(line);
    microkit_dbg_puts("\n");
}

void vmm_log(enum log_level level, const char *func, const char *fmt, ...)
{
    if (level > vmm_log_level) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    log_emit(level, func, NULL, fmt, ap);
    va_end(ap);
}

void vmm_log_limited(struct log_ratelimit *rl, enum log_level level, const char *func, const char *fmt, ...)
{
    unsigned long seen = rl->count++;
    if (level > vmm_log_level) {
        return;
    }
    if (seen >= LOG_RATE_BURST && (seen - LOG_RATE_BURST) % LOG_RATE_EVERY != LOG_RATE_EVERY - 1) {
        return;
    }
    char suffix[48];
    suffix[0] = '\0';
    if (seen >= LOG_RATE_BURST) {
        vmm_snprintf(suffix, sizeof(suffix), " (%d similar suppressed)", LOG_RATE_EVERY - 1);
    }
    va_list ap;
    va_start(ap, fmt);
    log_emit(level, func, suffix, fmt, ap);
    va_end(ap);
}
