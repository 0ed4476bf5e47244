/*
 * guest_start / guest_stop / guest_restart (DESIGN section 4): boot register
 * state, stopping every vCPU, and a restart that really reboots (RAM zeroed,
 * images reloaded, boot vCPU started again) or leaves the guest stopped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>
#include "loader_fixture.h"
#include "guest_internal.h"
#include "vcpu.h"
#include "vgic/vgic.h"
#include "vgic/vgic_internal.h"

static unsigned hook_calls;
static bool hook_saw_vcpus_stopped;
static bool hook_saw_ram_unzeroed;

static void reset_hook(void *cookie)
{
    (void)cookie;
    hook_calls++;
    hook_saw_vcpus_stopped = !fake.vcpu[0].runnable && !fake.vcpu[1].runnable;
    hook_saw_ram_unzeroed = t_ram[T_RAM_SIZE - 1] == T_PATTERN;
}

static int group_setup(void **state)
{
    (void)state;
    t_reset(2);
    /* Hooks survive guest_init: register once for the whole program. */
    return guest_register_reset_hook(reset_hook, NULL) ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    t_reset(2);
    hook_calls = 0;
    hook_saw_vcpus_stopped = false;
    hook_saw_ram_unzeroed = false;
    for (size_t v = 0; v < 2; v++) {
        seL4_Word *w = (seL4_Word *)&fake.vcpu[v].regs;
        for (size_t i = 0; i < sizeof(fake.vcpu[v].regs) / sizeof(seL4_Word); i++) {
            w[i] = 0xdead0000 + i; /* stale state that a boot must overwrite */
        }
    }
    return 0;
}

static void assert_booted(size_t vcpu, uint64_t pc, uint64_t dtb)
{
    const seL4_UserContext *r = &fake.vcpu[vcpu].regs;
    assert_true(fake.vcpu[vcpu].runnable);
    assert_int_equal(r->pc, pc);
    assert_int_equal(r->x0, dtb);
    assert_int_equal(r->x1, 0);
    assert_int_equal(r->x2, 0);
    assert_int_equal(r->x3, 0);
    assert_int_equal(r->spsr, VCPU_SPSR_EL1H_DAIF);
    assert_int_equal(vcpu_power_state(vcpu), VCPU_POWER_ON);
}

/* ---- guest_start ---- */

static void test_start_sets_boot_registers(void **state)
{
    (void)state;
    assert_true(guest_start(0, T_LOAD, T_DTB_DEST, T_INITRD_DEST));
    assert_booted(0, T_LOAD, T_DTB_DEST);
    assert_false(fake.vcpu[1].runnable);
    assert_true(fake_console_contains("guest started on vCPU 0 at 0x40080000"));
}

static void test_start_on_secondary_vcpu(void **state)
{
    (void)state;
    assert_true(guest_start(1, T_RAM_GPA, T_RAM2_GPA, 0));
    assert_booted(1, T_RAM_GPA, T_RAM2_GPA);
    assert_false(fake.vcpu[0].runnable);
}

static void expect_start_refused(size_t vcpu, uint64_t pc, uint64_t dtb, const char *log)
{
    assert_false(guest_start(vcpu, pc, dtb, 0));
    for (size_t v = 0; v < 2; v++) {
        assert_false(fake.vcpu[v].runnable);
        assert_int_equal(fake.vcpu[v].reg_writes, 0);
    }
    if (!fake_console_contains(log)) {
        fail_msg("log lacks \"%s\"; console:\n%s", log, fake.console);
    }
}

static void test_start_validation(void **state)
{
    (void)state;
    expect_start_refused(2, T_LOAD, T_DTB_DEST, "boot vCPU 2 is not configured");
    expect_start_refused(SIZE_MAX, T_LOAD, T_DTB_DEST, "is not configured");
    expect_start_refused(0, 0x1000, T_DTB_DEST, "entry point 0x1000 is not in guest RAM");
    expect_start_refused(0, T_RAM_END - 2, T_DTB_DEST, "not 4-byte aligned");
    expect_start_refused(0, T_RAM_END, T_DTB_DEST, "entry point 0x40400000 is not in guest RAM");
    expect_start_refused(0, UINT64_MAX - 3, T_DTB_DEST, "is not in guest RAM");
    expect_start_refused(0, T_LOAD, T_DTB_DEST + 4, "DTB address 0x40200004");
    expect_start_refused(0, T_LOAD, 0x80000000, "DTB address 0x80000000");
    expect_start_refused(0, T_LOAD, T_RAM_END, "DTB address");
    /* The last word of RAM is a valid entry point. */
    assert_true(guest_start(0, T_RAM_END - 4, T_RAM_END - 8, 0));
    assert_booted(0, T_RAM_END - 4, T_RAM_END - 8);
}

/* ---- guest_stop ---- */

