/*
 * resv_http.c - the reservation endpoints: parse, check the key's rights,
 * run the saga in resv_store.c, reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/http.h"
#include "common/metrics.h"
#include "common/text.h"
#include "proto/reservation.h"
#include "services/inventory/inventory_internal.h"

static struct resv_store *resv_of(struct request *r)
{
    return &((struct inventory *)r->ctx)->resv;
}

static void count_outcome(struct request *r, const char *outcome)
{
    char labels[64];
    size_t at = 0;

    text_add(labels, sizeof(labels), &at, "outcome=\"", '\0');
    text_add(labels, sizeof(labels), &at, outcome, '"');
    metrics_counter_add(request_metrics(r), "omnistock_reservations_total",
                        "Reservation requests by outcome.", labels, 1);
}

/* A copy of @obj with @keys first, in that order, then any others. */
static json_t *ordered(json_t *obj, const char *const *keys, size_t nkeys)
{
    json_t *out = json_object(), *v;
    const char *k;

    for (size_t i = 0; i < nkeys; i++) {
        if ((v = json_object_get(obj, keys[i])) != NULL)
            json_object_set(out, keys[i], v);
    }
    json_object_foreach(obj, k, v)
    {
        if (json_object_get(out, k) == NULL)
            json_object_set(out, k, v);
    }
    return out;
}

/* {"lines": [{"sku", "requested", "available"}]}, members in the contract's order. */
static json_t *short_lines(json_t *lines)
{
    static const char *const order[] = {"sku", "requested", "available"};
    json_t *out = json_array(), *l;
    size_t i;

    json_array_foreach(lines, i, l)
        json_array_append_new(out, ordered(l, order, sizeof(order) / sizeof(order[0])));
    return json_pack("{s:o}", "lines", out);
}

/* Reply with what the store said; @created: a new reservation answers 201. */
static void reply_result(struct request *r, const struct resv_result *res, int created)
{
    switch (res->outcome) {
    case RESV_OK:
    case RESV_SAME: {
        /* The record as the scripts keep it: members in the contract's order, answered as is. */
        char customer[PROTO_ID_SIZE] = ""; /* stays "" when it names none */
        if (res->body != NULL && res->body_len > 1 && res->body[0] == '{')
            (void)resv_body_member(res->body, res->body_len, "customer", customer,
                                   sizeof(customer));
        if (res->body == NULL || res->body_len < 2 || res->body[0] != '{' ||
            request_names_customer(r, customer) != 0) {
            request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "unreadable reservation");
            return;
        }
        request_reply_stored(r, created && res->outcome == RESV_OK ? 201 : 200, res->body,
                             res->body_len, 0);
        return;
    }
    case RESV_NOT_FOUND:
        request_reply_problem(r, PROBLEM_NOT_FOUND, NULL, NULL, "no reservation %s", r->params[0]);
        return;
    case RESV_FORBIDDEN:
        request_reply_problem(r, PROBLEM_FORBIDDEN, NULL, NULL,
                              "a store key may act only on reservations at its own store");
        return;
    case RESV_SHORT:
        metrics_counter_add(request_metrics(r), "omnistock_oversell_refused_total",
                            "Holds refused because they would promise more than is available.",
                            NULL, 1);
        request_reply_problem(r, PROBLEM_INSUFFICIENT_STOCK, NULL, short_lines(res->lines),
                              "not enough stock to hold every line; nothing was held");
        return;
    case RESV_UNKNOWN_SKU: {
        char field[48];
        snprintf(field, sizeof(field), "lines[%zu].sku", res->line);
        request_reply_problem(r, PROBLEM_UNKNOWN_REFERENCE, field, NULL, "no product %s", res->sku);
        return;
    }
    case RESV_UNKNOWN_LOCATION:
        request_reply_problem(r, PROBLEM_UNKNOWN_REFERENCE, "location", NULL, "no such location");
        return;
    case RESV_INVALID:
        request_reply_problem(r, PROBLEM_INVALID_TRANSITION, NULL,
                              json_pack("{s:s}", "current_status", resv_status_name(res->status)),
                              "the reservation is %s", resv_status_name(res->status));
        return;
    case RESV_UNAVAILABLE:
        request_reply_unavailable(r);
        return;
    }
}

static const char *outcome_name(enum resv_outcome o)
{
    static const char *const names[] = {
        "held",        "repeated",         "not_found", "forbidden",  "insufficient",
        "unknown_sku", "unknown_location", "invalid",   "unavailable"};

    return names[o];
}

struct create_state {
    struct request *r;
    struct resv_request req;
};

static void create_state_free(void *p)
{
    struct create_state *cs = p;

    resv_request_release(&cs->req);
    free(cs);
}

static void created(const struct resv_result *res, void *arg)
{
    struct request *r = arg;

    count_outcome(r, outcome_name(res->outcome));
    reply_result(r, res, 1);
}

