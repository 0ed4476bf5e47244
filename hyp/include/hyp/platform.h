/*
 * What hyp learns about the board from QEMU's hardware device tree
 * (placed at the start of RAM; DESIGN 3, Platform discovery).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define PLATFORM_MAX_CPUS 8
#define PLATFORM_MAX_VIRTIO 32 /* QEMU virt: 32 virtio-mmio transports at 0x0a000000 + n * 0x200, SPI 16 + n */

struct platform {
    uint64_t dtb_pa;
    uint64_t dtb_size;
    uint64_t ram_base;
    uint64_t ram_size;
    unsigned gic_version; /* 2 or 3 */
    uint64_t gicd_pa, gicd_size;
    uint64_t gicc_pa, gicc_size; /* GICv2 only */
    uint64_t gich_pa, gich_size; /* GICv2 only */
    uint64_t gicv_pa, gicv_size; /* GICv2 only */
    uint64_t gicr_pa, gicr_size; /* GICv3 only: the (first) redistributor region */
    uint32_t maint_irq; /* GIC maintenance INTID (25 on QEMU) */
    uint32_t vtimer_irq; /* EL1 virtual timer INTID (27) */
    uint32_t hyptimer_irq;
    uint64_t uart_pa, uart_size;
    uint32_t uart_irq;
    unsigned num_cpus;
    uint64_t cpu_mpidr[PLATFORM_MAX_CPUS];
    const char *bootargs; /* points into the DTB; "" if none */
    enum { PSCI_NONE, PSCI_HVC, PSCI_SMC } psci_conduit;
    /* virtio-mmio transports (compatible "virtio,mmio"), sorted by address: index = slot number. */
    struct {
        uint64_t pa, size;
        uint32_t intid;
    } virtio[PLATFORM_MAX_VIRTIO];
    unsigned num_virtio;
};

extern struct platform platform;

/* Check the DTB at `dtb_pa` (identity mapped) and fill `platform`; panics if it is unusable. */
void platform_init(uint64_t dtb_pa);
