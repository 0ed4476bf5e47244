/*
 * Shared support for the libFuzzer harnesses (fz_support.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <libvmm/fault.h>
#include <libvmm/log.h>
#include <libvmm/virq.h>
#include "fz_support.h"
#include "mmio_internal.h"
#include "vcpu.h"

unsigned fz_inject_range_refusals;
unsigned fz_inject_delete_first;

/* The index the vGIC uses to learn the LR count (vgic_lr_probe): a refusal there is the point. */
#define FZ_LR_PROBE_INDEX 255

void fz_init(struct fz *in, const uint8_t *data, size_t size)
{
    in->p = data;
    in->n = size;
}

bool fz_empty(const struct fz *in)
{
    return in->n == 0;
}

uint8_t fz_u8(struct fz *in)
{
    if (in->n == 0) {
        return 0;
    }
    in->n--;
    return *in->p++;
}

static uint64_t fz_le(struct fz *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) {
        v |= (uint64_t)fz_u8(in) << (8 * i);
    }
    return v;
}

uint16_t fz_u16(struct fz *in)
{
    return (uint16_t)fz_le(in, 2);
}

uint32_t fz_u32(struct fz *in)
{
    return (uint32_t)fz_le(in, 4);
}

uint64_t fz_u64(struct fz *in)
{
    return fz_le(in, 8);
}

bool fz_bool(struct fz *in)
{
    return fz_u8(in) & 1;
}

size_t fz_bytes(struct fz *in, void *out, size_t len)
{
    size_t take = len < in->n ? len : in->n;
    memcpy(out, in->p, take);
    memset((uint8_t *)out + take, 0, len - take);
    in->p += take;
    in->n -= take;
    return take;
}

uint8_t *fz_guarded_alloc(size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (size + page - 1) / page * page;
    uint8_t *m = mmap(NULL, body + 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        perror("fz_guarded_alloc: mmap");
        abort();
    }
    if (mprotect(m, page, PROT_NONE) != 0 || mprotect(m + page + body, page, PROT_NONE) != 0) {
        perror("fz_guarded_alloc: mprotect");
        abort();
    }
    return m + page;
}

void fz_guest_setup(size_t num_vcpus, unsigned num_lrs, enum gic_version version, uint8_t *ram, size_t ram_size,
                    bool with_vgic)
{
    /* PSCI power state is library state that outlives guest_init(): put every vCPU OFF first. */
    for (size_t v = 0; v < GUEST_MAX_VCPUS; v++) {
        vcpu_power_off(v);
    }
    fake_microkit_reset();
    fake.num_lrs = num_lrs;
    fz_inject_range_refusals = 0;
    fz_inject_delete_first = 0;
    struct guest_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.num_vcpus = num_vcpus;
    cfg.num_ram_regions = 1;
    cfg.ram[0].gpa = FZ_RAM_GPA;
    cfg.ram[0].size = ram_size;
    cfg.ram[0].vmm_vaddr = (uintptr_t)ram;
    cfg.gic_version = version;
    cfg.gicd_gpa = FZ_GICD_GPA;
    cfg.gicr_gpa = version == GIC_VERSION_3 ? FZ_GICR_GPA : 0;
    if (!guest_init(&cfg)) {
        fz_fail("guest_init refused the harness configuration");
    }
    if (with_vgic && !virq_controller_init(0)) {
        fz_fail("virq_controller_init failed");
    }
}

size_t fz_vcpu_id(struct fz *in, size_t num_vcpus)
{
    uint8_t b = fz_u8(in);
    if (b < 0xf0) {
        return b % num_vcpus;
    }
    if (b == 0xff) {
        return SIZE_MAX;
    }
    return b - 0xf0; /* 0..14: may exceed the configured count and GUEST_MAX_VCPUS */
}

void fz_set_ctx_word(size_t vcpu, size_t word, uint64_t value)
{
    seL4_Word *w = (seL4_Word *)&fake.vcpu[vcpu % FAKE_MAX_VCPUS].regs;
    w[word % SEL4_USER_CONTEXT_SIZE] = value;
}

uint64_t fz_get_ctx_word(size_t vcpu, size_t word)
{
    const seL4_Word *w = (const seL4_Word *)&fake.vcpu[vcpu % FAKE_MAX_VCPUS].regs;
    return w[word % SEL4_USER_CONTEXT_SIZE];
}

