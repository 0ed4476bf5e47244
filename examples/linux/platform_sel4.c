/*
 * Platform hooks of the main job on a real seL4 Microkit system (see
 * platform.h): a protection domain cannot power the machine off; a failed
 * VMM faults so that the Microkit monitor reports it.
 */
#include <microkit.h>
#include <libvmm/log.h>
#include "platform.h"

void platform_power_off(void)
{
}

void platform_fail(const char *why)
{
    LOG_ERR("%s", why);
    microkit_internal_crash(seL4_IllegalOperation);
}

void platform_report_pools(void)
{
    /* The backends are other protection domains (sDDF); they report their own. */
}
