/*
 * bench-io: the guest side of the I/O benchmarks (bench/README.md, "I/O").
 *
 * A static arm64 Linux program with no C library: raw system calls only
 * (arch/arm64 uses the asm-generic numbers), so it needs nothing but the
 * cross compiler. Every command prints one result line
 *
 *   BENCH-IO: <what> bytes B ns T ops K irq_virtio V irq_all A
 *
 * where T is CLOCK_MONOTONIC time around the transfer only, and V / A are the
 * growth of the /proc/interrupts lines naming "virtio" / of all lines over the
 * same span, read just before and just after it.
 *
 *   bench-io blk seq-read|seq-write DEV MIB         1 MiB O_DIRECT requests from offset 0,
 *                                                   starting over at the disk's end
 *   bench-io blk rand-read|rand-write DEV COUNT MIB 4 KiB O_DIRECT requests at random
 *                                                   aligned offsets in the first MIB MiB
 *   bench-io tcp send IP PORT MIB                   connect, send, shut down the write side,
 *                                                   wait for the peer's close
 *   bench-io tcp recv PORT                          listen (prints "BENCH-IO: listening"),
 *                                                   accept one connection, read to its end
 *   bench-io nop                                    the same result line around nothing
 *
 * Exit status 0, or 1 with "BENCH-IO: FAIL <why>".
 */
#include <stddef.h>
#include <stdint.h>

/* asm-generic/unistd.h */
#define SYS_ioctl 29
#define SYS_openat 56
#define SYS_close 57
#define SYS_read 63
#define SYS_write 64
#define SYS_pread64 67
#define SYS_pwrite64 68
#define SYS_exit_group 94
#define SYS_clock_gettime 113
#define SYS_socket 198
#define SYS_bind 200
#define SYS_listen 201
#define SYS_accept 202
#define SYS_connect 203
#define SYS_setsockopt 208
#define SYS_shutdown 210

#define AT_FDCWD (-100)
#define O_RDONLY 0
#define O_RDWR 2
#define O_DIRECT 0200000 /* arch/arm64/include/uapi/asm/fcntl.h */
#define CLOCK_MONOTONIC 1
#define BLKGETSIZE64 0x80081272ul /* _IOR(0x12, 114, size_t) */
#define AF_INET 2
#define SOCK_STREAM 1
#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define SHUT_WR 1

#define MIB (1024ul * 1024)
#define SEQ_BLOCK MIB
#define RAND_BLOCK 4096ul
#define TCP_CHUNK (64ul * 1024)

struct timespec64 {
    int64_t sec;
    int64_t nsec;
};

struct sockaddr_in4 {
    uint16_t family;
    uint16_t port; /* big-endian */
    uint32_t addr; /* big-endian */
    uint8_t zero[8];
};

struct irq_counts {
    uint64_t virtio;
    uint64_t all;
};

/* O_DIRECT wants buffers aligned to the logical block size; a page is enough. */
static uint8_t io_buf[SEQ_BLOCK] __attribute__((aligned(4096)));
static char irq_text[32768];

static long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
    register long x8 __asm__("x8") = nr;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
}

#define sys(nr, a, b, c) sys6((nr), (long)(a), (long)(b), (long)(c), 0, 0, 0)

/* The compiler may emit calls to these for struct copies and zeroing. */
void *memset(void *dst, int c, size_t n)
{
    uint8_t *d = dst;
    while (n--) {
        *d++ = (uint8_t)c;
    }
    return dst;
}

void *memcpy(void *dst, const void *src, size_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--) {
        *d++ = *s++;
    }
    return dst;
}

static size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

static int str_eq(const char *a, const char *b)
{
    while (*a && *a == *b) {
        a++;
        b++;
    }
    return *a == *b;
}

static void put_str(const char *s)
{
    sys(SYS_write, 1, s, str_len(s));
}

static void put_u64(uint64_t v)
{
    char buf[24];
    int i = sizeof(buf);
    buf[--i] = 0;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put_str(&buf[i]);
}

