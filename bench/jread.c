/* bench/jread.c: the journal suite's ceiling. Reads every entry of a journal directory with
 * sd-journal and fetches what a matcher needs of each, the MESSAGE and the realtime stamp;
 * matches nothing, prints nothing per entry: the floor of reading the journal at all.
 *   usage: jread [-a] DIR   prints "entries=N bytes=B" (B: MESSAGE bytes, fields' names included)
 *   -a: every field of each entry instead, in one sd_journal_enumerate_data pass (B: all their
 *       bytes): the floor of a reader that builds a line from several fields, as banjo does
 *       (HOSTNAME IDENT[PID]: MESSAGE and the source time; one get_data per field costs more)
 *   build: cc -O2 -o jread jread.c $(pkg-config --cflags --libs libsystemd)   (bench/run.sh does) */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-journal.h>

int main(int argc, char **argv) {
    sd_journal *j;
    int all = argc == 3 && strcmp(argv[1], "-a") == 0;
    if (argc != 2 + all) {
        fprintf(stderr, "usage: jread [-a] DIR\n");
        return 2;
    }
    const char *dir = argv[1 + all];
    int r = sd_journal_open_directory(&j, dir, 0);
    if (r < 0) {
        fprintf(stderr, "jread: %s: %s\n", dir, strerror(-r));
        return 1;
    }
    if (all)
        sd_journal_set_data_threshold(j, 64 * 1024); /* banjo's */
    unsigned long entries = 0, bytes = 0;
    SD_JOURNAL_FOREACH(j) {
        const void *data;
        size_t len;
        uint64_t usec;
        if (all) {
            sd_journal_restart_data(j);
            while (sd_journal_enumerate_data(j, &data, &len) > 0)
                bytes += len;
        } else if (sd_journal_get_data(j, "MESSAGE", &data, &len) >= 0)
            bytes += len;
        if (sd_journal_get_realtime_usec(j, &usec) >= 0)
            entries++;
    }
    sd_journal_close(j);
    printf("entries=%lu bytes=%lu\n", entries, bytes);
    return 0;
}
