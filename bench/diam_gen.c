/* Load generator for the relay benchmark: one Diameter client connection.
 *
 * Connects, exchanges CER/CEA, probes with one CCR until it is answered, then runs the
 * phases given on the command line, in order, on the same connection:
 *   --sat WARMUP,SECONDS,WINDOW   keep WINDOW CCRs in flight (saturation throughput)
 *   --rate RATE,WARMUP,SECONDS    send RATE CCR/s, paced every --tick-us microseconds
 *                                 (default: one CCR per tick, ticks 50..1000 us apart)
 * Each phase prints one JSON line on stdout with the figures of its measurement window
 * (after WARMUP): answers received, result codes, latency percentiles (send timestamp to
 * answer, matched by end-to-end id) and the CPU time of the processes named by --cpu.
 * DWRs are answered with DWAs at any time; a DPR at the end closes the connection.
 *
 * usage: diam_gen --host A --port N --templates DIR --sid-offset O --sid-width W
 *                 [--ready-timeout S] [--drain-timeout S] [--tick-us U]
 *                 [--max-outstanding N] [--cpu LABEL=PID]... PHASES...
 */
#include "diam_common.h"

#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#define RING_BITS 20
#define RING_SIZE (1u << RING_BITS)
#define RING_MASK (RING_SIZE - 1u)
#define HIST_BUCKETS (1u << 21) /* 1 us buckets: up to ~2.1 s */
#define MAX_PHASES 16
#define MAX_CPU 8

typedef struct {
    int saturate;
    double rate;
    double warmup;
    double seconds;
    uint32_t window;
} phase_t;

typedef struct {
    char label[32];
    int pid;
} cpu_watch_t;

typedef struct {
    unsigned long long answered, rc_2001, rc_4012, rc_other, hbh_mismatch, unmatched;
    unsigned long long sent, skipped, lat_overflow;
    uint64_t lat_sum_ns, lat_max_ns;
    uint32_t *hist;
} stats_t;

typedef struct {
    int fd;
    int epfd;
    int tfd;
    uint32_t events;
    buf_t in, out;
    buf_t cer, ccr, dwa, dpa, dpr;
    size_t sid_offset;
    int sid_width;
    uint32_t e2e_base;
    uint32_t next_seq;
    uint64_t *ring; /* send time by sequence, 0 = free */
    uint32_t outstanding;
    uint32_t max_outstanding;
    uint32_t cea_result;      /* 0 until a CEA arrives */
    uint32_t last_cca_result; /* 0 until a CCA arrives */
    int dpa_received;
    int closed;
    int recording;
    stats_t st;
    cpu_watch_t cpu[MAX_CPU];
    int ncpu;
} gen_t;

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void load_named(const char *dir, const char *name, buf_t *b) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    load_file(path, b);
}

static void put_digits(uint8_t *p, int width, uint64_t value) {
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (uint8_t)('0' + value % 10u);
        value /= 10u;
    }
}

static void send_ccrs(gen_t *g, uint32_t count, uint64_t t) {
    if (count == 0) return;
    size_t len = g->ccr.len;
    uint8_t *p = buf_reserve(&g->out, len * count);
    for (uint32_t i = 0; i < count; i++, p += len) {
        uint32_t seq = g->next_seq++;
        uint32_t e2e = g->e2e_base + seq;
        memcpy(p, g->ccr.data, len);
        wr32(p + 12, e2e); /* hop-by-hop = end-to-end: checked when the answer returns */
        wr32(p + 16, e2e);
        put_digits(p + g->sid_offset, g->sid_width, seq);
        g->ring[seq & RING_MASK] = t;
    }
    g->out.len += len * count;
    g->outstanding += count;
    if (g->recording) g->st.sent += count;
}

static void on_answer(gen_t *g, const uint8_t *m, uint32_t len, uint64_t t) {
    uint32_t cmd = msg_command(m);
    if (cmd == CMD_CER) {
        g->cea_result = result_code(m, len);
        if (g->cea_result == 0) g->cea_result = 1;
        return;
    }
    if (cmd == CMD_DPR) {
        g->dpa_received = 1;
        return;
    }
    if (cmd != CMD_CCR) return;
    uint32_t e2e = msg_e2e(m);
    uint32_t seq = e2e - g->e2e_base;
    uint64_t *slot = &g->ring[seq & RING_MASK];
    uint32_t rc = result_code(m, len);
    g->last_cca_result = rc ? rc : 1;
    if (*slot == 0 || seq >= g->next_seq) {
        if (g->recording) g->st.unmatched++;
        return;
    }
    uint64_t lat = t > *slot ? t - *slot : 0;
    *slot = 0;
    g->outstanding--;
    if (!g->recording) return;
    stats_t *st = &g->st;
    st->answered++;
    if (rc == 2001) st->rc_2001++;
    else if (rc == 4012) st->rc_4012++;
    else st->rc_other++;
    if (msg_hbh(m) != e2e) st->hbh_mismatch++;
    st->lat_sum_ns += lat;
    if (lat > st->lat_max_ns) st->lat_max_ns = lat;
    uint64_t us = lat / 1000u;
    if (us < HIST_BUCKETS) st->hist[us]++;
    else st->lat_overflow++;
}

