/* bench/jread.c: the journal suite's ceiling. Reads every entry of a journal directory with
 * sd-journal and fetches what a matcher needs of each, the MESSAGE and the realtime stamp;
 * matches nothing, prints nothing per entry: the floor of reading the journal at all.
 *   usage: jread DIR        prints "entries=N bytes=B" (B: MESSAGE bytes, fields' names included)
 *   build: cc -O2 -o jread jread.c $(pkg-config --cflags --libs libsystemd)   (bench/run.sh does) */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-journal.h>

int main(int argc, char **argv) {
    sd_journal *j;
    if (argc != 2) {
        fprintf(stderr, "usage: jread DIR\n");
        return 2;
    }
    int r = sd_journal_open_directory(&j, argv[1], 0);
    if (r < 0) {
        fprintf(stderr, "jread: %s: %s\n", argv[1], strerror(-r));
        return 1;
    }
    unsigned long entries = 0, bytes = 0;
    SD_JOURNAL_FOREACH(j) {
        const void *data;
        size_t len;
        uint64_t usec;
        if (sd_journal_get_data(j, "MESSAGE", &data, &len) >= 0)
            bytes += len;
        if (sd_journal_get_realtime_usec(j, &usec) >= 0)
            entries++;
    }
    sd_journal_close(j);
    printf("entries=%lu bytes=%lu\n", entries, bytes);
    return 0;
}
