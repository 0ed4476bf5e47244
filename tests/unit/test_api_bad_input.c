/*
 * Bad input from the VMM author (issue 5 item 4): every public function
 * rejects out-of-range vCPU ids, IRQ numbers, channels and addresses,
 * duplicate registrations, NULL pointers, zero sizes and calls made too
 * early with its documented failure value and a log line that names the
 * problem, and never crashes (fake.crashes stays 0). One table per public
 * header; each row is a call with one bad argument.
 *
 * guest_ram.h is the exception on logging: guest_ram_ptr() and
 * guest_ram_contains() are queries on the guest-reachable hot path (every
 * descriptor goes through them), so they report by value only and their
 * callers log; their rows expect no log line at all.
 * The virtio devices' and shq.h's rows are in test_api_bad_input_virtio.c.
 */
#include "api_bad_input.h"

static struct guest_config good_config(void)
{
    struct guest_config c = {
        .num_vcpus = NUM_VCPUS,
        .num_ram_regions = 2,
        .ram =
            {
                {.gpa = T_RAM_GPA, .size = T_RAM_SIZE, .vmm_vaddr = (uintptr_t)t_ram},
                {.gpa = T_RAM2_GPA, .size = T_RAM2_SIZE, .vmm_vaddr = (uintptr_t)t_ram2},
            },
        .gic_version = GIC_VERSION_2,
        .gicd_gpa = GICD_GPA,
    };
    return c;
}

/* The configuration is still the good one (a refused guest_init() changes nothing). */
static bool still_configured(void)
{
    return guest_num_vcpus() == NUM_VCPUS && guest_ram_contains(T_RAM2_GPA, 1);
}

static bool stopped_anyway(size_t vcpu)
{
    guest_stop(vcpu);
    return !fake.vcpu[0].runnable && !fake.vcpu[1].runnable;
}

static bool gpa_of_refused(uintptr_t vaddr, size_t len)
{
    uint64_t gpa = 0x5a5a;
    return !guest_ram_gpa_of(vaddr, len, &gpa) && gpa == 0x5a5a;
}

static microkit_msginfo vm_fault_msg(void)
{
    const seL4_Word mrs[4] = {T_LOAD, GICD_GPA, 0, 0x93800006}; /* LDR W0 from the distributor */
    return fake_fault(seL4_Fault_VMFault, 4, mrs);
}

static bool fault_refused(size_t vcpu)
{
    microkit_msginfo reply = microkit_msginfo_new(0xdead, 0);
    return !fault_handle(vcpu, vm_fault_msg(), &reply) && fake.vcpu[0].reg_writes == 0;
}

/* ---- before guest_init() / virq_controller_init(): runs first, in a fresh process ---- */

