/*
 * Status codes, the last-error message, library set-up and the thread setting.
 *
 * Every fallible function returns gp_status (GP_OK = 0, errors negative). On error a
 * thread-local message "file.c:123: what went wrong (foreign reason)" is available from
 * gp_last_error(). Library code never aborts or exits on bad input.
 */
#ifndef GRAPHPOOL_STATUS_H
#define GRAPHPOOL_STATUS_H

#include <stddef.h>
#include <graphpool/export.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum gp_status {
    GP_OK = 0,
    GP_E_NOMEM = -1,       /* an allocation failed */
    GP_E_INVALID = -2,     /* invalid argument (NULL, negative size, bad option) */
    GP_E_SHAPE = -3,       /* tensor shapes do not fit the operation */
    GP_E_IO = -4,          /* file could not be opened, read or written */
    GP_E_PARSE = -5,       /* malformed input file */
    GP_E_RANGE = -6,       /* index or id out of range */
    GP_E_FOREIGN = -7,     /* igraph, GraphBLAS or another library reported an error */
    GP_E_NUMERIC = -8,     /* NaN or infinity where a finite number is required */
    GP_E_STATE = -9,       /* call in the wrong state (e.g. before gp_init) */
    GP_E_UNSUPPORTED = -10 /* valid request this build cannot serve */
} gp_status;

/* The message of the most recent error on this thread ("" if none): "file.c:line: message",
 * where file.c:line is the library source that reported it. */
GP_API const char *gp_last_error(void);
/* The same message without the source location (what a program shows its users). */
GP_API const char *gp_last_error_message(void);
/* Forget the last error message on this thread. */
GP_API void gp_clear_error(void);
/* A short constant name for a status code, e.g. "GP_E_PARSE". */
GP_API const char *gp_status_name(gp_status s);

/*
 * Custom allocator: every allocation the library makes (tensors, arenas, graphs, optimiser
 * state) goes through it. Set it only while no graphpool object is alive. NULL restores libc.
 * GraphBLAS keeps its own (libc) allocator: graphpool never hands its buffers to GraphBLAS.
 */
typedef struct gp_allocator {
    void *(*malloc_fn)(size_t size);
    void *(*calloc_fn)(size_t count, size_t size);
    void *(*realloc_fn)(void *ptr, size_t size);
    void (*free_fn)(void *ptr);
} gp_allocator;
GP_API void gp_set_allocator(const gp_allocator *allocator);

/*
 * Set up the process once: GraphBLAS (GrB_init may be called only once per process),
 * igraph's error handler (replaced by one that records the message instead of aborting),
 * and the thread setting from GP_NUM_THREADS (default 1). Safe to call repeatedly.
 */
GP_API gp_status gp_init(void);
/* Release GraphBLAS. After gp_finalize, gp_init cannot set GraphBLAS up again. */
GP_API void gp_finalize(void);

/*
 * One setting for all parallelism: the library's OpenMP loops (dense products included: they
 * are split over the OpenMP threads, OpenBLAS runs one thread per call) and GraphBLAS each use
 * at most n threads. They never run at the same time, so there is no oversubscription.
 * n < 1 is treated as 1. Results are bit-identical for the same seed and thread count.
 * Note that gp_set_threads sets OpenBLAS to one thread for the whole process.
 */
GP_API void gp_set_threads(int n);
GP_API int gp_get_threads(void);

#ifdef __cplusplus
}
#endif
#endif
