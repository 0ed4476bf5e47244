/*
 * Shared support for the libFuzzer harnesses (tests/fuzz/fuzz_*.c): a byte
 * stream reader for structured inputs, guest RAM surrounded by guard pages,
 * a clean guest per input on the recording fake Microkit, and invariant
 * checks that turn a broken promise into a crash libFuzzer records.
 *
 * Every harness drives the real library (built with ASan + UBSan) against
 * tests/unit/fake_microkit.c; nothing here re-implements library logic.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <libvmm/guest.h>
#include "fake_microkit.h"

/* ---- input stream: reads past the end yield zeros, so every input is a valid program ---- */

struct fz {
    const uint8_t *p;
    size_t n;
};

void fz_init(struct fz *in, const uint8_t *data, size_t size);
bool fz_empty(const struct fz *in);
uint8_t fz_u8(struct fz *in);
uint16_t fz_u16(struct fz *in);
uint32_t fz_u32(struct fz *in);
uint64_t fz_u64(struct fz *in);
bool fz_bool(struct fz *in);
/* Copy up to `len` bytes into out, zero-filling what the input lacks; returns the bytes taken. */
size_t fz_bytes(struct fz *in, void *out, size_t len);

/* ---- memory with guard pages ---- */

/*
 * `size` bytes (rounded up to whole pages) between two inaccessible pages, so
 * that even uninstrumented code (libfdt, libc) faults on the first byte
 * outside. Allocated once per call; harnesses keep their buffers for the
 * whole run.
 */
uint8_t *fz_guarded_alloc(size_t size);

/* ---- the guest under test ---- */

#define FZ_RAM_GPA 0x40000000ull
#define FZ_GICD_GPA 0x08000000ull
#define FZ_GICR_GPA 0x080a0000ull /* GICv3 redistributors, as on QEMU virt */

/*
 * Clean state for one input: fake kernel reset with `num_lrs` list registers,
 * every vCPU's PSCI state back to OFF, guest_init() with `num_vcpus` vCPUs, a
 * GIC of `version` (distributor at FZ_GICD_GPA, GICv3 redistributors at
 * FZ_GICR_GPA) and one RAM region [FZ_RAM_GPA, + ram_size) backed by `ram`,
 * then (if `with_vgic`) virq_controller_init(0). Aborts if any of that fails:
 * the harness, not the input, would be broken.
 */
void fz_guest_setup(size_t num_vcpus, unsigned num_lrs, enum gic_version version, uint8_t *ram, size_t ram_size,
                    bool with_vgic);

/* A vCPU id from one input byte: mostly a configured one, sometimes one that is not (up to SIZE_MAX). */
size_t fz_vcpu_id(struct fz *in, size_t num_vcpus);

/* Write x0..x7 (or any seL4_UserContext word) of the fake vCPU's frame. */
void fz_set_ctx_word(size_t vcpu, size_t word, uint64_t value);
uint64_t fz_get_ctx_word(size_t vcpu, size_t word);

/* Position of xN in seL4_UserContext (mirrors the ABI table, ABI 3.4). */
size_t fz_ctx_word_of_x(unsigned n);

/*
 * Deliver one fault through fault_handle(): MRs 0..nmr-1 from `mrs`, message
 * length `count` (may differ from nmr: malformed messages are part of the
 * game). Returns fault_handle's result; *reply gets the reply.
 */
bool fz_fault(size_t vcpu, uint64_t label, size_t count, const uint64_t *mrs, size_t nmr, microkit_msginfo *reply);

/* ---- invariants ---- */

/*
 * For invariant checkers that walk whole state tables after every step: no
 * coverage instrumentation (their comparisons are not the code under test,
 * and tracing them would cost most of the run time). ASan/UBSan still apply.
 */
#define FZ_CHECKER __attribute__((no_sanitize("coverage")))

/* Print `what` and abort (libFuzzer records the input as a crash). */
void fz_fail(const char *what, ...) __attribute__((noreturn, format(printf, 1, 2)));

#define FZ_CHECK(cond, ...)                                                                                            \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fz_fail(__VA_ARGS__);                                                                                      \
        }                                                                                                              \
    } while (0)

/*
 * Checks every harness runs after every step: the library never made the
 * fake kernel "crash" the VMM (a failed libmicrokit call), and never asked for
 * a list register index the kernel does not have.
 */
void fz_check_kernel(void);

/*
 * InjectIRQ calls the kernel refused (counted by a --wrap of
 * seL4_ARM_VCPU_InjectIRQ; the library's one LR-count probe, index 255, is
 * not counted): index out of range, and DeleteFirst (LR still active).
 */
extern unsigned fz_inject_range_refusals;
extern unsigned fz_inject_delete_first;
