/*
 * test_rcache.c - the read cache without Redis: a copy reads as the reply it
 * was made from; Redis's news of a change drops it and voids the tickets of
 * reads of the same hash tag still in flight; nothing is used or kept while
 * the news is not heard; copies age out, those made together apart, one past
 * its age is renewed by its version alone, one read during its age is given
 * to be confirmed by its version shortly before the age runs out (and only
 * then, and once), and the oldest make room. A
 * copy's rendering is given with its copy only, made from that copy and with
 * the tag asked for, and goes when the copy goes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>

#include "common/rcache.h"

/* A reply like HGETALL's, of up to 8 strings (given with their lengths: they may hold NULs). */
struct fake {
    redisReply top;
    redisReply *ptrs[8];
    redisReply elems[8];
};

static const redisReply *fake_reply(struct fake *f, size_t n, const char **strs, const size_t *lens)
{
    memset(f, 0, sizeof(*f));
    f->top.type = REDIS_REPLY_ARRAY;
    f->top.elements = n;
    f->top.element = f->ptrs;
    for (size_t i = 0; i < n; i++) {
        f->elems[i].type = REDIS_REPLY_STRING;
        f->elems[i].str = (char *)strs[i];
        f->elems[i].len = lens ? lens[i] : strlen(strs[i]);
        f->ptrs[i] = &f->elems[i];
    }
    return &f->top;
}

static const redisReply *levels(struct fake *f, const char *on_hand)
{
    const char *s[] = {":v", "3", "wh-01", on_hand};

    return fake_reply(f, 4, s, NULL);
}

/* Put @key with a fresh ticket; @return whether it is then found. */
static int keep(struct rcache *rc, const char *key, const char *on_hand, long long now)
{
    struct fake f;
    struct rcache_ticket t = rcache_ticket(rc, key);

    rcache_put(rc, key, levels(&f, on_hand), t, now);
    return rcache_get(rc, key, now) != NULL;
}

static void test_rcache__a_copy_reads_as_its_reply(void **state)
{
    struct rcache *rc = rcache_new(16, 0);
    const char *s[] = {"a", "", "bin", "x\0y", ":s", "12"};
    const size_t lens[] = {1, 0, 3, 3, 2, 2};
    struct fake f;
    const redisReply *got;

    (void)state;
    rcache_set_live(rc, 1);
    rcache_put(rc, "{p01}:sku:A", fake_reply(&f, 6, s, lens), rcache_ticket(rc, "{p01}:sku:A"), 10);
    memset(&f, 0xff, sizeof(f)); /* the copy owes nothing to the reply */
    got = rcache_get(rc, "{p01}:sku:A", 10);
    assert_non_null(got);
    assert_int_equal(got->type, REDIS_REPLY_ARRAY);
    assert_int_equal(got->elements, 6);
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(got->element[i]->type, REDIS_REPLY_STRING);
        assert_int_equal(got->element[i]->len, lens[i]);
        assert_memory_equal(got->element[i]->str, s[i], lens[i]);
        assert_int_equal(got->element[i]->str[lens[i]], '\0');
    }
    assert_null(rcache_get(rc, "{p01}:sku:B", 10));
    assert_int_equal(rcache_stats(rc)->hits, 1);
    assert_int_equal(rcache_stats(rc)->misses, 1);
    assert_int_equal(rcache_stats(rc)->entries, 1);
    rcache_free(rc);
}

static void test_rcache__an_empty_hash_is_kept_too(void **state)
{
    struct rcache *rc = rcache_new(16, 0);
    struct fake f;

    (void)state;
    rcache_set_live(rc, 1);
    rcache_put(rc, "{p01}:sku:none", fake_reply(&f, 0, NULL, NULL),
               rcache_ticket(rc, "{p01}:sku:none"), 0);
    assert_non_null(rcache_get(rc, "{p01}:sku:none", 0));
    assert_int_equal(rcache_get(rc, "{p01}:sku:none", 0)->elements, 0);
    rcache_free(rc);
}

static void test_rcache__nothing_is_used_or_kept_unless_live(void **state)
{
    struct rcache *rc = rcache_new(16, 0);

    (void)state;
    assert_int_equal(keep(rc, "{p01}:sku:A", "5:0:0", 0), 0);
    rcache_set_live(rc, 1);
    assert_int_equal(keep(rc, "{p01}:sku:A", "5:0:0", 0), 1);
    rcache_set_live(rc, 0); /* the watch is lost: the copy goes */
    assert_null(rcache_get(rc, "{p01}:sku:A", 0));
    rcache_set_live(rc, 1); /* and is not back with the watch */
    assert_null(rcache_get(rc, "{p01}:sku:A", 0));
    assert_int_equal(rcache_stats(rc)->entries, 0);
    assert_int_equal(rcache_stats(rc)->bytes, 0);
    rcache_free(rc);
}

