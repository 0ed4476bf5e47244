/*
 * Network part of hyp's backend selftest, against QEMU's user networking
 * (slirp: gateway 10.0.2.2, we are 10.0.2.15). Offers rx buffers (and some
 * malformed ones hyp must drop), sends a malformed tx entry (it must come
 * back unsent), ARPs for the gateway, answers ARP for ourselves, then reads
 * a file from slirp's built-in TFTP server and compares it.
 */
#include <string.h>
#include "backends.h"

#define RX_BUFS 32
#define BUF_SIZE 2048u
#define RX_AREA SHQ_DATA_OFFSET
#define TX_AREA (SHQ_DATA_OFFSET + 0x40000u)
#define TX_BUFS 16
#define ETH_HLEN 14
#define ETHERTYPE_IP 0x0800
#define ETHERTYPE_ARP 0x0806
#define IPPROTO_UDP 17
#define TFTP_PORT 69
#define MY_PORT 1069

static const uint8_t my_ip[4] = {10, 0, 2, 15}, gw_ip[4] = {10, 0, 2, 2};
static const uint8_t broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
static uint8_t my_mac[6], gw_mac[6];
static uint8_t *base;
static struct cring tx, tx_done, rx_offer, rx_filled;
static uint32_t tx_free = (1u << TX_BUFS) - 1;
static unsigned tx_sent, tx_returned, bad_returned, frames;
static bool arp_ok, tftp_ok, produced;

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void offer(uint32_t off, uint32_t len)
{
    struct shq_net_buffer b = {off, len};
    check(cring_put(&rx_offer, &b), "room to offer an rx buffer");
    produced = true;
}

/* A free tx buffer, or NULL. */
static uint8_t *tx_buffer(uint32_t *off)
{
    if (!tx_free) {
        check(false, "a free tx buffer");
        return NULL;
    }
    unsigned i = (unsigned)__builtin_ctz(tx_free);
    tx_free &= ~(1u << i);
    *off = TX_AREA + i * BUF_SIZE;
    return base + *off;
}

static void send(uint32_t off, uint32_t len)
{
    struct shq_net_buffer b = {off, len < 60 ? 60 : len};
    check(cring_put(&tx, &b), "room in the tx ring");
    tx_sent++;
    produced = true;
}

static void eth_header(uint8_t *f, const uint8_t *dst, uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, my_mac, 6);
    put16(f + 12, type);
}

static void send_arp(uint16_t op, const uint8_t *dst_mac, const uint8_t *target_mac, const uint8_t *target_ip)
{
    uint32_t off;
    uint8_t *f = tx_buffer(&off);
    if (!f) {
        return;
    }
    memset(f, 0, 60);
    eth_header(f, dst_mac, ETHERTYPE_ARP);
    uint8_t *a = f + ETH_HLEN;
    put16(a, 1); /* Ethernet */
    put16(a + 2, ETHERTYPE_IP);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, op);
    memcpy(a + 8, my_mac, 6);
    memcpy(a + 14, my_ip, 4);
    memcpy(a + 18, target_mac, 6);
    memcpy(a + 24, target_ip, 4);
    send(off, 60);
}

