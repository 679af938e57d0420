/*
 * schedule.c - the schedule rules, once: a model that exists, not the
 * decoy, not twice, within_ms non-decreasing. Used by the config loader and
 * by the control stream so that the two can never disagree. Must never
 * allocate, keep state or word a message.
 */
#include "schedule.h"

#include <string.h>

static bool find_model(const rv_schedule_model *models, size_t n_models, const char *name,
                       size_t *index)
{
    for (size_t m = 0; m < n_models; m++)
        if (models[m].name && !strcmp(models[m].name, name)) {
            *index = m;
            return true;
        }
    return false;
}

size_t rv_schedule_check(const rv_schedule_item *items, size_t n, const rv_schedule_model *models,
                         size_t n_models, rv_schedule_verdict *verdicts)
{
    size_t bad = 0;
    bool have_before = false;
    size_t before = 0;
    for (size_t i = 0; i < n; i++) {
        rv_schedule_verdict *v = &verdicts[i];
        memset(v, 0, sizeof *v);
        const rv_schedule_item *it = &items[i];
        if (it->model) {
            if (!find_model(models, n_models, it->model, &v->model_index)) {
                v->model = RV_SCHEDULE_NO_MODEL;
            } else if (models[v->model_index].never_chosen) {
                v->model = RV_SCHEDULE_NEVER_CHOSEN;
            } else {
                for (size_t j = 0; j < i; j++)
                    if (items[j].model && !strcmp(items[j].model, it->model)) {
                        v->model = RV_SCHEDULE_TWICE;
                        v->first = j;
                        break;
                    }
            }
        }
        if (it->within_ms >= 0) {
            if (have_before && it->within_ms < items[before].within_ms) {
                v->decreasing = true;
                v->before = before;
            }
            have_before = true;
            before = i;
        }
        if (v->model != RV_SCHEDULE_OK || v->decreasing)
            bad++;
    }
    return bad;
}
