/*
 * case_files.h - the codecs' data-driven cases: each file
 * tests/data/proto/<dir>/<name>.case holds a first line
 * "<problem-code|ok> <field|->" and then a request body, which must decode
 * (ok) or be refused with that problem code, naming that field.
 */
#ifndef TESTS_UNIT_CASE_FILES_H
#define TESTS_UNIT_CASE_FILES_H

#include <stddef.h>

#include <jansson.h>

#include "proto/proto.h"

/*
 * case_codec_fn - run @body (a case's body, parsed) through the codec of
 * case directory @dir. @return 0, or -1 with @err.
 */
typedef int case_codec_fn(const char *dir, json_t *body, struct proto_error *err);

/*
 * case_files_run - every case of each directory in @dirs, under
 * $OMNISTOCK_TEST_DATA/proto (else the source tree's tests/data/proto).
 * Fails the test if any case does not behave as its first line says, or a
 * directory holds no case.
 */
void case_files_run(const char *const *dirs, size_t ndirs, case_codec_fn *codec);

#endif