#define BEFORE_INIT_CASES(X)                                                                                           \
    X(guest_start_before_init, !guest_start(0, T_LOAD, T_DTB_DEST, 0), "boot vCPU 0 is not configured")                \
    X(guest_stop_before_init, stopped_anyway(0), "stopping every vCPU anyway")                                         \
    X(guest_restart_before_init, !guest_restart(0, (uintptr_t)t_kernel, T_KERNEL_BUF), "is not configured")            \
    X(linux_setup_before_init,                                                                                         \
      linux_setup_images((uintptr_t)t_kernel, (uintptr_t)t_kernel, 64, (uintptr_t)t_dtb, T_DTB_DEST, 64, 0, 0, 0) ==   \
          LOADER_FAILED,                                                                                               \
      "guest_init() has not been called")                                                                              \
    X(raw_setup_before_init,                                                                                           \
      raw_setup_images((uintptr_t)t_kernel, (uintptr_t)t_kernel, 64, (uintptr_t)t_dtb, T_DTB_DEST, 64, 0, 0, 0) ==     \
          LOADER_FAILED,                                                                                               \
      "guest_init() has not been called")                                                                              \
    X(virq_controller_init_before_init, !virq_controller_init(0), "guest_init() must be called first")                 \
    X(virq_register_before_init, !virq_register(0, 40, NULL, NULL), "before virq_controller_init")                     \
    X(virq_inject_before_init, !virq_inject(0, 40), "before virq_controller_init")                                     \
    X(virq_register_passthrough_before_init, !virq_register_passthrough(0, 40, 1), "before virq_controller_init")      \
    X(virq_handle_passthrough_before_init, !virq_handle_passthrough(1), "before virq_controller_init")                 \
    X(fault_handle_before_init, fault_refused(0), "not configured")                                                    \
    X(guest_ram_ptr_before_init, guest_ram_ptr(T_RAM_GPA, 1) == NULL, NULL)                                            \
    X(guest_ram_contains_before_init, !guest_ram_contains(T_RAM_GPA, 1), NULL)                                         \
    X(guest_ram_gpa_of_before_init, gpa_of_refused((uintptr_t)t_kernel, 1), NULL)                                      \
    X(virtio_blk_init_before_init, blk_refused(&blk, DEV_GPA, 0, DEV_IRQ, DEV_CH),                                     \
      "vCPU 0 is not configured (0 vCPUs)")                                                                            \
    X(virtio_net_init_before_init, net_refused(&net, DEV_GPA, 0, DEV_IRQ, DEV_CH),                                     \
      "vCPU 0 is not configured (0 vCPUs)")                                                                            \
    X(virtio_console_init_before_init, console_refused(&con, DEV_GPA, 0, DEV_IRQ, DEV_CH),                             \
      "vCPU 0 is not configured (0 vCPUs)")

BEFORE_INIT_CASES(CASE_FN)

static void test_calls_before_init(void **state)
{
    (void)state;
    fake_microkit_reset();
    t_alloc_ram();
    vb_init(SHQ_KIND_BLK, 64, 64, 0, 0);
    vb_blk_config(VB_DISK_SECTORS, false, "early");
    static const struct bad_case cases[] = {BEFORE_INIT_CASES(CASE_ROW)};
    run_cases("before init", cases, sizeof(cases) / sizeof(cases[0]));
    assert_int_equal(fake.num_injects, 0);
}

/* ---- guest.h ---- */

#define CFG_FN(name, stmt, needle)                                                                                     \
    static bool name(void)                                                                                             \
    {                                                                                                                  \
        struct guest_config c = good_config();                                                                         \
        stmt;                                                                                                          \
        return !guest_init(&c) && still_configured();                                                                  \
    }

#define GUEST_INIT_CASES(X)                                                                                            \
    X(guest_init_zero_vcpus, c.num_vcpus = 0, "num_vcpus 0 out of range")                                              \
    X(guest_init_too_many_vcpus, c.num_vcpus = GUEST_MAX_VCPUS + 1, "num_vcpus 9 out of range")                        \
    X(guest_init_huge_vcpus, c.num_vcpus = SIZE_MAX, "out of range 1..8")                                              \
    X(guest_init_no_ram, c.num_ram_regions = 0, "num_ram_regions 0 out of range")                                      \
    X(guest_init_too_many_ram_regions, c.num_ram_regions = GUEST_MAX_RAM_REGIONS + 1,                                  \
      "num_ram_regions 5 out of range")                                                                                \
    X(guest_init_gic_version_4, c.gic_version = (enum gic_version)4, "unsupported GIC version 4")                      \
    X(guest_init_ram_size_zero, c.ram[1].size = 0, "RAM region 1: size and VMM address must be non-zero")              \
    X(guest_init_ram_vaddr_null, c.ram[0].vmm_vaddr = 0, "RAM region 0: size and VMM address must be non-zero")        \
    X(guest_init_ram_wraps, c.ram[1].gpa = 0xfffffffffff00000ull, "wraps the address space")                           \
    X(guest_init_ram_misaligned, c.ram[1].gpa = T_RAM2_GPA + 0x800, "must be 4 KiB aligned")                           \
    X(guest_init_ram_gpa_overlap, c.ram[1].gpa = T_RAM_GPA + 0x1000, "RAM regions 0 and 1 overlap")                    \
    X(guest_init_ram_vaddr_overlap, c.ram[1].vmm_vaddr = (uintptr_t)t_ram + 0x1000, "RAM regions 0 and 1 overlap")

