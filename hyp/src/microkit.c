/*
 * The non-inline part of libmicrokit (ABI 1.3) that hyp provides to every PD:
 * debug output, deferred operations and the crash path. The tool-patched
 * variables (microkit_name, the channel masks) live in each PD's own image
 * (hyp/program/program.c); hyp's side reads the calling PD's copies from
 * struct pd.
 */
#include <hyp/log.h>
#include <hyp/pd.h>
#include <microkit.h>

void microkit_dbg_putc(int c)
{
    seL4_DebugPutChar((char)c);
}

void microkit_dbg_puts(const char *s)
{
    while (*s) {
        seL4_DebugPutChar(*s++);
    }
}

static void put_decimal(uint64_t x)
{
    char buf[24];
    int n = 0;
    do {
        buf[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    while (n) {
        seL4_DebugPutChar(buf[--n]);
    }
}

void microkit_dbg_put8(seL4_Uint8 x)
{
    put_decimal(x);
}

void microkit_dbg_put32(seL4_Uint32 x)
{
    put_decimal(x);
}

/* libmicrokit stores to address `err`, so the PD faults and its monitor reports it; here the PD ends (status 1). */
void microkit_internal_crash(seL4_Error err)
{
    pd_crash(pd_current(), "microkit_internal_crash, seL4 error %d, called from %p", (int)err,
             __builtin_return_address(0));
}

static bool deferred_channel_ok(microkit_channel ch, seL4_Word mask, const char *what)
{
    if (ch > MICROKIT_MAX_CHANNEL_ID || (mask & (1ULL << ch)) == 0) {
        microkit_dbg_puts(pd_current()->desc->name);
        microkit_dbg_puts(what);
        microkit_dbg_put32(ch);
        microkit_dbg_puts("'\n");
        return false;
    }
    return true;
}

void microkit_deferred_notify(microkit_channel ch)
{
    if (!deferred_channel_ok(ch, pd_current()->notify_mask, " microkit_deferred_notify: invalid channel given '")) {
        return;
    }
    struct pd *pd = pd_current();
    pd->deferred = PD_DEFERRED_SIGNAL;
    pd->deferred_cap = BASE_OUTPUT_NOTIFICATION_CAP + ch;
}

void microkit_deferred_irq_ack(microkit_channel ch)
{
    if (!deferred_channel_ok(ch, pd_current()->irq_mask, " microkit_deferred_irq_ack: invalid channel given '")) {
        return;
    }
    struct pd *pd = pd_current();
    pd->deferred = PD_DEFERRED_IRQ_ACK;
    pd->deferred_cap = BASE_IRQ_CAP + ch;
}
