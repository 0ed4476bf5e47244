/*
 * hyp's fixed pools that fill and drain while the system runs: each device
 * backend's request slots, whose virtqueue descriptors are assigned to them
 * for good (hyp/backend.h). hyp_report_pools() (hyp/machine.h) prints one
 * line per backend; the line's pools come from the backend's kind.
 */
#pragma once

#include <hyp/backend.h>
#include <hyp/machine.h>

/* Print "hyp-pools: backend <n> <kind> <pool> <in use>/<capacity> ..." for b (its state must exist). */
void backend_blk_report_pools(const struct backend *b);
void backend_net_report_pools(const struct backend *b);
void backend_console_report_pools(const struct backend *b);