GUEST_INIT_CASES(CFG_FN)

static unsigned hook_runs;

static void count_hook(void *cookie)
{
    (void)cookie;
    hook_runs++;
}

static bool duplicate_hook_refused(void)
{
    static int cookie;
    return guest_register_reset_hook(count_hook, &cookie) && !guest_register_reset_hook(count_hook, &cookie);
}

#define GUEST_CASES(X)                                                                                                 \
    X(guest_init_null, !guest_init(NULL) && still_configured(), "no configuration given")                              \
    X(guest_start_vcpu_eq_num, !guest_start(NUM_VCPUS, T_LOAD, T_DTB_DEST, 0), "boot vCPU 2 is not configured")        \
    X(guest_start_vcpu_huge, !guest_start(SIZE_MAX, T_LOAD, T_DTB_DEST, 0), "is not configured (2 vCPUs)")             \
    X(guest_start_pc_misaligned, !guest_start(0, T_LOAD + 2, T_DTB_DEST, 0), "is not 4-byte aligned")                  \
    X(guest_start_pc_outside_ram, !guest_start(0, T_RAM_END, T_DTB_DEST, 0), "is not in guest RAM")                    \
    X(guest_start_pc_zero, !guest_start(0, 0, T_DTB_DEST, 0), "entry point 0x0 is not in guest RAM")                   \
    X(guest_start_dtb_misaligned, !guest_start(0, T_LOAD, T_DTB_DEST + 4, 0), "not an 8-byte aligned guest RAM")       \
    X(guest_start_dtb_outside_ram, !guest_start(0, T_LOAD, T_RAM_END, 0), "not an 8-byte aligned guest RAM")           \
    X(guest_stop_vcpu_eq_num, stopped_anyway(NUM_VCPUS), "boot vCPU 2 is not configured; stopping every vCPU")         \
    X(guest_restart_vcpu_eq_num, !guest_restart(NUM_VCPUS, (uintptr_t)t_ram, T_RAM_SIZE),                              \
      "boot vCPU 2 is not configured")                                                                                 \
    X(guest_restart_wrong_vaddr, !guest_restart(0, (uintptr_t)t_ram + 0x1000, T_RAM_SIZE),                             \
      "is not a configured guest RAM region")                                                                          \
    X(guest_restart_wrong_size, !guest_restart(0, (uintptr_t)t_ram, T_RAM_SIZE - 1),                                   \
      "is not a configured guest RAM region")                                                                          \
    X(guest_restart_no_images, !guest_restart(0, (uintptr_t)t_ram, T_RAM_SIZE), "no images were set up")               \
    X(guest_register_reset_hook_null, !guest_register_reset_hook(NULL, NULL), "NULL reset hook")                       \
    X(guest_register_reset_hook_duplicate, duplicate_hook_refused(), "is already registered")

GUEST_CASES(CASE_FN)

static void test_guest_h(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {GUEST_INIT_CASES(CASE_ROW) GUEST_CASES(CASE_ROW)};
    run_cases("guest.h", cases, sizeof(cases) / sizeof(cases[0]));
    assert_int_equal(fake.vcpu[0].resumes + fake.vcpu[1].resumes, 0); /* no refused start started anything */
}

/* ---- loader.h: one bad argument each, guest RAM untouched ---- */

