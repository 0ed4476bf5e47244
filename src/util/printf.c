/*
 * A small freestanding vsnprintf: the subset the library's logs use. No
 * floating point (the library is built with -mgeneral-regs-only).
 */
#include <stdbool.h>
#include <stdint.h>
#include <libvmm/log.h>

struct out {
    char *buf;
    size_t size;
    size_t len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size) {
        o->buf[o->len] = c;
    }
    o->len++;
}

static void put_padded(struct out *o, const char *s, size_t n, int width, bool left, char pad)
{
    int fill = width > (int)n ? width - (int)n : 0;
    if (!left) {
        while (fill-- > 0) {
            put(o, pad);
        }
    }
    for (size_t i = 0; i < n; i++) {
        put(o, s[i]);
    }
    if (left) {
        while (fill-- > 0) {
            put(o, ' ');
        }
    }
}

static void put_number(struct out *o, uint64_t v, bool negative, unsigned base, bool upper, int width, bool left,
                       char pad)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v != 0);
    if (negative) {
        if (pad == '0') {
            put(o, '-');
            width--;
        } else {
            tmp[n++] = '-';
        }
    }
    char rev[24];
    for (size_t i = 0; i < n; i++) {
        rev[i] = tmp[n - 1 - i];
    }
    put_padded(o, rev, n, width, left, pad);
}

int vmm_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = {buf, size, 0};
    for (const char *p = fmt; *p != '\0'; p++) {
        if (*p != '%') {
            put(&o, *p);
            continue;
        }
        p++;
        bool left = false;
        char pad = ' ';
        for (; *p == '-' || *p == '0'; p++) {
            if (*p == '-') {
                left = true;
            } else {
                pad = '0';
            }
        }
        int width = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            width = width * 10 + (*p - '0');
        }
        int longs = 0;
        bool size_t_arg = false;
        for (;; p++) {
            if (*p == 'l') {
                longs++;
            } else if (*p == 'z') {
                size_t_arg = true;
            } else if (*p != 'h') {
                break;
            }
        }
        if (left) {
            pad = ' ';
        }
        switch (*p) {
        case 'd':
        case 'i': {
            int64_t v = size_t_arg ? (int64_t)va_arg(ap, long)
                        : longs    ? (int64_t)va_arg(ap, long long)
                                   : va_arg(ap, int);
            put_number(&o, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, v < 0, 10, false, width, left, pad);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint64_t v = size_t_arg ? va_arg(ap, size_t)
                         : longs    ? va_arg(ap, unsigned long long)
                                    : va_arg(ap, unsigned int);
            put_number(&o, v, false, *p == 'u' ? 10 : 16, *p == 'X', width, left, pad);
            break;
        }
        case 'p':
            put(&o, '0');
            put(&o, 'x');
            put_number(&o, (uintptr_t)va_arg(ap, void *), false, 16, false, width, left, pad);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (s == NULL) {
                s = "(null)";
            }
            size_t n = 0;
            while (s[n] != '\0') {
                n++;
            }
            put_padded(&o, s, n, width, left, ' ');
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            put_padded(&o, &c, 1, width, left, ' ');
            break;
        }
        case '%':
            put(&o, '%');
            break;
        case '\0':
            p--;
            break;
        default:
            put(&o, '%');
            put(&o, *p);
            break;
        }
    }
    if (size > 0) {
        buf[o.len < size ? o.len : size - 1] = '\0';
    }
    return (int)o.len;
}

int vmm_snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vmm_vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
