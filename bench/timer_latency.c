/*
 * timer_latency: 10,000 goroutines each sleeping 1 ms ten times; every sleep's
 * oversleep (measured duration minus 1 ms) is recorded. Reports the mean and
 * the 99th percentile in microseconds; no sleep may be short. Twin:
 * go/timer_latency.go.
 */
#include <goro.h>
#include <stdio.h>
#include <stdlib.h>

enum { GOROUTINES = 10000, SLEEPS = 10, SAMPLES = GOROUTINES * SLEEPS };
#define SLEEP_NS 1000000LL

static int64_t samples[SAMPLES];
static goro_waitgroup wg = GORO_WAITGROUP_INIT;

static void sleeper(void *arg)
{
    int64_t *out = arg;
    for (int i = 0; i < SLEEPS; i++) {
        int64_t t0 = goro_now();
        if (goro_sleep(SLEEP_NS) != 0)
            abort();
        out[i] = goro_now() - t0 - SLEEP_NS;
    }
    goro_waitgroup_done(&wg);
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int bench_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    for (int i = 0; i < SAMPLES; i++)
        samples[i] = -1 - SLEEP_NS;  /* marks a sample never taken */
    goro_waitgroup_add(&wg, GOROUTINES);
    for (int i = 0; i < GOROUTINES; i++)
        if (goro_go(sleeper, &samples[i * SLEEPS]) < 0)
            return 1;
    goro_waitgroup_wait(&wg);
    qsort(samples, SAMPLES, sizeof samples[0], cmp);
    if (samples[0] < 0) {
        fprintf(stderr, "timer_latency: a sleep was %lld ns short (or never taken)\n",
                (long long)-samples[0]);
        return 1;
    }
    double sum = 0;
    for (int i = 0; i < SAMPLES; i++)
        sum += (double)samples[i];
    printf("RESULT timer_mean_oversleep %.1f us\n", sum / SAMPLES / 1e3);
    printf("RESULT timer_p99_oversleep %.1f us\n", (double)samples[SAMPLES * 99 / 100] / 1e3);
    return 0;
}

GORO_MAIN(bench_main)