#define LOADER_FN(name, stmt, needle)                                                                                  \
    static bool name(void)                                                                                             \
    {                                                                                                                  \
        struct t_args *a = &t_args;                                                                                    \
        *a = good_args;                                                                                                \
        t_make_image(T_TEXT_OFFSET, T_IMAGE_SIZE, T_FLAGS_4K);                                                         \
        stmt;                                                                                                          \
        return t_linux() == LOADER_FAILED && t_raw() == LOADER_FAILED && t_ram_intact();                               \
    }

#define LOADER_CASES(X)                                                                                                \
    X(setup_ram_start_not_a_region, a->ram = (uintptr_t)t_ram + 0x1000, "is not the VMM address of a configured RAM")  \
    X(setup_ram_start_null, a->ram = 0, "ram_start 0x0 is not the VMM address")                                        \
    X(setup_kernel_null, a->kernel = 0, "kernel source is NULL")                                                       \
    X(setup_kernel_size_zero, a->kernel_size = 0, "kernel size is 0")                                                  \
    X(setup_kernel_size_huge, a->kernel_size = SIZE_MAX, "kernel source")                                              \
    X(setup_kernel_in_guest_ram, a->kernel = (uintptr_t)t_ram + 0x100000, "lies in guest RAM")                         \
    X(setup_dtb_null, a->dtb_src = 0, "DTB source is NULL")                                                            \
    X(setup_dtb_size_zero, a->dtb_size = 0, "DTB size 0x0 outside")                                                    \
    X(setup_dtb_size_huge, a->dtb_size = SIZE_MAX, "DTB")                                                              \
    X(setup_dtb_src_misaligned, (a->dtb_src += 4, a->dtb_size -= 4), "not 8-byte aligned")                             \
    X(setup_dtb_not_a_tree, a->dtb_src = (uintptr_t)t_initrd, "DTB magic")                                             \
    X(setup_dtb_dest_misaligned, a->dtb_dest += 4, "is not 8-byte aligned")                                            \
    X(setup_dtb_dest_outside_ram, a->dtb_dest = T_RAM_END, "is not inside one guest RAM region")                       \
    X(setup_dtb_dest_wraps, a->dtb_dest = 0xfffffffffffff000ull, "is not inside one guest RAM region")                 \
    X(setup_initrd_null, a->initrd_src = 0, "initrd source is NULL")                                                   \
    X(setup_initrd_outside_ram, a->initrd_dest = T_RAM_END - 0x1000, "initrd destination")                             \
    X(setup_initrd_overlaps_dtb, a->initrd_dest = T_DTB_DEST + 0x100, "overlaps")                                      \
    X(setup_initrd_overlaps_kernel, a->initrd_dest = T_LOAD, "overlaps")

LOADER_CASES(LOADER_FN)

static bool not_an_image_refused(void)
{
    t_args = good_args;
    t_make_image(T_TEXT_OFFSET, T_IMAGE_SIZE, T_FLAGS_4K);
    t_kernel[T_IMAGE_MAGIC_OFF] = 'X';
    bool refused = t_linux() == LOADER_FAILED && t_ram_intact();
    t_make_image(T_TEXT_OFFSET, T_IMAGE_SIZE, T_FLAGS_4K);
    return refused;
}

static void test_loader_h(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {
        LOADER_CASES(CASE_ROW){"linux_setup_images of a raw binary", not_an_image_refused, "not an arm64 Image"},
    };
    run_cases("loader.h", cases, sizeof(cases) / sizeof(cases[0]));
    t_args = good_args;
    assert_int_equal(t_linux(), T_LOAD); /* and the good arguments still work */
}

/* ---- virq.h ---- */

static bool duplicate_spi_refused(void)
{
    return virq_register(0, 40, NULL, NULL) && !virq_register(0, 40, NULL, NULL) && !virq_register(1, 40, NULL, NULL);
}

static bool duplicate_ppi_refused(void)
{
    return virq_register(1, 20, NULL, NULL) && !virq_register(1, 20, NULL, NULL);
}

