/* slot.c - the status names of the public records, in one place, and a
 * slot's error text. */
#include "slot.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"

/* The text of an error whose own text found no memory. */
static char no_memory[] = "out of memory for the error's text";

void rv_slot_set_error(rv_slot *s, const char *fmt, ...)
{
    char text[RV_SLOT_ERROR_SIZE];
    va_list ap;
    va_start(ap, fmt);
    rv_verrf(text, sizeof text, fmt, ap);
    va_end(ap);
    size_t size = strlen(text) + 1;
    char *e = malloc(size);
    if (e)
        memcpy(e, text, size);
    if (s->error != no_memory)
        free(s->error);
    s->error = e ? e : no_memory;
}

void rv_slot_clear(rv_slot *s)
{
    if (s->error != no_memory)
        free(s->error);
    s->error = NULL;
    s->n_answers = 0;
}

const char *rv_slot_status_name(int status)
{
    static const char *const names[RV_SLOT_STATUS_COUNT] = {"pending", "ok", "error", "shed"};
    return status >= 0 && status < RV_SLOT_STATUS_COUNT ? names[status] : "pending";
}

rv_answer *rv_slot_init(rv_slot *s, uint32_t n_labels, rv_answer *room)
{
    *s = (rv_slot){.answers = room, .max_answers = rv_slot_answer_room(n_labels)};
    atomic_init(&s->status, RV_SLOT_PENDING);
    return room + s->max_answers;
}

rv_slot *rv_slots_new(size_t n, uint32_t n_labels)
{
    rv_slot *s = calloc(1, n * (sizeof *s + rv_slot_answer_room(n_labels) * sizeof(rv_answer)));
    rv_answer *room = s ? (rv_answer *)(s + n) : NULL;
    for (size_t i = 0; s && i < n; i++)
        room = rv_slot_init(&s[i], n_labels, room);
    return s;
}

void rv_slots_free(rv_slot *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        rv_slot_clear(&s[i]);
    free(s);
}