static void test_stop_stops_every_vcpu(void **state)
{
    (void)state;
    assert_true(guest_start(0, T_LOAD, T_DTB_DEST, 0));
    assert_true(vcpu_boot(1, T_LOAD, 0));
    assert_true(fake.vcpu[1].runnable);
    guest_stop(0);
    for (size_t v = 0; v < 2; v++) {
        assert_false(fake.vcpu[v].runnable);
        assert_true(fake.vcpu[v].stops >= 1);
        assert_int_equal(vcpu_power_state(v), VCPU_POWER_OFF);
    }
    assert_true(fake_console_contains("guest stopped"));
}

static void test_stop_with_bad_id_still_stops(void **state)
{
    (void)state;
    assert_true(guest_start(0, T_LOAD, T_DTB_DEST, 0));
    guest_stop(7);
    assert_false(fake.vcpu[0].runnable);
    assert_true(fake_console_contains("boot vCPU 7 is not configured"));
}

/* ---- guest_restart ---- */

static bool zero_except(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len, uint64_t c, uint64_t c_len)
{
    for (uint64_t gpa = T_RAM_GPA; gpa < T_RAM_END; gpa++) {
        bool inside = (gpa >= a && gpa < a + a_len) || (gpa >= b && gpa < b + b_len) || (gpa >= c && gpa < c + c_len);
        if (!inside && *t_gpa(gpa) != 0) {
            return false;
        }
    }
    for (size_t i = 0; i < T_RAM2_SIZE; i++) {
        if (t_ram2[i] != 0) {
            return false;
        }
    }
    return true;
}

static void boot_guest(void)
{
    assert_int_equal(t_linux(), T_LOAD);
    assert_true(guest_start(0, T_LOAD, T_DTB_DEST, T_INITRD_DEST));
    assert_true(vcpu_boot(1, T_LOAD, 0)); /* a secondary brought up by PSCI CPU_ON */
    /* The guest scribbles over all of RAM, its own kernel included. */
    memset(t_ram, 0x77, T_RAM_SIZE);
    memset(t_ram2, 0x77, T_RAM2_SIZE);
    fake_console_clear();
}

static void test_restart_reboots(void **state)
{
    (void)state;
    boot_guest();
    assert_true(guest_restart(0, (uintptr_t)t_ram, T_RAM_SIZE));
    assert_memory_equal(t_gpa(T_LOAD), t_kernel, T_KERNEL_SIZE);
    assert_memory_equal(t_gpa(T_INITRD_DEST), t_initrd, T_INITRD_SIZE);
    const void *fdt = t_gpa(T_DTB_DEST);
    assert_int_equal(fdt_check_full(fdt, T_DTB_BUF + LOADER_DTB_SLACK), 0);
    uint64_t start = 0, end = 0;
    assert_true(t_chosen_u64(fdt, "linux,initrd-start", &start));
    assert_true(t_chosen_u64(fdt, "linux,initrd-end", &end));
    assert_int_equal(start, T_INITRD_DEST);
    assert_int_equal(end, T_INITRD_DEST + T_INITRD_SIZE);
    assert_true(
        zero_except(T_LOAD, T_KERNEL_SIZE, T_DTB_DEST, T_DTB_BUF + LOADER_DTB_SLACK, T_INITRD_DEST, T_INITRD_SIZE));
    assert_booted(0, T_LOAD, T_DTB_DEST);
    assert_false(fake.vcpu[1].runnable);
    assert_int_equal(vcpu_power_state(1), VCPU_POWER_OFF);
    assert_int_equal(hook_calls, 1);
    assert_true(hook_saw_vcpus_stopped);
    assert_true(fake_console_contains("guest restarted on vCPU 0 at 0x40080000"));
}

static void test_restart_hook_runs_before_zeroing(void **state)
{
    (void)state;
    boot_guest();
    t_ram[T_RAM_SIZE - 1] = T_PATTERN;
    assert_true(guest_restart(0, (uintptr_t)t_ram, T_RAM_SIZE));
    assert_true(hook_saw_ram_unzeroed);
    assert_int_equal(t_ram[T_RAM_SIZE - 1], 0);
}

static void test_restart_twice_and_other_region(void **state)
{
    (void)state;
    boot_guest();
    assert_true(guest_restart(0, (uintptr_t)t_ram, T_RAM_SIZE));
    memset(t_gpa(T_LOAD), 0, T_KERNEL_SIZE);
    /* Naming the second region is also valid: all RAM is cleared either way. */
    assert_true(guest_restart(1, (uintptr_t)t_ram2, T_RAM2_SIZE));
    assert_memory_equal(t_gpa(T_LOAD), t_kernel, T_KERNEL_SIZE);
    assert_booted(1, T_LOAD, T_DTB_DEST);
    assert_false(fake.vcpu[0].runnable);
    assert_int_equal(hook_calls, 2);
}