static bool duplicate_channel_refused(void)
{
    return virq_register_passthrough(0, 50, 1) && !virq_register_passthrough(0, 51, 1);
}

#define VIRQ_CASES(X)                                                                                                  \
    X(virq_register_vcpu_eq_num, !virq_register(NUM_VCPUS, 40, NULL, NULL), "vCPU 2 is not configured")                \
    X(virq_register_vcpu_huge, !virq_register(SIZE_MAX, 40, NULL, NULL), "is not configured (2 vCPUs)")                \
    X(virq_register_1020, !virq_register(0, 1020, NULL, NULL), "IRQ 1020 out of range")                                \
    X(virq_register_past_spis, !virq_register(0, 288, NULL, NULL), "IRQ 288 out of range")                             \
    X(virq_register_size_max, !virq_register(0, SIZE_MAX, NULL, NULL), "out of range")                                 \
    X(virq_register_truncates_to_40, !virq_register(0, (size_t)UINT_MAX + 41, NULL, NULL), "out of range")             \
    X(virq_register_duplicate_spi, duplicate_spi_refused(), "SPI 40 is already registered")                            \
    X(virq_register_duplicate_ppi, duplicate_ppi_refused(), "INTID 20 is already registered on vCPU 1")                \
    X(virq_register_vtimer, !virq_register(1, 27, NULL, NULL), "INTID 27 is already registered")                       \
    X(virq_register_sgi, !virq_register(0, 3, NULL, NULL), "INTID 3 is already registered")                            \
    X(virq_inject_negative, !virq_inject(0, -1), "IRQ -1 out of range")                                                \
    X(virq_inject_int_min, !virq_inject(0, INT_MIN), "out of range")                                                   \
    X(virq_inject_1020, !virq_inject(0, 1020), "IRQ 1020 out of range")                                                \
    X(virq_inject_unregistered, !virq_inject(0, 41), "INTID 41 is not registered")                                     \
    X(virq_inject_vcpu_eq_num, !virq_inject(NUM_VCPUS, 40), "vCPU 2 does not exist")                                   \
    X(virq_inject_vcpu_huge, !virq_inject(SIZE_MAX, 40), "does not exist")                                             \
    X(virq_passthrough_channel_63, !virq_register_passthrough(0, 60, 63), "channel 63 out of range")                   \
    X(virq_passthrough_channel_huge, !virq_register_passthrough(0, 60, UINT_MAX), "out of range")                      \
    X(virq_passthrough_vcpu_eq_num, !virq_register_passthrough(NUM_VCPUS, 60, 2), "vCPU 2 is not configured")          \
    X(virq_passthrough_sgi, !virq_register_passthrough(0, 3, 2), "IRQ 3 cannot be passed through")                     \
    X(virq_passthrough_past_spis, !virq_register_passthrough(0, 288, 2), "IRQ 288 cannot be passed through")           \
    X(virq_passthrough_duplicate_channel, duplicate_channel_refused(), "channel 1 is already routed to IRQ 50")        \
    X(virq_passthrough_duplicate_irq, !virq_register_passthrough(1, 50, 2), "SPI 50 is already registered")            \
    X(virq_passthrough_vtimer, !virq_register_passthrough(0, 27, 3), "INTID 27 is already registered")                 \
    X(virq_handle_unrouted_channel, !virq_handle_passthrough(7), "channel 7 has no pass-through IRQ")                  \
    X(virq_handle_channel_63, !virq_handle_passthrough(63), "channel 63 has no pass-through IRQ")                      \
    X(virq_handle_channel_huge, !virq_handle_passthrough(UINT_MAX), "has no pass-through IRQ")                         \
    X(virq_controller_init_vcpu_eq_num, !virq_controller_init(NUM_VCPUS), "boot vCPU 2 is not configured")             \
    X(virq_controller_init_vcpu_huge, !virq_controller_init(SIZE_MAX), "is not configured")

