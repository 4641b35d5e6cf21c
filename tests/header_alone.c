/* header_alone.c — prange.h compiles on its own (no other include first), strictly. */
#include "prange.h"

int main(void)
{
    prange_opts o = PRANGE_OPTS_INIT;
    prange_plan p;
    return prange_plan_for(1, &o, &p) == 0 ? 0 : 1;
}
