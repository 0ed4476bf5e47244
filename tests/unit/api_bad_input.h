/*
 * The harness of the public-API bad-input tables (issue 5 item 4): a row is
 * a call with one bad argument, run_cases() checks its documented failure
 * value, the log line naming the problem and that no libmicrokit call
 * failed. Shared by test_api_bad_input.c (guest, loader, virq, fault, mmio,
 * guest_ram) and test_api_bad_input_virtio.c (virtio devices, shq).
 */
#pragma once

#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <libvmm/fault.h>
#include <libvmm/guest.h>
#include <libvmm/guest_ram.h>
#include <libvmm/loader.h>
#include <libvmm/log.h>
#include <libvmm/mmio.h>
#include <libvmm/shq.h>
#include <libvmm/virq.h>
#include <libvmm/virtio/blk.h>
#include <libvmm/virtio/console.h>
#include <libvmm/virtio/net.h>
#include "fake_microkit.h"
#include "guest_internal.h"
#include "loader_fixture.h"
#include "virtio_backend.h"

#define NUM_VCPUS 2
#define GICD_GPA 0x08000000ull
#define DEV_GPA 0x0a000000ull
#define DEV_IRQ 48
#define DEV_CH 5

struct bad_case {
    const char *what;
    bool (*refused)(void); /* makes the call; true if it returned the documented failure value */
    const char *log; /* the log line must contain this; NULL: nothing may be logged */
};

static inline void run_cases(const char *header, const struct bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct bad_case *c = &cases[i];
        fake_console_clear();
        if (!c->refused()) {
            fail_msg("%s: %s was accepted (log: %s)", header, c->what, fake.console);
        }
        if (c->log != NULL && !fake_console_contains(c->log)) {
            fail_msg("%s: %s: no log line containing \"%s\" (log: %s)", header, c->what, c->log, fake.console);
        }
        if (c->log == NULL && fake.console_len != 0) {
            fail_msg("%s: %s logged on a query path: %s", header, c->what, fake.console);
        }
        if (fake.crashes != 0) {
            fail_msg("%s: %s made a libmicrokit call fail", header, c->what);
        }
    }
}

#define CASE_FN(name, expr, needle)                                                                                    \
    static bool name(void)                                                                                             \
    {                                                                                                                  \
        return (expr);                                                                                                 \
    }
#define CASE_ROW(name, expr, needle) {#name, name, needle},
/* Devices both tables call init on (before init, and with each bad argument). */
static struct virtio_blk_device blk;
static struct virtio_net_device net;
static struct virtio_console_device con;

static inline bool blk_refused(struct virtio_blk_device *d, uint64_t gpa, size_t vcpu, int irq, microkit_channel ch)
{
    return !virtio_blk_init(d, gpa, vcpu, irq, vb_region, VB_REGION_SIZE, ch);
}

static inline bool net_refused(struct virtio_net_device *d, uint64_t gpa, size_t vcpu, int irq, microkit_channel ch)
{
    return !virtio_net_init(d, gpa, vcpu, irq, vb_region, VB_REGION_SIZE, ch);
}

static inline bool console_refused(struct virtio_console_device *d, uint64_t gpa, size_t vcpu, int irq,
                                   microkit_channel ch)
{
    return !virtio_console_init(d, gpa, vcpu, irq, vb_region, VB_REGION_SIZE, ch);
}

/* ---- the guest every table after the first runs against ---- */

static struct t_args good_args;

static inline int setup_guest(void **state)
{
    (void)state;
    t_reset(NUM_VCPUS);
    assert_true(virq_controller_init(0));
    good_args = t_args;
    vb_init(SHQ_KIND_BLK, 64, 64, 0, 0);
    vb_blk_config(VB_DISK_SECTORS, false, "bad-input");
    fake_console_clear();
    return 0;
}
