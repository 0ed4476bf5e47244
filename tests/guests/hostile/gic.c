/*
 * Phase 2, the emulated GICv2 distributor (IHI 0048B 4.3; attack classes
 * 11, 18): random offsets, widths and values over the whole 4 KiB window,
 * GICD_SGIR with every filter and target list, CPENDSGIR/SPENDSGIR, reserved
 * offsets. Afterwards the read-only registers must not have moved, reserved
 * offsets still read as zero, and an SGI to ourselves must still arrive.
 */
#include "hostile.h"

#define GICD_CTLR 0x000
#define GICD_TYPER 0x004
#define GICD_IIDR 0x008
#define GICD_IGROUPR 0x080
#define GICD_ISENABLER 0x100
#define GICD_ICENABLER 0x180
#define GICD_ISPENDR 0x200
#define GICD_ICPENDR 0x280
#define GICD_ICACTIVER 0x380
#define GICD_IPRIORITYR 0x400
#define GICD_ITARGETSR 0x800
#define GICD_ICFGR 0xc00
#define GICD_SGIR 0xf00
#define GICD_CPENDSGIR 0xf10
#define GICD_SPENDSGIR 0xf20
#define GICD_PIDR2 0xfe8
#define GICD_CIDR0 0xff0

#define GICC_CTLR 0x000
#define GICC_PMR 0x004

#define GIC_RANDOM_ACCESSES 30000u

#define SGIR(filter, targets, intid) ((uint32_t)(filter) << 24 | (uint32_t)(targets) << 16 | (intid))

static uint32_t gicd(uint32_t off)
{
    return rd32(GICD_BASE + off);
}

static void gicd_set(uint32_t off, uint32_t v)
{
    wr32(GICD_BASE + off, v);
    counts.gic_accesses++;
}

/* A random GICD_SGIR value: every filter (3 is reserved), any target list, INTIDs and reserved bits. */
static uint32_t random_sgir(void)
{
    uint32_t v = SGIR(rnd_below(4), rnd_below(256), rnd_below(16));
    if (rnd_chance(4)) {
        v |= (uint32_t)rnd() & 0xfc00fff0u; /* reserved bits and NSATT */
    }
    return v;
}

static void random_access(void)
{
    uint32_t off;
    unsigned w = 4;
    uint64_t v = rnd();
    switch (rnd_below(8)) {
    case 0:
        off = GICD_SGIR;
        v = random_sgir();
        break;
    case 1:
        off = (rnd_chance(2) ? GICD_CPENDSGIR : GICD_SPENDSGIR) + rnd_below(16);
        w = (off & 3) == 0 && rnd_chance(2) ? 4 : 1;
        break;
    case 2: /* the byte-accessible arrays, bytewise */
        off = GICD_IPRIORITYR + rnd_below(0x800);
        w = 1;
        break;
    case 3: { /* any width at any offset its alignment allows */
        static const unsigned ws[] = {1, 2, 4, 8};
        w = ws[rnd_below(4)];
        off = rnd_below((uint32_t)GICD_SIZE) & ~(w - 1);
        break;
    }
    default:
        off = rnd_below((uint32_t)GICD_SIZE / 4) * 4;
        break;
    }
    uint64_t got;
    if (rnd_chance(3)) {
        probe_read(GICD_BASE + off, w, &got);
    } else {
        probe_write(GICD_BASE + off, w, v);
    }
    counts.gic_accesses++;
}

/* Every filter and target list in turn, then the SGI pending registers byte by byte and word by word. */
static void sgir_sweep(void)
{
    for (uint32_t filter = 0; filter < 4; filter++) {
        for (uint32_t targets = 0; targets < 256; targets++) {
            gicd_set(GICD_SGIR, SGIR(filter, targets, (targets + filter) & 15));
        }
    }
    for (uint32_t i = 0; i < 16; i++) {
        probe_write(GICD_BASE + GICD_SPENDSGIR + i, 1, 0xff);
        probe_write(GICD_BASE + GICD_CPENDSGIR + i, 1, rnd());
        counts.gic_accesses += 2;
    }
    for (uint32_t i = 0; i < 16; i += 4) {
        gicd_set(GICD_SPENDSGIR + i, (uint32_t)rnd());
        gicd_set(GICD_CPENDSGIR + i, 0xffffffffu);
    }
}

/* IHI 0048B table 4-1: offsets that are reserved (RAZ/WI), not merely IMPLEMENTATION DEFINED. */
static bool reserved_offset(uint32_t off)
{
    return (off >= 0x00c && off < 0x020) || (off >= 0x040 && off < 0x080) || (off >= 0xf04 && off < 0xf10) ||
           (off >= 0xf30 && off < 0xfd0);
}

static void check_after_abuse(uint32_t typer, uint32_t iidr, uint32_t pidr2)
{
    check_eq(gicd(GICD_TYPER), typer, "GICD_TYPER changed");
    check_eq(gicd(GICD_IIDR), iidr, "GICD_IIDR changed");
    check_eq(gicd(GICD_PIDR2), pidr2, "GICD_PIDR2 changed");
    check_eq(gicd(GICD_CIDR0), 0x0d, "GICD_CIDR0");
    for (uint32_t off = 0; off < GICD_SIZE; off += 4) {
        if (reserved_offset(off) && gicd(off) != 0) {
            fail_hex("a reserved distributor offset reads non-zero", off, 0);
        }
    }
    /* 4.3.12: ITARGETSR0-7 read as this CPU's own bit; 4.3.13: ICFGR0 (SGIs) reads 0xaaaaaaaa. */
    check_eq(*(volatile uint8_t *)(GICD_BASE + GICD_ITARGETSR + 5), 1, "ITARGETSR of SGI 5");
    check_eq(gicd(GICD_ICFGR), 0xaaaaaaaau, "GICD_ICFGR0");
    /* 4.3.12: target bits of CPU interfaces that do not exist are RAZ/WI (one vCPU here). */
    *(volatile uint8_t *)(GICD_BASE + GICD_ITARGETSR + 40) = 0xff;
    check_eq(*(volatile uint8_t *)(GICD_BASE + GICD_ITARGETSR + 40), 1, "ITARGETSR of SPI 40 after writing 0xff");
    *(volatile uint8_t *)(GICD_BASE + GICD_IPRIORITYR + 7) = 0xa0;
    check_eq(*(volatile uint8_t *)(GICD_BASE + GICD_IPRIORITYR + 7), 0xa0, "byte write to IPRIORITYR");
}