static uint16_t ip_checksum(const uint8_t *p, unsigned len)
{
    uint32_t sum = 0;
    for (unsigned i = 0; i < len; i += 2) {
        sum += get16(p + i);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

/* UDP from MY_PORT to the gateway (checksum 0: none, allowed for IPv4 UDP). */
static void send_udp(uint16_t dport, const void *payload, unsigned len)
{
    uint32_t off;
    uint8_t *f = tx_buffer(&off);
    if (!f) {
        return;
    }
    memset(f, 0, ETH_HLEN + 28);
    eth_header(f, gw_mac, ETHERTYPE_IP);
    uint8_t *ip = f + ETH_HLEN, *udp = ip + 20;
    ip[0] = 0x45;
    put16(ip + 2, (uint16_t)(28 + len));
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    memcpy(ip + 12, my_ip, 4);
    memcpy(ip + 16, gw_ip, 4);
    put16(ip + 10, ip_checksum(ip, 20));
    put16(udp, MY_PORT);
    put16(udp + 2, dport);
    put16(udp + 4, (uint16_t)(8 + len));
    memcpy(udp + 8, payload, len);
    send(off, ETH_HLEN + 28 + len);
}

static void send_rrq(void)
{
    static const char rrq[] = "\0\1" TFTP_FILE "\0octet";
    send_udp(TFTP_PORT, rrq, sizeof(rrq));
}

static void handle_arp(const uint8_t *a, uint32_t len)
{
    if (len < 28 || get16(a) != 1 || get16(a + 2) != ETHERTYPE_IP) {
        return;
    }
    if (get16(a + 6) == 2 && memcmp(a + 14, gw_ip, 4) == 0 && memcmp(a + 18, my_mac, 6) == 0 && !arp_ok) {
        arp_ok = true;
        memcpy(gw_mac, a + 8, 6);
        send_rrq();
    } else if (get16(a + 6) == 1 && memcmp(a + 24, my_ip, 4) == 0) {
        send_arp(2, a + 8, a + 8, a + 14);
    }
}

static void handle_udp(const uint8_t *ip, uint32_t len)
{
    unsigned ihl = (ip[0] & 0xf) * 4u;
    if (len < ihl + 8 || ip[9] != IPPROTO_UDP || memcmp(ip + 12, gw_ip, 4) != 0) {
        return;
    }
    const uint8_t *udp = ip + ihl, *data = udp + 8;
    uint32_t dlen = get16(udp + 4) - 8u;
    if (get16(udp + 2) != MY_PORT || dlen + 8 > len - ihl || dlen < 4 || get16(data) != 3 || get16(data + 2) != 1) {
        return;
    }
    check_eq(dlen - 4, sizeof(TFTP_TEXT) - 1, "TFTP file length");
    check(dlen - 4 == sizeof(TFTP_TEXT) - 1 && memcmp(data + 4, TFTP_TEXT, dlen - 4) == 0, "TFTP file content");
    if (!tftp_ok) {
        uint8_t ack[4] = {0, 4, 0, 1};
        tftp_ok = true;
        send_udp(get16(udp), ack, sizeof(ack));
    }
}

static void handle_frame(const uint8_t *f, uint32_t len)
{
    frames++;
    if (len < ETH_HLEN) {
        return;
    }
    if (get16(f + 12) == ETHERTYPE_ARP) {
        handle_arp(f + ETH_HLEN, len - ETH_HLEN);
    } else if (get16(f + 12) == ETHERTYPE_IP && memcmp(f, my_mac, 6) == 0) {
        handle_udp(f + ETH_HLEN, len - ETH_HLEN);
    }
}

void net_test_start(void)
{
    base = (uint8_t *)net_vaddr;
    const struct shq_header *h = (const struct shq_header *)net_vaddr;
    static const uint8_t want_mac[6] = {0x52, 0x54, 0x00, 0xaa, 0xbb, 0x01};
    check(__atomic_load_n(&h->ready, __ATOMIC_ACQUIRE) == 1 && h->kind == SHQ_KIND_NET, "net backend ready");
    check(memcmp(h->config.net.mac, want_mac, 6) == 0, "MAC in the header (bound by MAC)");
    check_eq(h->config.net.link_up, 1, "link up");
    check_eq(h->config.net.mtu, 1500, "MTU");
    memcpy(my_mac, h->config.net.mac, 6);
    cring_init(&tx, base, 0, sizeof(struct shq_net_buffer));
    cring_init(&tx_done, base, 1, sizeof(struct shq_net_buffer));
    cring_init(&rx_offer, base, 2, sizeof(struct shq_net_buffer));
    cring_init(&rx_filled, base, 3, sizeof(struct shq_net_buffer));
    check_eq(rx_offer.cap, shq_ring_max_capacity(sizeof(struct shq_net_buffer)), "net ring capacity");
    /* Malformed offers hyp must drop: inside the rings, too small, past the region. */
    offer(0x1000, BUF_SIZE);
    offer(RX_AREA, 64);
    offer((uint32_t)region_size_net - 1000, BUF_SIZE);
    for (unsigned i = 0; i < RX_BUFS; i++) {
        offer(RX_AREA + i * BUF_SIZE, BUF_SIZE);
    }
    struct shq_net_buffer bad = {(uint32_t)region_size_net, 60};
    check(cring_put(&tx, &bad), "room for a malformed tx entry");
    send_arp(1, broadcast, (const uint8_t[6]){0}, gw_ip);
    microkit_notify(CH_NET);
    produced = false;
}

void net_test_notified(void)
{
    struct shq_net_buffer b;
    while (cring_get(&tx_done, &b)) {
        if (b.data_offset == (uint32_t)region_size_net) {
            bad_returned++;
        } else if (b.data_offset >= TX_AREA && b.data_offset < TX_AREA + TX_BUFS * BUF_SIZE) {
            tx_free |= 1u << ((b.data_offset - TX_AREA) / BUF_SIZE);
            tx_returned++;
        } else {
            check_eq(b.data_offset, TX_AREA, "tx buffer returned is one we sent");
        }
    }
    while (cring_get(&rx_filled, &b)) {
        bool ours = b.data_offset >= RX_AREA && b.data_offset < RX_AREA + RX_BUFS * BUF_SIZE &&
                    (b.data_offset - RX_AREA) % BUF_SIZE == 0;
        check(ours && b.len <= BUF_SIZE, "rx buffer filled is a well-formed one we offered");
        if (ours) {
            handle_frame(base + b.data_offset, b.len);
            offer(b.data_offset, BUF_SIZE);
        }
    }
    if (produced) {
        produced = false;
        microkit_notify(CH_NET);
    }
}

bool net_test_done(void)
{
    if (tftp_ok && tx_returned == tx_sent && bad_returned == 1) {
        static bool reported;
        if (!reported) {
            reported = true;
            microkit_dbg_puts("backends: net: ARP and TFTP through user networking ok, ");
            put_dec(frames);
            microkit_dbg_puts(" frame(s) received\n");
        }
        return true;
    }
    return false;
}
