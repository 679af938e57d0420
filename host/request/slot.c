/* slot.c - the status names of the public records, in one place. */
#include "slot.h"

const char *rv_slot_status_name(int status)
{
    static const char *const names[RV_SLOT_STATUS_COUNT] = {"pending", "ok", "error", "shed"};
    return status >= 0 && status < RV_SLOT_STATUS_COUNT ? names[status] : "pending";
}
