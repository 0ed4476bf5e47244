/*
 * Shared set-up for the GICv3 tests: a guest laid out as QEMU's virt board
 * lays out a GICv3 (distributor at 0x08000000, redistributors from
 * 0x080a0000, 128 KiB per vCPU), guest accesses through the MMIO dispatcher,
 * trapped system-register accesses and EOIs through fault_handle().
 */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <libvmm/fault.h>
#include <libvmm/guest.h>
#include <libvmm/virq.h>
#include "fake_microkit.h"
#include "mmio_decode.h"
#include "mmio_internal.h"
#include "vcpu.h"
#include "vgic/vgic.h"

#define T3_GICD 0x08000000ull
#define T3_GICR 0x080a0000ull
#define T3_RD_FRAME 0x20000ull
#define T3_SGI_BASE 0x10000ull
#define T3_RAM_GPA 0x40000000ull
#define T3_PC 0xffff800010000000ull
#define T3_VBAR 0xffff800011000000ull

#define GICD_CTLR 0x0000
#define GICD_TYPER 0x0004
#define GICD_IIDR 0x0008
#define GICD_TYPER2 0x000c
#define GICD_STATUSR 0x0010
#define GICD_IGROUPR 0x0080
#define GICD_ISENABLER 0x0100
#define GICD_ICENABLER 0x0180
#define GICD_ISPENDR 0x0200
#define GICD_ICPENDR 0x0280
#define GICD_ISACTIVER 0x0300
#define GICD_ICACTIVER 0x0380
#define GICD_IPRIORITYR 0x0400
#define GICD_ITARGETSR 0x0800
#define GICD_ICFGR 0x0c00
#define GICD_IGRPMODR 0x0d00
#define GICD_SGIR 0x0f00
#define GICD_IROUTER 0x6000
#define GICD_PIDR2 0xffe8

#define GICR_CTLR 0x0000
#define GICR_IIDR 0x0004
#define GICR_TYPER 0x0008
#define GICR_WAKER 0x0014
#define GICR_PROPBASER 0x0070
#define GICR_PIDR2 0xffe8
#define GICR_IGROUPR0 (T3_SGI_BASE + 0x0080)
#define GICR_ISENABLER0 (T3_SGI_BASE + 0x0100)
#define GICR_ICENABLER0 (T3_SGI_BASE + 0x0180)
#define GICR_ISPENDR0 (T3_SGI_BASE + 0x0200)
#define GICR_ICPENDR0 (T3_SGI_BASE + 0x0280)
#define GICR_ISACTIVER0 (T3_SGI_BASE + 0x0300)
#define GICR_ICACTIVER0 (T3_SGI_BASE + 0x0380)
#define GICR_IPRIORITYR (T3_SGI_BASE + 0x0400)
#define GICR_ICFGR0 (T3_SGI_BASE + 0x0c00)
#define GICR_ICFGR1 (T3_SGI_BASE + 0x0c04)
#define GICR_IGRPMODR0 (T3_SGI_BASE + 0x0d00)
#define GICR_NSACR (T3_SGI_BASE + 0x0e00)

#define T3_IIDR 0x4c03043bu

static uint8_t t3_ram[0x10000] __attribute__((aligned(4096)));

static inline void t3_config(struct guest_config *cfg, size_t n, enum gic_version version)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->num_vcpus = n;
    cfg->num_ram_regions = 1;
    cfg->ram[0].gpa = T3_RAM_GPA;
    cfg->ram[0].size = sizeof(t3_ram);
    cfg->ram[0].vmm_vaddr = (uintptr_t)t3_ram;
    cfg->gic_version = version;
    cfg->gicd_gpa = T3_GICD;
    cfg->gicr_gpa = version == GIC_VERSION_3 ? T3_GICR : 0;
}

/* Guest with n vCPUs and the given GIC, `lrs` list registers, virq_controller_init(0) done. */
static inline void t3_guest_version(size_t n, unsigned lrs, enum gic_version version)
{
    fake_microkit_reset();
    fake.num_lrs = lrs;
    mmio_reset();
    struct guest_config cfg;
    t3_config(&cfg, n, version);
    assert_true(guest_init(&cfg));
    assert_true(virq_controller_init(0));
    for (size_t v = 0; v < n; v++) {
        fake.vcpu[v].regs.pc = T3_PC;
        fake.vcpu[v].regs.spsr = 0x3c5;
        fake.vcpu[v].sysregs[seL4_VCPUReg_VBAR] = T3_VBAR;
    }
}

static inline void t3_guest(size_t n, unsigned lrs)
{
    t3_guest_version(n, lrs, GIC_VERSION_3);
}

static inline uint64_t t3_read_at(size_t vcpu, uint64_t gpa, unsigned width)
{
    struct mmio_access a = {.gpa = gpa, .width = (uint8_t)width, .is_write = false, .value = 0xdeadbeefdeadbeefull};
    assert_int_equal(mmio_dispatch(vcpu, &a), MMIO_HANDLED);
    return a.value;
}