static void resv_create_handler(struct request *r)
{
    const struct config *cfg = request_config(r);
    struct create_state *cs = calloc(1, sizeof(*cs));
    struct proto_error err;
    long long ttl;

    if (cs == NULL) {
        request_reply_problem(r, PROBLEM_INTERNAL, NULL, NULL, "out of memory");
        return;
    }
    if (resv_request_parse(r->body, cfg->max_ttl_seconds, &cs->req, &err) != 0) {
        free(cs);
        request_reply_error(r, &err);
        return;
    }
    cs->r = r;
    r->state = cs;
    r->state_free = create_state_free;
    ttl = cs->req.ttl_seconds > 0 ? cs->req.ttl_seconds : cfg->default_ttl_seconds;
    if (resv_create(resv_of(r), &cs->req, r->has_idem ? r->idem_scope : "", ttl, created, r) != 0)
        request_reply_unavailable(r);
}

/* A store key sees reservations with stock at its store and fulfils those all at it. */
static void may_of(const struct request *r, enum resv_may_rule store_rule, struct resv_may *may)
{
    may->rule = r->key->role == ROLE_STORE ? store_rule : RESV_MAY_ANY;
    snprintf(may->location, sizeof(may->location), "%s", r->key->location);
}

static void moved(const struct resv_result *res, void *arg)
{
    reply_result(arg, res, 0);
}

static void resv_get_handler(struct request *r)
{
    struct resv_may may;

    if (inventory_path_id(r, 0, "id") != 0)
        return;
    may_of(r, RESV_MAY_SOME_HERE, &may);
    if (resv_get(resv_of(r), r->params[0], &may, moved, r) != 0)
        request_reply_unavailable(r);
}

static void move(struct request *r, enum resv_status target, long long ttl,
                 enum resv_may_rule store_rule)
{
    struct resv_may may;

    if (inventory_path_id(r, 0, "id") != 0)
        return;
    may_of(r, store_rule, &may);
    if (resv_move(resv_of(r), r->params[0], target, ttl, &may, moved, r) != 0)
        request_reply_unavailable(r);
}

/* No store key gets here (the route's roles): any key that does may commit. */
static void resv_commit_handler(struct request *r)
{
    move(r, RESV_COMMITTED, 0, RESV_MAY_ANY);
}

static void resv_release_handler(struct request *r)
{
    move(r, RESV_RELEASED, 0, RESV_MAY_SOME_HERE);
}

static void resv_fulfil_handler(struct request *r)
{
    move(r, RESV_FULFILLED, 0, RESV_MAY_ALL_HERE);
}

static void resv_extend_handler(struct request *r)
{
    struct proto_error err;
    long long ttl;

    if (resv_extend_parse(r->body, request_config(r)->max_ttl_seconds, &ttl, &err) != 0) {
        request_reply_error(r, &err);
        return;
    }
    move(r, RESV_HELD, ttl, RESV_MAY_ANY);
}

static void checked(json_t *report, const char *err, void *arg)
{
    struct request *r = arg;

    if (err != NULL)
        request_reply_unavailable(r);
    else
        request_reply_json(r, 200, report);
}

static void consistency_handler(struct request *r)
{
    if (resv_check(resv_of(r), checked, r) != 0)
        request_reply_unavailable(r);
}

#define RESV_WRITE (ROUTE_IDEMPOTENT)

const struct route resv_routes[] = {
    {EVHTTP_REQ_POST, "/v1/reservations", "reservation_create", ROLE_STOREFRONT | ROLE_ADMIN,
     ROUTE_JSON_BODY | RESV_WRITE, resv_create_handler},
    {EVHTTP_REQ_GET, "/v1/reservations/{}", "reservation_get", ROLE_ANY, 0, resv_get_handler},
    {EVHTTP_REQ_POST, "/v1/reservations/{}/commit", "reservation_commit",
     ROLE_STOREFRONT | ROLE_ADMIN, RESV_WRITE, resv_commit_handler},
    {EVHTTP_REQ_POST, "/v1/reservations/{}/release", "reservation_release",
     ROLE_STOREFRONT | ROLE_AGENT | ROLE_ADMIN, RESV_WRITE, resv_release_handler},
    {EVHTTP_REQ_POST, "/v1/reservations/{}/fulfil", "reservation_fulfil", ROLE_STORE | ROLE_ADMIN,
     RESV_WRITE, resv_fulfil_handler},
    {EVHTTP_REQ_POST, "/v1/reservations/{}/extend", "reservation_extend",
     ROLE_STOREFRONT | ROLE_AGENT | ROLE_ADMIN, ROUTE_JSON_BODY | RESV_WRITE, resv_extend_handler},
    {EVHTTP_REQ_GET, "/v1/admin/consistency", "consistency", ROLE_ADMIN, 0, consistency_handler},
};

const size_t resv_nroutes = sizeof(resv_routes) / sizeof(resv_routes[0]);