VIRQ_CASES(CASE_FN)

static void test_virq_h(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {VIRQ_CASES(CASE_ROW)};
    run_cases("virq.h", cases, sizeof(cases) / sizeof(cases[0]));
    assert_int_equal(fake.num_injects, 0);
    /* A refused virq_controller_init() leaves the API refusing calls until a good one. */
    assert_false(virq_register(0, 60, NULL, NULL));
    assert_true(virq_controller_init(0));
    assert_true(virq_register(0, 60, NULL, NULL));
}

/* ---- fault.h ---- */

static bool null_reply_refused(void)
{
    return !fault_handle(0, vm_fault_msg(), NULL) && fake.vcpu[0].reg_reads == 0;
}

static bool short_message_refused(void)
{
    microkit_msginfo reply;
    const seL4_Word mrs[1] = {T_LOAD};
    return !fault_handle(0, fake_fault(seL4_Fault_VMFault, 1, mrs), &reply);
}

static bool unknown_label_refused(void)
{
    microkit_msginfo reply;
    const seL4_Word mrs[1] = {0};
    return !fault_handle(1, fake_fault(42, 1, mrs), &reply);
}

#define FAULT_CASES(X)                                                                                                 \
    X(fault_handle_vcpu_eq_num, fault_refused(NUM_VCPUS), "from vCPU 2, which is not configured")                      \
    X(fault_handle_vcpu_huge, fault_refused(SIZE_MAX), "which is not configured")                                      \
    X(fault_handle_null_reply, null_reply_refused(), "no reply message given (NULL)")                                  \
    X(fault_handle_short_message, short_message_refused(), "with only 1 message registers")                            \
    X(fault_handle_unknown_label, unknown_label_refused(), "unknown fault label 42")

FAULT_CASES(CASE_FN)

static void test_fault_h(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {FAULT_CASES(CASE_ROW)};
    run_cases("fault.h", cases, sizeof(cases) / sizeof(cases[0]));
}

/* ---- mmio.h ---- */

static bool handler(size_t vcpu, struct mmio_access *a, void *cookie)
{
    (void)vcpu;
    (void)a;
    (void)cookie;
    return true;
}

static bool duplicate_region_refused(void)
{
    return mmio_register(0x09000000, 0x1000, handler, NULL) && !mmio_register(0x09000000, 0x1000, handler, NULL);
}

static bool full_table_refused(void)
{
    size_t placed = 0;
    while (mmio_register(0x10000000 + placed * 0x1000, 0x1000, handler, NULL)) {
        placed++;
    }
    bool full = placed > 0 && placed < MMIO_MAX_REGIONS;
    for (size_t i = 0; i < placed; i++) {
        mmio_unregister(0x10000000 + i * 0x1000);
    }
    return full;
}

#define MMIO_CASES(X)                                                                                                  \
    X(mmio_register_size_zero, !mmio_register(0x09000000, 0, handler, NULL), "empty or wraps the address space")       \
    X(mmio_register_wraps, !mmio_register(0xfffffffffffff000ull, 0x2000, handler, NULL), "empty or wraps")             \
    X(mmio_register_null_handler, !mmio_register(0x09000000, 0x1000, NULL, NULL), "NULL handler")                      \
    X(mmio_register_over_distributor, !mmio_register(GICD_GPA + 0x800, 0x10, handler, NULL), "overlaps [0x8000000")    \
    X(mmio_register_duplicate, duplicate_region_refused(), "overlaps [0x9000000")                                      \
    X(mmio_register_table_full, full_table_refused(), "table full")                                                    \
    X(mmio_unregister_unknown, !mmio_unregister(0x12345000), "no region registered at 0x12345000")                     \
    X(mmio_unregister_inside_region, !mmio_unregister(GICD_GPA + 4), "no region registered at 0x8000004")