static void test_rcache__a_change_drops_the_copy(void **state)
{
    struct rcache *rc = rcache_new(16, 0);

    (void)state;
    rcache_set_live(rc, 1);
    assert_true(keep(rc, "{p01}:sku:A", "5:0:0", 0));
    assert_true(keep(rc, "{p01}:sku:B", "6:0:0", 0));
    rcache_changed(rc, "{p01}:sku:A", strlen("{p01}:sku:A"));
    assert_null(rcache_get(rc, "{p01}:sku:A", 0));
    assert_non_null(rcache_get(rc, "{p01}:sku:B", 0)); /* only that key */
    assert_int_equal(rcache_stats(rc)->invalidations, 1);
    /* The key names in Redis's messages are not NUL-terminated. */
    rcache_changed(rc, "{p01}:sku:Bxyz", strlen("{p01}:sku:B"));
    assert_null(rcache_get(rc, "{p01}:sku:B", 0));
    rcache_free(rc);
}

static void test_rcache__a_change_meanwhile_voids_the_ticket(void **state)
{
    struct rcache *rc = rcache_new(16, 0);
    struct rcache_ticket t;
    struct fake f;

    (void)state;
    rcache_set_live(rc, 1);
    /* Asked Redis for A; a change to another key of A's partition comes in before the
     * answer: it may be a change to A made after Redis answered, so the answer is not kept. */
    t = rcache_ticket(rc, "{p01}:sku:A");
    rcache_changed(rc, "{p01}:sku:Z", strlen("{p01}:sku:Z"));
    rcache_put(rc, "{p01}:sku:A", levels(&f, "5:0:0"), t, 0);
    assert_null(rcache_get(rc, "{p01}:sku:A", 0));
    /* A change in another partition does not void it. */
    t = rcache_ticket(rc, "{p01}:sku:A");
    rcache_changed(rc, "{p02}:sku:A", strlen("{p02}:sku:A"));
    rcache_put(rc, "{p01}:sku:A", levels(&f, "5:0:0"), t, 0);
    assert_non_null(rcache_get(rc, "{p01}:sku:A", 0));
    /* A clearing voids every ticket. */
    t = rcache_ticket(rc, "{p03}:sku:C");
    rcache_clear(rc);
    rcache_put(rc, "{p03}:sku:C", levels(&f, "5:0:0"), t, 0);
    assert_null(rcache_get(rc, "{p03}:sku:C", 0));
    assert_null(rcache_get(rc, "{p01}:sku:A", 0));
    rcache_free(rc);
}

static void test_rcache__a_ticket_holds_until_its_tag_changes(void **state)
{
    struct rcache *rc = rcache_new(16, 0);
    struct rcache_ticket t;

    (void)state;
    t = rcache_ticket(rc, "{p01}");
    assert_false(rcache_ticket_holds(rc, "{p01}", t)); /* not live */
    rcache_set_live(rc, 1);
    t = rcache_ticket(rc, "{p01}");
    assert_true(rcache_ticket_holds(rc, "{p01}", t));
    assert_true(rcache_ticket_holds(rc, "{p01}:sku:X", t)); /* any key of the tag */
    rcache_changed(rc, "{p02}:sku:A", strlen("{p02}:sku:A"));
    assert_true(rcache_ticket_holds(rc, "{p01}", t));
    rcache_changed(rc, "{p01}:prod:B", strlen("{p01}:prod:B"));
    assert_false(rcache_ticket_holds(rc, "{p01}", t));
    t = rcache_ticket(rc, "{rec}");
    rcache_clear(rc);
    assert_false(rcache_ticket_holds(rc, "{rec}", t));
    rcache_free(rc);
}

static void test_rcache__a_newer_answer_replaces_the_copy(void **state)
{
    struct rcache *rc = rcache_new(16, 0);
    const redisReply *got;

    (void)state;
    rcache_set_live(rc, 1);
    keep(rc, "{p01}:sku:A", "5:0:0", 0);
    keep(rc, "{p01}:sku:A", "7:1:0", 0);
    got = rcache_get(rc, "{p01}:sku:A", 0);
    assert_string_equal(got->element[3]->str, "7:1:0");
    assert_int_equal(rcache_stats(rc)->entries, 1);
    rcache_free(rc);
}

/* A copy is used for at least half of max_age_ms, and never past it. */
static void test_rcache__copies_age_out(void **state)
{
    struct rcache *rc = rcache_new(16, 1000);

    (void)state;
    rcache_set_live(rc, 1);
    keep(rc, "{p01}:sku:A", "5:0:0", 5000);
    assert_non_null(rcache_get(rc, "{p01}:sku:A", 5500));
    assert_null(rcache_get(rc, "{p01}:sku:A", 6001));
    assert_null(rcache_get(rc, "{p01}:sku:A", 9000));
    rcache_free(rc);
}

/*
 * A copy past its age stays, unused, for its version to be asked: the same
 * version renews it (its rendering too) for a new age; another, or a copy
 * changed or replaced since, does not.
 */
