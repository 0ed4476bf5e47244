/*
 * virtio-blk internals shared by blk.c (the guest side: requests, config)
 * and blk_io.c (the backend side: slots, backend requests, responses).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <libvmm/virtio/blk.h>

/* 5.2.6 request types and status values. */
#define VIO_BLK_T_IN 0u
#define VIO_BLK_T_OUT 1u
#define VIO_BLK_T_FLUSH 4u
#define VIO_BLK_T_GET_ID 8u
#define VIO_BLK_T_DISCARD 11u
#define VIO_BLK_T_WRITE_ZEROES 13u

#define VIO_BLK_S_OK 0u
#define VIO_BLK_S_IOERR 1u
#define VIO_BLK_S_UNSUPP 2u

#define VIO_BLK_HDR_BYTES 16u
#define VIO_BLK_ID_BYTES 20u
#define VIO_BLK_SECTOR 512u

enum blk_part_state {
    BLK_PART_FREE = 0,
    BLK_PART_INFLIGHT,
    BLK_PART_ORPHAN, /* its guest request was dropped by a reset; keeps its slot until answered */
};

#define BLK_NO_SLOT 0xffu

/* All slots, parts and request records free (device init). */
void virtio_blk_io_init(struct virtio_blk_device *b);

/* Device reset: drop every guest request; backend requests still out become orphans. */
void virtio_blk_io_reset(struct virtio_blk_device *b);

/* True if a request record is free. */
bool virtio_blk_io_req_available(const struct virtio_blk_device *b);

/* Take a free request record (virtio_blk_io_req_available() must be true). */
unsigned virtio_blk_io_req_alloc(struct virtio_blk_device *b);

/* Release a request record. */
void virtio_blk_io_req_free(struct virtio_blk_device *b, unsigned ri);

/*
 * Send the rest of request ri to the backend. False if it had to stop for
 * lack of a slot, a part or ring space (the caller resumes it later).
 */
bool virtio_blk_io_submit(struct virtio_blk_device *b, unsigned ri);

/* Take every response the backend has published; completes finished guest requests. */
void virtio_blk_io_reap(struct virtio_blk_device *b);

/* Guest request ri is finished: status byte, used entry, record freed (blk.c). */
void virtio_blk_complete(struct virtio_blk_device *b, unsigned ri);