/* seL4_UserContext order (ABI 3.4): pc, sp, spsr, x0..x8, x16, x17, x18, x29, x30, x9..x15, x19..x28. */
size_t fz_ctx_word_of_x(unsigned n)
{
    if (n <= 8) {
        return 3 + n;
    }
    if (n >= 16 && n <= 18) {
        return 12 + (n - 16);
    }
    if (n == 29 || n == 30) {
        return 15 + (n - 29);
    }
    if (n >= 9 && n <= 15) {
        return 17 + (n - 9);
    }
    return 24 + (n - 19); /* x19..x28 */
}

bool fz_fault(size_t vcpu, uint64_t label, size_t count, const uint64_t *mrs, size_t nmr, microkit_msginfo *reply)
{
    for (size_t i = 0; i < nmr && i < seL4_MsgMaxLength; i++) {
        seL4_SetMR((int)i, mrs[i]);
    }
    microkit_msginfo info = seL4_MessageInfo_new(label, 0, 0, count & 0x7f);
    *reply = microkit_msginfo_new(0xdead, 0); /* a reply the library forgot to set is visible */
    return fault_handle(vcpu, info, reply);
}

void fz_fail(const char *what, ...)
{
    va_list ap;
    va_start(ap, what);
    fprintf(stderr, "fuzz invariant violated: ");
    vfprintf(stderr, what, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (fake.console_len > 0) {
        size_t from = fake.console_len > 2048 ? fake.console_len - 2048 : 0;
        fprintf(stderr, "---- last console output ----\n%s\n", fake.console + from);
    }
    abort();
}

void fz_check_kernel(void)
{
    FZ_CHECK(fake.crashes == 0, "the library made a libmicrokit call fail (%u fake PD crashes)", fake.crashes);
    FZ_CHECK(fz_inject_range_refusals == 0, "InjectIRQ with an LR index the kernel does not have (%u times)",
             fz_inject_range_refusals);
}

/*
 * Linked with -Wl,--wrap=seL4_ARM_VCPU_InjectIRQ: every InjectIRQ the library
 * makes comes here first.
 */
seL4_Error __real_seL4_ARM_VCPU_InjectIRQ(seL4_ARM_VCPU cap, seL4_Uint16 virq, seL4_Uint8 priority, seL4_Uint8 group,
                                          seL4_Uint8 index);
seL4_Error __wrap_seL4_ARM_VCPU_InjectIRQ(seL4_ARM_VCPU cap, seL4_Uint16 virq, seL4_Uint8 priority, seL4_Uint8 group,
                                          seL4_Uint8 index);

seL4_Error __wrap_seL4_ARM_VCPU_InjectIRQ(seL4_ARM_VCPU cap, seL4_Uint16 virq, seL4_Uint8 priority, seL4_Uint8 group,
                                          seL4_Uint8 index)
{
    seL4_Error err = __real_seL4_ARM_VCPU_InjectIRQ(cap, virq, priority, group, index);
    if (err == seL4_RangeError && index != FZ_LR_PROBE_INDEX) {
        fz_inject_range_refusals++;
    } else if (err == seL4_DeleteFirst) {
        fz_inject_delete_first++;
    }
    return err;
}

/*
 * Linked with -Wl,--wrap=microkit_dbg_puts: log lines (fully formatted by the
 * library's own printf) go to the fake console in one copy instead of one
 * getenv() per character, which would otherwise dominate every input that
 * logs a register dump. FZ_VERBOSE=1 echoes them to stderr.
 */
void __wrap_microkit_dbg_puts(const char *s);

void __wrap_microkit_dbg_puts(const char *s)
{
    static int verbose = -1; /* FZ_VERBOSE=1: echo the log to stderr (replaying one input) */
    if (verbose < 0) {
        verbose = getenv("FZ_VERBOSE") != NULL;
    }
    if (verbose) {
        fputs(s, stderr);
    }
    size_t len = strlen(s);
    size_t room = FAKE_CONSOLE_SIZE - 1 - fake.console_len;
    if (len > room) {
        len = room;
    }
    memcpy(fake.console + fake.console_len, s, len);
    fake.console_len += len;
    fake.console[fake.console_len] = '\0';
}
