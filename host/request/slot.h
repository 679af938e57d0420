/*
 * slot.h - one model's answer to one request: status, latency, answers and
 * the error that a score record reports. The worker that scores writes a
 * slot and publishes it by storing its status last (release order); readers
 * load the status first (acquire).
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
    int64_t latency_us; /* arrival to answer */
    uint32_t n_answers;
    rv_answer answers[RV_MAX_ANSWERS];
    char error[RV_SLOT_ERROR_SIZE];
} rv_slot;

#endif