static void test_rcache__a_lapsed_copy_is_renewed_by_its_version_alone(void **state)
{
    struct rcache *rc = rcache_new(16, 1000);
    const redisReply *got;
    unsigned long long serial;
    const char *text;
    size_t len;

    (void)state;
    rcache_set_live(rc, 1);
    keep(rc, "{p01}:sku:A", "5:0:0", 0);
    serial = rcache_serial(rc, "{p01}:sku:A");
    assert_int_equal(rcache_attach(rc, "{p01}:sku:A", serial, 7, "answer", 6), 0);
    /* Young: not lapsed. */
    assert_int_equal(rcache_lapsed(rc, "{p01}:sku:A", 400, ":v"), 0);
    assert_null(rcache_get(rc, "{p01}:sku:A", 1001));
    assert_null(rcache_attached(rc, "{p01}:sku:A", 1001, 7, &len));
    assert_int_equal(rcache_stats(rc)->entries, 1);
    assert_int_equal(rcache_lapsed(rc, "{p01}:sku:A", 1001, ":v"), serial);
    assert_int_equal(rcache_lapsed(rc, "{p01}:sku:A", 1001, ":x"), 0); /* no such field */
    assert_int_equal(rcache_lapsed(rc, "{p01}:sku:B", 1001, ":v"), 0);
    /* Redis has another version (a change not heard): not renewed, still lapsed. */
    assert_null(rcache_renew(rc, "{p01}:sku:A", serial, ":v", "4", 1, 1001));
    assert_null(rcache_renew(rc, "{p01}:sku:A", serial, ":v", "33", 2, 1001));
    assert_null(rcache_renew(rc, "{p01}:sku:A", serial, ":x", "3", 1, 1001));
    assert_null(rcache_get(rc, "{p01}:sku:A", 1002));
    assert_int_equal(rcache_stats(rc)->renewals, 0);
    /* The same version: the copy as it was, for at least half an age more. */
    got = rcache_renew(rc, "{p01}:sku:A", serial, ":v", "3", 1, 1002);
    assert_non_null(got);
    assert_int_equal(got->elements, 4);
    assert_string_equal(got->element[3]->str, "5:0:0");
    assert_int_equal(rcache_stats(rc)->renewals, 1);
    assert_non_null(rcache_get(rc, "{p01}:sku:A", 1502));
    assert_int_equal(rcache_serial(rc, "{p01}:sku:A"), serial);
    text = rcache_attached(rc, "{p01}:sku:A", 1502, 7, &len);
    assert_non_null(text);
    assert_memory_equal(text, "answer", 6);
    assert_int_equal(rcache_lapsed(rc, "{p01}:sku:A", 1502, ":v"), 0);
    assert_null(rcache_get(rc, "{p01}:sku:A", 2003));
    /* Changed since it lapsed: gone, nothing to renew. */
    assert_int_equal(rcache_lapsed(rc, "{p01}:sku:A", 2003, ":v"), serial);
    rcache_changed(rc, "{p01}:sku:A", strlen("{p01}:sku:A"));
    assert_int_equal(rcache_lapsed(rc, "{p01}:sku:A", 2003, ":v"), 0);
    assert_null(rcache_renew(rc, "{p01}:sku:A", serial, ":v", "3", 1, 2003));
    /* Replaced since: the old number renews nothing. */
    keep(rc, "{p01}:sku:A", "6:0:0", 2000);
    assert_null(rcache_renew(rc, "{p01}:sku:A", serial, ":v", "3", 1, 3001));
    assert_null(rcache_get(rc, "{p01}:sku:A", 3001));
    /* Nor while changes are not heard. */
    serial = rcache_lapsed(rc, "{p01}:sku:A", 3001, ":v");
    assert_int_not_equal(serial, 0);
    rcache_set_live(rc, 0);
    assert_int_equal(rcache_lapsed(rc, "{p01}:sku:A", 3001, ":v"), 0);
    assert_null(rcache_renew(rc, "{p01}:sku:A", serial, ":v", "3", 1, 3001));
    assert_int_equal(rcache_stats(rc)->renewals, 1);
    rcache_free(rc);
}

/* A renewed copy counts as newly stored: the others make room before it. */
static void test_rcache__a_renewed_copy_is_the_last_to_make_room(void **state)
{
    struct rcache *rc = rcache_new(2, 1000);

    (void)state;
    rcache_set_live(rc, 1);
    keep(rc, "{p01}:sku:A", "1:0:0", 0);
    keep(rc, "{p02}:sku:B", "2:0:0", 10);
    assert_non_null(rcache_renew(rc, "{p01}:sku:A", rcache_lapsed(rc, "{p01}:sku:A", 1001, ":v"),
                                 ":v", "3", 1, 1001));
    keep(rc, "{p03}:sku:C", "3:0:0", 1001);
    assert_non_null(rcache_get(rc, "{p01}:sku:A", 1002));
    assert_non_null(rcache_get(rc, "{p03}:sku:C", 1002));
    assert_int_equal(rcache_serial(rc, "{p02}:sku:B"), 0);
    assert_int_equal(rcache_stats(rc)->evictions, 1);
    rcache_free(rc);
}

