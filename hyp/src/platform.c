/*
 * Board discovery from QEMU's hardware device tree: a small read-only
 * flattened-devicetree walker (Devicetree Specification v0.4, chapter 5).
 * libfdt is not used here so that its fdt_* symbols stay free for the VMM.
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <hyp/log.h>
#include <hyp/platform.h>

#define FDT_MAGIC 0xd00dfeed
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9
#define FDT_MAX_DEPTH 8
#define FDT_MAX_SIZE 0x200000 /* QEMU's DTB must fit the 2 MiB below hyp's image */

struct platform platform;

struct prop {
    const uint8_t *data;
    uint32_t len;
};

struct node {
    const char *name;
    struct prop compatible, reg, interrupts, device_type, bootargs, stdout_path, method;
    unsigned addr_cells, size_cells; /* for this node's children */
    bool evaluated;
};

static uint32_t be32(const void *p)
{
    const uint8_t *b = p;
    return ((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) | b[3];
}

static uint64_t read_cells(const uint8_t *p, unsigned cells)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < cells; i++) {
        v = (v << 32) | be32(p + 4 * i);
    }
    return v;
}

static bool prop_has_string(const struct prop *p, const char *s)
{
    size_t n = strlen(s);
    for (uint32_t off = 0; off < p->len;) {
        const char *cur = (const char *)p->data + off;
        size_t len = strnlen(cur, p->len - off);
        if (len == n && memcmp(cur, s, n) == 0) {
            return true;
        }
        off += (uint32_t)len + 1;
    }
    return false;
}

/* Entry `idx` of a reg property, with the parent's cell sizes. */
static bool reg_entry(const struct node *parent, const struct node *n, unsigned idx, uint64_t *addr, uint64_t *size)
{
    unsigned stride = 4 * (parent->addr_cells + parent->size_cells);
    if (stride == 0 || n->reg.len < stride * (idx + 1)) {
        return false;
    }
    const uint8_t *p = n->reg.data + stride * idx;
    *addr = read_cells(p, parent->addr_cells);
    *size = read_cells(p + 4 * parent->addr_cells, parent->size_cells);
    return true;
}

/* Interrupt specifier `idx` of a 3-cell GIC interrupts property -> INTID (GIC binding: 0 SPI, 1 PPI). */
static uint32_t gic_intid(const struct node *n, unsigned idx)
{
    if (n->interrupts.len < 12 * (idx + 1)) {
        return 0;
    }
    const uint8_t *p = n->interrupts.data + 12 * idx;
    uint32_t type = be32(p), num = be32(p + 4);
    return type == 1 ? num + 16 : num + 32;
}

static const char *uart_node_name;

