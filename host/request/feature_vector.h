/*
 * feature_vector.h - a request body (JSON object) into the feature vector that
 * input.features declares, in one pass, without building a tree.
 *
 * A missing feature or a JSON null is NaN. Other keys are ignored, however
 * deep. A declared feature of another type than number, a body that is not
 * a JSON object, an empty body: an error with the reason, for dead-letter.
 */
#ifndef RV_FEATURE_VECTOR_H
#define RV_FEATURE_VECTOR_H

#include <stddef.h>
#include <stdint.h>

typedef struct rv_feature_index rv_feature_index;

/* Builds the name lookup once per generation. NULL on out of memory. */
rv_feature_index *rv_feature_index_new(char *const *names, size_t n);
void rv_feature_index_free(rv_feature_index *ix);
size_t rv_feature_index_size(const rv_feature_index *ix);

/* Fills out[0..n) from body. 0 on success, else -1 with the reason in err. */
int rv_features_parse(const rv_feature_index *ix, const uint8_t *body, size_t len, double *out,
                      char *err, size_t err_size);

#endif
