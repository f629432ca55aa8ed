/*
 * bench_main.c - runs the C benchmark suite of libftkit against Concurrency
 * Kit, liburcu and mutex baselines; prints a markdown table and writes JSON.
 *
 *   ftkit-bench-c [--duration-ms 300] [--warmup-ms 100] [--runs 3]
 *                 [--only SUBSTR] [--md FILE] [--json FILE]
 *
 * --only S runs the workloads whose name contains S, or else the rows whose
 * implementation name contains S (with their reference row); --only W/I runs
 * the rows whose implementation contains I of the workloads whose name starts
 * with W (e.g. --only "queue.batch64/ftkit queue (unbounded)" under perf).
 *
 * Every cell is the best of `runs` timed runs (highest throughput), after a
 * warm-up run on the same state. Threads are not pinned.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <ftkit.h>

#include "bench_common.h"

#ifndef BENCH_CFLAGS
#define BENCH_CFLAGS "?"
#endif
#ifndef BENCH_CK_VERSION
#define BENCH_CK_VERSION "?"
#endif
#ifndef BENCH_URCU_VERSION
#define BENCH_URCU_VERSION "?"
#endif

/* ---- options ------------------------------------------------------------- */

static struct {
    uint64_t duration_ns;
    uint64_t warmup_ns;
    int runs;
    const char *only;
    const char *md_path;
    const char *json_path;
} opt = {300000000u, 100000000u, 3, NULL, NULL, NULL};

/* ---- one measurement ------------------------------------------------------ */

typedef struct worker {
    const bench_impl *impl;
    void *st;
    int tid, n;
    const bench_stop_t *stop;
    pthread_barrier_t *bar;
    uint64_t ops, t_end, cpu_ns;
} worker;

static uint64_t thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    if (w->impl->thread_init) w->impl->thread_init(w->st, w->tid, w->n);
    pthread_barrier_wait(w->bar);
    uint64_t c0 = thread_cpu_ns();
    w->ops = w->impl->run(w->st, w->tid, w->n, w->stop);
    w->t_end = bench_now_ns();
    w->cpu_ns = thread_cpu_ns() - c0;
    if (w->impl->thread_fini) w->impl->thread_fini(w->st, w->tid, w->n);
    return NULL;
}

static void sleep_ns(uint64_t ns) {
    struct timespec ts = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* One run: n threads for about dur_ns. *ops = sum over threads, *elapsed =
 * from the release to the last thread's end, *cpu = the threads' CPU time
 * (less than n * elapsed when other processes took the cores). */
static void run_once(const bench_impl *impl, void *st, int n, uint64_t dur_ns, uint64_t *ops,
                     uint64_t *elapsed, uint64_t *cpu) {
    bench_stop_t stop;
    atomic_init(&stop, 0);
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)n + 1);
    pthread_t th[BENCH_MAX_THREADS];
    worker w[BENCH_MAX_THREADS];
    for (int i = 0; i < n; i++) {
        w[i] = (worker){impl, st, i, n, &stop, &bar, 0, 0, 0};
        if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0) bench_fail("pthread_create", -1);
    }
    pthread_barrier_wait(&bar);
    uint64_t t0 = bench_now_ns();
    sleep_ns(dur_ns);
    atomic_store(&stop, 1);
    uint64_t end = t0, sum = 0, cpu_sum = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        sum += w[i].ops;
        cpu_sum += w[i].cpu_ns;
        if (w[i].t_end > end) end = w[i].t_end;
    }
    pthread_barrier_destroy(&bar);
    if (impl->reset) impl->reset(st);
    *ops = sum;
    *elapsed = end - t0;
    *cpu = cpu_sum;
}

#define MAX_RUNS 10

typedef struct cell {
    bool have;
    double ns_per_op; /* per thread: elapsed * n / ops */
    double mops;      /* aggregate */
    double cpu_share; /* of the best run: threads' CPU time / (n * wall time) */
    double runs_mops[MAX_RUNS];
    int nruns;
} cell;

typedef struct row {
    const bench_workload *w;
    const bench_impl *impl;
    cell c[3]; /* by thread count 1, 2 (index = threads) */
    bool verified;
} row;

static row *rows;
static size_t nrows, caprows;