/*
 * Copies made in the same moment are given up at different ages: all kept
 * at half of max_age_ms, some and not all at three quarters, none past it.
 */
static void test_rcache__copies_made_together_lapse_apart(void **state)
{
    struct rcache *rc = rcache_new(256, 1000);
    size_t kept = 0;
    char key[32];

    (void)state;
    rcache_set_live(rc, 1);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "{p01}:sku:S%d", i);
        assert_true(keep(rc, key, "5:0:0", 0));
    }
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "{p01}:sku:S%d", i);
        assert_non_null(rcache_get(rc, key, 500));
    }
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "{p01}:sku:S%d", i);
        kept += rcache_get(rc, key, 750) != NULL;
    }
    assert_true(kept > 20 && kept < 180);
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "{p01}:sku:S%d", i);
        assert_null(rcache_get(rc, key, 1001));
    }
    rcache_free(rc);
}

static void test_rcache__the_oldest_make_room(void **state)
{
    struct rcache *rc = rcache_new(3, 0);
    size_t bytes;

    (void)state;
    rcache_set_live(rc, 1);
    keep(rc, "{p01}:sku:A", "1:0:0", 0);
    keep(rc, "{p02}:sku:B", "2:0:0", 0);
    keep(rc, "{p03}:sku:C", "3:0:0", 0);
    bytes = rcache_stats(rc)->bytes;
    assert_true(bytes > 0);
    keep(rc, "{p04}:sku:D", "4:0:0", 0);
    assert_null(rcache_get(rc, "{p01}:sku:A", 0));
    assert_non_null(rcache_get(rc, "{p02}:sku:B", 0));
    assert_non_null(rcache_get(rc, "{p04}:sku:D", 0));
    assert_int_equal(rcache_stats(rc)->entries, 3);
    assert_int_equal(rcache_stats(rc)->evictions, 1);
    assert_int_equal(rcache_stats(rc)->bytes, bytes); /* same sizes */
    rcache_clear(rc);
    assert_int_equal(rcache_stats(rc)->bytes, 0);
    rcache_free(rc);
}

static void test_rcache__only_arrays_of_strings_are_kept(void **state)
{
    struct rcache *rc = rcache_new(16, 0);
    struct fake f;
    redisReply nil = {.type = REDIS_REPLY_NIL};
    const char *s[] = {"a", "b"};

    (void)state;
    rcache_set_live(rc, 1);
    rcache_put(rc, "k1", &nil, rcache_ticket(rc, "k1"), 0);
    fake_reply(&f, 2, s, NULL);
    f.elems[1].type = REDIS_REPLY_INTEGER;
    rcache_put(rc, "k2", &f.top, rcache_ticket(rc, "k2"), 0);
    assert_null(rcache_get(rc, "k1", 0));
    assert_null(rcache_get(rc, "k2", 0));
    assert_int_equal(rcache_stats(rc)->stores, 0);
    rcache_free(rc);
}

static void test_rcache__many_keys_and_a_large_copy(void **state)
{
    struct rcache *rc = rcache_new(5000, 0);
    char key[64], val[16];
    struct fake f;
    const char *big[8];
    char longer[100000];

    (void)state;
    rcache_set_live(rc, 1);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof(key), "{p%02d}:sku:SKU-%06d", i % 16, i);
        snprintf(val, sizeof(val), "%d:0:0", i);
        keep(rc, key, val, 0);
    }
    for (int i = 0; i < 5000; i++) {
        const redisReply *got;
        snprintf(key, sizeof(key), "{p%02d}:sku:SKU-%06d", i % 16, i);
        snprintf(val, sizeof(val), "%d:0:0", i);
        got = rcache_get(rc, key, 0);
        assert_non_null(got);
        assert_string_equal(got->element[3]->str, val);
    }
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    for (int i = 0; i < 8; i++)
        big[i] = longer;
    rcache_put(rc, "big", fake_reply(&f, 8, big, NULL), rcache_ticket(rc, "big"), 0);
    assert_int_equal(rcache_get(rc, "big", 0)->element[7]->len, sizeof(longer) - 1);
    rcache_free(rc);
}

/* Keep @key's copy and a rendering of it, "answer:<on_hand>", with @tag. @return its serial. */
static unsigned long long keep_rendered(struct rcache *rc, const char *key, const char *on_hand,
                                        unsigned long long tag, long long now)
{
    struct fake f;
    char text[64];
    unsigned long long serial =
        rcache_put(rc, key, levels(&f, on_hand), rcache_ticket(rc, key), now);

    snprintf(text, sizeof(text), "answer:%s", on_hand);
    assert_int_not_equal(serial, 0);
    assert_int_equal(rcache_serial(rc, key), serial);
    assert_int_equal(rcache_attach(rc, key, serial, tag, text, strlen(text)), 0);
    return serial;
}