static inline void t3_write_at(size_t vcpu, uint64_t gpa, unsigned width, uint64_t value)
{
    struct mmio_access a = {.gpa = gpa, .width = (uint8_t)width, .is_write = true, .value = value};
    assert_int_equal(mmio_dispatch(vcpu, &a), MMIO_HANDLED);
}

/* Distributor and redistributor (of vCPU `frame`) accesses by vCPU `vcpu`. */
static inline uint64_t t3_dread(size_t vcpu, uint32_t off, unsigned width)
{
    return t3_read_at(vcpu, T3_GICD + off, width);
}

static inline void t3_dwrite(size_t vcpu, uint32_t off, unsigned width, uint64_t value)
{
    t3_write_at(vcpu, T3_GICD + off, width, value);
}

static inline uint64_t t3_rread(size_t vcpu, size_t frame, uint64_t off, unsigned width)
{
    return t3_read_at(vcpu, T3_GICR + frame * T3_RD_FRAME + off, width);
}

static inline void t3_rwrite(size_t vcpu, size_t frame, uint64_t off, unsigned width, uint64_t value)
{
    t3_write_at(vcpu, T3_GICR + frame * T3_RD_FRAME + off, width, value);
}

/* Linux's order: enable both groups with ARE, wake every redistributor. */
static inline void t3_enable_all(size_t n)
{
    t3_dwrite(0, GICD_CTLR, 4, 0x13);
    for (size_t v = 0; v < n; v++) {
        t3_rwrite(v, v, GICR_WAKER, 4, 0);
    }
}

/* Number of InjectIRQ calls that loaded virq into an LR of vcpu. */
static inline unsigned t3_injects(size_t vcpu, unsigned virq)
{
    unsigned n = 0;
    for (size_t i = 0; i < fake.num_injects; i++) {
        n += fake.injects[i].vcpu == vcpu && fake.injects[i].virq == virq;
    }
    return n;
}

/* The last InjectIRQ record of virq on vcpu (it must exist). */
static inline const struct fake_inject *t3_last_inject(size_t vcpu, unsigned virq)
{
    for (size_t i = fake.num_injects; i > 0; i--) {
        if (fake.injects[i - 1].vcpu == vcpu && fake.injects[i - 1].virq == virq) {
            return &fake.injects[i - 1];
        }
    }
    fail_msg("vIRQ %u was never injected into vCPU %zu", virq, vcpu);
    return NULL;
}

/* Deliver a VGICMaintenance fault for LR idx through fault_handle(). */
static inline void t3_guest_eoi(size_t vcpu, unsigned idx)
{
    fake_guest_ack(vcpu, idx);
    fake_guest_eoi(vcpu, idx);
    seL4_Word mr = idx;
    microkit_msginfo reply;
    assert_true(fault_handle(vcpu, fake_fault(seL4_Fault_VGICMaintenance, 1, &mr), &reply));
}

static inline void t3_guest_eoi_irq(size_t vcpu, unsigned virq)
{
    int idx = fake_lr_find(vcpu, virq);
    assert_true(idx >= 0);
    t3_guest_eoi(vcpu, (unsigned)idx);
}

/* ESR_EL2 of a trapped MSR (is_read false) / MRS of S<op0>_<op1>_C<crn>_C<crm>_<op2> with Xt = rt (Arm ARM D17.2.40).
 */
static inline uint32_t t3_sysreg_esr(unsigned op0, unsigned op1, unsigned crn, unsigned crm, unsigned op2, unsigned rt,
                                     bool is_read)
{
    uint32_t iss = op0 << 20 | op2 << 17 | op1 << 14 | crn << 10 | rt << 5 | crm << 1 | (is_read ? 1u : 0u);
    return (uint32_t)ESR_EC_SYSREG << 26 | ESR_IL | iss;
}

/* The guest traps on the instruction: fault_handle() with a VCPUFault carrying esr. */
static inline bool t3_vcpu_fault(size_t vcpu, uint32_t esr)
{
    seL4_Word mr = esr;
    microkit_msginfo reply;
    return fault_handle(vcpu, fake_fault(seL4_Fault_VCPUFault, 1, &mr), &reply);
}

/* MSR ICC_SGI1R_EL1, x5 on vcpu. */
static inline void t3_sgi1r(size_t vcpu, uint64_t value)
{
    fake.vcpu[vcpu].regs.x5 = value;
    uint64_t pc = fake.vcpu[vcpu].regs.pc;
    assert_true(t3_vcpu_fault(vcpu, t3_sysreg_esr(3, 0, 12, 11, 5, 5, false)));
    assert_int_equal(fake.vcpu[vcpu].regs.pc, pc + 4);
}

/* An ICC_SGI1R_EL1 value: IRM = 0, the given affinity path, RS and target list. */
static inline uint64_t t3_sgir(unsigned sgi, unsigned aff3, unsigned aff2, unsigned aff1, unsigned rs, uint16_t list)
{
    return (uint64_t)aff3 << 48 | (uint64_t)rs << 44 | (uint64_t)aff2 << 32 | (uint64_t)sgi << 24 |
           (uint64_t)aff1 << 16 | list;
}
