/* selection.c - the rule itself. No clocks, no locks, no allocation. */
#include "selection.h"

rv_selection rv_select(const rv_slot_status *status, const uint32_t *within_ms, size_t n,
                       int64_t elapsed_us)
{
    for (size_t i = 0; i < n; i++) {
        if (status[i] == RV_SLOT_OK)
            return (rv_selection){1, (int)i, 0};
        if (status[i] != RV_SLOT_PENDING)
            continue; /* error or shed: resolved */
        int64_t deadline = (int64_t)within_ms[i] * 1000;
        if (elapsed_us < deadline)
            return (rv_selection){0, -1, deadline};
        /* pending past its deadline: resolved, but still chosen if it answers
         * ok before every later entry has been looked at again */
    }
    return (rv_selection){1, -1, 0};
}

const char *rv_reason_name(rv_reason r)
{
    static const char *const names[RV_REASON_COUNT] = {"preferred", "fallback", "default",
                                                       "expired", "direct"};
    return (unsigned)r < RV_REASON_COUNT ? names[r] : "?";
}