static void evaluate(struct node *stack, int depth)
{
    if (depth < 1 || stack[depth].evaluated) {
        return;
    }
    struct node *n = &stack[depth];
    struct node *parent = &stack[depth - 1];
    n->evaluated = true;
    uint64_t a, s;
    if (depth == 1 && (strncmp(n->name, "memory", 6) == 0 || prop_has_string(&n->device_type, "memory"))) {
        if (reg_entry(parent, n, 0, &a, &s) && platform.ram_size == 0) {
            platform.ram_base = a;
            platform.ram_size = s;
        }
    } else if (prop_has_string(&n->compatible, "arm,cortex-a15-gic") ||
               prop_has_string(&n->compatible, "arm,gic-400")) {
        platform.gic_version = 2;
        reg_entry(parent, n, 0, &platform.gicd_pa, &platform.gicd_size);
        reg_entry(parent, n, 1, &platform.gicc_pa, &platform.gicc_size);
        reg_entry(parent, n, 2, &platform.gich_pa, &platform.gich_size);
        reg_entry(parent, n, 3, &platform.gicv_pa, &platform.gicv_size);
        platform.maint_irq = gic_intid(n, 0);
    } else if (prop_has_string(&n->compatible, "arm,gic-v3")) {
        /* GIC binding: reg = GICD, then the redistributor region(s); QEMU virt has one below 123 CPUs. */
        platform.gic_version = 3;
        reg_entry(parent, n, 0, &platform.gicd_pa, &platform.gicd_size);
        reg_entry(parent, n, 1, &platform.gicr_pa, &platform.gicr_size);
        platform.maint_irq = gic_intid(n, 0);
    } else if (prop_has_string(&n->compatible, "arm,armv8-timer") ||
               prop_has_string(&n->compatible, "arm,armv7-timer")) {
        /* Timer binding order: secure phys, non-secure phys, virtual, hypervisor. */
        platform.vtimer_irq = gic_intid(n, 2);
        platform.hyptimer_irq = gic_intid(n, 3);
    } else if (prop_has_string(&n->compatible, "arm,pl011")) {
        bool chosen = uart_node_name && strcmp(uart_node_name, n->name) == 0;
        if (platform.uart_pa == 0 || chosen) {
            reg_entry(parent, n, 0, &platform.uart_pa, &platform.uart_size);
            platform.uart_irq = gic_intid(n, 0);
        }
    } else if (depth == 1 && strcmp(n->name, "chosen") == 0) {
        if (n->bootargs.len) {
            platform.bootargs = (const char *)n->bootargs.data;
        }
        if (n->stdout_path.len) {
            const char *path = (const char *)n->stdout_path.data;
            const char *last = strrchr(path, '/');
            uart_node_name = last ? last + 1 : path;
        }
    } else if (prop_has_string(&n->compatible, "arm,psci-1.0") || prop_has_string(&n->compatible, "arm,psci-0.2") ||
               prop_has_string(&n->compatible, "arm,psci")) {
        if (prop_has_string(&n->method, "hvc")) {
            platform.psci_conduit = PSCI_HVC;
        } else if (prop_has_string(&n->method, "smc")) {
            platform.psci_conduit = PSCI_SMC;
        }
    } else if (prop_has_string(&n->compatible, "virtio,mmio")) {
        if (platform.num_virtio < PLATFORM_MAX_VIRTIO && reg_entry(parent, n, 0, &a, &s) && s != 0) {
            unsigned i = platform.num_virtio++;
            platform.virtio[i].pa = a;
            platform.virtio[i].size = s;
            platform.virtio[i].intid = gic_intid(n, 0);
        }
    } else if (depth == 2 && strcmp(parent->name, "cpus") == 0 && prop_has_string(&n->device_type, "cpu")) {
        if (platform.num_cpus < PLATFORM_MAX_CPUS && n->reg.len >= 4 * parent->addr_cells) {
            platform.cpu_mpidr[platform.num_cpus++] = read_cells(n->reg.data, parent->addr_cells);
        }
    }
}

static void walk(const uint8_t *fdt, uint32_t struct_off, uint32_t struct_size, const char *strings,
                 uint32_t strings_size)
{
    struct node stack[FDT_MAX_DEPTH + 1];
    int depth = -1;
    uint32_t off = 0;
    memset(stack, 0, sizeof(stack));
    while (off + 4 <= struct_size) {
        const uint8_t *p = fdt + struct_off + off;
        uint32_t token = be32(p);
        off += 4;
        if (token == FDT_BEGIN_NODE) {
            if (depth >= 0) {
                evaluate(stack, depth);
            }
            if (++depth > FDT_MAX_DEPTH) {
                hyp_panic("device tree nests deeper than %d", FDT_MAX_DEPTH);
            }
            struct node *n = &stack[depth];
            memset(n, 0, sizeof(*n));
            n->name = (const char *)p + 4;
            n->addr_cells = 2; /* Devicetree spec 2.3.5 defaults */
            n->size_cells = 1;
            off += ((uint32_t)strnlen(n->name, struct_size - off) + 1 + 3) & ~3u;
        } else if (token == FDT_END_NODE) {
            if (depth < 0) {
                hyp_panic("device tree: unbalanced END_NODE");
            }
            evaluate(stack, depth);
            depth--;
        } else if (token == FDT_PROP) {
            uint32_t len = be32(p + 4), nameoff = be32(p + 8);
            const uint8_t *data = p + 12;
            off += 8 + ((len + 3) & ~3u);
            if (depth < 0 || nameoff >= strings_size || off > struct_size) {
                hyp_panic("device tree: malformed property");
            }
            const char *name = strings + nameoff;
            struct node *n = &stack[depth];
            struct prop prop = {data, len};
            if (strcmp(name, "compatible") == 0) {
                n->compatible = prop;
            } else if (strcmp(name, "reg") == 0) {
                n->reg = prop;
            } else if (strcmp(name, "interrupts") == 0) {
                n->interrupts = prop;
            } else if (strcmp(name, "device_type") == 0) {
                n->device_type = prop;
            } else if (strcmp(name, "bootargs") == 0) {
                n->bootargs = prop;
            } else if (strcmp(name, "stdout-path") == 0) {
                n->stdout_path = prop;
            } else if (strcmp(name, "method") == 0) {
                n->method = prop;
            } else if (strcmp(name, "#address-cells") == 0 && len == 4) {
                n->addr_cells = be32(data);
            } else if (strcmp(name, "#size-cells") == 0 && len == 4) {
                n->size_cells = be32(data);
            }
        } else if (token == FDT_NOP) {
            continue;
        } else if (token == FDT_END) {
            return;
        } else {
            hyp_panic("device tree: bad token 0x%x at offset 0x%x", token, off - 4);
        }
    }
}