static int handle_input(gen_t *g) {
    uint64_t t = now_ns();
    while (buf_pending(&g->in) >= DIAM_HEADER_LEN) {
        const uint8_t *m = g->in.data + g->in.start;
        uint32_t len = msg_length(m);
        if (len < DIAM_HEADER_LEN || len > DIAM_MAX_MESSAGE || m[0] != 1) return -1;
        if (buf_pending(&g->in) < len) break;
        if (msg_flags(m) & DIAM_FLAG_REQUEST) {
            uint32_t cmd = msg_command(m);
            if (cmd == CMD_DWR) append_answer(&g->out, &g->dwa, m);
            else if (cmd == CMD_DPR) append_answer(&g->out, &g->dpa, m);
        } else {
            on_answer(g, m, len, t);
        }
        g->in.start += len;
    }
    buf_compact(&g->in);
    return 0;
}

static void update_events(gen_t *g) {
    uint32_t want = EPOLLIN | (buf_pending(&g->out) ? EPOLLOUT : 0u);
    if (want == g->events || g->closed) return;
    struct epoll_event ev = {.events = want, .data.fd = g->fd};
    epoll_ctl(g->epfd, EPOLL_CTL_MOD, g->fd, &ev);
    g->events = want;
}

/* One round of I/O: flush, wait up to timeout_ms, read and dispatch. */
static void pump(gen_t *g, int timeout_ms) {
    if (g->closed) return;
    if (flush_out(g->fd, &g->out) < 0) {
        g->closed = 1;
        return;
    }
    update_events(g);
    struct epoll_event events[4];
    int n = epoll_wait(g->epfd, events, 4, timeout_ms);
    for (int i = 0; i < n; i++) {
        if (events[i].data.fd == g->tfd) {
            uint64_t expirations;
            if (read(g->tfd, &expirations, sizeof expirations) < 0) { /* nothing to do */ }
            continue;
        }
        if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
            ssize_t r = fill_in(g->fd, &g->in, 1u << 20);
            if (r == 0 || r == -1 || (r > 0 && handle_input(g) < 0)) {
                g->closed = 1;
                return;
            }
        }
    }
    if (flush_out(g->fd, &g->out) < 0) g->closed = 1;
}

/* Requests that will never be answered (connection gone, probe lost) stop counting. */
static void forget_outstanding(gen_t *g) {
    if (g->outstanding) memset(g->ring, 0, RING_SIZE * sizeof *g->ring);
    g->outstanding = 0;
}

static void close_conn(gen_t *g) {
    if (g->fd >= 0) {
        epoll_ctl(g->epfd, EPOLL_CTL_DEL, g->fd, NULL);
        close(g->fd);
    }
    g->fd = -1;
    g->closed = 1;
    g->in.start = g->in.len = 0;
    g->out.start = g->out.len = 0;
    forget_outstanding(g);
}

static int open_conn(gen_t *g, const char *host, int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) die("bad address %s", host);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        close(fd);
        return -1;
    }
    set_socket_options(fd);
    g->fd = fd;
    g->closed = 0;
    g->cea_result = 0;
    g->last_cca_result = 0;
    g->events = EPOLLIN;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(g->epfd, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

static void wait_until(gen_t *g, uint64_t deadline, int (*done)(const gen_t *)) {
    while (!g->closed && !done(g) && !stop_requested) {
        uint64_t t = now_ns();
        if (t >= deadline) return;
        pump(g, (int)((deadline - t) / 1000000u) + 1);
    }
}

static int cea_arrived(const gen_t *g) { return g->cea_result != 0; }
static int probe_answered(const gen_t *g) { return g->last_cca_result != 0; }
static int all_answered(const gen_t *g) { return g->outstanding == 0; }
static int dpa_arrived(const gen_t *g) { return g->dpa_received; }

static void idle(uint64_t ns) { poll(NULL, 0, (int)(ns / 1000000u)); }

static void json_escape_print(const char *s) {
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        putchar(*s >= 32 ? *s : ' ');
    }
}

