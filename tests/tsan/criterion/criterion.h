/* criterion.h — the subset of Criterion's API the suites use, for ThreadSanitizer builds.
 *
 * Criterion's runner crashes under TSan (inside libcriterion, before any test runs), so
 * `tests/run --tsan` compiles the same test files against this header instead (meson puts
 * tests/tsan first on the include path when b_sanitize=thread). Same semantics where the
 * suites rely on them: every test runs in its own forked process (tests set environment
 * variables and expect a fresh library state), .timeout, .signal, .disabled, suite
 * .init/.fini, cr_skip_test, --filter SUITE/NAME (fnmatch). A failed assertion prints the
 * expression and message and ends the test's process with status 1; a TSan report ends it
 * with TSan's status (halt_on_error=1). The runner itself never starts a thread.
 */
#ifndef PRANGE_TESTS_TSAN_CRITERION_H
#define PRANGE_TESTS_TSAN_CRITERION_H

#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct t__test {
    const char *suite, *name;
    void (*fn)(void);
    double timeout;
    int signal;
    int disabled;
    void (*init)(void);
    void (*fini)(void);
};

#define T__MAX 512
static const struct t__test *t__tests[T__MAX], *t__suites[64];
static int t__ntests, t__nsuites;

static void t__add(const struct t__test *t, int is_suite)
{
    if (is_suite && t__nsuites < 64) t__suites[t__nsuites++] = t;
    else if (!is_suite && t__ntests < T__MAX) t__tests[t__ntests++] = t;
}

#define Test(S, N, ...)                                                                             \
    static void S##_##N##_fn(void);                                                                 \
    static const struct t__test S##_##N##_desc = {.suite = #S, .name = #N, .fn = S##_##N##_fn, __VA_ARGS__}; \
    __attribute__((constructor)) static void S##_##N##_reg(void) { t__add(&S##_##N##_desc, 0); }     \
    static void S##_##N##_fn(void)

#define TestSuite(S, ...)                                                                           \
    static const struct t__test S##_suite_desc = {.suite = #S, __VA_ARGS__};                        \
    __attribute__((constructor)) static void S##_suite_reg(void) { t__add(&S##_suite_desc, 1); }

static void t__fail(const char *file, int line, const char *expr, const char *fmt, ...)
{
    fprintf(stderr, "[FAIL] %s:%d: %s", file, line, expr);
    if (fmt && *fmt) {
        va_list ap;
        va_start(ap, fmt);
        fputs(": ", stderr);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    }
    fputc('\n', stderr);
    fflush(stderr);
    _exit(1);
}

/* The optional message is a string literal and its arguments: "" joins onto it. */
#define t__check(cond, expr, ...) \
    do { if (!(cond)) t__fail(__FILE__, __LINE__, expr, "" __VA_ARGS__); } while (0)
#define cr_assert(c, ...) t__check((c), #c, __VA_ARGS__)
#define cr_assert_not(c, ...) t__check(!(c), "!(" #c ")", __VA_ARGS__)
#define cr_assert_eq(a, b, ...) t__check((a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) t__check((a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) t__check((a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) t__check((a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) t__check((a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) t__check((a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...) t__check((p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) t__check((p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_float_eq(a, b, eps, ...) \
    t__check((a) - (b) <= (eps) && (b) - (a) <= (eps), #a " == " #b " within " #eps, __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) t__check(strcmp((a), (b)) == 0, #a " equals " #b, __VA_ARGS__)
#define cr_assert_str_empty(s, ...) t__check((s)[0] == '\0', #s " is empty", __VA_ARGS__)
#define cr_skip_test(...) \
    do { fprintf(stderr, "[SKIP] " __VA_ARGS__); fputc('\n', stderr); fflush(stderr); _exit(77); } while (0)

static const struct t__test *t__suite_of(const struct t__test *t)
{
    for (int i = 0; i < t__nsuites; i++)
        if (strcmp(t__suites[i]->suite, t->suite) == 0) return t__suites[i];
    return NULL;
}

/* Run one test in a child; 0 pass, 1 fail, 2 skip. */
static int t__run(const struct t__test *t)
{
    const struct t__test *s = t__suite_of(t);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return 1;
    if (pid == 0) {
        alarm((unsigned)(t->timeout > 0 ? t->timeout : 600));
        if (s && s->init) s->init();
        if (t->init) t->init();
        t->fn();
        if (t->fini) t->fini();
        if (s && s->fini) s->fini();
        fflush(NULL);
        _exit(0);
    }
    int st = 0;
    if (waitpid(pid, &st, 0) != pid) return 1;
    if (t->signal) return WIFSIGNALED(st) && WTERMSIG(st) == t->signal ? 0 : 1;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77) return 2;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
    if (WIFSIGNALED(st)) fprintf(stderr, "[CRASH] %s::%s: signal %d\n", t->suite, t->name, WTERMSIG(st));
    return 1;
}

static int t__cmp(const void *a, const void *b)
{
    const struct t__test *x = *(const struct t__test *const *)a, *y = *(const struct t__test *const *)b;
    int c = strcmp(x->suite, y->suite);
    return c ? c : strcmp(x->name, y->name);
}

int main(int argc, char **argv)
{
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) filter = argv[++i];
        else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) i++; /* one at a time anyway */
    }
    qsort(t__tests, (size_t)t__ntests, sizeof t__tests[0], t__cmp);
    int tested = 0, passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < t__ntests; i++) {
        const struct t__test *t = t__tests[i];
        char full[256];
        snprintf(full, sizeof full, "%s/%s", t->suite, t->name);
        if (filter && fnmatch(filter, full, 0) != 0) continue;
        if (t->disabled) {
            skipped++;
            continue;
        }
        tested++;
        int r = t__run(t);
        if (r == 0) passed++;
        else if (r == 2) skipped++;
        else {
            failed++;
            fprintf(stderr, "[FAIL] %s::%s\n", t->suite, t->name);
        }
    }
    fprintf(stderr, "[====] Synthesis: Tested: %d | Passing: %d | Failing: %d | Skipped: %d\n", tested, passed,
            failed, skipped);
    return failed ? 1 : 0;
}

#endif
