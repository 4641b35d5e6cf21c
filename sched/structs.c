/*
 * structs.c — reading the caller's extensible structs (prange_opts, prange_reducer,
 * prange_mem_opts): each starts with `uint32_t struct_size`, the sizeof the caller was
 * compiled with. One function serves all three, so the rules cannot drift apart.
 */
#include <string.h>

#include "prange_sched.h"

int prange__struct_in(void *dst, size_t size, const void *src, size_t min)
{
    uint32_t n;
    memcpy(&n, src, sizeof n);
    if (n == size) { /* the caller's layout is this library's: one copy (every call reads opts) */
        memcpy(dst, src, size);
        return 0;
    }
    memset(dst, 0, size);
    if (n < min || n > PRANGE__STRUCT_MAX) return PRANGE_EINVAL;
    /* A newer caller's fields we do not know must be unused (zero): an option this
     * library cannot honour must not be dropped silently. */
    const unsigned char *s = src;
    for (size_t i = size; i < n; i++)
        if (s[i]) return PRANGE_EINVAL;
    /* An older caller's struct ends early: the fields it lacks stay 0 (automatic). */
    memcpy(dst, src, n < size ? n : size);
    memcpy(dst, &(uint32_t){(uint32_t)size}, sizeof(uint32_t));
    return 0;
}
