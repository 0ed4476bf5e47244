/*
 * Console output and logging for hyp. Log lines carry the prefix "hyp| " and
 * are off by default (DESIGN 3, Console); `hyp.log=info` or `hyp.log=debug`
 * in QEMU's -append string turns them on. Panics always print.
 * Never log on the trap hot path.
 */
#pragma once

#include <stdarg.h>
#include <stdint.h>

enum hyp_log_level {
    HYP_LOG_OFF = 0,
    HYP_LOG_WARN = 1,
    HYP_LOG_INFO = 2,
    HYP_LOG_DEBUG = 3,
};

extern enum hyp_log_level hyp_log_level;

void uart_init(uintptr_t base);
void uart_putc(char c);
void uart_puts(const char *s);
/* Write `len` characters as one piece: no other CPU's line or log line lands in the middle. */
void uart_write_line(const char *s, unsigned len);

/* Minimal printf: %c %s %d %i %u %x %X %p, flags '0' '-', width, length 'l' 'll' 'z'. */
void hyp_vprintf(const char *fmt, va_list ap);
void hyp_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hyp_log(enum hyp_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void hyp_log_parse_bootargs(const char *bootargs);

#define LOG_WARN(...) hyp_log(HYP_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(...) hyp_log(HYP_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(...) hyp_log(HYP_LOG_DEBUG, __VA_ARGS__)

/* End QEMU with `status` (semihosting SYS_EXIT), the whole machine: every PD. */
void machine_exit(int status) __attribute__((noreturn));

/* Print "hyp| PANIC: <reason>" and a register dump, then exit QEMU with status 1. */
void hyp_panic(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
