/*
 * virtio-net internals shared by net.c (config, TX) and net_rx.c (RX).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <libvmm/virtio/net.h>

/* 5.1.3 feature bits. */
#define VIO_NET_F_MTU 3
#define VIO_NET_F_MAC 5
#define VIO_NET_F_MRG_RXBUF 15
#define VIO_NET_F_STATUS 16

#define VIO_NET_S_LINK_UP 1u

/* 5.1.6 struct virtio_net_hdr (VERSION_1 layout: num_buffers always present). */
#define VIO_NET_HDR_BYTES 12u
#define VIO_NET_HDR_FLAGS 0u
#define VIO_NET_HDR_GSO_TYPE 1u
#define VIO_NET_HDR_NUM_BUFFERS 10u

#define NET_ETH_HDR 14u
#define NET_VLAN_TAG 4u

#define NET_RXQ 0u
#define NET_TXQ 1u

enum net_buf_state {
    NET_BUF_VMM = 0, /* held by the VMM (free TX buffer or RX buffer waiting to be posted) */
    NET_BUF_TX, /* a frame handed to the backend */
    NET_BUF_RX, /* posted to the backend for a received frame */
};

/* Buffer index of data-area offset `off` if it names buffer [first, first + count), else -1. */
int virtio_net_buf_index(const struct virtio_net_device *n, uint32_t off, unsigned first, unsigned count);

static inline uint8_t *net_buf_ptr(const struct virtio_net_device *n, unsigned i)
{
    return n->region + SHQ_DATA_OFFSET + (size_t)i * n->buf_size;
}

static inline uint32_t net_buf_offset(const struct virtio_net_device *n, unsigned i)
{
    return SHQ_DATA_OFFSET + i * n->buf_size;
}

/* Post idle RX buffers to the backend while ring 2 has room. */
void virtio_net_rx_refill(struct virtio_net_device *n);

/* Deliver the frames the backend filled (ring 3), dropping those nobody can take. */
void virtio_net_rx_receive(struct virtio_net_device *n);
