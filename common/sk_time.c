/* sk_time.c - monotonic clock (see sk_time.h). */
#include "sk_time.h"

#include <time.h>

double sk_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