static __attribute__((noreturn)) void finish(int status)
{
    for (;;) {
        sys(SYS_exit_group, status, 0, 0);
    }
}

static __attribute__((noreturn)) void fail(const char *why, long err)
{
    put_str("BENCH-IO: FAIL ");
    put_str(why);
    if (err < 0) {
        put_str(" (errno ");
        put_u64((uint64_t)-err);
        put_str(")");
    }
    put_str("\n");
    finish(1);
}

/* A decimal number, or fail. */
static uint64_t parse_u64(const char *s, const char *what)
{
    uint64_t v = 0;
    if (!*s) {
        fail(what, 0);
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10) {
            fail(what, 0);
        }
        v = v * 10 + (uint64_t)(*s - '0');
    }
    return v;
}

/* Dotted quad to a big-endian address, or fail. */
static uint32_t parse_ipv4(const char *s)
{
    uint32_t addr = 0;
    for (int part = 0; part < 4; part++) {
        uint32_t v = 0;
        int digits = 0;
        for (; *s >= '0' && *s <= '9' && digits < 3; s++, digits++) {
            v = v * 10 + (uint32_t)(*s - '0');
        }
        if (!digits || v > 255 || (part < 3 && *s++ != '.')) {
            fail("bad IPv4 address", 0);
        }
        addr |= v << (8 * part); /* the first byte lowest: network order in memory */
    }
    if (*s) {
        fail("bad IPv4 address", 0);
    }
    return addr;
}

static uint16_t be16(uint64_t port)
{
    if (!port || port > 65535) {
        fail("bad port", 0);
    }
    return (uint16_t)(((port & 0xff) << 8) | (port >> 8));
}

static uint64_t now_ns(void)
{
    struct timespec64 ts;
    long r = sys(SYS_clock_gettime, CLOCK_MONOTONIC, &ts, 0);
    if (r < 0) {
        fail("clock_gettime", r);
    }
    return (uint64_t)ts.sec * 1000000000ull + (uint64_t)ts.nsec;
}

/* xorshift64: the same offsets and data on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_buffer(void)
{
    for (size_t i = 0; i < sizeof(io_buf); i += 8) {
        uint64_t v = rng_next();
        memcpy(&io_buf[i], &v, 8);
    }
}

/* Sum of the counts on one /proc/interrupts line (the run of numbers after "NAME:"). */
static uint64_t irq_line_sum(const char *line, const char *end)
{
    uint64_t sum = 0;
    while (line < end && *line != ':') {
        line++;
    }
    for (line++; line < end;) {
        while (line < end && *line == ' ') {
            line++;
        }
        if (line >= end || *line < '0' || *line > '9') {
            break;
        }
        uint64_t v = 0;
        while (line < end && *line >= '0' && *line <= '9') {
            v = v * 10 + (uint64_t)(*line++ - '0');
        }
        sum += v;
    }
    return sum;
}

static int line_has(const char *line, const char *end, const char *word)
{
    size_t n = str_len(word);
    for (; line + n <= end; line++) {
        size_t i = 0;
        while (i < n && line[i] == word[i]) {
            i++;
        }
        if (i == n) {
            return 1;
        }
    }
    return 0;
}

static struct irq_counts irq_read(void)
{
    struct irq_counts c = {0, 0};
    long fd = sys(SYS_openat, AT_FDCWD, "/proc/interrupts", O_RDONLY);
    if (fd < 0) {
        fail("open /proc/interrupts", fd);
    }
    size_t len = 0;
    for (;;) {
        long r = sys(SYS_read, fd, irq_text + len, sizeof(irq_text) - 1 - len);
        if (r < 0) {
            fail("read /proc/interrupts", r);
        }
        if (r == 0 || (len += (size_t)r) == sizeof(irq_text) - 1) {
            break;
        }
    }
    sys(SYS_close, fd, 0, 0);
    const char *end = irq_text + len;
    for (const char *line = irq_text; line < end;) {
        const char *eol = line;
        while (eol < end && *eol != '\n') {
            eol++;
        }
        uint64_t n = irq_line_sum(line, eol);
        c.all += n;
        if (line_has(line, eol, "virtio")) {
            c.virtio += n;
        }
        line = eol + 1;
    }
    return c;
}