/* QEMU writes the virtio_mmio nodes highest address first: sort them so that the index is the slot. */
static void sort_virtio(void)
{
    for (unsigned i = 1; i < platform.num_virtio; i++) {
        for (unsigned j = i; j > 0 && platform.virtio[j - 1].pa > platform.virtio[j].pa; j--) {
            __typeof__(platform.virtio[0]) t = platform.virtio[j];
            platform.virtio[j] = platform.virtio[j - 1];
            platform.virtio[j - 1] = t;
        }
    }
}

void platform_init(uint64_t dtb_pa)
{
    const uint8_t *fdt = (const uint8_t *)(uintptr_t)dtb_pa;
    if (be32(fdt) != FDT_MAGIC) {
        hyp_panic("no device tree at the start of RAM (%p): is QEMU loading hyp as an ELF above it?", (void *)fdt);
    }
    uint32_t total = be32(fdt + 4), off_struct = be32(fdt + 8), off_strings = be32(fdt + 12);
    uint32_t size_strings = be32(fdt + 32), size_struct = be32(fdt + 36);
    if (total > FDT_MAX_SIZE || off_struct + size_struct > total || off_strings + size_strings > total) {
        hyp_panic("device tree header is inconsistent (totalsize 0x%x)", total);
    }
    platform.dtb_pa = dtb_pa;
    platform.dtb_size = total;
    platform.bootargs = "";
    /* Two passes: the first finds /chosen/stdout-path, the second picks that UART. */
    walk(fdt, off_struct, size_struct, (const char *)fdt + off_strings, size_strings);
    platform.num_cpus = 0;
    platform.num_virtio = 0;
    platform.uart_pa = 0;
    walk(fdt, off_struct, size_struct, (const char *)fdt + off_strings, size_strings);

    if (platform.ram_size == 0) {
        hyp_panic("device tree has no /memory node");
    }
    if (platform.gic_version != 2 && platform.gic_version != 3) {
        hyp_panic("device tree has no GICv2 or GICv3 (run QEMU with -M virt,gic-version=2 or 3)");
    }
    if (!platform.gicd_pa || !platform.maint_irq ||
        (platform.gic_version == 2 && (!platform.gicc_pa || !platform.gich_pa || !platform.gicv_pa))) {
        hyp_panic("GIC has no virtualization extensions (run QEMU with -M virt,virtualization=on)");
    }
    if (platform.gic_version == 3 && !platform.gicr_size) {
        hyp_panic("GICv3 without a redistributor region in the device tree");
    }
    if (!platform.uart_pa || !platform.vtimer_irq) {
        hyp_panic("device tree lacks a PL011 or an architected timer");
    }
    if (platform.num_cpus == 0) {
        platform.num_cpus = 1;
    }
    sort_virtio();
}
