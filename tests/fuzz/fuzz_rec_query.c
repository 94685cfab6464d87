/*
 * fuzz_rec_query.c - the query string of GET /v1/recommendations: the whole
 * input (up to a NUL) is the query string, decoded by evhttp_parse_query_str
 * as the daemon does, then rec_query_parse.
 */
#include <sys/queue.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "proto/recommend.h"
#include "tests/fuzz/fuzz.h"

static void check_query(const struct rec_query *q)
{
    fuzz_check_id(q->sku);
    FUZZ_CHECK(proto_channel_name(q->channel)[0] != '\0');
    if (q->channel == CHANNEL_WEB) {
        FUZZ_CHECK(q->location[0] == '\0');
    } else {
        fuzz_check_id(q->location);
    }
    fuzz_check_optional_id(q->customer);
    fuzz_check_optional_id(q->reservation);
    fuzz_check_optional_id(q->session);
    FUZZ_CHECK(q->nbasket <= REC_BASKET_MAX);
    FUZZ_CHECK(q->nbasket == 0 || q->basket != NULL);
    for (size_t i = 0; i < q->nbasket; i++) {
        fuzz_check_id(q->basket[i]);
        for (size_t k = 0; k < i; k++) {
            FUZZ_CHECK(strcmp(q->basket[k], q->basket[i]) != 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evkeyvalq query;
    struct rec_query q;
    struct proto_error err;
    char *s = malloc(size + 1);

    if (s == NULL) {
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    TAILQ_INIT(&query);
    if (evhttp_parse_query_str(s, &query) == 0) {
        if (rec_query_parse(&query, &q, &err) < 0) {
            fuzz_check_error(&err);
            FUZZ_CHECK(q.basket == NULL && q.nbasket == 0);
        } else {
            check_query(&q);
        }
        rec_query_release(&q);
        rec_query_release(&q); /* released twice: a no-op */
    }
    evhttp_clear_headers(&query);
    free(s);
    return 0;
}
