/* avcfix_probe: one access per run, for capturing real kernel denial records.
 *
 * Runs in avcfix_probe_t (tests/e2e/kernel/avcfix_probe.te), started by
 * capture_job.sh inside the SELinux-enforcing e2e VM. `avcfix-probe STEP`
 * makes exactly one system call that the policy denies and prints
 * "STEP<TAB>pid<TAB>rc<TAB>errno" so the host can find the audit event by pid.
 * The p-* steps run as avcfix-probe-perm in the permissive avcfix_probe_perm_t.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define D "/srv/probe"

static int unix_connect(const char *path) {
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0) return -1;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    return connect(s, (struct sockaddr *)&a, sizeof a);
}

static int inet_bind(int type, int port) {
    int s = socket(AF_INET, type, 0);
    if (s < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr = {htonl(INADDR_ANY)}};
    return bind(s, (struct sockaddr *)&a, sizeof a);
}

static int do_ioctl(const char *path, unsigned long cmd) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -2;
    char buf[64];
    return ioctl(fd, cmd, buf);
}

static int step(const char *s) {
    char buf[256];
    struct stat st;
    char *const argv[] = {(char *)"probe-child", NULL};
    char *const envp[] = {NULL};
    if (!strcmp(s, "open-read")) return open(D "/ro/secret", O_RDONLY);
    if (!strcmp(s, "open-noopen")) return open(D "/ro/noopen", O_RDONLY);
    if (!strcmp(s, "open-relative")) {
        if (chdir(D "/ro")) return -2;
        return open("secret", O_RDONLY);
    }
    /* the directory may not be written at all: "write" on the dir */
    if (!strcmp(s, "create-dir-write")) return open(D "/ro/newfile", O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (!strcmp(s, "create-relative-dir-write")) {
        if (chdir(D "/rw")) return -2;
        return open("../ro/newrel", O_WRONLY | O_CREAT | O_EXCL, 0644);
    }
    if (!strcmp(s, "unlink-dir-write")) return unlink(D "/ro/victim");
    if (!strcmp(s, "rename-same-dir-write")) return rename(D "/ro/a", D "/ro/b");
    if (!strcmp(s, "rename-cross-dir-target-write")) return rename(D "/rw/x", D "/ro/x");
    if (!strcmp(s, "rename-cross-dir-source-write")) return rename(D "/ro/c", D "/rw/c");
    if (!strcmp(s, "mkdir-dir-write")) return mkdir(D "/ro/newdir", 0755);
    if (!strcmp(s, "rmdir-dir-write")) return rmdir(D "/ro/emptydir");
    /* the directory may be written, but not add_name (noadd) / remove_name (norm) */
    if (!strcmp(s, "create-add-name")) return open(D "/noadd/newfile", O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (!strcmp(s, "create-relative-add-name")) {
        if (chdir(D "/rw")) return -2;
        return open("../noadd/newrel", O_WRONLY | O_CREAT | O_EXCL, 0644);
    }
    if (!strcmp(s, "mkdir-add-name")) return mkdir(D "/noadd/newdir", 0755);
    if (!strcmp(s, "unlink-remove-name")) return unlink(D "/norm/victim");
    if (!strcmp(s, "rmdir-remove-name")) return rmdir(D "/norm/emptydir");
    if (!strcmp(s, "rename-same-dir-remove-name")) return rename(D "/norm/a", D "/norm/b");
    if (!strcmp(s, "rename-cross-dir-add-name")) return rename(D "/rw/x", D "/noadd/x");
    if (!strcmp(s, "rename-cross-dir-remove-name")) return rename(D "/norm/c", D "/rw/c");
    /* the entry itself is denied */
    if (!strcmp(s, "unlink-file-denied")) return unlink(D "/rw/nounlink");
    if (!strcmp(s, "rename-file-denied")) return rename(D "/rw/norename", D "/rw/renamed");
    if (!strcmp(s, "rmdir-child-denied")) return rmdir(D "/rw/subdir");
    if (!strcmp(s, "exec-execute")) return execve(D "/ro/noexec", argv, envp);
    if (!strcmp(s, "exec-execute-no-trans")) return execve(D "/ro/notrans", argv, envp);
    if (!strcmp(s, "connect-sock-file")) return unix_connect(D "/sock/denied.sock");
    if (!strcmp(s, "connect-connectto")) return unix_connect(D "/sock/conn.sock");
    if (!strcmp(s, "bind-tcp")) return inet_bind(SOCK_STREAM, 3306);
    if (!strcmp(s, "bind-udp")) return inet_bind(SOCK_DGRAM, 63822);
    if (!strcmp(s, "ioctl-xperm")) return do_ioctl(D "/ro/ioctl", 0x5413);    /* TIOCGWINSZ; only 0x5401 allowed */
    if (!strcmp(s, "ioctl-plain")) return do_ioctl(D "/ro/rofile", 0x5401);   /* TCGETS; no ioctl at all */
    if (!strcmp(s, "mount")) return mount("none", D "/mnt", "tmpfs", 0, "size=1m");
    if (!strcmp(s, "leaked-fd")) return fstat(7, &st);   /* the denial happened at our execve */
    if (!strcmp(s, "search-middle")) return open(D "/nosearch/inner/file", O_RDONLY);
    if (!strcmp(s, "stat")) return stat(D "/ro/secret_stat", &st);
    if (!strcmp(s, "readlink")) return (int)readlink(D "/ro/link", buf, sizeof buf);
    if (!strcmp(s, "follow-link")) return open(D "/ro/link", O_RDONLY);
    if (!strcmp(s, "hardlink")) return link(D "/rw/hard", D "/rw/hard2");
    if (!strcmp(s, "chmod")) return chmod(D "/rw/chmod", 0600);
    if (!strcmp(s, "truncate")) return truncate(D "/ro/trunc", 0);
    /* permissive steps (avcfix-probe-perm, avcfix_probe_perm_t): every check is logged */
    if (!strcmp(s, "p-search-middle")) return open(D "/nosearch/inner/secret", O_RDONLY);
    if (!strcmp(s, "p-create")) return open(D "/ro/pnew", O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (!strcmp(s, "p-rename-three")) return rename(D "/norm/r3", D "/noadd/r3");
    if (!strcmp(s, "p-exec")) {
        printf("%s\t%d\texec\t0\n", s, (int)getpid());   /* a successful execve prints nothing after */
        fflush(stdout);
        return execve(D "/ro/noexec", argv, envp);
    }
    errno = EINVAL;
    return -3;
}

int main(int argc, char **argv) {
    if (argc == 1 && strcmp(argv[0], "probe-child") == 0) return 0;   /* exec'ed by a step */
    if (argc != 2) {
        fprintf(stderr, "usage: avcfix-probe STEP\n");
        return 2;
    }
    errno = 0;
    int rc = step(argv[1]);
    int e = errno;
    printf("%s\t%d\t%d\t%d\n", argv[1], (int)getpid(), rc, e);
    return rc < 0 ? 1 : 0;
}