struct span {
    uint64_t t0;
    struct irq_counts irq0;
};

static struct span span_begin(void)
{
    struct span s;
    s.irq0 = irq_read();
    s.t0 = now_ns();
    return s;
}

static void span_end(const struct span *s, const char *what, uint64_t bytes, uint64_t ops)
{
    uint64_t ns = now_ns() - s->t0;
    struct irq_counts irq1 = irq_read();
    put_str("BENCH-IO: ");
    put_str(what);
    put_str(" bytes ");
    put_u64(bytes);
    put_str(" ns ");
    put_u64(ns);
    put_str(" ops ");
    put_u64(ops);
    put_str(" irq_virtio ");
    put_u64(irq1.virtio - s->irq0.virtio);
    put_str(" irq_all ");
    put_u64(irq1.all - s->irq0.all);
    put_str("\n");
}

/* The disk opened for O_DIRECT; its size in *size, which must be at least `need`. */
static long open_disk(const char *dev, int write, uint64_t need, uint64_t *size)
{
    long fd = sys(SYS_openat, AT_FDCWD, dev, (write ? O_RDWR : O_RDONLY) | O_DIRECT);
    if (fd < 0) {
        fail("open the disk with O_DIRECT", fd);
    }
    long r = sys(SYS_ioctl, fd, BLKGETSIZE64, size);
    if (r < 0) {
        fail("BLKGETSIZE64", r);
    }
    if (*size < need) {
        fail("the disk is smaller than the span", 0);
    }
    return fd;
}

static void blk_transfer(long fd, int write, uint64_t off, size_t len)
{
    long r = write ? sys6(SYS_pwrite64, fd, (long)io_buf, (long)len, (long)off, 0, 0)
                   : sys6(SYS_pread64, fd, (long)io_buf, (long)len, (long)off, 0, 0);
    if (r != (long)len) {
        fail(write ? "short or failed pwrite" : "short or failed pread", r);
    }
}

static void blk_seq(const char *what, const char *dev, uint64_t mib, int write)
{
    uint64_t size;
    long fd = open_disk(dev, write, SEQ_BLOCK, &size);
    uint64_t blocks = size / SEQ_BLOCK;
    fill_buffer();
    struct span s = span_begin();
    for (uint64_t i = 0; i < mib; i++) {
        blk_transfer(fd, write, (i % blocks) * SEQ_BLOCK, SEQ_BLOCK);
    }
    span_end(&s, what, mib * MIB, mib);
    sys(SYS_close, fd, 0, 0);
}

static void blk_rand(const char *what, const char *dev, uint64_t count, uint64_t mib, int write)
{
    uint64_t blocks = mib * MIB / RAND_BLOCK;
    if (!blocks) {
        fail("empty span", 0);
    }
    uint64_t size;
    long fd = open_disk(dev, write, mib * MIB, &size);
    fill_buffer();
    struct span s = span_begin();
    for (uint64_t i = 0; i < count; i++) {
        blk_transfer(fd, write, (rng_next() % blocks) * RAND_BLOCK, RAND_BLOCK);
    }
    span_end(&s, what, count * RAND_BLOCK, count);
    sys(SYS_close, fd, 0, 0);
}

static long tcp_socket(void)
{
    long fd = sys(SYS_socket, AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        fail("socket", fd);
    }
    return fd;
}

/* Read until the peer closes; the number of bytes read. */
static uint64_t drain(long fd)
{
    uint64_t total = 0;
    for (;;) {
        long r = sys(SYS_read, fd, io_buf, sizeof(io_buf));
        if (r < 0) {
            fail("read from the socket", r);
        }
        if (r == 0) {
            return total;
        }
        total += (uint64_t)r;
    }
}

