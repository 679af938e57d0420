/*
 * slot.h - one model's answer to one request: status, latency, answers and
 * the error that a score record reports. The worker that scores writes a
 * slot and publishes it by storing its status last (release order); readers
 * load the status first (acquire).
 *
 * A slot is small: its answers are in room its owner gives it (the
 * request's block, as many as the model has labels), and its error text is
 * allocated only when there is one. A request holds a slot per model for as
 * long as it is in flight, so what a slot holds is paid thousands of times.
 */
#ifndef RV_SLOT_H
#define RV_SLOT_H

#include <stdatomic.h>
#include <stdint.h>

#include "rendezvous_plugin.h"

#define RV_MAX_ANSWERS 16
/* The longest error a score record carries, with its NUL. */
#define RV_SLOT_ERROR_SIZE 192

typedef enum {
    RV_SLOT_PENDING = 0,
    RV_SLOT_OK,
    RV_SLOT_ERROR,
    RV_SLOT_SHED,
    RV_SLOT_STATUS_COUNT
} rv_slot_status;

/* Status names of the public records: pending, ok, error, shed; "timeout"
 * is a pending slot past its deadline (rv_slot_status_name does not know
 * deadlines). */
const char *rv_slot_status_name(int status);

typedef struct rv_slot {
    _Atomic int status; /* rv_slot_status; written last, with release order */
    uint32_t n_answers;
    int64_t latency_us;   /* arrival to answer */
    rv_answer *answers;   /* room for max_answers, the owner's */
    char *error;          /* NULL, or the reason (rv_slot_set_error; freed by rv_slot_clear) */
    uint32_t max_answers; /* rv_slot_answer_room of the model's labels */
} rv_slot;

/* The answers a model's slot has room for: one per label, at most
 * RV_MAX_ANSWERS (an answer names a label; more would repeat one). */
static inline uint32_t rv_slot_answer_room(uint32_t n_labels)
{
    return n_labels < RV_MAX_ANSWERS ? n_labels : RV_MAX_ANSWERS;
}

/* Sets the slot's error text (at most RV_SLOT_ERROR_SIZE - 1 bytes),
 * replacing any; out of memory, a fixed text says so. */
void rv_slot_set_error(rv_slot *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Its error text, "" when none. */
static inline const char *rv_slot_error(const rv_slot *s)
{
    return s->error ? s->error : "";
}
/* Frees its error text: no answer and no error left. */
void rv_slot_clear(rv_slot *s);

/* Makes s a pending slot of a model with n_labels labels, its answers at
 * room (rv_slot_answer_room of them); returns the room after them. */
rv_answer *rv_slot_init(rv_slot *s, uint32_t n_labels, rv_answer *room);

/* n slots of a model with n_labels labels, pending, with their answers'
 * room, in one block (for a thread that scores batches outside serving);
 * NULL when out of memory. rv_slots_free clears and frees them. */
rv_slot *rv_slots_new(size_t n, uint32_t n_labels);
void rv_slots_free(rv_slot *s, size_t n);

#endif