/* @key's rendering with @tag as a string ("" when there is none). */
static const char *rendered(struct rcache *rc, const char *key, unsigned long long tag,
                            long long now)
{
    static char out[64];
    size_t len = 0;
    const char *got = rcache_attached(rc, key, now, tag, &len);

    if (got == NULL)
        return "";
    assert_true(len < sizeof(out));
    memcpy(out, got, len);
    out[len] = '\0';
    return out;
}

static void test_rcache__a_rendering_is_given_with_its_copy_and_tag(void **state)
{
    struct rcache *rc = rcache_new(16, 0);
    size_t bytes;

    (void)state;
    rcache_set_live(rc, 1);
    keep_rendered(rc, "{p01}:sku:A", "5:0:0", 7, 0);
    assert_string_equal(rendered(rc, "{p01}:sku:A", 7, 0), "answer:5:0:0");
    assert_string_equal(rendered(rc, "{p01}:sku:A", 8, 0), ""); /* made with other rules */
    assert_string_equal(rendered(rc, "{p01}:sku:B", 7, 0), "");
    assert_non_null(rcache_get(rc, "{p01}:sku:A", 0)); /* the copy is still a copy */
    assert_int_equal(rcache_stats(rc)->renderings, 1);
    assert_int_equal(rcache_stats(rc)->hits, 2);
    /* A new rendering of the same copy takes the old one's place, and its bytes. */
    bytes = rcache_stats(rc)->bytes;
    assert_int_equal(
        rcache_attach(rc, "{p01}:sku:A", rcache_serial(rc, "{p01}:sku:A"), 8, "other", 5), 0);
    assert_string_equal(rendered(rc, "{p01}:sku:A", 7, 0), "");
    assert_string_equal(rendered(rc, "{p01}:sku:A", 8, 0), "other");
    assert_int_equal(rcache_stats(rc)->bytes, bytes);
    rcache_free(rc);
}

static void test_rcache__a_copy_read_gives_its_number(void **state)
{
    struct rcache *rc = rcache_new(16, 1000);
    struct fake f;
    unsigned long long put, got = 99;

    (void)state;
    rcache_set_live(rc, 1);
    put = rcache_put(rc, "{p01}:sku:A", levels(&f, "5:0:0"), rcache_ticket(rc, "{p01}:sku:A"), 0);
    assert_non_null(rcache_get_numbered(rc, "{p01}:sku:A", 0, &got));
    assert_int_equal(got, put);
    assert_int_equal(got, rcache_serial(rc, "{p01}:sku:A"));
    assert_null(rcache_get_numbered(rc, "{p01}:sku:B", 0, &got));
    assert_int_equal(got, 0);
    assert_null(rcache_get_numbered(rc, "{p01}:sku:A", 1001, &got)); /* aged out */
    assert_int_equal(got, 0);
    rcache_free(rc);
}

static void test_rcache__a_rendering_goes_with_its_copy(void **state)
{
    struct rcache *rc = rcache_new(2, 1000);
    size_t bare;

    (void)state;
    rcache_set_live(rc, 1);
    assert_true(keep(rc, "{p01}:sku:A", "5:0:0", 0));
    bare = rcache_stats(rc)->bytes;
    keep_rendered(rc, "{p01}:sku:A", "5:0:0", 7, 0);
    assert_true(rcache_stats(rc)->bytes > bare);
    /* Redis says the key changed. */
    rcache_changed(rc, "{p01}:sku:A", strlen("{p01}:sku:A"));
    assert_string_equal(rendered(rc, "{p01}:sku:A", 7, 0), "");
    assert_int_equal(rcache_stats(rc)->bytes, 0);
    /* A newer answer replaces the copy: the new copy has no rendering. */
    keep_rendered(rc, "{p01}:sku:A", "5:0:0", 7, 0);
    assert_true(keep(rc, "{p01}:sku:A", "4:1:0", 0));
    assert_string_equal(rendered(rc, "{p01}:sku:A", 7, 0), "");
    /* Made room for. */
    keep_rendered(rc, "{p01}:sku:A", "5:0:0", 7, 0);
    keep_rendered(rc, "{p02}:sku:B", "6:0:0", 7, 0);
    keep_rendered(rc, "{p03}:sku:C", "7:0:0", 7, 0);
    assert_string_equal(rendered(rc, "{p01}:sku:A", 7, 0), "");
    assert_string_equal(rendered(rc, "{p03}:sku:C", 7, 0), "answer:7:0:0");
    /* Aged out, as the copy is. */
    assert_string_equal(rendered(rc, "{p03}:sku:C", 7, 1001), "");
    assert_null(rcache_get(rc, "{p03}:sku:C", 1001));
    /* Cleared, and the watch lost. */
    keep_rendered(rc, "{p03}:sku:C", "7:0:0", 7, 2000);
    rcache_clear(rc);
    assert_string_equal(rendered(rc, "{p03}:sku:C", 7, 2000), "");
    keep_rendered(rc, "{p03}:sku:C", "7:0:0", 7, 2000);
    rcache_set_live(rc, 0);
    assert_string_equal(rendered(rc, "{p03}:sku:C", 7, 2000), "");
    assert_int_equal(rcache_stats(rc)->bytes, 0);
    rcache_free(rc);
}

