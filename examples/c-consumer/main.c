/* Uses libftkit from C: four threads bump an atomic counter, a bad handle is
 * refused with a status code. Prints "ok <count>" and exits 0 on success. */
#include <ftkit.h>
#include <pthread.h>
#include <stdio.h>

static ftk_handle_t counter;

static void *bump(void *arg) {
    (void)arg;
    for (int i = 0; i < 100000; i++) ftk_int64_fetch_add(counter, 1, NULL);
    return NULL;
}

int main(void) {
    if (ftk_abi_version() != FTK_ABI_VERSION) return 1;
    if (ftk_int64_new(0, &counter) != FTK_OK) return 2;
    pthread_t t[4];
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, bump, NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    int64_t v = 0;
    ftk_int64_load(counter, &v);
    ftk_int64_free(counter);
    int st = ftk_int64_load(counter, &v); /* destroyed: must be refused */
    if (st != FTK_EBADHANDLE) {
        printf("expected %s, got %s\n", ftk_err_name(FTK_EBADHANDLE), ftk_err_name(st));
        return 3;
    }
    printf("ok %lld (libftkit %s)\n", (long long)v, ftk_version_string());
    return v == 400000 ? 0 : 4;
}
