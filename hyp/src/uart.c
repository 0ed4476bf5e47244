/*
 * PL011 console output (PrimeCell UART PL011 TRM, 3.3) and hyp's printf.
 * The UART is shared with the guest (passthrough), so hyp only ever writes
 * UARTDR after polling UARTFR.TXFF and never touches the control registers.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <hyp/arch.h>
#include <hyp/log.h>
#include <hyp/smp.h>

#define UART_DR 0x000
#define UART_FR 0x018
#define UART_FR_TXFF (1u << 5)

/* QEMU virt's PL011 until the DTB says otherwise (early panics still print). */
static uintptr_t uart_base = 0x09000000;

enum hyp_log_level hyp_log_level = HYP_LOG_OFF;

void uart_init(uintptr_t base)
{
    uart_base = base;
}

void uart_putc(char c)
{
    if (c == '\n') {
        uart_putc('\r');
    }
    while (mmio_read32(uart_base + UART_FR) & UART_FR_TXFF) {
    }
    mmio_write8(uart_base + UART_DR, (uint8_t)c);
}

void uart_puts(const char *s)
{
    while (*s) {
        uart_putc(*s++);
    }
}

static void put_padded(const char *s, size_t len, int width, bool left, char pad)
{
    int fill = width > (int)len ? width - (int)len : 0;
    if (!left) {
        while (fill-- > 0) {
            uart_putc(pad);
        }
    }
    for (size_t i = 0; i < len; i++) {
        uart_putc(s[i]);
    }
    if (left) {
        while (fill-- > 0) {
            uart_putc(' ');
        }
    }
}

static size_t format_unsigned(char *buf, uint64_t v, unsigned base, bool upper)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    for (size_t i = 0; i < n; i++) {
        buf[i] = tmp[n - 1 - i];
    }
    return n;
}

void hyp_vprintf(const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            uart_putc(*fmt);
            continue;
        }
        fmt++;
        bool left = false;
        char pad = ' ';
        for (; *fmt == '-' || *fmt == '0'; fmt++) {
            if (*fmt == '-') {
                left = true;
            } else {
                pad = '0';
            }
        }
        int width = 0;
        for (; *fmt >= '0' && *fmt <= '9'; fmt++) {
            width = width * 10 + (*fmt - '0');
        }
        int longs = 0;
        for (; *fmt == 'l' || *fmt == 'z'; fmt++) {
            longs++;
        }
        char buf[24];
        size_t n;
        uint64_t u;
        switch (*fmt) {
        case 'c':
            buf[0] = (char)va_arg(ap, int);
            put_padded(buf, 1, width, left, ' ');
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s) {
                s = "(null)";
            }
            put_padded(s, strlen(s), width, left, ' ');
            break;
        }
        case 'd':
        case 'i': {
            int64_t s = longs ? va_arg(ap, int64_t) : va_arg(ap, int);
            size_t off = 0;
            if (s < 0) {
                buf[0] = '-';
                off = 1;
                u = (uint64_t)0 - (uint64_t)s;
            } else {
                u = (uint64_t)s;
            }
            n = off + format_unsigned(buf + off, u, 10, false);
            put_padded(buf, n, width, left, pad);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
            u = longs ? va_arg(ap, uint64_t) : va_arg(ap, unsigned int);
            n = format_unsigned(buf, u, *fmt == 'u' ? 10 : 16, *fmt == 'X');
            put_padded(buf, n, width, left, pad);
            break;
        case 'p':
            u = (uint64_t)(uintptr_t)va_arg(ap, void *);
            buf[0] = '0';
            buf[1] = 'x';
            n = 2 + format_unsigned(buf + 2, u, 16, false);
            put_padded(buf, n, width, left, ' ');
            break;
        case '%':
            uart_putc('%');
            break;
        case '\0':
            return;
        default:
            uart_putc('%');
            uart_putc(*fmt);
            break;
        }
    }
}

void hyp_printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    hyp_vprintf(fmt, ap);
    va_end(ap);
}

/* One line at a time across CPUs (panics print without it: they may interrupt a holder). */
static struct spinlock line_lock;

void uart_write_line(const char *s, unsigned len)
{
    spin_lock(&line_lock);
    for (unsigned i = 0; i < len; i++) {
        uart_putc(s[i]);
    }
    spin_unlock(&line_lock);
}

void hyp_log(enum hyp_log_level level, const char *fmt, ...)
{
    if (level > hyp_log_level) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    spin_lock(&line_lock);
    uart_puts("hyp| ");
    hyp_vprintf(fmt, ap);
    uart_putc('\n');
    spin_unlock(&line_lock);
    va_end(ap);
}

/* Looks for "hyp.log=<off|warn|info|debug>" as a whole word of /chosen/bootargs. */
void hyp_log_parse_bootargs(const char *bootargs)
{
    static const struct {
        const char *name;
        enum hyp_log_level level;
    } levels[] = {{"off", HYP_LOG_OFF}, {"warn", HYP_LOG_WARN}, {"info", HYP_LOG_INFO}, {"debug", HYP_LOG_DEBUG}};
    const char *key = "hyp.log=";
    size_t key_len = strlen(key);
    for (const char *p = bootargs; p && *p;) {
        while (*p == ' ') {
            p++;
        }
        const char *end = p;
        while (*end && *end != ' ') {
            end++;
        }
        if ((size_t)(end - p) > key_len && strncmp(p, key, key_len) == 0) {
            const char *v = p + key_len;
            size_t vlen = (size_t)(end - v);
            for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
                if (strlen(levels[i].name) == vlen && strncmp(v, levels[i].name, vlen) == 0) {
                    hyp_log_level = levels[i].level;
                }
            }
        }
        p = end;
    }
}