static void report_error(const char *reason) {
    printf("{\"event\": \"error\", \"reason\": \"");
    json_escape_print(reason);
    printf("\"}\n");
    fflush(stdout);
}

/* Connect, CER/CEA 2001, then a probe CCR answered with 2001 or 4012; retried until the
 * deadline. Returns 0 when ready. */
static int become_ready(gen_t *g, const char *host, int port, double timeout_s) {
    uint64_t start = now_ns();
    uint64_t deadline = start + (uint64_t)(timeout_s * 1e9);
    char reason[256] = "no attempt";
    int attempts = 0;
    while (now_ns() < deadline && !stop_requested) {
        if (g->closed) {
            attempts++;
            if (open_conn(g, host, port) < 0) {
                snprintf(reason, sizeof reason, "connect to %s:%d: %s", host, port,
                         strerror(errno));
                idle(100000000u);
                continue;
            }
            append_answer(&g->out, &g->cer, g->cer.data);
            wait_until(g, deadline, cea_arrived);
            if (g->cea_result != 2001) {
                if (g->closed) snprintf(reason, sizeof reason, "connection closed before CEA");
                else if (g->cea_result) snprintf(reason, sizeof reason, "CEA Result-Code %u",
                                                 g->cea_result);
                else snprintf(reason, sizeof reason, "no CEA");
                close_conn(g);
                idle(200000000u);
                continue;
            }
        }
        g->last_cca_result = 0;
        send_ccrs(g, 1, now_ns());
        uint64_t probe_deadline = now_ns() + 1000000000u;
        wait_until(g, probe_deadline < deadline ? probe_deadline : deadline, probe_answered);
        if (g->last_cca_result == 2001 || g->last_cca_result == 4012) {
            wait_until(g, now_ns() + 1000000000u, all_answered);
            forget_outstanding(g);
            printf("{\"event\": \"ready\", \"seconds\": %.3f, \"attempts\": %d}\n",
                   (double)(now_ns() - start) / 1e9, attempts);
            fflush(stdout);
            return 0;
        }
        if (g->closed) {
            snprintf(reason, sizeof reason, "connection closed after CEA (probe CCR)");
            close_conn(g);
        } else if (g->last_cca_result) {
            snprintf(reason, sizeof reason, "probe CCA Result-Code %u", g->last_cca_result);
        } else {
            snprintf(reason, sizeof reason, "probe CCR unanswered for 1 s");
        }
        idle(200000000u);
    }
    char message[512];
    snprintf(message, sizeof message, "not ready after %.1f s (%d connection attempts): %s",
             timeout_s, attempts, reason);
    report_error(message);
    return -1;
}

static void sample_cpu(gen_t *g, long long *ticks) {
    for (int i = 0; i < g->ncpu; i++) ticks[i] = proc_cpu_ticks(g->cpu[i].pid);
}

static uint64_t percentile(const stats_t *st, double q) {
    unsigned long long in_hist = st->answered - st->lat_overflow;
    if (st->answered == 0) return 0;
    unsigned long long rank = (unsigned long long)(q * (double)st->answered);
    if (rank >= st->answered) rank = st->answered - 1;
    if (rank >= in_hist) return st->lat_max_ns / 1000u;
    unsigned long long seen = 0;
    for (uint32_t us = 0; us < HIST_BUCKETS; us++) {
        seen += st->hist[us];
        if (seen > rank) return us;
    }
    return st->lat_max_ns / 1000u;
}

