/* Between the exception handler (guest.c) and the SMP runtime (smp.c). */
#pragma once

#include <stdbool.h>

/* Run this CPU's IRQ/FIQ handler; false if it has none. */
bool guest_irq_dispatch(bool fiq);