static void irq_window(unsigned ms)
{
    uint64_t end = now_ticks() + ms_to_ticks(ms);
    __asm__ volatile("msr daifclr, #2" ::: "memory");
    while (now_ticks() < end) {
    }
    __asm__ volatile("msr daifset, #2" ::: "memory");
}

/* Send an SGI; true if it was taken (and acknowledged) within a few milliseconds. */
static bool sgi_arrives(uint32_t sgir, unsigned intid)
{
    irqs.seen_mask = 0;
    gicd_set(GICD_SGIR, sgir);
    irq_window(20);
    return (irqs.seen_mask >> intid) & 1;
}

/*
 * An SPI made pending by the guest itself through GICD_ISPENDR (4.3.7):
 * the virtio interrupts, and INTID 33, the PL011 the VMM passes through, so
 * the guest's EOI of an interrupt the hardware never raised reaches the
 * pass-through acknowledgement path (microkit_irq_ack) of the VMM and hyp.
 */
static bool spi_arrives(unsigned intid)
{
    *(volatile uint8_t *)(GICD_BASE + GICD_IPRIORITYR + intid) = 0x80;
    *(volatile uint8_t *)(GICD_BASE + GICD_ITARGETSR + intid) = 1;
    irqs.seen_mask = 0;
    gicd_set(GICD_ISENABLER + 4 * (intid / 32), 1u << (intid % 32));
    gicd_set(GICD_ISPENDR + 4 * (intid / 32), 1u << (intid % 32));
    irq_window(20);
    gicd_set(GICD_ICENABLER + 4 * (intid / 32), 1u << (intid % 32));
    return (irqs.seen_mask >> intid) & 1;
}

/* Put the distributor and our CPU interface back in a known state, take whatever is pending, then SGIs. */
static void sgi_check(void)
{
    gicd_set(GICD_CTLR, 0);
    for (uint32_t i = 0; i < 0x80; i += 4) {
        gicd_set(GICD_ICENABLER + i, 0xffffffffu);
        gicd_set(GICD_ICPENDR + i, 0xffffffffu);
        gicd_set(GICD_ICACTIVER + i, 0xffffffffu);
        gicd_set(GICD_IGROUPR + i, 0);
    }
    for (uint32_t i = 0; i < 16; i += 4) {
        gicd_set(GICD_CPENDSGIR + i, 0xffffffffu);
        gicd_set(GICD_IPRIORITYR + i, 0x80808080u);
    }
    gicd_set(GICD_ISENABLER, 0xffff);
    gicd_set(GICD_CTLR, 3);
    wr32(GICC_BASE + GICC_PMR, 0xf0);
    wr32(GICC_BASE + GICC_CTLR, 0x7); /* EnableGrp0, EnableGrp1, AckCtl (IHI 0048B 5.4.1, GICV_CTLR) */
    irq_window(20);
    say_num("gic: interrupts drained after the abuse: ", irqs.count);

    check(sgi_arrives(SGIR(2, 0, 5), 5), "SGI 5 to self (filter 2) not delivered after the abuse");
    check_eq((irqs.last_iar >> 10) & 7, 0, "GICV_IAR CPUID of an SGI we sent ourselves");
    check(sgi_arrives(SGIR(0, 1, 6), 6), "SGI 6 to target list 0x01 not delivered");
    check(!sgi_arrives(SGIR(1, 0, 7), 7), "SGI 7 to 'all but self' reached us");
    check(!sgi_arrives(SGIR(0, 0xfe, 8), 8), "SGI 8 to CPUs that do not exist reached us");
    check(!sgi_arrives(SGIR(3, 0xff, 9), 9), "SGI 9 with the reserved filter was delivered");
    static const unsigned spis[] = {33, 48, 49, 50, 33};
    for (unsigned i = 0; i < sizeof(spis) / sizeof(spis[0]); i++) {
        if (!spi_arrives(spis[i])) {
            fail_hex("an SPI set pending through GICD_ISPENDR was not delivered", spis[i], spis[i]);
        }
    }
    gicd_set(GICD_ICENABLER, 0xffffffffu);
    wr32(GICC_BASE + GICC_CTLR, 0);
}

void phase_gic(void)
{
    uint32_t pidr2 = gicd(GICD_PIDR2);
    if (((pidr2 >> 4) & 0xf) != 2) {
        say("phase 2 skipped: the distributor is not a GICv2 one (PIDR2.ArchRev != 2)");
        return;
    }
    uint32_t typer = gicd(GICD_TYPER), iidr = gicd(GICD_IIDR);
    sgir_sweep();
    for (unsigned i = 0; i < GIC_RANDOM_ACCESSES; i++) {
        random_access();
    }
    sgir_sweep();
    check_after_abuse(typer, iidr, pidr2);
    sgi_check();
    say_num("phase 2 vGIC distributor done, accesses: ", counts.gic_accesses);
}