static void measure(const bench_workload *w, const bench_impl *impl) {
    if (nrows == caprows) {
        caprows = caprows ? 2 * caprows : 64;
        rows = realloc(rows, caprows * sizeof *rows);
        if (rows == NULL) bench_fail("realloc(rows)", -1);
    }
    row *r = &rows[nrows++];
    memset(r, 0, sizeof *r);
    r->w = w;
    r->impl = impl;
    uint64_t total = 0;
    int verified = 1;
    for (int k = 0; k < 2; k++) {
        int n = w->threads[k];
        if (n <= 0 || n > BENCH_MAX_THREADS) continue;
        void *st = impl->setup(n);
        uint64_t ops, el, cpu;
        total = 0;
        run_once(impl, st, n, opt.warmup_ns, &ops, &el, &cpu);
        total += ops;
        cell *c = &r->c[n];
        c->have = true;
        for (int i = 0; i < opt.runs; i++) {
            run_once(impl, st, n, opt.duration_ns, &ops, &el, &cpu);
            total += ops;
            double mops = el ? (double)ops * 1e3 / (double)el : 0.0;
            c->runs_mops[c->nruns++] = mops;
            if (mops > c->mops) {
                c->mops = mops;
                c->ns_per_op = ops ? (double)el * n / (double)ops : 0.0;
                c->cpu_share = el ? (double)cpu / ((double)el * n) : 0.0;
            }
        }
        if (impl->verify && impl->verify(st, total) != 0) {
            fprintf(stderr, "bench: %s / %s (%d threads): state check FAILED\n", w->name,
                    impl->name, n);
            verified = 0;
        }
        impl->teardown(st);
        fprintf(stderr, "  %-22s %-44s %dT %8.2f Mops/s %8.1f ns/op  cpu %3.0f%%\n", w->name,
                impl->name, n, c->mops, c->ns_per_op, 100 * c->cpu_share);
    }
    r->verified = verified;
}

/* ---- machine ------------------------------------------------------------- */

static char cpu_model[256] = "unknown CPU";
static long ncores;
static char compiler[128];
static char date_utc[64];
static char kernel[256];
static double load_start[3], load_end[3];

static void read_load(double l[3]) {
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3) l[0] = l[1] = l[2] = -1;
        fclose(f);
    }
}

static void read_machine(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *p = strchr(line, ':');
                if (p) {
                    p++;
                    while (*p == ' ' || *p == '\t') p++;
                    size_t l = strcspn(p, "\n");
                    if (l >= sizeof cpu_model) l = sizeof cpu_model - 1;
                    memcpy(cpu_model, p, l);
                    cpu_model[l] = 0;
                }
                break;
            }
        }
        fclose(f);
    }
    ncores = sysconf(_SC_NPROCESSORS_ONLN);
#if defined(__clang__)
    snprintf(compiler, sizeof compiler, "clang %s", __clang_version__);
#elif defined(__GNUC__)
    snprintf(compiler, sizeof compiler, "gcc %s", __VERSION__);
#else
    snprintf(compiler, sizeof compiler, "unknown compiler");
#endif
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date_utc, sizeof date_utc, "%Y-%m-%d %H:%M UTC", &tm);
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(kernel, sizeof kernel, "%s %s %s", u.sysname, u.release, u.machine);
}

/* ---- ratios -------------------------------------------------------------- */

static const row *primary_of(const row *r) {
    for (size_t i = 0; i < nrows; i++)
        if (rows[i].w == r->w && rows[i].impl->primary) return &rows[i];
    return NULL;
}

/* ftkit advantage: peer ns / ftkit ns (1T) and ftkit Mops / peer Mops. >1 =
 * ftkit faster. 0 when not measured. */
static double adv_ns(const row *p, const row *r) {
    if (!p->c[1].have || !r->c[1].have || p->c[1].ns_per_op <= 0) return 0;
    return r->c[1].ns_per_op / p->c[1].ns_per_op;
}
static double adv_mops(const row *p, const row *r, int n) {
    if (!p->c[n].have || !r->c[n].have || r->c[n].mops <= 0) return 0;
    return p->c[n].mops / r->c[n].mops;
}

static bool is_goal_peer(const row *r) {
    return strcmp(r->impl->family, "ck") == 0 || strcmp(r->impl->family, "urcu") == 0;
}

/* ---- output ---------------------------------------------------------------- */

static void fmt_num(char *buf, size_t sz, bool have, double v, int prec) {
    if (!have)
        snprintf(buf, sz, "—");
    else
        snprintf(buf, sz, "%.*f", prec, v);
}

#define LOW_CPU 0.9
/* A measured cell, flagged † when its threads were on a CPU less than 90% of
 * the wall time. */
static void fmt_cell(char *buf, size_t sz, const cell *c, double v, int prec) {
    fmt_num(buf, sz, c->have, v, prec);
    if (c->have && c->cpu_share < LOW_CPU) strncat(buf, " †", sz - strlen(buf) - 1);
}