static void tcp_send(const char *ip, uint64_t port, uint64_t mib)
{
    struct sockaddr_in4 sa = {AF_INET, be16(port), parse_ipv4(ip), {0}};
    long fd = tcp_socket();
    long r = sys(SYS_connect, fd, &sa, sizeof(sa));
    if (r < 0) {
        fail("connect", r);
    }
    fill_buffer();
    struct span s = span_begin();
    for (uint64_t left = mib * MIB; left;) {
        size_t n = left < TCP_CHUNK ? left : TCP_CHUNK;
        r = sys(SYS_write, fd, io_buf, n);
        if (r <= 0) {
            fail("write to the socket", r);
        }
        left -= (uint64_t)r;
    }
    /* The peer closes once it has read everything: then the bytes have arrived. */
    sys(SYS_shutdown, fd, SHUT_WR, 0);
    drain(fd);
    span_end(&s, "tcp-send", mib * MIB, 0);
    sys(SYS_close, fd, 0, 0);
}

static void tcp_recv(uint64_t port)
{
    struct sockaddr_in4 sa = {AF_INET, be16(port), 0, {0}};
    long fd = tcp_socket();
    int one = 1;
    sys6(SYS_setsockopt, fd, SOL_SOCKET, SO_REUSEADDR, (long)&one, sizeof(one), 0);
    long r = sys(SYS_bind, fd, &sa, sizeof(sa));
    if (r < 0) {
        fail("bind", r);
    }
    r = sys(SYS_listen, fd, 1, 0);
    if (r < 0) {
        fail("listen", r);
    }
    put_str("BENCH-IO: listening\n");
    long conn = sys(SYS_accept, fd, 0, 0);
    if (conn < 0) {
        fail("accept", conn);
    }
    struct span s = span_begin();
    uint64_t bytes = drain(conn);
    span_end(&s, "tcp-recv", bytes, 0);
    sys(SYS_close, conn, 0, 0);
    sys(SYS_close, fd, 0, 0);
}

static void run(int argc, char **argv)
{
    if (argc == 2 && str_eq(argv[1], "nop")) {
        struct span s = span_begin();
        span_end(&s, "nop", 0, 0);
        return;
    }
    if (argc == 5 && str_eq(argv[1], "blk") && (str_eq(argv[2], "seq-read") || str_eq(argv[2], "seq-write"))) {
        blk_seq(argv[2], argv[3], parse_u64(argv[4], "bad MiB count"), str_eq(argv[2], "seq-write"));
        return;
    }
    if (argc == 6 && str_eq(argv[1], "blk") && (str_eq(argv[2], "rand-read") || str_eq(argv[2], "rand-write"))) {
        blk_rand(argv[2], argv[3], parse_u64(argv[4], "bad count"), parse_u64(argv[5], "bad MiB count"),
                 str_eq(argv[2], "rand-write"));
        return;
    }
    if (argc == 6 && str_eq(argv[1], "tcp") && str_eq(argv[2], "send")) {
        tcp_send(argv[3], parse_u64(argv[4], "bad port"), parse_u64(argv[5], "bad MiB count"));
        return;
    }
    if (argc == 4 && str_eq(argv[1], "tcp") && str_eq(argv[2], "recv")) {
        tcp_recv(parse_u64(argv[3], "bad port"));
        return;
    }
    fail("usage: bench-io nop | blk seq-read|seq-write DEV MIB | blk rand-read|rand-write DEV COUNT MIB | "
         "tcp send IP PORT MIB | tcp recv PORT",
         0);
}

/* The kernel's initial stack: argc, argv[], NULL, envp[] (ELF ABI). */
void bench_main(long *sp)
{
    run((int)sp[0], (char **)&sp[1]);
    finish(0);
}

__asm__(".text\n"
        ".global _start\n"
        "_start:\n"
        "    mov x0, sp\n"
        "    and sp, x0, #~15\n"
        "    bl bench_main\n"
        "    b .\n");
