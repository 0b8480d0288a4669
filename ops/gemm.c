/*
 * gemm.c - every matrix product of the library (see gemm.h), with bits that do not depend on
 * the OpenBLAS thread count.
 *
 * Why OpenBLAS's bits depend on it. A row-major c (rows, cols) = a @ b is, to OpenBLAS, the
 * column-major c^T = b^T a^T: its M is our cols, its N our rows. The single-threaded driver
 * (driver/level3/level3.c) walks N in panels of 3 * GEMM_UNROLL_N columns (12 for sgemm on
 * Haswell) and hands the kernel blocks of M and N. The kernel does not sum every element in
 * the same order: sgemm_kernel_8x4_haswell_2.c sums a 4- or 6-wide tile with two sets of
 * accumulators, even k in one and odd k in the other, added at the end, but an 8- or 12-wide
 * tile (and a 16x6 one) with one accumulator, k in order. So an element's rounding depends on
 * where the tiles fall. The threaded driver (level3_thread.c) gives each thread its own range
 * of M and N and splits each range again in two (DIVIDE_RATE), so the tiles fall elsewhere;
 * and where K's last stretch is between GEMM_Q and 2 GEMM_Q it halves it as (K + 1) / 2, not
 * rounded up to GEMM_UNROLL_M as level3.c does, so the partial sums differ too. Measured with
 * Debian's 0.3.21 (OPENBLAS_CORETYPE=Haswell), 1 thread against 2: 5616 of 65536 elements of
 * a 256^3 sgemm differ, in stripes 6 rows high every 12 rows; 9456 of 50176 in 64x784 @
 * 784x64 (an MLP's layer). dgemm's kernel sums every tile alike, but the K halving remains:
 * 256^3 agrees, 300x700 @ 700x300 differs in 60624 of 90000 elements.
 *
 * What this file does. Each product runs on OpenBLAS with 1 thread, so that one call always
 * gives the same bits. For more threads, the rows of c are cut into blocks that start at a
 * multiple of the panel (tile_rows), each its own single-threaded call on a thread of ours.
 * As a block starts on a panel boundary, the panels and tiles inside it are those of the whole
 * call, and every element is summed in the same order: the blocks together give the bits of
 * the one call, whatever their number. (Checked against the whole call for random shapes up
 * to 1600, both dtypes, all four transpose pairs, beta 0 and 1: a cut at a multiple of 4 or 8
 * differs, at 12, 24 or 48 it does not.) Cutting the columns would not do: a tile's kind
 * depends on its place from the start of the M block too.
 *
 * The threads. Rows are taken CHUNK at a time even with 1 thread: past GEMM_R rows (about
 * 10^5 here) OpenBLAS starts a new panel sequence that a block could not line up with. The
 * blocks (one or two per thread, each worth BLOCK_WORK multiply-adds at least) are claimed one
 * at a time by the calling thread and by helper threads, so a helper that wakes late takes
 * fewer. The helpers are pthreads started on first need and kept: a thread started per product
 * would cost ~175 us here, as OpenBLAS sets up buffers for each thread on its first call.
 * After a product a helper watches for the next one for SPIN checks (~0.5 ms), then sleeps:
 * waking a sleeping thread takes tens of microseconds, more on a busy machine, and products
 * come in runs. OpenMP would add a runtime and a flag to every program that links us, and its
 * threads and OpenBLAS's would spin against each other. One product at a time has the helpers;
 * one that finds them busy (on another thread of the program) runs its blocks alone, with the
 * same bits. Across fork() the child starts without helpers. (OpenBLAS's own idle threads spin
 * for OPENBLAS_THREAD_TIMEOUT, ~0.1 s, after the program starts and take a core meanwhile.)
 *
 * OpenBLAS's thread count is process-wide: it is set to 1 while any product runs, by the first
 * product to start, and the user's count is put back by the last one to finish (a counter
 * under a mutex, so products on several threads at once do not lose it). Meanwhile other BLAS
 * calls of the program run on 1 thread too. With an OpenMP build of OpenBLAS
 * (openblas_get_parallel() == 2) the blocks run one after the other on the calling thread.
 */
#define _POSIX_C_SOURCE 200809L /* pthreads */
#include "ops/gemm.h"

#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define CHUNK 3072                     /* rows per call at most: well under GEMM_R, 64 * 48 */
#define BLOCK_WORK ((double)(1 << 22)) /* multiply-adds a block must have: 4M, ~80 us here */
#define MAX_THREADS 64                 /* as OpenBLAS's own, in Debian's build */
#define SPIN (1L << 19)                /* checks awake before sleeping: ~0.5 ms */

/* One product, as ag_gemm was given it. */
typedef struct product {
    ag_dtype dtype;
    bool ta, tb;
    int64_t rows, cols, inner;
    const void *a, *b;
    double beta;
    void *c;
} product;

