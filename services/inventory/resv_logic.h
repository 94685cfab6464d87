/*
 * resv_logic.h - the rules of a reservation's life that need no Redis: which
 * transitions are allowed, what a store key may see and do, how a basket
 * splits into partitions, and the reservation's id.
 */
#ifndef INVENTORY_RESV_LOGIC_H
#define INVENTORY_RESV_LOGIC_H

#include <stddef.h>

#include <jansson.h>

#include "proto/reservation.h"

enum resv_status {
    RESV_NONE = 0,
    RESV_HELD,
    RESV_COMMITTED,
    RESV_RELEASED,
    RESV_EXPIRED,
    RESV_FULFILLED,
};

/* resv_status_parse - "held", ... to the enum; RESV_NONE if unknown. */
enum resv_status resv_status_parse(const char *s);
const char *resv_status_name(enum resv_status s);

enum resv_move {
    RESV_MOVE_OK,      /* allowed: do it */
    RESV_MOVE_SAME,    /* the transition just made: answer 200 with the same body */
    RESV_MOVE_INVALID, /* 409 invalid-transition */
};

/*
 * resv_transition - may a reservation in @from go to @to? Extending a held
 * reservation is the transition held -> held.
 */
enum resv_move resv_transition(enum resv_status from, enum resv_status to);

/*
 * Who may act on a reservation: any key, or a store key on those with some
 * (reading, releasing) or all (fulfilling) of their allocations at its store.
 * holds.lua's move applies the same rule: resv_may_name gives its name there.
 */
enum resv_may_rule { RESV_MAY_ANY, RESV_MAY_SOME_HERE, RESV_MAY_ALL_HERE };

struct resv_may {
    enum resv_may_rule rule;
    char location[PROTO_ID_SIZE]; /* the store's, for the two store rules */
};

/* resv_may_act - may @may's holder act on the reservation @body? 1 or 0. */
int resv_may_act(const struct resv_may *may, json_t *body);

/*
 * resv_body_member - the value of the member @name of the reservation @body (JSON as the
 * scripts keep it, @len bytes), a string without escapes (the status, the customer's id):
 * copied to @out (@size bytes). @return 0, or -1 when there is no such member or it does not
 * fit. A member is found by its quoted name and colon, which nothing inside a string can look
 * like (a string's own quotes are escaped); @name must be one the lines do not use.
 */
int resv_body_member(const char *body, size_t len, const char *name, char *out, size_t size);

/* resv_may_name - the rule as holds.lua names it: "", "some" or "all". */
const char *resv_may_name(enum resv_may_rule rule);

#define RESV_ID_BYTES 12 /* an id is "r-" and these in hex */

/*
 * resv_id_make - a reservation id: "r-" and 24 hex digits, derived from
 * @idem_scope when it is not empty (so a retried create finds the same
 * reservation), else random. With @part < @nparts, an id of that partition
 * (partition_of): the record then sits with the holds of a basket that is
 * all in that partition, and one script can make both. @return 0, or -1 if
 * no randomness.
 */
int resv_id_make(const char *idem_scope, unsigned part, unsigned nparts, char id[PROTO_ID_SIZE]);

#endif
