/* libvmm: everything a VMM program needs. */
#pragma once

#include <libvmm/fault.h>
#include <libvmm/guest.h>
#include <libvmm/guest_ram.h>
#include <libvmm/loader.h>
#include <libvmm/log.h>
#include <libvmm/mmio.h>
#include <libvmm/virq.h>
#include <libvmm/virtio/blk.h>
#include <libvmm/virtio/console.h>
#include <libvmm/virtio/net.h>
