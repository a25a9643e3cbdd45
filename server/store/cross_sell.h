/*
 * cross_sell: the items to offer a customer with what they bought, from
 * the co-purchase counts in the store.
 */
#ifndef CLM_STORE_CROSS_SELL_H
#define CLM_STORE_CROSS_SELL_H

#include <stddef.h>

#include "clm/error.h"
#include "core/recommend.h"
#include "store/store.h"
#include "util/arena.h"

/* Neighbours of one item read per Recommend (bounds the cost). */
#define CROSS_SELL_NEIGHBOURS_MAX 1000

/*
 * cross_sell scores every item bought together with a basis item:
 * similarity(Y) = max over basis items X of
 * co(X, Y) / sqrt(pop(X) * pop(Y)), the cosine of the two items' customer
 * sets. Items in exclude (bought, or in the cart) are never offered. The
 * best k, by similarity then item id, go to *out (arena memory). When no
 * item co-occurs, the k most popular items not excluded are returned
 * instead (popular = true, similarity = popularity / the top one's).
 */
clm_err cross_sell(store_txn *txn, char *const *basis, size_t nb,
        char *const *exclude, size_t ne, size_t k, arena *a,
        struct recommend_item **out, size_t *n);

#endif /* CLM_STORE_CROSS_SELL_H */