static void write_md(FILE *f) {
    fprintf(f, "# libftkit C benchmark (bench/c)\n\n");
    fprintf(f, "Machine: %s, %ld cores (%s) · compiler: %s, `%s` · date: %s · "
               "load average 1/5/15 min at start %.2f/%.2f/%.2f, at end %.2f/%.2f/%.2f\n\n",
            cpu_model, ncores, kernel, compiler, BENCH_CFLAGS, date_utc, load_start[0],
            load_start[1], load_start[2], load_end[0], load_end[1], load_end[2]);
    fprintf(f, "Versions: libftkit %s (shared library, every operation is a call through "
               "the PLT), Concurrency Kit %s, liburcu %s (urcu-memb flavour, `_LGPL_SOURCE` "
               "inline fast paths).\n\n",
            ftk_version_string(), BENCH_CK_VERSION, BENCH_URCU_VERSION);
    fprintf(f, "Method: each cell is the best of %d timed runs of %.0f ms after a %.0f ms "
               "warm-up on the same state; threads are not pinned; 2T = two threads on the "
               "same object, aggregate throughput. ns/op is per thread (1T). "
               "Ratio vs ftkit: `ns` = peer ns / ftkit ns (1T), `1T`/`2T` = ftkit Mops / "
               "peer Mops; above 1 means ftkit is faster. The ftkit row marked * is the "
               "reference of its workload.\n\n",
            opt.runs, (double)opt.duration_ns / 1e6, (double)opt.warmup_ns / 1e6);
    fprintf(f, "| workload | implementation | 1T ns/op | 1T Mops/s | 2T Mops/s | ratio vs ftkit |\n");
    fprintf(f, "|---|---|---:|---:|---:|---|\n");
    for (size_t i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        if (strcmp(r->impl->family, "probe") == 0) continue;
        const row *p = primary_of(r);
        char a[32], b[32], c[32], ratio[128] = "";
        fmt_cell(a, sizeof a, &r->c[1], r->c[1].ns_per_op, 1);
        fmt_cell(b, sizeof b, &r->c[1], r->c[1].mops, 2);
        fmt_cell(c, sizeof c, &r->c[2], r->c[2].mops, 2);
        if (r->impl->primary) {
            snprintf(ratio, sizeof ratio, "reference");
        } else if (p) {
            size_t o = 0;
            double x = adv_ns(p, r);
            if (x > 0) o += (size_t)snprintf(ratio + o, sizeof ratio - o, "ns %.2f", x);
            x = adv_mops(p, r, 1);
            if (x > 0)
                o += (size_t)snprintf(ratio + o, sizeof ratio - o, "%s1T %.2f", o ? " · " : "", x);
            x = adv_mops(p, r, 2);
            if (x > 0)
                o += (size_t)snprintf(ratio + o, sizeof ratio - o, "%s2T %.2f", o ? " · " : "", x);
        }
        fprintf(f, "| %s | %s%s%s | %s | %s | %s | %s |\n", r->w->name, r->impl->name,
                r->impl->primary ? " *" : "", r->verified ? "" : " (CHECK FAILED)", a, b, c,
                ratio);
    }

    fprintf(f, "\n† the threads were on a CPU less than %.0f%% of the wall time of that run: other "
               "processes took the cores, or the implementation slept in the kernel (mutexes "
               "under contention). Treat those cells as noisy.\n",
            100 * LOW_CPU);
    fprintf(f, "\n## Goal check: ftkit within 1.5x of CK and liburcu\n\n");
    fprintf(f, "Worst ftkit advantage per workload over the CK and liburcu rows (met when "
               ">= 0.67, i.e. ftkit takes at most 1.5x the peer's time).\n\n");
    fprintf(f, "| workload | peer | 1T (ns) | 2T (Mops) | verdict |\n|---|---|---:|---:|---|\n");
    for (size_t i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        if (!is_goal_peer(r)) continue;
        const row *p = primary_of(r);
        if (!p) continue;
        double x1 = adv_ns(p, r), x2 = adv_mops(p, r, 2);
        double worst = 1e9;
        if (x1 > 0 && x1 < worst) worst = x1;
        if (x2 > 0 && x2 < worst) worst = x2;
        char s1[32], s2[32];
        fmt_num(s1, sizeof s1, x1 > 0, x1, 2);
        fmt_num(s2, sizeof s2, x2 > 0, x2, 2);
        const char *verdict = worst >= 1.0     ? "met (ftkit faster)"
                              : worst >= 1/1.5 ? "met"
                                               : "MISSED";
        char buf[64] = "";
        if (worst < 1/1.5) snprintf(buf, sizeof buf, " (ftkit %.2fx slower)", 1.0 / worst);
        fprintf(f, "| %s | %s | %s | %s | %s%s |\n", r->w->name, r->impl->name, s1, s2, verdict,
                buf);
    }

    bool any_probe = false;
    for (size_t i = 0; i < nrows; i++)
        if (strcmp(rows[i].impl->family, "probe") == 0) any_probe = true;
    if (any_probe) {
        fprintf(f, "\n## Where an ftkit call's time goes (1 thread)\n\n");
        fprintf(f, "| probe | what it adds | 1T ns/op | 2T Mops/s |\n|---|---|---:|---:|\n");
        for (size_t i = 0; i < nrows; i++) {
            const row *r = &rows[i];
            if (strcmp(r->impl->family, "probe") != 0) continue;
            char a[32], c[32];
            fmt_cell(a, sizeof a, &r->c[1], r->c[1].ns_per_op, 2);
            fmt_cell(c, sizeof c, &r->c[2], r->c[2].mops, 2);
            fprintf(f, "| %s | %s | %s | %s |\n", r->impl->name, r->impl->how, a, c);
        }
    }

    fprintf(f, "\n## How each implementation is driven\n\n");
    const bench_workload *last = NULL;
    for (size_t i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        if (strcmp(r->impl->family, "probe") == 0) continue;
        if (r->w != last) {
            fprintf(f, "\n**%s** — one op = %s\n\n", r->w->name, r->w->op);
            last = r->w;
        }
        fprintf(f, "- %s: %s\n", r->impl->name, r->impl->how);
    }
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, bool have, double v) {
    if (have)
        fprintf(f, "%.6g", v);
    else
        fprintf(f, "null");
}