static void test_rcache__a_rendering_is_kept_only_on_the_copy_it_was_made_from(void **state)
{
    struct rcache *rc = rcache_new(16, 0);
    struct fake f;
    unsigned long long first;

    (void)state;
    rcache_set_live(rc, 1);
    first = rcache_put(rc, "{p01}:sku:A", levels(&f, "5:0:0"), rcache_ticket(rc, "{p01}:sku:A"), 0);
    assert_int_not_equal(first, 0);
    /* The copy it was made from was replaced meanwhile, then dropped. */
    assert_true(keep(rc, "{p01}:sku:A", "4:1:0", 0));
    assert_int_not_equal(rcache_serial(rc, "{p01}:sku:A"), first);
    assert_int_equal(rcache_attach(rc, "{p01}:sku:A", first, 7, "stale", 5), -1);
    assert_string_equal(rendered(rc, "{p01}:sku:A", 7, 0), "");
    rcache_changed(rc, "{p01}:sku:A", strlen("{p01}:sku:A"));
    assert_int_equal(rcache_serial(rc, "{p01}:sku:A"), 0);
    assert_int_equal(rcache_attach(rc, "{p01}:sku:A", first, 7, "stale", 5), -1);
    /* A read whose ticket a change voided keeps nothing, and gets no serial. */
    {
        struct rcache_ticket t = rcache_ticket(rc, "{p01}:sku:A");
        rcache_changed(rc, "{p01}:sku:Z", strlen("{p01}:sku:Z"));
        assert_int_equal(rcache_put(rc, "{p01}:sku:A", levels(&f, "3:0:0"), t, 0), 0);
    }
    assert_int_equal(rcache_stats(rc)->renderings, 0);
    rcache_free(rc);
}

/* What rcache_due gave, in order. */
struct given {
    size_t n;
    char keys[64][32];
    unsigned long long serials[64];
};

static void give(const char *key, unsigned long long serial, void *arg)
{
    struct given *g = arg;

    assert_true(g->n < 64);
    snprintf(g->keys[g->n], sizeof(g->keys[0]), "%s", key);
    g->serials[g->n++] = serial;
}

/* Put @key without reading it. */
static unsigned long long put(struct rcache *rc, const char *key, const char *on_hand,
                              long long now)
{
    struct fake f;

    return rcache_put(rc, key, levels(&f, on_hand), rcache_ticket(rc, key), now);
}

/* rcache_due every rcache_due_every from @from to @to; *@at: when the first was given. */
static void due_from_to(struct rcache *rc, long long from, long long to, struct given *g,
                        long long *at)
{
    for (long long t = from; t <= to; t += rcache_due_every(rc)) {
        size_t before = g->n;
        rcache_due(rc, t, ":v", 64, give, g);
        if (at != NULL && before == 0 && g->n > 0)
            *at = t;
    }
}

/*
 * A copy read during its age is given once, before its age runs out and not
 * long before, to be confirmed: the same version gives it and its rendering
 * a new age. One not read since it was made or confirmed is not given.
 */
