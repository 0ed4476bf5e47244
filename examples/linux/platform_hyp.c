/* Platform hooks of the main job under hyp on QEMU (see platform.h). */
#include <hyp/machine.h>
#include <libvmm/log.h>
#include "platform.h"

void platform_power_off(void)
{
    hyp_machine_poweroff(0);
}

void platform_fail(const char *why)
{
    LOG_ERR("%s", why);
    hyp_machine_poweroff(1);
}

void platform_report_pools(void)
{
    hyp_report_pools();
}