static void write_json(FILE *f) {
    fprintf(f, "{\n  \"machine\": {\"cpu\": ");
    json_str(f, cpu_model);
    fprintf(f, ", \"cores\": %ld, \"kernel\": ", ncores);
    json_str(f, kernel);
    fprintf(f, ", \"loadavg_start\": [%.2f, %.2f, %.2f], \"loadavg_end\": [%.2f, %.2f, %.2f]},\n",
            load_start[0], load_start[1], load_start[2], load_end[0], load_end[1], load_end[2]);
    fprintf(f, "  \"compiler\": ");
    json_str(f, compiler);
    fprintf(f, ", \"cflags\": ");
    json_str(f, BENCH_CFLAGS);
    fprintf(f, ", \"date\": ");
    json_str(f, date_utc);
    fprintf(f, ",\n  \"versions\": {\"ftkit\": ");
    json_str(f, ftk_version_string());
    fprintf(f, ", \"ck\": ");
    json_str(f, BENCH_CK_VERSION);
    fprintf(f, ", \"liburcu\": ");
    json_str(f, BENCH_URCU_VERSION);
    fprintf(f, "},\n  \"method\": {\"runs\": %d, \"duration_ms\": %.0f, \"warmup_ms\": %.0f, "
               "\"statistic\": \"best of runs (max throughput)\", \"pinned\": false},\n",
            opt.runs, (double)opt.duration_ns / 1e6, (double)opt.warmup_ns / 1e6);
    fprintf(f, "  \"ratio_definition\": \"ns_1t = peer ns / ftkit ns; mops_Nt = ftkit Mops / "
               "peer Mops; > 1 means ftkit faster\",\n");
    fprintf(f, "  \"results\": [\n");
    for (size_t i = 0; i < nrows; i++) {
        const row *r = &rows[i];
        const row *p = primary_of(r);
        fprintf(f, "    {\"workload\": ");
        json_str(f, r->w->name);
        fprintf(f, ", \"op\": ");
        json_str(f, r->w->op);
        fprintf(f, ", \"impl\": ");
        json_str(f, r->impl->name);
        fprintf(f, ", \"family\": ");
        json_str(f, r->impl->family);
        fprintf(f, ", \"reference\": %s, \"state_check_ok\": %s, \"how\": ",
                r->impl->primary ? "true" : "false", r->verified ? "true" : "false");
        json_str(f, r->impl->how);
        fprintf(f, ",\n     \"threads\": {");
        bool first = true;
        for (int n = 1; n <= BENCH_MAX_THREADS; n++) {
            const cell *c = &r->c[n];
            if (!c->have) continue;
            fprintf(f,
                    "%s\"%d\": {\"ns_per_op\": %.4g, \"mops\": %.4g, \"cpu_share\": %.3f, "
                    "\"runs_mops\": [",
                    first ? "" : ", ", n, c->ns_per_op, c->mops, c->cpu_share);
            for (int k = 0; k < c->nruns; k++) fprintf(f, "%s%.4g", k ? ", " : "", c->runs_mops[k]);
            fprintf(f, "]}");
            first = false;
        }
        fprintf(f, "}");
        if (p && !r->impl->primary && strcmp(r->impl->family, "probe") != 0) {
            double a = adv_ns(p, r), b = adv_mops(p, r, 1), c = adv_mops(p, r, 2);
            fprintf(f, ",\n     \"ratio_vs_ftkit\": {\"ns_1t\": ");
            json_num(f, a > 0, a);
            fprintf(f, ", \"mops_1t\": ");
            json_num(f, b > 0, b);
            fprintf(f, ", \"mops_2t\": ");
            json_num(f, c > 0, c);
            fprintf(f, "}");
            if (is_goal_peer(r)) {
                double worst = 1e9;
                if (a > 0 && a < worst) worst = a;
                if (c > 0 && c < worst) worst = c;
                fprintf(f, ", \"goal_within_1_5x\": %s", worst >= 1 / 1.5 ? "true" : "false");
            }
        }
        fprintf(f, "}%s\n", i + 1 < nrows ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
}

/* ---- main ---------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr, "usage: ftkit-bench-c [--duration-ms N] [--warmup-ms N] [--runs N] "
                    "[--only SUBSTR | --only WORKLOAD-PREFIX/IMPL-SUBSTR] [--md FILE] "
                    "[--json FILE]\n");
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--duration-ms") == 0 && v) {
            opt.duration_ns = strtoull(v, NULL, 10) * 1000000u;
            i++;
        } else if (strcmp(a, "--warmup-ms") == 0 && v) {
            opt.warmup_ns = strtoull(v, NULL, 10) * 1000000u;
            i++;
        } else if (strcmp(a, "--runs") == 0 && v) {
            opt.runs = atoi(v);
            if (opt.runs < 1 || opt.runs > MAX_RUNS) usage();
            i++;
        } else if (strcmp(a, "--only") == 0 && v) {
            opt.only = v;
            i++;
        } else if (strcmp(a, "--md") == 0 && v) {
            opt.md_path = v;
            i++;
        } else if (strcmp(a, "--json") == 0 && v) {
            opt.json_path = v;
            i++;
        } else {
            usage();
        }
    }
    read_machine();
    read_load(load_start);

    const bench_workload *(*mods[])(size_t *) = {bench_atomic_workloads, bench_queue_workloads,
                                                 bench_map_workloads, bench_sync_workloads};
    for (size_t m = 0; m < sizeof mods / sizeof mods[0]; m++) {
        size_t nw;
        const bench_workload *ws = mods[m](&nw);
        for (size_t i = 0; i < nw; i++) {
            const bench_workload *w = &ws[i];
            /* --only W/I: implementations matching I of workloads matching W
             * (for profiling one row). */
            if (opt.only && strchr(opt.only, '/')) {
                const char *slash = strchr(opt.only, '/');
                if (strncmp(w->name, opt.only, (size_t)(slash - opt.only)) != 0) continue;
                for (size_t j = 0; j < w->nimpls; j++)
                    if (strstr(w->impls[j].name, slash + 1)) measure(w, &w->impls[j]);
                continue;
            }
            /* --only S: a workload whose name matches runs whole; otherwise
             * the matching implementations run, with their reference row */
            bool wmatch = !opt.only || strstr(w->name, opt.only) != NULL, imatch = false;
            for (size_t j = 0; j < w->nimpls && !wmatch; j++)
                if (strstr(w->impls[j].name, opt.only)) imatch = true;
            for (size_t j = 0; j < w->nimpls; j++) {
                const bench_impl *impl = &w->impls[j];
                if (!wmatch && !strstr(impl->name, opt.only) && !(imatch && impl->primary))
                    continue;
                measure(w, impl);
            }
        }
    }
    read_load(load_end);

    write_md(stdout);
    if (opt.md_path) {
        FILE *f = fopen(opt.md_path, "w");
        if (!f) bench_fail("fopen(--md)", errno);
        write_md(f);
        fclose(f);
    }
    if (opt.json_path) {
        FILE *f = fopen(opt.json_path, "w");
        if (!f) bench_fail("fopen(--json)", errno);
        write_json(f);
        fclose(f);
    }
    for (size_t i = 0; i < nrows; i++)
        if (!rows[i].verified) return 1;
    return 0;
}
