/*
 * Shared set-up for the vGIC / virq tests: a guest with one RAM region and a
 * GICv2 distributor at 0x08000000, guest accesses to it through the MMIO
 * dispatcher, and guest EOIs through the fault path (VGICMaintenance).
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
#include "mmio_internal.h"
#include "vgic/vgic.h"

#define T_GICD 0x08000000ull
#define T_RAM_GPA 0x40000000ull

#define GICD_CTLR 0x000
#define GICD_TYPER 0x004
#define GICD_IIDR 0x008
#define GICD_IGROUPR 0x080
#define GICD_ISENABLER 0x100
#define GICD_ICENABLER 0x180
#define GICD_ISPENDR 0x200
#define GICD_ICPENDR 0x280
#define GICD_ISACTIVER 0x300
#define GICD_ICACTIVER 0x380
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR 0x800
#define GICD_ICFGR 0xc00
#define GICD_SGIR 0xf00
#define GICD_CPENDSGIR 0xf10
#define GICD_SPENDSGIR 0xf20
#define GICD_PIDR2 0xfe8

static uint8_t t_ram[0x10000] __attribute__((aligned(4096)));

/* Guest with n vCPUs, `lrs` list registers per vCPU, virq_controller_init(0) done. */
static inline void t_guest(size_t n, unsigned lrs)
{
    fake_microkit_reset();
    fake.num_lrs = lrs;
    mmio_reset();
    struct guest_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.num_vcpus = n;
    cfg.num_ram_regions = 1;
    cfg.ram[0].gpa = T_RAM_GPA;
    cfg.ram[0].size = sizeof(t_ram);
    cfg.ram[0].vmm_vaddr = (uintptr_t)t_ram;
    cfg.gic_version = GIC_VERSION_2;
    cfg.gicd_gpa = T_GICD;
    assert_true(guest_init(&cfg));
    assert_true(virq_controller_init(0));
}

static inline uint32_t t_read(size_t vcpu, uint32_t off, unsigned width)
{
    struct mmio_access a = {.gpa = T_GICD + off, .width = (uint8_t)width, .is_write = false, .value = 0xdeadbeef};
    assert_int_equal(mmio_dispatch(vcpu, &a), MMIO_HANDLED);
    return (uint32_t)a.value;
}

static inline void t_write(size_t vcpu, uint32_t off, unsigned width, uint32_t value)
{
    struct mmio_access a = {.gpa = T_GICD + off, .width = (uint8_t)width, .is_write = true, .value = value};
    assert_int_equal(mmio_dispatch(vcpu, &a), MMIO_HANDLED);
}

/* Bit n of a bit-per-INTID register array (ISENABLER, ISPENDR, ...). */
static inline void t_set_bit(size_t vcpu, uint32_t base, unsigned intid)
{
    t_write(vcpu, base + (intid / 32) * 4, 4, 1u << (intid % 32));
}

static inline bool t_get_bit(size_t vcpu, uint32_t base, unsigned intid)
{
    return (t_read(vcpu, base + (intid / 32) * 4, 4) >> (intid % 32)) & 1;
}

static inline void t_dist_enable(void)
{
    t_write(0, GICD_CTLR, 4, 1);
}

static inline void t_enable(size_t vcpu, unsigned intid)
{
    t_set_bit(vcpu, GICD_ISENABLER, intid);
}

static inline void t_priority(size_t vcpu, unsigned intid, uint8_t prio)
{
    t_write(vcpu, GICD_IPRIORITYR + intid, 1, prio);
}

/* Deliver a VGICMaintenance fault for LR idx through fault_handle(). */
static inline bool t_maintenance(size_t vcpu, seL4_Word idx)
{
    microkit_msginfo reply;
    return fault_handle(vcpu, fake_fault(seL4_Fault_VGICMaintenance, 1, &idx), &reply);
}

/* The guest takes (IAR) and EOIs the vIRQ in LR idx; the kernel reports it. */
static inline void t_guest_eoi(size_t vcpu, unsigned idx)
{
    fake_guest_ack(vcpu, idx);
    fake_guest_eoi(vcpu, idx);
    assert_true(t_maintenance(vcpu, idx));
}

/* EOI whatever LR holds virq on vcpu (it must be in one). */
static inline void t_guest_eoi_irq(size_t vcpu, unsigned virq)
{
    int idx = fake_lr_find(vcpu, virq);
    assert_true(idx >= 0);
    t_guest_eoi(vcpu, (unsigned)idx);
}

/* Number of InjectIRQ calls that loaded virq into a list register of vcpu. */
static inline unsigned t_injects(size_t vcpu, unsigned virq)
{
    unsigned n = 0;
    for (size_t i = 0; i < fake.num_injects; i++) {
        n += fake.injects[i].vcpu == vcpu && fake.injects[i].virq == virq;
    }
    return n;
}

/* Number of valid LRs on vcpu. */
static inline unsigned t_lrs_used(size_t vcpu)
{
    unsigned n = 0;
    for (unsigned i = 0; i < fake.num_lrs; i++) {
        n += fake.vcpu[vcpu].lr[i].state != FAKE_LR_INVALID;
    }
    return n;
}

/* No INTID in two LRs of any vCPU. */
static inline void t_assert_lrs_unique(size_t n)
{
    for (size_t v = 0; v < n; v++) {
        for (unsigned i = 0; i < fake.num_lrs; i++) {
            const struct fake_lr *lr = &fake.vcpu[v].lr[i];
            if (lr->state != FAKE_LR_INVALID) {
                assert_int_equal(fake_lr_count(v, lr->virq), 1);
            }
        }
    }
}

/* An ack-callback recorder. */
struct t_acks {
    unsigned count;
    size_t vcpu;
    int irq;
    void *cookie;
};

static struct t_acks t_ack;

static inline void t_ack_fn(size_t vcpu, int irq, void *cookie)
{
    t_ack.count++;
    t_ack.vcpu = vcpu;
    t_ack.irq = irq;
    t_ack.cookie = cookie;
}
