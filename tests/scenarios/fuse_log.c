/* A FUSE filesystem with one file, /access.log, whose write() either
 * never answers (FUSELOG_MODE=hang: the daemon's handler thread parks in
 * pause(), so the kernel's request waits forever) or answers after
 * FUSELOG_DELAY_MS (default 300: a slow filesystem that answers).
 * Every other operation answers at once.
 *
 *   cc -O2 $(pkg-config --cflags fuse3) fuse_log.c -o fuse_log $(pkg-config --libs fuse3)
 *   FUSELOG_MODE=hang ./fuse_log -f MOUNTPOINT
 *
 * Used by tests/scan_misnamed.rs and crates/analyze/tools/record.py
 * (mount_unresponsive's fixture pair). */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fuse.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int hang;
static long delay_ms = 300;
static off_t size;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int fl_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
    (void)fi;
    memset(st, 0, sizeof *st);
    if (strcmp(path, "/") == 0) {
        st->st_mode = 040755;
        st->st_nlink = 2;
        return 0;
    }
    if (strcmp(path, "/access.log") == 0) {
        st->st_mode = 0100644;
        st->st_nlink = 1;
        pthread_mutex_lock(&lock);
        st->st_size = size;
        pthread_mutex_unlock(&lock);
        return 0;
    }
    return -ENOENT;
}

static int fl_open(const char *path, struct fuse_file_info *fi) {
    (void)fi;
    return strcmp(path, "/access.log") == 0 ? 0 : -ENOENT;
}

static int fl_write(const char *path, const char *buf, size_t n, off_t off, struct fuse_file_info *fi) {
    (void)path, (void)buf, (void)fi;
    if (hang)
        for (;;)
            pause();
    struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&lock);
    if (off + (off_t)n > size)
        size = off + (off_t)n;
    pthread_mutex_unlock(&lock);
    return (int)n;
}

static int fl_truncate(const char *path, off_t s, struct fuse_file_info *fi) {
    (void)path, (void)fi;
    pthread_mutex_lock(&lock);
    size = s;
    pthread_mutex_unlock(&lock);
    return 0;
}

static const struct fuse_operations ops = {
    .getattr = fl_getattr,
    .open = fl_open,
    .write = fl_write,
    .truncate = fl_truncate,
};

int main(int argc, char **argv) {
    const char *mode = getenv("FUSELOG_MODE");
    const char *delay = getenv("FUSELOG_DELAY_MS");
    hang = mode && strcmp(mode, "hang") == 0;
    if (delay)
        delay_ms = atol(delay);
    return fuse_main(argc, argv, &ops, NULL);
}