static void test_rcache__a_copy_read_is_confirmed_before_its_age_runs_out(void **state)
{
    struct rcache *rc = rcache_new(16, 1000);
    struct given g = {0};
    long long at = -1, every = rcache_due_every(rc);
    unsigned long long a;
    size_t len;

    (void)state;
    assert_int_equal(every, 20);
    rcache_set_live(rc, 1);
    a = put(rc, "{p01}:sku:A", "5:0:0", 0);
    assert_int_equal(rcache_attach(rc, "{p01}:sku:A", a, 7, "answer", 6), 0);
    put(rc, "{p02}:sku:B", "6:0:0", 0); /* never read */
    assert_non_null(rcache_get(rc, "{p01}:sku:A", 100));
    due_from_to(rc, 0, 2000, &g, &at);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.keys[0], "{p01}:sku:A");
    assert_int_equal(g.serials[0], a);
    /* Given while still young, within three calls of its end (and not before half an age). */
    assert_true(at >= 500 - 3 * every);
    assert_non_null(rcache_get(rc, "{p01}:sku:A", at));
    assert_null(rcache_get(rc, "{p01}:sku:A", at + 3 * every + 1));
    assert_null(rcache_get(rc, "{p02}:sku:B", 1001));
    /* Confirmed (the answer came back at once): a new age, with its rendering. */
    rcache_free(rc);
    rc = rcache_new(16, 1000);
    rcache_set_live(rc, 1);
    memset(&g, 0, sizeof(g));
    a = put(rc, "{p01}:sku:A", "5:0:0", 0);
    assert_int_equal(rcache_attach(rc, "{p01}:sku:A", a, 7, "answer", 6), 0);
    assert_non_null(rcache_attached(rc, "{p01}:sku:A", 100, 7, &len)); /* a read too */
    at = -1;
    for (long long t = 0; t <= 1000 && g.n == 0; t += every) {
        rcache_due(rc, t, ":v", 64, give, &g);
        at = t;
    }
    assert_int_equal(g.n, 1);
    assert_int_equal(rcache_confirm(rc, "{p01}:sku:A", a, ":v", "3", 1, at), 1);
    assert_int_equal(rcache_stats(rc)->renewals_ahead, 1);
    assert_int_equal(rcache_stats(rc)->renewals, 0);
    assert_int_equal(rcache_serial(rc, "{p01}:sku:A"), a);
    assert_non_null(rcache_attached(rc, "{p01}:sku:A", at + 500, 7, &len));
    assert_memory_equal(rcache_attached(rc, "{p01}:sku:A", at + 500, 7, &len), "answer", 6);
    /* Given once: read since (above), so given again before the new age runs out... */
    memset(&g, 0, sizeof(g));
    due_from_to(rc, at + every, at + 2000, &g, NULL);
    assert_int_equal(g.n, 1);
    /* ...and, not confirmed nor read again, lapsed, never given again. */
    assert_null(rcache_get(rc, "{p01}:sku:A", at + 1001));
    due_from_to(rc, at + 2000, at + 5000, &g, NULL);
    assert_int_equal(g.n, 1);
    assert_int_equal(rcache_lapsed(rc, "{p01}:sku:A", at + 5000, ":v"), a);
    rcache_free(rc);
}

/*
 * Confirming: another version (a change Redis did not report), or none, drops
 * the copy; an answer about a copy replaced since leaves the new one alone.
 */
static void test_rcache__confirming_another_version_drops_the_copy(void **state)
{
    struct rcache *rc = rcache_new(16, 1000);
    struct given g = {0};
    unsigned long long a, b;

    (void)state;
    rcache_set_live(rc, 1);
    a = put(rc, "{p01}:sku:A", "5:0:0", 0);
    b = put(rc, "{p02}:sku:B", "6:0:0", 0);
    assert_non_null(rcache_get(rc, "{p01}:sku:A", 1));
    assert_non_null(rcache_get(rc, "{p02}:sku:B", 1));
    due_from_to(rc, 0, 1000, &g, NULL);
    assert_int_equal(g.n, 2);
    /* A change Redis did not report: the copy goes, and the tickets of its tag. */
    {
        struct rcache_ticket t = rcache_ticket(rc, "{p01}:sku:C");
        assert_int_equal(rcache_confirm(rc, "{p01}:sku:A", a, ":v", "4", 1, 600), 0);
        assert_false(rcache_ticket_holds(rc, "{p01}:sku:C", t));
    }
    assert_int_equal(rcache_serial(rc, "{p01}:sku:A"), 0);
    assert_int_equal(rcache_stats(rc)->invalidations, 1);
    /* No version at all (the hash gone): the same. */
    assert_int_equal(rcache_confirm(rc, "{p02}:sku:B", b, ":v", NULL, 0, 600), 0);
    assert_int_equal(rcache_serial(rc, "{p02}:sku:B"), 0);
    /* A copy replaced meanwhile is not the one asked about: left as it is. */
    a = put(rc, "{p01}:sku:A", "5:0:0", 2000);
    assert_non_null(rcache_get(rc, "{p01}:sku:A", 2001));
    memset(&g, 0, sizeof(g));
    due_from_to(rc, 2000, 3000, &g, NULL);
    assert_int_equal(g.n, 1);
    b = put(rc, "{p01}:sku:A", "7:0:0", 2400);
    assert_int_equal(rcache_confirm(rc, "{p01}:sku:A", a, ":v", "9", 1, 2401), 0);
    assert_int_equal(rcache_serial(rc, "{p01}:sku:A"), b);
    assert_int_equal(rcache_confirm(rc, "{p01}:sku:A", a, ":v", "3", 1, 2401), 0);
    assert_int_equal(rcache_stats(rc)->renewals_ahead, 0);
    /* A copy without the field is never given; nor any while changes are not heard. */
    {
        struct fake f;
        const char *s[] = {"name", "mug"};
        rcache_put(rc, "{p03}:prod:A", fake_reply(&f, 2, s, NULL),
                   rcache_ticket(rc, "{p03}:prod:A"), 3000);
        assert_non_null(rcache_get(rc, "{p03}:prod:A", 3001));
        put(rc, "{p01}:sku:A", "7:0:0", 3000);
        assert_non_null(rcache_get(rc, "{p01}:sku:A", 3001));
        memset(&g, 0, sizeof(g));
        rcache_set_live(rc, 0);
        due_from_to(rc, 3000, 4000, &g, NULL);
        assert_int_equal(g.n, 0);
        rcache_set_live(rc, 1);
        rcache_put(rc, "{p03}:prod:B", fake_reply(&f, 2, s, NULL),
                   rcache_ticket(rc, "{p03}:prod:B"), 4000);
        assert_non_null(rcache_get(rc, "{p03}:prod:B", 4001));
        due_from_to(rc, 4000, 5000, &g, NULL);
        assert_int_equal(g.n, 0);
    }
    rcache_free(rc);
}