MMIO_CASES(CASE_FN)

static void test_mmio_h(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {MMIO_CASES(CASE_ROW)};
    run_cases("mmio.h", cases, sizeof(cases) / sizeof(cases[0]));
}

/* ---- guest_ram.h ---- */

static bool gpa_of_null_refused(void)
{
    return !guest_ram_gpa_of((uintptr_t)t_ram, 1, NULL);
}

#define GUEST_RAM_CASES(X)                                                                                             \
    X(guest_ram_ptr_len_zero, guest_ram_ptr(T_RAM_GPA, 0) == NULL, NULL)                                               \
    X(guest_ram_ptr_below_ram, guest_ram_ptr(T_RAM_GPA - 1, 1) == NULL, NULL)                                          \
    X(guest_ram_ptr_at_end, guest_ram_ptr(T_RAM_END, 1) == NULL, NULL)                                                 \
    X(guest_ram_ptr_across_end, guest_ram_ptr(T_RAM_END - 1, 2) == NULL, NULL)                                         \
    X(guest_ram_ptr_across_regions, guest_ram_ptr(T_RAM_END - 1, T_RAM2_GPA - T_RAM_END + 2) == NULL, NULL)            \
    X(guest_ram_ptr_wraps, guest_ram_ptr(0xffffffffffffff00ull, 0x200) == NULL, NULL)                                  \
    X(guest_ram_ptr_huge_len, guest_ram_ptr(T_RAM_GPA, SIZE_MAX) == NULL, NULL)                                        \
    X(guest_ram_contains_len_zero, !guest_ram_contains(T_RAM_GPA, 0), NULL)                                            \
    X(guest_ram_contains_across_end, !guest_ram_contains(T_RAM2_GPA + T_RAM2_SIZE - 4, 8), NULL)                       \
    X(guest_ram_gpa_of_outside, gpa_of_refused((uintptr_t)t_kernel, 1), NULL)                                          \
    X(guest_ram_gpa_of_len_zero, gpa_of_refused((uintptr_t)t_ram, 0), NULL)                                            \
    X(guest_ram_gpa_of_across_end, gpa_of_refused((uintptr_t)t_ram + T_RAM_SIZE - 1, 2), NULL)                         \
    X(guest_ram_gpa_of_null_result, gpa_of_null_refused(), "no place for the result given (NULL)")

GUEST_RAM_CASES(CASE_FN)

static void test_guest_ram_h(void **state)
{
    (void)state;
    static const struct bad_case cases[] = {GUEST_RAM_CASES(CASE_ROW)};
    run_cases("guest_ram.h", cases, sizeof(cases) / sizeof(cases[0]));
    /* The edges that are valid stay valid. */
    assert_ptr_equal(guest_ram_ptr(T_RAM_END - 1, 1), t_ram + T_RAM_SIZE - 1);
    assert_true(guest_ram_contains(T_RAM2_GPA, T_RAM2_SIZE));
}

/* ---- last: the reset hook table fills up ---- */

static void test_reset_hook_table_full(void **state)
{
    (void)state;
    static int cookies[32];
    size_t added = 0;
    while (added < 32 && guest_register_reset_hook(count_hook, &cookies[added])) {
        added++;
    }
    assert_true(added > 0 && added < 32);
    assert_true(fake_console_contains("reset hook table full"));
    assert_int_equal(fake.crashes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calls_before_init),
        cmocka_unit_test_setup(test_guest_h, setup_guest),
        cmocka_unit_test_setup(test_loader_h, setup_guest),
        cmocka_unit_test_setup(test_virq_h, setup_guest),
        cmocka_unit_test_setup(test_fault_h, setup_guest),
        cmocka_unit_test_setup(test_mmio_h, setup_guest),
        cmocka_unit_test_setup(test_guest_ram_h, setup_guest),
        cmocka_unit_test_setup(test_reset_hook_table_full, setup_guest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