/* ---- the single-threaded calls --------------------------------------------------------------- */

/* Rows first..last-1 of c, one BLAS call per CHUNK of rows (counted from row 0). */
static void gemm_rows(const product *p, int64_t first, int64_t last) {
    size_t size = ag_dtype_size(p->dtype);
    int q = (int)p->cols, n = (int)p->inner;
    int lda = p->ta ? (int)p->rows : n, ldb = p->tb ? n : q;
    enum CBLAS_TRANSPOSE opa = p->ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE opb = p->tb ? CblasTrans : CblasNoTrans;
    for (int64_t r0 = first, r1; r0 < last; r0 = r1) {
        r1 = (r0 / CHUNK + 1) * CHUNK;
        if (r1 > last) r1 = last;
        int r = (int)(r1 - r0);
        /* row r0 of op(a): row r0 of a, or column r0 of a stored (inner, rows) */
        const char *a = (const char *)p->a + (size_t)(p->ta ? r0 : r0 * n) * size;
        char *c = (char *)p->c + (size_t)(r0 * q) * size;
        if (p->dtype == AG_FLOAT32)
            cblas_sgemm(CblasRowMajor, opa, opb, r, q, n, 1.0f, (const float *)a, lda, p->b, ldb,
                        (float)p->beta, (float *)c, q);
        else
            cblas_dgemm(CblasRowMajor, opa, opb, r, q, n, 1.0, (const double *)a, lda, p->b, ldb,
                        p->beta, (double *)c, q);
    }
}

/* ---- OpenBLAS's thread count, held at 1 while products run ----------------------------------- */

static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;
static int running;    /* products between single_begin and single_end */
static int user_count; /* the count before the first of them began */

/* Sets OpenBLAS to 1 thread (if the first product) and returns the user's count. */
static int single_begin(void) {
    pthread_mutex_lock(&count_lock);
    if (running++ == 0) {
        user_count = openblas_get_num_threads();
        if (user_count != 1) openblas_set_num_threads(1);
    }
    int threads = user_count;
    pthread_mutex_unlock(&count_lock);
    return threads;
}

/* Puts the user's count back (if the last product). */
static void single_end(void) {
    pthread_mutex_lock(&count_lock);
    if (--running == 0 && user_count != 1) openblas_set_num_threads(user_count);
    pthread_mutex_unlock(&count_lock);
}

/* ---- blocks of rows -------------------------------------------------------------------------- */

/* Blocks start at a multiple of this many rows, a multiple of OpenBLAS's N panel for the
 * kernel in use: 12 for Haswell's (as measured: its dgemm, panel 24, sums alike from any
 * multiple of 4); for any other kernel 48, a multiple of the panel (3 or 6 times the N unroll)
 * for every N unroll of 2, 4 or 8 that param.h gives x86-64 kernels (read, not measured). */
static int64_t tile_rows(void) {
    static atomic_int tile; /* 0 until the first product asks */
    int t = atomic_load(&tile);
    if (!t) atomic_store(&tile, t = strcmp(openblas_get_corename(), "Haswell") ? 48 : 12);
    return t;
}

/* A product cut into count blocks of rows, which threads claim one at a time. */
typedef struct blocks {
    const product *p;
    int64_t tile;
    int count;
    atomic_int next; /* the next block to claim */
} blocks;

/* Block k's first row: k/count of the way, to the nearest multiple of tile. As count <= rows /
 * tile, the ideal starts are tile apart at least, and so are the rounded ones. */
static int64_t block_start(const blocks *b, int k) {
    int64_t rows = b->p->rows, tile = b->tile;
    return k == b->count ? rows : (rows * k / b->count + tile / 2) / tile * tile;
}

static void claim_blocks(blocks *b) {
    for (int k; (k = atomic_fetch_add(&b->next, 1)) < b->count;)
        gemm_rows(b->p, block_start(b, k), block_start(b, k + 1));
}

/* How many blocks: one call for 1 thread; else one per thread, at most one per tile rows and
 * per BLOCK_WORK multiply-adds, and two per thread when there is enough for that (a helper that
 * starts late then holds the product up less). The bits do not depend on it, only the speed. */
static int block_count(const product *p, int64_t tile, int threads) {
    if (threads == 1 || openblas_get_parallel() == 2) return 1; /* OpenMP: see the top */
    double work = (double)p->rows * (double)p->cols * (double)p->inner / BLOCK_WORK;
    int64_t most = threads < MAX_THREADS ? threads : MAX_THREADS;
    if (p->rows / tile < most) most = p->rows / tile;
    if (work < (double)most) most = (int64_t)work;
    if (most < 2) return 1;
    return p->rows / tile >= 2 * most && work >= 2.0 * (double)most ? (int)(2 * most) : (int)most;
}

/* ---- the helper threads ---------------------------------------------------------------------- */