static void report_phase(const gen_t *g, const phase_t *ph, double seconds,
                         const long long *cpu0, const long long *cpu1,
                         unsigned long long unanswered) {
    const stats_t *st = &g->st;
    double us_per_clock_tick = 1e6 / (double)sysconf(_SC_CLK_TCK);
    printf("{\"event\": \"phase\", \"mode\": \"%s\", \"target_rate\": %.0f, \"window\": %u, "
           "\"seconds\": %.4f, \"sent\": %llu, \"skipped\": %llu, \"answered\": %llu, "
           "\"answered_per_s\": %.1f, \"rc_2001\": %llu, \"rc_4012\": %llu, "
           "\"rc_other\": %llu, \"hbh_mismatch\": %llu, \"unmatched\": %llu, "
           "\"unanswered_after_drain\": %llu, ",
           ph->saturate ? "saturate" : "rate", ph->saturate ? 0.0 : ph->rate,
           ph->saturate ? ph->window : 0u, seconds, st->sent, st->skipped, st->answered,
           seconds > 0 ? (double)st->answered / seconds : 0.0, st->rc_2001, st->rc_4012,
           st->rc_other, st->hbh_mismatch, st->unmatched, unanswered);
    printf("\"latency_us\": {\"p50\": %llu, \"p90\": %llu, \"p99\": %llu, \"p999\": %llu, "
           "\"max\": %.1f, \"mean\": %.1f}, ",
           (unsigned long long)percentile(st, 0.50), (unsigned long long)percentile(st, 0.90),
           (unsigned long long)percentile(st, 0.99), (unsigned long long)percentile(st, 0.999),
           (double)st->lat_max_ns / 1000.0,
           st->answered ? (double)st->lat_sum_ns / 1000.0 / (double)st->answered : 0.0);
    printf("\"cpu_us\": {");
    for (int i = 0; i < g->ncpu; i++) {
        double us = (cpu0[i] < 0 || cpu1[i] < 0) ? -1.0 : (double)(cpu1[i] - cpu0[i]) * us_per_clock_tick;
        printf("%s\"%s\": %.0f", i ? ", " : "", g->cpu[i].label, us);
    }
    printf("}}\n");
    fflush(stdout);
}

static void reset_stats(stats_t *st) {
    uint32_t *hist = st->hist;
    memset(st, 0, sizeof *st);
    memset(hist, 0, HIST_BUCKETS * sizeof *hist);
    st->hist = hist;
}

static int run_phase(gen_t *g, const phase_t *ph, double tick_us, double drain_s) {
    uint64_t start = now_ns();
    uint64_t window_start = start + (uint64_t)(ph->warmup * 1e9);
    uint64_t window_end = window_start + (uint64_t)(ph->seconds * 1e9);
    uint64_t issued = 0;
    long long cpu0[MAX_CPU], cpu1[MAX_CPU];
    reset_stats(&g->st);
    g->recording = 0;
    if (!ph->saturate) {
        struct itimerspec its = {0};
        double tick = tick_us > 0 ? tick_us : 1e6 / ph->rate; /* auto: one CCR per tick */
        if (tick_us <= 0 && tick < 50.0) tick = 50.0;
        if (tick_us <= 0 && tick > 1000.0) tick = 1000.0;
        long ns = (long)(tick * 1000.0);
        its.it_interval.tv_sec = ns / 1000000000L;
        its.it_interval.tv_nsec = ns % 1000000000L;
        its.it_value = its.it_interval;
        timerfd_settime(g->tfd, 0, &its, NULL);
    }
    for (;;) {
        uint64_t t = now_ns();
        if (!g->recording && t >= window_start) {
            sample_cpu(g, cpu0);
            g->recording = 1;
            window_start = t;
        }
        if (t >= window_end) break;
        if (ph->saturate) {
            if (g->outstanding < ph->window) send_ccrs(g, ph->window - g->outstanding, t);
        } else {
            uint64_t due = (uint64_t)((double)(t - start) * ph->rate / 1e9);
            if (due > issued) {
                uint64_t n = due - issued;
                uint64_t room = g->max_outstanding > g->outstanding
                                    ? g->max_outstanding - g->outstanding : 0;
                uint64_t now_sent = n < room ? n : room;
                send_ccrs(g, (uint32_t)now_sent, t);
                if (g->recording) g->st.skipped += n - now_sent;
                issued = due;
            }
        }
        pump(g, ph->saturate ? 1 : 10);
        if (g->closed || stop_requested) break;
    }
    uint64_t end = now_ns();
    sample_cpu(g, cpu1);
    g->recording = 0;
    struct itimerspec off = {0};
    timerfd_settime(g->tfd, 0, &off, NULL);
    if (g->closed) {
        report_error("connection closed by the peer during a phase");
        return -1;
    }
    if (stop_requested) return -1;
    wait_until(g, end + (uint64_t)(drain_s * 1e9), all_answered);
    report_phase(g, ph, (double)(end - window_start) / 1e9, cpu0, cpu1, g->outstanding);
    return g->closed ? -1 : 0;
}

