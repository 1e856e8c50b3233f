/*
 * tinyd: a made-up small daemon for avcfix's end-to-end proof of
 * `avcfix loop --new-domain` (tests/e2e). The policy has no domain for it:
 * its binary is labelled bin_t, so systemd starts it unconfined (Debian's
 * refpolicy: type_transition init_t bin_t:process initrc_t).
 *
 * At start-up, in order:
 *   1. read /proc/meminfo (to size a cache);
 *   2. write its pid file /run/tinyd/tinyd.pid;
 *   3. append a line to /var/log/tinyd/tinyd.log;
 *   4. read and rewrite its state /var/lib/tinyd/state;
 *   5. bind UDP port 7777 (unreserved_port_t).
 * Like a real daemon it exits non-zero at its first failure (so, under an
 * enforcing kernel, at its first denial). Once started it stays running.
 * Built statically, so no loader or library adds denials of its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <syslog.h>
#include <unistd.h>

#define PORT 7777
#define PID_FILE "/run/tinyd/tinyd.pid"
#define LOG_FILE "/var/log/tinyd/tinyd.log"
#define STATE_FILE "/var/lib/tinyd/state"

static int fail(const char *step, const char *what)
{
    int err = errno;
    syslog(LOG_ERR, "%s %s failed: %s", step, what, strerror(err));
    return 1;
}

static int read_all(const char *path)
{
    char buf[4096];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail("open", path);
    while ((n = read(fd, buf, sizeof buf)) > 0)
        ;
    close(fd);
    return n < 0 ? fail("read", path) : 0;
}

static int write_file(const char *path, int flags, const char *text)
{
    size_t len = strlen(text);
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0644);
    if (fd < 0)
        return fail("open", path);
    if (write(fd, text, len) != (ssize_t)len) {
        close(fd);
        return fail("write", path);
    }
    close(fd);
    return 0;
}

static int state(void)
{
    char buf[64];
    int fd = open(STATE_FILE, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail("open", STATE_FILE);
    if (read(fd, buf, sizeof buf) < 0 || lseek(fd, 0, SEEK_SET) < 0 || write(fd, "started\n", 8) != 8) {
        close(fd);
        return fail("rewrite", STATE_FILE);
    }
    close(fd);
    return 0;
}

static int bind_port(void)
{
    struct sockaddr_in addr;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return fail("socket", "udp");
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(PORT);
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0)
        return fail("bind", "udp/7777");
    return 0; /* the socket stays open for the life of the process */
}

int main(void)
{
    char pid[32];
    openlog("tinyd", LOG_PID, LOG_DAEMON);
    snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (read_all("/proc/meminfo") || write_file(PID_FILE, O_TRUNC, pid)
        || write_file(LOG_FILE, O_APPEND, "tinyd: started\n") || state() || bind_port())
        return 1;
    syslog(LOG_INFO, "tinyd: started");
    for (;;)
        pause();
}
