/*
 * Constants of the virtio 1.2 specification used by the device models
 * (library-internal). Names follow the specification with a VIO_ prefix so
 * they cannot clash with a backend's own definitions in the same image.
 */
#pragma once

#include <stdint.h>

/* 4.2.2 MMIO Device Register Layout. */
#define VIO_MMIO_MAGIC_VALUE 0x000
#define VIO_MMIO_VERSION 0x004
#define VIO_MMIO_DEVICE_ID 0x008
#define VIO_MMIO_VENDOR_ID 0x00c
#define VIO_MMIO_DEVICE_FEATURES 0x010
#define VIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIO_MMIO_DRIVER_FEATURES 0x020
#define VIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIO_MMIO_QUEUE_SEL 0x030
#define VIO_MMIO_QUEUE_NUM_MAX 0x034
#define VIO_MMIO_QUEUE_NUM 0x038
#define VIO_MMIO_QUEUE_READY 0x044
#define VIO_MMIO_QUEUE_NOTIFY 0x050
#define VIO_MMIO_INTERRUPT_STATUS 0x060
#define VIO_MMIO_INTERRUPT_ACK 0x064
#define VIO_MMIO_STATUS 0x070
#define VIO_MMIO_QUEUE_DESC_LOW 0x080
#define VIO_MMIO_QUEUE_DESC_HIGH 0x084
#define VIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIO_MMIO_QUEUE_DRIVER_HIGH 0x094
#define VIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIO_MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define VIO_MMIO_SHM_SEL 0x0ac
#define VIO_MMIO_SHM_LEN_LOW 0x0b0
#define VIO_MMIO_SHM_LEN_HIGH 0x0b4
#define VIO_MMIO_SHM_BASE_LOW 0x0b8
#define VIO_MMIO_SHM_BASE_HIGH 0x0bc
#define VIO_MMIO_QUEUE_RESET 0x0c0
#define VIO_MMIO_CONFIG_GENERATION 0x0fc
#define VIO_MMIO_CONFIG 0x100

#define VIO_MMIO_MAGIC 0x74726976u /* "virt" */
#define VIO_MMIO_VERSION_MODERN 2u

/* 4.2.2 InterruptStatus bits. */
#define VIO_INT_USED_BUFFER 1u
#define VIO_INT_CONFIG_CHANGE 2u

/* 2.1 Device Status Field. */
#define VIO_STATUS_ACKNOWLEDGE 1u
#define VIO_STATUS_DRIVER 2u
#define VIO_STATUS_DRIVER_OK 4u
#define VIO_STATUS_FEATURES_OK 8u
#define VIO_STATUS_DEVICE_NEEDS_RESET 64u
#define VIO_STATUS_FAILED 128u

/* 6 Reserved Feature Bits. */
#define VIO_F_INDIRECT_DESC 28
#define VIO_F_EVENT_IDX 29
#define VIO_F_VERSION_1 32
#define VIO_BIT(n) (1ull << (n))

/* 2.7.5 The Virtqueue Descriptor Table. */
#define VIO_DESC_F_NEXT 1u
#define VIO_DESC_F_WRITE 2u
#define VIO_DESC_F_INDIRECT 4u
#define VIO_DESC_SIZE 16u

/* 2.7.6 / 2.7.8 ring flags. */
#define VIO_AVAIL_F_NO_INTERRUPT 1u
#define VIO_USED_F_NO_NOTIFY 1u

/* 2.7.6 / 2.7.8 ring layout: header, entries, then the event index. */
#define VIO_RING_HDR 4u
#define VIO_AVAIL_ENTRY 2u
#define VIO_USED_ENTRY 8u

/* 5 Device Types. */
#define VIO_ID_NET 1u
#define VIO_ID_BLOCK 2u
#define VIO_ID_CONSOLE 3u

/* Little-endian stores into a configuration-space image. */
static inline void vio_put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void vio_put_le32(uint8_t *p, uint32_t v)
{
    vio_put_le16(p, (uint16_t)v);
    vio_put_le16(p + 2, (uint16_t)(v >> 16));
}

static inline void vio_put_le64(uint8_t *p, uint64_t v)
{
    vio_put_le32(p, (uint32_t)v);
    vio_put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t vio_get_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t vio_get_le32(const uint8_t *p)
{
    return (uint32_t)vio_get_le16(p) | ((uint32_t)vio_get_le16(p + 2) << 16);
}

static inline uint64_t vio_get_le64(const uint8_t *p)
{
    return (uint64_t)vio_get_le32(p) | ((uint64_t)vio_get_le32(p + 4) << 32);
}
