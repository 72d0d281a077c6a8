/* A duration for people, for the apps' progress lines: "45s", "12m", "2h21m". */
#ifndef GP_APP_DURATION_H
#define GP_APP_DURATION_H

#include <math.h>
#include <stdio.h>

static inline void app_duration(char *buf, size_t size, double seconds)
{
    long m = lround(seconds / 60.0);
    if (seconds < 59.5) snprintf(buf, size, "%.0fs", seconds);
    else if (m < 60) snprintf(buf, size, "%ldm", m);
    else snprintf(buf, size, "%ldh%02ldm", m / 60, m % 60);
}

#endif
