/*
 * cli_view.h - how `omnistock` shows the daemon's answers to a person:
 * aligned tables and short sentences, built from the JSON the API returns
 * (API.md, docs/api-extensions.md). Pure: JSON in, text out, so each view is
 * unit-tested from a captured answer (tests/unit/test_cli_view.c).
 *
 * Every json_t argument is borrowed.
 */
#ifndef SERVICES_CLI_VIEW_H
#define SERVICES_CLI_VIEW_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/*
 * cli_format_price - @amount minor units of @currency as "GBP 12.00" (two
 * decimals, none for JPY/KRW and the like, three for BHD/KWD and the like).
 */
void cli_format_price(long long amount, const char *currency, char *out, size_t size);

/*
 * cli_view_problem - an error answer: "Title (HTTP n): detail", then what
 * the problem carries for a person (the lines that could not be held, a
 * reservation's current status, the field at fault).
 */
void cli_view_problem(FILE *out, int status, json_t *problem);

/*
 * cli_view_stock - GET /v1/stock/{sku}: each location's on hand, reserved,
 * safety stock and available, then the channel figures. @location: NULL, or
 * show that location only (and its store and click-and-collect figures).
 * @return 0, or -1 when @location is not one of the answer's locations.
 */
int cli_view_stock(FILE *out, json_t *stock, const char *location);

/*
 * cli_where_rows - "where can the caller get it": one row per channel figure
 * of GET /v1/stock/{sku}?explain=true, {"channel", "location" (null for web),
 * "name", "available", "how"}, with location names from GET /v1/locations.
 * Sorted by channel (web, click_collect, store), then most available, then
 * location. @channel: NULL for all, or only that channel's rows.
 * @return a new array.
 */
json_t *cli_where_rows(json_t *stock, json_t *locations, const char *channel);

/* cli_view_where - the product's name (@product may be NULL) and the rows. */
void cli_view_where(FILE *out, const char *sku, json_t *product, json_t *rows);

/* cli_view_reservation - a reservation: id, status, channel, ..., its lines and allocations. */
void cli_view_reservation(FILE *out, json_t *resv);

/* cli_view_history - GET /v1/stock/{sku}/history: one row per event, newest first. */
void cli_view_history(FILE *out, json_t *history);

/*
 * cli_view_recommendations - the primary-need gate (resolved, how, or where
 * else the primary can be had), then each suggestion with its reason.
 * @channel, @location: what was asked, for the sentences (may be NULL).
 */
void cli_view_recommendations(FILE *out, json_t *rec, const char *channel, const char *location);

/* cli_view_consistency - GET /v1/admin/consistency. @return 1 when clean, else 0. */
int cli_view_consistency(FILE *out, json_t *report);

#endif
