/*
 * recommend.h - codecs for the recommend module: order history, the
 * recommendation query, feedback and customer preferences.
 */
#ifndef PROTO_RECOMMEND_H
#define PROTO_RECOMMEND_H

#include <event2/keyvalq_struct.h>

#include "proto/proto.h"

#define ORDERS_MAX      1000 /* orders in one POST /v1/orders */
#define ORDER_LINES_MAX 100  /* lines, so also distinct SKUs, in one order */
#define REC_BASKET_MAX  100  /* SKUs in the basket= query parameter */
#define PREF_NOTES_MAX  500  /* bytes of UTF-8 in a customer's notes */

struct order {
    char id[PROTO_ID_SIZE];
    char customer[PROTO_ID_SIZE]; /* "" when absent */
    enum channel channel;         /* 0 when absent */
    long long at_ms;              /* -1 when absent: the caller uses the time of import */
    size_t nskus;
    char (*skus)[PROTO_ID_SIZE]; /* distinct SKUs, in order of first appearance; owned */
};

struct order_batch {
    size_t n;
    struct order *orders; /* owned */
};

/*
 * order_batch_parse - a POST /v1/orders body:
 * {"orders": [{"id", "customer"?, "channel"?, "at"?, "lines": [{"sku", "quantity"}]}]}
 * orders: required array of 1..ORDERS_MAX objects. id: required identifier.
 * customer: optional identifier. channel: optional channel name. at: optional
 * RFC 3339 date-time, not before 1970-01-01T00:00:00Z (so that at_ms is never
 * the -1 of "absent"). lines: required array of 1..ORDER_LINES_MAX objects
 * with sku (identifier) and quantity (1..1e9); the limit counts array
 * elements, so it bounds the distinct SKUs too. The model counts orders, not
 * units, so lines of the same SKU collapse into one SKU and quantities are
 * only validated, never summed. The same id twice in one batch is
 * invalid-field "orders[i].id" at the second. Unknown keys are invalid-field.
 * Bad identifiers are invalid-identifier, anything else invalid-field; a body
 * that is not an object is invalid-json. Field names are as in the body:
 * "orders[3].lines[0].sku". The whole batch fails on its first bad field.
 * @return 0 with @out filled (release it), or -1 with @err filled and
 * nothing to release.
 */
int order_batch_parse(json_t *body, struct order_batch *out, struct proto_error *err);
/* order_batch_release - free what @b owns and empty it; @b may be NULL, released twice. */
void order_batch_release(struct order_batch *b);

struct rec_query {
    char sku[PROTO_ID_SIZE];         /* the primary: required */
    enum channel channel;            /* default web */
    char location[PROTO_ID_SIZE];    /* required for click_collect and store; "" for web */
    char customer[PROTO_ID_SIZE];    /* "" when absent */
    char reservation[PROTO_ID_SIZE]; /* "" when absent */
    char session[PROTO_ID_SIZE];     /* "" when absent */
    size_t nbasket;
    char (*basket)[PROTO_ID_SIZE]; /* distinct SKUs; owned, NULL when empty */
};

/*
 * rec_query_parse - the query string of GET /v1/recommendations:
 * sku (required identifier), channel (web, click_collect or store; default
 * web), location (required identifier for click_collect and store; not
 * allowed for web), customer, reservation and session (optional
 * identifiers), basket (optional comma-separated identifiers, at most
 * REC_BASKET_MAX items as written; duplicates then collapse; empty items, as
 * in "A,,B", "A," or an empty basket=, are invalid). Each parameter at most
 * once; names are case-sensitive. @query holds decoded values, as
 * evhttp_parse_query_str leaves them; NULL is an empty query.
 * Errors: a bad identifier (including any basket item) is invalid-identifier
 * naming the parameter; a missing sku, a repeated or unknown parameter, a bad
 * channel, a location on web or none on click_collect/store, or more than
 * REC_BASKET_MAX basket items is invalid-query naming the parameter.
 * @return 0 with @out filled (release it), or -1 with @err filled and
 * nothing to release.
 */
int rec_query_parse(const struct evkeyvalq *query, struct rec_query *out, struct proto_error *err);
/* rec_query_release - free what @q owns and empty it; @q may be NULL, released twice. */
void rec_query_release(struct rec_query *q);

enum rec_feedback_event {
    FEEDBACK_SHOWN = 1,
    FEEDBACK_ACCEPTED,
    FEEDBACK_DISMISSED,
};

struct rec_feedback {
    enum rec_feedback_event event;
    char primary[PROTO_ID_SIZE];
    char sku[PROTO_ID_SIZE];
    char customer[PROTO_ID_SIZE]; /* "" when absent */
    char session[PROTO_ID_SIZE];  /* "" when absent */
};

/*
 * rec_feedback_parse - a POST /v1/recommendations/feedback body:
 * {"event": "shown"|"accepted"|"dismissed", "primary", "sku", "customer"?,
 * "session"?}; event, primary and sku required; a missing field or a bad
 * event is invalid-field, a bad identifier invalid-identifier; unknown keys
 * are invalid-field; a body that is not an object is invalid-json.
 * @return 0 or -1 with @err filled.
 */
int rec_feedback_parse(json_t *body, struct rec_feedback *out, struct proto_error *err);

/* rec_feedback_name - "shown", "accepted" or "dismissed"; "" for any other value. */
const char *rec_feedback_name(enum rec_feedback_event e);

/* Which preference fields a PUT carries (PREF_* bits). */
enum pref_field {
    PREF_RECOMMENDATIONS = 1,
    PREF_CONSENT = 2,
    PREF_STORE = 4,
    PREF_CHANNEL = 8,
    PREF_NOTES = 16,
};

struct preferences {
    unsigned set;           /* PREF_* present in the body with a value */
    unsigned clear;         /* PREF_* present as null: back to the default */
    int recommendations_on; /* PREF_RECOMMENDATIONS: "on" 1, "off" 0 */
    int consent;            /* PREF_CONSENT: personalisation_consent */
    char preferred_store[PROTO_ID_SIZE];
    enum channel preferred_channel;
    char notes[PREF_NOTES_MAX + 1];
};

/*
 * preferences_parse - a PUT /v1/customers/{id}/preferences body:
 * {"recommendations": "on"|"off", "personalisation_consent": bool,
 *  "preferred_store": identifier, "preferred_channel": channel name,
 *  "notes": string up to PREF_NOTES_MAX bytes}, every field optional and
 * nullable (null clears it: its bit goes into clear, not set, and its value
 * stays 0 or ""). A bad preferred_store is invalid-identifier; any other bad
 * value, and an unknown key, is invalid-field naming the field; a body with
 * none of the fields ({}) is invalid-field naming no field (field ""); a body
 * that is not an object is invalid-json. @return 0 or -1 with @err filled.
 */
int preferences_parse(json_t *body, struct preferences *out, struct proto_error *err);

#endif