static void parse_phase(const char *kind, const char *spec, phase_t *ph) {
    memset(ph, 0, sizeof *ph);
    if (!strcmp(kind, "--sat")) {
        ph->saturate = 1;
        if (sscanf(spec, "%lf,%lf,%u", &ph->warmup, &ph->seconds, &ph->window) != 3 ||
            ph->window == 0 || ph->window > RING_SIZE / 2)
            die("--sat WARMUP,SECONDS,WINDOW (window 1..%u)", RING_SIZE / 2);
    } else if (sscanf(spec, "%lf,%lf,%lf", &ph->rate, &ph->warmup, &ph->seconds) != 3 ||
               ph->rate <= 0) {
        die("--rate RATE,WARMUP,SECONDS");
    }
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *dir = NULL;
    int port = 0;
    double ready_timeout = 10.0, drain_timeout = 5.0, tick_us = 0.0;
    phase_t phases[MAX_PHASES];
    int nphases = 0;
    static gen_t g;
    g.sid_width = 10;
    g.max_outstanding = RING_SIZE / 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) die("option %s needs a value", a);
        i++;
        if (!strcmp(a, "--host")) host = v;
        else if (!strcmp(a, "--port")) port = atoi(v);
        else if (!strcmp(a, "--templates")) dir = v;
        else if (!strcmp(a, "--sid-offset")) g.sid_offset = (size_t)atol(v);
        else if (!strcmp(a, "--sid-width")) g.sid_width = atoi(v);
        else if (!strcmp(a, "--ready-timeout")) ready_timeout = atof(v);
        else if (!strcmp(a, "--drain-timeout")) drain_timeout = atof(v);
        else if (!strcmp(a, "--tick-us")) tick_us = atof(v);
        else if (!strcmp(a, "--max-outstanding")) g.max_outstanding = (uint32_t)atol(v);
        else if (!strcmp(a, "--cpu")) {
            const char *eq = strchr(v, '=');
            if (!eq || g.ncpu == MAX_CPU || (size_t)(eq - v) >= sizeof g.cpu[0].label)
                die("--cpu LABEL=PID");
            memcpy(g.cpu[g.ncpu].label, v, (size_t)(eq - v));
            g.cpu[g.ncpu].pid = atoi(eq + 1);
            g.ncpu++;
        } else if (!strcmp(a, "--sat") || !strcmp(a, "--rate")) {
            if (nphases == MAX_PHASES) die("too many phases");
            parse_phase(a, v, &phases[nphases++]);
        } else die("unknown option %s", a);
    }
    if (!dir || !port) die("--templates and --port are required");
    if (g.max_outstanding == 0 || g.max_outstanding > RING_SIZE / 2)
        die("--max-outstanding must be 1..%u", RING_SIZE / 2);
    if (tick_us != 0 && tick_us < 10) die("--tick-us must be 0 (auto) or >= 10");

    if (g.ncpu == MAX_CPU) die("too many --cpu");
    snprintf(g.cpu[g.ncpu].label, sizeof g.cpu[0].label, "gen");
    g.cpu[g.ncpu++].pid = (int)getpid();

    load_named(dir, "gen_cer.bin", &g.cer);
    load_named(dir, "gen_ccr.bin", &g.ccr);
    load_named(dir, "gen_dwa.bin", &g.dwa);
    load_named(dir, "gen_dpa.bin", &g.dpa);
    load_named(dir, "gen_dpr.bin", &g.dpr);
    if (g.sid_width < 1 || g.sid_width > 19 || g.sid_offset < DIAM_HEADER_LEN ||
        g.sid_offset + (size_t)g.sid_width > g.ccr.len)
        die("--sid-offset/--sid-width outside the CCR template");
    buf_init(&g.in, 4u << 20);
    buf_init(&g.out, 4u << 20);
    g.ring = calloc(RING_SIZE, sizeof *g.ring);
    g.st.hist = calloc(HIST_BUCKETS, sizeof *g.st.hist);
    if (!g.ring || !g.st.hist) die("out of memory");
    g.e2e_base = (uint32_t)(now_ns() / 1000u) << 12;
    g.fd = -1;
    g.closed = 1;
    g.epfd = epoll_create1(0);
    g.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event tev = {.events = EPOLLIN, .data.fd = g.tfd};
    epoll_ctl(g.epfd, EPOLL_CTL_ADD, g.tfd, &tev);

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (become_ready(&g, host, port, ready_timeout) < 0) return 3;
    int status = 0;
    for (int i = 0; i < nphases && status == 0; i++)
        status = run_phase(&g, &phases[i], tick_us, drain_timeout);
    if (!g.closed) {
        append_answer(&g.out, &g.dpr, g.dpr.data);
        g.dpa_received = 0;
        wait_until(&g, now_ns() + 1000000000u, dpa_arrived);
    }
    close_conn(&g);
    return status == 0 ? 0 : 4;
}
