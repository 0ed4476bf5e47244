/*
 * Shared by the ring attacks (virtio_rings.c) and the device-specific ones
 * (virtio_dev.c): one test case's context, the device's "benign" chain (a
 * request each device completes at once: blk GET_ID, a net frame, console
 * text) and the checks of what the device reported.
 */
#pragma once

#include "vio.h"

/* Offsets in a device's buffer area. */
#define B_HDR 0x000u /* blk request header */
#define B_ID 0x100u /* blk GET_ID answer */
#define B_STATUS 0x200u /* blk status byte */
#define B_DATA 0x400u /* net frame (header first) or console text */
#define B_BIG 0x10000u /* larger data: sector buffers, frames */

#define BLK_T_IN 0u
#define BLK_T_OUT 1u
#define BLK_T_FLUSH 4u
#define BLK_T_GET_ID 8u
#define BLK_T_DISCARD 11u
#define BLK_T_WRITE_ZEROES 13u
#define BLK_S_OK 0u
#define BLK_S_IOERR 1u
#define BLK_S_UNSUPP 2u

#define NET_HDR 12u /* struct virtio_net_hdr with VERSION_1 (5.1.6) */
#define CON_TEXT 32u

struct rctx {
    struct vdev *d;
    struct vq qs[2];
    struct vq *q; /* the work queue */
    uint64_t buf;
    uint64_t table; /* indirect tables */
    uint16_t used0; /* used->idx before the kick */
    const char *name;
    unsigned cls;
};

void rc_put(volatile struct vdesc *t, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next);
/* Fill the buffers the benign chain uses. */
void rc_prepare(struct rctx *c);
/* Write the benign chain at t[f..]; returns its length. blk's status byte goes to status_addr. */
unsigned rc_benign(struct rctx *c, volatile struct vdesc *t, uint16_t f, uint64_t status_addr);

/* Bring the device up (features wanted besides VERSION_1) for one case; false (reported) if it failed. */
bool rc_begin(struct rctx *c, const char *name, unsigned cls, uint64_t features);
void rc_kick(struct rctx *c);
/* DEVICE_NEEDS_RESET with a configuration-change interrupt, and no used entry. */
void rc_expect_reset(struct rctx *c);
/* Neither a used entry nor DEVICE_NEEDS_RESET within ms. */
void rc_expect_nothing(struct rctx *c, unsigned ms);
/* The benign chain at head completed correctly. */
bool rc_expect_benign(struct rctx *c, uint16_t head, uint64_t status_addr);
/* Report a failed check of this case. */
void rc_report(struct rctx *c, const char *why);
void rc_end(struct rctx *c);
