/* gp_init / gp_finalize, the single thread setting for OpenMP, OpenBLAS and GraphBLAS, and the
 * vector width of the hand kernels (GP_SIMD). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <GraphBLAS.h>
#include <cblas.h>
#include <igraph.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "internal.h"

static atomic_int threads = 1;
static bool grb_ready;
static bool grb_finalized;

int gp_i_threads(void) { return atomic_load(&threads); }
int gp_get_threads(void) { return atomic_load(&threads); }

int gp_i_simd_level(void)
{
    int widest = GP_SIMD_SSE2;
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (__builtin_cpu_supports("avx512f")) widest = GP_SIMD_AVX512;
    else if (__builtin_cpu_supports("avx2")) widest = GP_SIMD_AVX2;
#endif
    const char *env = getenv("GP_SIMD");
    if (!env) return widest;
    int want = strcmp(env, "sse2") == 0 ? GP_SIMD_SSE2 : strcmp(env, "avx2") == 0 ? GP_SIMD_AVX2 : widest;
    return want < widest ? want : widest;
}

bool gp_i_in_parallel(void)
{
#ifdef _OPENMP
    return omp_in_parallel();
#else
    return false;
#endif
}

void gp_set_threads(int n)
{
    if (n < 1) n = 1;
    atomic_store(&threads, n);
    openblas_set_num_threads(1); /* products are split over OpenMP threads (gp_i_gemm) */
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
    if (grb_ready) GxB_Global_Option_set_INT32(GxB_NTHREADS, n);
}

/* igraph errors: record the message as graphpool's last error instead of aborting. The
 * calling wrapper maps the returned code to GP_E_FOREIGN. */
static void igraph_record_error(const char *reason, const char *file, int line,
                                igraph_error_t err)
{
    gp_i_error(GP_E_FOREIGN, file, line, "igraph: %s (%s)", reason, igraph_strerror(err));
    IGRAPH_FINALLY_FREE();
}

static void igraph_quiet_warning(const char *reason, const char *file, int line)
{
    (void)reason, (void)file, (void)line;
}

gp_status gp_init(void)
{
    /* igraph's handlers are thread-local: set them on every call (cheap). */
    igraph_set_error_handler(igraph_record_error);
    igraph_set_warning_handler(igraph_quiet_warning);
    if (!grb_ready) {
        if (grb_finalized)
            return GP_ERR(GP_E_STATE, "gp_init after gp_finalize: GraphBLAS cannot restart");
        GrB_Info info = GrB_init(GrB_NONBLOCKING);
        if (info != GrB_SUCCESS)
            return GP_ERR(GP_E_FOREIGN, "GrB_init failed (GrB_Info %d)", (int)info);
        grb_ready = true;
        const char *env = getenv("GP_NUM_THREADS");
        gp_set_threads(env ? atoi(env) : 1);
    }
    return GP_OK;
}

void gp_finalize(void)
{
    if (grb_ready) {
        GrB_finalize();
        grb_ready = false;
        grb_finalized = true;
    }
}
