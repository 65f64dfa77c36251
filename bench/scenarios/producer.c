/*
 * Benchmark service program: one tiny, shell-free process per Procfile entry.
 *
 * A compiled producer keeps the cost of the services themselves negligible, so
 * the numbers measure the runner rather than interpreter start-up.  The same
 * command line is implemented by producer.py, used when no C compiler exists.
 *
 * Usage (no per-run argument: a scenario's Procfile is byte-identical on every
 * repeat, so that runners caching a parsed config run warm; the harness finds
 * leftovers by session id instead):
 *
 *   producer fire SVC N linger|exit  write N checksummed payload lines
 *   producer idle SVC                print a READY line, then sleep
 *   producer stubborn SVC            same, but ignore SIGTERM and SIGINT
 *   producer parent SVC NCHILD       fork NCHILD idle grandchildren
 *   producer fail SVC DELAY_MS CODE  READY, wait, exit with CODE
 *   producer tick SVC PERIOD_MS      one line per period, forever
 *
 * Payload line (60 bytes): "@B SVC SEQ(10 digits) CRC32(8 hex) PAD\n" where
 * the CRC covers "SVC SEQ PAD", so loss, tearing, duplication and reordering
 * are all detectable from the payload alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_LEN 60
#define LINES_PER_WRITE 64 /* 3840 bytes <= PIPE_BUF: atomic on a shared pipe */

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32_buf(const char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ (unsigned char)p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static void write_all(const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(1, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            _exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

static void say(const char *fmt, const char *svc, long a) {
    char buf[256];
    int n = snprintf(buf, sizeof buf, fmt, svc, a);
    write_all(buf, (size_t)n);
}

static long long mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void sleep_forever(void) {
    for (;;) pause();
}

/* Build one payload line into out (exactly LINE_LEN bytes, newline included). */
static void build_line(char *out, const char *svc, long seq) {
    char body[LINE_LEN + 1];
    size_t svclen = strlen(svc);
    /* "@B " + svc + " " + seq10 + " " + crc8 + " " + pad + "\n" */
    long padlen = LINE_LEN - 3 - (long)svclen - 1 - 10 - 1 - 8 - 1 - 1;
    if (padlen < 1) padlen = 1;
    char pad[LINE_LEN];
    memset(pad, 'a' + (int)(seq % 26), (size_t)padlen);
    pad[padlen] = '\0';
    int bl = snprintf(body, sizeof body, "%s %010ld %s", svc, seq, pad);
    /* CRC over "SVC SEQ PAD" (single spaces), the bytes in body. */
    uint32_t crc = crc32_buf(body, (size_t)bl);
    char line[160];
    snprintf(line, sizeof line, "@B %s %010ld %08x %s\n", svc, seq, crc, pad);
    memcpy(out, line, LINE_LEN);
}

static int cmd_fire(const char *svc, long n, int linger) {
    crc_init();
    size_t total = (size_t)n * LINE_LEN;
    char *buf = malloc(total);
    if (!buf) return 2;
    for (long i = 0; i < n; i++) build_line(buf + (size_t)i * LINE_LEN, svc, i);
    size_t chunk = (size_t)LINES_PER_WRITE * LINE_LEN;
    for (size_t off = 0; off < total; off += chunk) {
        size_t len = total - off < chunk ? total - off : chunk;
        write_all(buf + off, len);
    }
    if (linger) sleep_forever();
    return 0;
}

static int cmd_parent(const char *svc, long nchild, char **argv) {
    for (long i = 0; i < nchild; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            char name[64];
            snprintf(name, sizeof name, "%s-g%ld", svc, i);
            execl("/proc/self/exe", argv[0], "idle", name, (char *)NULL);
            _exit(127);
        }
    }
    say("@R %s %ld\n", svc, (long)getpid());
    sleep_forever();
    return 0;
}

static int cmd_fail(const char *svc, long delay_ms, int code) {
    say("@R %s %ld\n", svc, (long)getpid());
    struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    char buf[128];
    int n = snprintf(buf, sizeof buf, "@X %s %lld %d\n", svc, mono_ns(), code);
    write_all(buf, (size_t)n);
    return code;
}

static int cmd_tick(const char *svc, long period_ms) {
    struct timespec ts = {period_ms / 1000, (period_ms % 1000) * 1000000L};
    for (long seq = 0;; seq++) {
        say("@T %s %ld\n", svc, seq);
        nanosleep(&ts, NULL);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: producer MODE SVC ...\n");
        return 2;
    }
    const char *mode = argv[1];
    const char *svc = argv[2];
    if (strcmp(mode, "fire") == 0 && argc >= 5)
        return cmd_fire(svc, atol(argv[3]), strcmp(argv[4], "linger") == 0);
    if (strcmp(mode, "idle") == 0 || strcmp(mode, "stubborn") == 0) {
        if (mode[0] == 's') { /* must be escalated to SIGKILL by the runner */
            signal(SIGTERM, SIG_IGN);
            signal(SIGINT, SIG_IGN);
        }
        say("@R %s %ld\n", svc, (long)getpid());
        sleep_forever();
    }
    if (strcmp(mode, "parent") == 0 && argc >= 4) return cmd_parent(svc, atol(argv[3]), argv);
    if (strcmp(mode, "fail") == 0 && argc >= 5) return cmd_fail(svc, atol(argv[3]), atoi(argv[4]));
    if (strcmp(mode, "tick") == 0 && argc >= 4) return cmd_tick(svc, atol(argv[3]));
    fprintf(stderr, "producer: bad arguments\n");
    return 2;
}