static void test_restart_raw_image(void **state)
{
    (void)state;
    memset(t_kernel, 0x3c, 0x800);
    t_args.kernel_size = 0x800;
    assert_int_equal(t_raw(), T_RAM_GPA + LOADER_RAW_OFFSET);
    memset(t_ram, 0x77, T_RAM_SIZE);
    assert_true(guest_restart(0, (uintptr_t)t_ram, T_RAM_SIZE));
    assert_memory_equal(t_gpa(T_RAM_GPA + LOADER_RAW_OFFSET), t_kernel, 0x800);
    assert_booted(0, T_RAM_GPA + LOADER_RAW_OFFSET, T_DTB_DEST);
}

static unsigned spi_acks;

static void spi_ack(size_t vcpu, int irq, void *cookie)
{
    (void)vcpu;
    (void)irq;
    (void)cookie;
    spi_acks++;
}

static void test_restart_resets_vgic(void **state)
{
    (void)state;
    assert_true(vgic_init(guest_config_get()));
    assert_true(vgic_register_irq(0, 40, spi_ack, NULL));
    assert_true(vgic_inject(0, 40)); /* latched pending: the guest never enabled it */
    assert_true(vgic_irq_pending(vgic_irq_get(0, 40)));
    boot_guest();
    assert_true(guest_restart(0, (uintptr_t)t_ram, T_RAM_SIZE));
    assert_false(vgic_irq_pending(vgic_irq_get(0, 40)));
    assert_true(vgic_irq_registered(0, 40)); /* registrations survive a reboot */
    assert_int_equal(spi_acks, 1); /* the device is told its interrupt was retired */
}

static void expect_restart_refused(size_t vcpu, uintptr_t vaddr, size_t size, const char *log)
{
    assert_false(guest_restart(vcpu, vaddr, size));
    for (size_t v = 0; v < 2; v++) {
        assert_false(fake.vcpu[v].runnable);
        assert_int_equal(vcpu_power_state(v), VCPU_POWER_OFF);
    }
    assert_int_equal(hook_calls, 0);
    assert_true(fake_console_contains("guest left stopped"));
    if (!fake_console_contains(log)) {
        fail_msg("log lacks \"%s\"; console:\n%s", log, fake.console);
    }
}

static void test_restart_without_images(void **state)
{
    (void)state;
    assert_true(guest_start(0, T_LOAD, T_DTB_DEST, 0));
    expect_restart_refused(0, (uintptr_t)t_ram, T_RAM_SIZE, "no images were set up");
    assert_true(t_ram_intact()); /* refused before anything was cleared */
}

static void test_restart_after_failed_setup_only(void **state)
{
    (void)state;
    t_args.dtb_dest = 1;
    assert_int_equal(t_linux(), LOADER_FAILED);
    expect_restart_refused(0, (uintptr_t)t_ram, T_RAM_SIZE, "no images were set up");
}

static void test_restart_wrong_ram(void **state)
{
    (void)state;
    boot_guest();
    memset(t_ram, T_PATTERN, T_RAM_SIZE);
    memset(t_ram2, T_PATTERN, T_RAM2_SIZE);
    expect_restart_refused(0, (uintptr_t)t_ram, T_RAM_SIZE - 0x1000, "is not a configured guest RAM region");
    expect_restart_refused(0, (uintptr_t)t_ram + 0x1000, T_RAM_SIZE - 0x1000, "is not a configured guest RAM region");
    expect_restart_refused(0, (uintptr_t)t_ram, T_RAM_SIZE + 0x1000, "is not a configured guest RAM region");
    assert_true(t_ram_intact());
}

static void test_restart_bad_vcpu(void **state)
{
    (void)state;
    boot_guest();
    expect_restart_refused(2, (uintptr_t)t_ram, T_RAM_SIZE, "boot vCPU 2 is not configured");
}

static void test_restart_forgotten_by_guest_init(void **state)
{
    (void)state;
    boot_guest();
    t_reset(2); /* guest_init again forgets the images */
    expect_restart_refused(0, (uintptr_t)t_ram, T_RAM_SIZE, "no images were set up");
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup(fn, setup)
    const struct CMUnitTest tests[] = {
        T(test_start_sets_boot_registers),
        T(test_start_on_secondary_vcpu),
        T(test_start_validation),
        T(test_stop_stops_every_vcpu),
        T(test_stop_with_bad_id_still_stops),
        T(test_restart_reboots),
        T(test_restart_hook_runs_before_zeroing),
        T(test_restart_twice_and_other_region),
        T(test_restart_raw_image),
        T(test_restart_resets_vgic),
        T(test_restart_without_images),
        T(test_restart_after_failed_setup_only),
        T(test_restart_wrong_ram),
        T(test_restart_bad_vcpu),
        T(test_restart_forgotten_by_guest_init),
    };
#undef T
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