static pthread_mutex_t pool_owner = PTHREAD_MUTEX_INITIALIZER; /* held by the product using them */
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;  /* guards what follows */
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;    /* a helper has work */
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;    /* the helpers are done */
static int pool_size;                                          /* helpers started */
static _Atomic(blocks *) pool_work[MAX_THREADS - 1];           /* helper k's work, or NULL */
static atomic_int pool_working; /* helpers not done with their work (read unlocked too) */
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;

static void *helper_main(void *arg) {
    int k = (int)(intptr_t)arg;
    for (;;) {
        /* products often come in runs (a layer's forward, its backward): look for the next
         * one awake for a while, as a woken sleeper starts late, then sleep */
        for (long spin = 0; !atomic_load(&pool_work[k]) && spin < SPIN; spin++)
            continue;
        pthread_mutex_lock(&pool_lock);
        while (!atomic_load(&pool_work[k]))
            pthread_cond_wait(&pool_wake, &pool_lock);
        blocks *work = atomic_exchange(&pool_work[k], NULL);
        pthread_mutex_unlock(&pool_lock);
        claim_blocks(work); /* work is the caller's: not to be touched once counted done */
        pthread_mutex_lock(&pool_lock);
        if (atomic_fetch_sub(&pool_working, 1) == 1) pthread_cond_signal(&pool_done);
        pthread_mutex_unlock(&pool_lock);
    }
    return NULL;
}

/* fork(): the locks are taken before it so that the child gets them free; the child has no
 * helpers, no products running, and puts the user's thread count back if one was. */
static void fork_prepare(void) {
    pthread_mutex_lock(&pool_owner);
    pthread_mutex_lock(&pool_lock);
    pthread_mutex_lock(&count_lock);
}
static void fork_parent(void) {
    pthread_mutex_unlock(&count_lock);
    pthread_mutex_unlock(&pool_lock);
    pthread_mutex_unlock(&pool_owner);
}
static void fork_child(void) {
    pool_size = 0;
    if (running && user_count != 1) openblas_set_num_threads(user_count);
    running = 0;
    fork_parent();
}
static void register_fork_handlers(void) { pthread_atfork(fork_prepare, fork_parent, fork_child); }

/* Claims work's blocks on this thread and on up to helpers helper threads. */
static void run_blocks(blocks *work, int helpers) {
    if (pthread_mutex_trylock(&pool_owner) != 0) { /* another product has them */
        claim_blocks(work);
        return;
    }
    if (helpers > MAX_THREADS - 1) helpers = MAX_THREADS - 1;
    pthread_once(&pool_once, register_fork_handlers);
    pthread_mutex_lock(&pool_lock);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t id;
    while (pool_size < helpers &&
           pthread_create(&id, &attr, helper_main, (void *)(intptr_t)pool_size) == 0)
        pool_size++;
    pthread_attr_destroy(&attr);
    if (helpers > pool_size) helpers = pool_size;
    atomic_store(&pool_working, helpers);
    for (int k = 0; k < helpers; k++)
        atomic_store(&pool_work[k], work);
    pthread_cond_broadcast(&pool_wake);
    pthread_mutex_unlock(&pool_lock);

    claim_blocks(work);

    /* Every block is claimed. A helper not awake yet is let off (on a busy machine a sleeping
     * thread is woken late); the others' last blocks are under way: wait for them awake for a
     * while, then asleep. */
    pthread_mutex_lock(&pool_lock);
    for (int k = 0; k < helpers; k++)
        if (atomic_exchange(&pool_work[k], NULL)) atomic_fetch_sub(&pool_working, 1);
    pthread_mutex_unlock(&pool_lock);
    for (long spin = 0; atomic_load(&pool_working) > 0 && spin < SPIN; spin++)
        continue;
    pthread_mutex_lock(&pool_lock);
    while (atomic_load(&pool_working) > 0)
        pthread_cond_wait(&pool_done, &pool_lock);
    pthread_mutex_unlock(&pool_lock);
    pthread_mutex_unlock(&pool_owner);
}

/* ---- the product ----------------------------------------------------------------------------- */

void ag_gemm(ag_dtype dtype, bool ta, bool tb, int64_t rows, int64_t cols, int64_t inner,
             const void *a, const void *b, double beta, void *c) {
    if (rows == 0 || cols == 0) return;
    if (inner == 0) {
        if (beta == 0) memset(c, 0, (size_t)(rows * cols) * ag_dtype_size(dtype));
        return;
    }
    product p = {dtype, ta, tb, rows, cols, inner, a, b, beta, c};
    int threads = single_begin();
    int64_t tile = tile_rows();
    blocks work = {&p, tile, block_count(&p, tile, threads), 0};
    if (work.count == 1)
        gemm_rows(&p, 0, rows);
    else /* helpers: one thread fewer than the user's count, and no more than blocks */
        run_blocks(&work, (threads < work.count ? threads : work.count) - 1);
    single_end();
}
