/*
 * eucanetd stand-in for avcfix's end-to-end proof (tests/e2e).
 *
 * It makes the accesses the real eucanetd needed at start-up in the seed
 * example (fixtures/eucanetd/audit.log), in the same order:
 *   1. bind UDP port 63822;
 *   2. write its pid file /var/run/eucalyptus/eucanetd.pid;
 *   3. read its network state under /var/lib/eucalyptus/.
 * Like a real daemon it exits non-zero at its first failure (so, under an
 * enforcing kernel, at its first denial). Once started it stays running.
 *
 * Built statically on the host (no interpreter, no dynamic loader), so every
 * denial it gets comes from the three steps above.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <syslog.h>
#include <unistd.h>

#define PORT 63822
#define PID_FILE "/var/run/eucalyptus/eucanetd.pid"
#define STATE_FILE "/var/lib/eucalyptus/global_network_info.xml"

static int fail(const char *step, const char *what)
{
    int err = errno;
    syslog(LOG_ERR, "%s %s failed: %s", step, what, strerror(err));
    return 1;
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
        return fail("bind", "udp/63822");
    return 0; /* the socket stays open for the life of the process */
}

static int write_pid(void)
{
    char buf[32];
    int len, fd = open(PID_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return fail("open", PID_FILE);
    len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
    if (write(fd, buf, (size_t)len) != len) {
        close(fd);
        return fail("write", PID_FILE);
    }
    close(fd);
    return 0;
}

static int read_state(void)
{
    char buf[4096];
    ssize_t n;
    int fd = open(STATE_FILE, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail("open", STATE_FILE);
    while ((n = read(fd, buf, sizeof buf)) > 0)
        ;
    if (n < 0) {
        close(fd);
        return fail("read", STATE_FILE);
    }
    close(fd);
    return 0;
}

int main(void)
{
    openlog("eucanetd", LOG_PID, LOG_DAEMON);
    if (bind_port() || write_pid() || read_state())
        return 1;
    syslog(LOG_INFO, "eucanetd: started");
    for (;;)
        pause();
}