/* Many due at once: @max at a call, the rest at the next; copies that do not age: never. */
static void test_rcache__copies_due_together_are_given_in_turns(void **state)
{
    struct rcache *rc = rcache_new(64, 1000);
    struct given g = {0};
    char key[32];
    size_t total = 0, calls = 0;

    (void)state;
    rcache_set_live(rc, 1);
    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof(key), "{p01}:sku:S%d", i);
        put(rc, key, "5:0:0", 0);
        assert_non_null(rcache_get(rc, key, 1));
    }
    for (long long t = 0; t <= 1000; t += rcache_due_every(rc)) {
        size_t n;
        g.n = 0;
        n = rcache_due(rc, t, ":v", 5, give, &g);
        assert_int_equal(n, g.n);
        assert_true(n <= 5);
        total += n;
        calls += n > 0;
    }
    assert_int_equal(total, 40);
    assert_true(calls >= 8);
    rcache_free(rc);
    /* An age of 1 ms: copies made together all end together. Ten due, four at a call. */
    rc = rcache_new(64, 1);
    rcache_set_live(rc, 1);
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "{p01}:sku:T%d", i);
        put(rc, key, "5:0:0", 1000);
        assert_non_null(rcache_get(rc, key, 1000));
    }
    g.n = 0;
    assert_int_equal(rcache_due(rc, 1000, ":v", 4, give, &g), 4);
    assert_int_equal(rcache_due(rc, 1000, ":v", 4, give, &g), 4);
    assert_int_equal(rcache_due(rc, 1000, ":v", 4, give, &g), 2);
    assert_int_equal(rcache_due(rc, 1000, ":v", 4, give, &g), 0);
    for (size_t i = 0; i < g.n; i++) {
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(g.keys[i], g.keys[j]);
    }
    rcache_free(rc);
    rc = rcache_new(64, 0);
    rcache_set_live(rc, 1);
    assert_int_equal(rcache_due_every(rc), 0);
    put(rc, "{p01}:sku:A", "5:0:0", 0);
    assert_non_null(rcache_get(rc, "{p01}:sku:A", 1));
    assert_int_equal(rcache_due(rc, 1000000, ":v", 3, give, &g), 0);
    rcache_free(rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rcache__a_copy_reads_as_its_reply),
        cmocka_unit_test(test_rcache__a_rendering_is_given_with_its_copy_and_tag),
        cmocka_unit_test(test_rcache__a_copy_read_gives_its_number),
        cmocka_unit_test(test_rcache__a_rendering_goes_with_its_copy),
        cmocka_unit_test(test_rcache__a_rendering_is_kept_only_on_the_copy_it_was_made_from),
        cmocka_unit_test(test_rcache__an_empty_hash_is_kept_too),
        cmocka_unit_test(test_rcache__nothing_is_used_or_kept_unless_live),
        cmocka_unit_test(test_rcache__a_change_drops_the_copy),
        cmocka_unit_test(test_rcache__a_change_meanwhile_voids_the_ticket),
        cmocka_unit_test(test_rcache__a_ticket_holds_until_its_tag_changes),
        cmocka_unit_test(test_rcache__a_newer_answer_replaces_the_copy),
        cmocka_unit_test(test_rcache__copies_age_out),
        cmocka_unit_test(test_rcache__copies_made_together_lapse_apart),
        cmocka_unit_test(test_rcache__a_lapsed_copy_is_renewed_by_its_version_alone),
        cmocka_unit_test(test_rcache__a_renewed_copy_is_the_last_to_make_room),
        cmocka_unit_test(test_rcache__a_copy_read_is_confirmed_before_its_age_runs_out),
        cmocka_unit_test(test_rcache__confirming_another_version_drops_the_copy),
        cmocka_unit_test(test_rcache__copies_due_together_are_given_in_turns),
        cmocka_unit_test(test_rcache__the_oldest_make_room),
        cmocka_unit_test(test_rcache__only_arrays_of_strings_are_kept),
        cmocka_unit_test(test_rcache__many_keys_and_a_large_copy),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
