"""Writes the case logs of tests/data/advice/ (run once by hand; the logs are committed).

Each log is what a Linux kernel writes for one denied access, record by record:
AVC (+ SYSCALL, EXECVE, SOCKADDR, CWD, PATH items, PROCTITLE). The rules this file
follows (checked against fs/namei.c, security/selinux/hooks.c, kernel/auditsc.c):

* a PATH item of a directory looked up as the parent (openat O_CREAT, unlink,
  mkdir, rename) has nametype=PARENT and a name cut after the last '/';
* may_delete() adds the victim as nametype=DELETE, with its full name, inode, mode;
* a denied create has no CREATE item: the child is negative and
  audit_inode_child() is only called after success (fsnotify_create);
* a path walk that fails (search denied on a middle directory) leaves the
  getname() entry alone: item=0 with the name as given and nametype=UNKNOWN,
  no inode/dev/mode/obj;
* the AVC of a directory permission checked with the child dentry (add_name,
  remove_name) names the child (name=), with ino= only when the child exists;
  a permission checked on the directory inode (search, write) names the directory;
* a descriptor revalidated at execve (flush_unauthorized_files) logs path=, and the
  PATH items are the executable and the ELF interpreter.
"""

from __future__ import annotations

import binascii
from pathlib import Path

HERE = Path(__file__).resolve().parent
CAP = "cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0"
SYS = {"openat": 257, "unlinkat": 263, "bind": 49, "connect": 42, "execve": 59, "mmap": 9,
       "mprotect": 10, "mount": 165, "ioctl": 16, "socket": 41, "sendto": 44}


def ctx(t: str, role: str = "system_r", user: str = "system_u") -> str:
    return f"{user}:{role}:{t}:s0"


def obj(t: str, user: str = "system_u") -> str:
    return f"{user}:object_r:{t}:s0"


def hexs(*args: str) -> str:
    return binascii.hexlify("\0".join(args).encode()).decode().upper()


def sockaddr(port: int, ip: str = "0.0.0.0") -> str:
    raw = bytes([2, 0]) + port.to_bytes(2, "big") + bytes(int(x) for x in ip.split(".")) + bytes(8)
    return raw.hex().upper()


def path_item(i, name, nametype, inode=None, mode=None, o=None, ouid=0, ogid=0, dev="fd:01"):
    if inode is None:
        return f"item={i} name=\"{name}\" nametype={nametype} {CAP}"
    return (f"item={i} name=\"{name}\" inode={inode} dev={dev} mode={mode} ouid={ouid} ogid={ogid} "
            f"rdev=00:00 obj={o} nametype={nametype} {CAP}")


def event(ts, serial, avc, syscall, *, pid, ppid, comm, exe, subj, items=(), cwd="/", title=(), a=("0", "0", "0", "0"),
          success="no", exit_="-13", uid=0, execve=None, saddr=None, auid="4294967295", ses="4294967295"):
    stamp = f"audit({ts}:{serial})"
    ids = (f"auid={auid} uid={uid} gid={uid} euid={uid} suid={uid} fsuid={uid} egid={uid} sgid={uid} fsgid={uid}")
    lines = [f"type=AVC msg={stamp}: avc:  denied  {avc} permissive=0",
             f"type=SYSCALL msg={stamp}: arch=c000003e syscall={SYS[syscall]} success={success} exit={exit_} "
             f"a0={a[0]} a1={a[1]} a2={a[2]} a3={a[3]} items={len(items)} ppid={ppid} pid={pid} {ids} tty=(none) "
             f"ses={ses} comm=\"{comm}\" exe=\"{exe}\" subj={subj} key=(null)"]
    if execve:
        lines.append(f"type=EXECVE msg={stamp}: argc={len(execve)} " + " ".join(f'a{i}="{v}"' for i, v in enumerate(execve)))
    if saddr:
        lines.append(f"type=SOCKADDR msg={stamp}: saddr={saddr}")
    if items:
        lines.append(f"type=CWD msg={stamp}: cwd=\"{cwd}\"")
        lines += [f"type=PATH msg={stamp}: {it}" for it in items]
    lines.append(f"type=PROCTITLE msg={stamp}: proctitle={hexs(*title)}")
    return "\n".join(lines) + "\n"


def avc(perms, tail, scon, tcon, tclass, pid, comm):
    return f"{{ {perms} }} for  pid={pid} comm=\"{comm}\" {tail} scontext={scon} tcontext={tcon} tclass={tclass}"


LOGS: dict[str, str] = {}


def add(name, text):
    LOGS[name] = text


# ---------------------------------------------------------------- ports
def bind(name, ts, port, proto, comm, exe, dom, title, pid, ptype="unreserved_port_t"):
    cls = f"{proto}_socket"
    add(name, event(ts, 311, avc("name_bind", f"src={port}", ctx(dom), obj(ptype), cls, pid, comm), "bind",
                    pid=pid, ppid=1, comm=comm, exe=exe, subj=ctx(dom), a=("3", "55d0c27e0a40", "10", "0"),
                    saddr=sockaddr(port), title=title))


def connect(name, ts, port, comm, exe, dom, title, pid, ptype, ip="10.0.2.20", uid=0, success="no", exit_="-13"):
    add(name, event(ts, 412, avc("name_connect", f"dest={port}", ctx(dom), obj(ptype), "tcp_socket", pid, comm),
                    "connect", pid=pid, ppid=pid - 3, comm=comm, exe=exe, subj=ctx(dom), uid=uid,
                    a=("c", "7ffd3a61b1e0", "10", "0"), saddr=sockaddr(port, ip), title=title,
                    success=success, exit_=exit_))


bind("httpd_bind_8089.log", "1716801100.114", 8089, "tcp", "httpd", "/usr/sbin/httpd", "httpd_t",
     ("/usr/sbin/httpd", "-DFOREGROUND"), 2871)
bind("apache2_bind_8089.log", "1716801100.114", 8089, "tcp", "apache2", "/usr/sbin/apache2", "httpd_t",
     ("/usr/sbin/apache2", "-k", "start"), 2871)
bind("apache2_bind_8081.log", "1716801101.220", 8081, "tcp", "apache2", "/usr/sbin/apache2", "httpd_t",
     ("/usr/sbin/apache2", "-k", "start"), 2874, ptype="transproxy_port_t")
bind("sshd_bind_2222.log", "1716801200.310", 2222, "tcp", "sshd", "/usr/sbin/sshd", "sshd_t",
     ("sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",), 1032)
bind("snmpd_bind_udp_1161.log", "1716801300.020", 1161, "udp", "snmpd", "/usr/sbin/snmpd", "snmpd_t",
     ("/usr/sbin/snmpd", "-LOw", "-u", "Debian-snmp", "-g", "Debian-snmp", "-f"), 1511)
connect("rsyslogd_connect_20514.log", "1716801400.551", 20514, "in:imjournal", "/usr/sbin/rsyslogd", "syslogd_t",
        ("/usr/sbin/rsyslogd", "-n", "-iNONE"), 688, "unreserved_port_t", ip="10.0.2.30", success="no", exit_="-13")
# web application connecting to its database / mail relay (php-fpm runs in httpd_t)
connect("php_connect_5432.log", "1716801500.901", 5432, "php-fpm", "/usr/sbin/php-fpm", "httpd_t",
        ("php-fpm: pool www",), 3120, "postgresql_port_t", uid=33)
connect("php_connect_3306.log", "1716801501.402", 3306, "php-fpm", "/usr/sbin/php-fpm", "httpd_t",
        ("php-fpm: pool www",), 3121, "mysqld_port_t", uid=33)
connect("php_connect_25.log", "1716801502.033", 25, "php-fpm", "/usr/sbin/php-fpm", "httpd_t",
        ("php-fpm: pool www",), 3122, "smtp_port_t", uid=33, ip="127.0.0.1")


# ---------------------------------------------------------------- files
def openat_read(name, ts, serial, path, tclass_t, dom, comm, exe, pid, ino, title, perms="read", uid=0,
                user="system_u", mode="0100644", cwd="/", ouid=0):
    base = path.rsplit("/", 1)[1]
    add(name, event(ts, serial,
                    avc(perms, f"name=\"{base}\" dev=\"vda1\" ino={ino}", ctx(dom), obj(tclass_t, user), "file", pid, comm),
                    "openat", pid=pid, ppid=1, comm=comm, exe=exe, subj=ctx(dom), uid=uid,
                    a=("ffffff9c", "7f3c1c02d8a0", "80000", "0"),
                    items=[path_item(0, path, "NORMAL", ino, mode, obj(tclass_t, user), ouid=ouid, ogid=ouid)],
                    cwd=cwd, title=title))


# restorecon of a file: index.html moved (mv keeps the label) from a home directory
openat_read("httpd_read_moved_index.log", "1716802000.101", 501, "/var/www/html/index.html", "user_home_t",
            "httpd_t", "httpd", "/usr/sbin/httpd", 2890, 1835041, ("/usr/sbin/httpd", "-DFOREGROUND"), uid=48,
            user="unconfined_u", ouid=1000)
openat_read("apache2_read_moved_index.log", "1716802000.101", 501, "/var/www/html/index.html", "user_home_t",
            "httpd_t", "apache2", "/usr/sbin/apache2", 2890, 1835041, ("/usr/sbin/apache2", "-k", "start"),
            uid=33, user="unconfined_u", ouid=1000)

# restorecon of a tree: a whole directory moved from a home directory into the document root; opendir() denied
def opendir(name, ts, serial, path, t, dom, comm, exe, pid, ino, title, uid, user="unconfined_u", ouid=1000):
    base = path.rsplit("/", 1)[1]
    add(name, event(ts, serial,
                    avc("read", f"name=\"{base}\" dev=\"vda1\" ino={ino}", ctx(dom), obj(t, user), "dir", pid, comm),
                    "openat", pid=pid, ppid=1, comm=comm, exe=exe, subj=ctx(dom), uid=uid,
                    a=("ffffff9c", "7f3c1c0311e0", "90800", "0"),
                    items=[path_item(0, path, "NORMAL", ino, "040755", obj(t, user), ouid=ouid, ogid=ouid)],
                    title=title))


opendir("httpd_opendir_moved_blog.log", "1716802100.220", 530, "/var/www/html/blog", "user_home_t", "httpd_t",
        "httpd", "/usr/sbin/httpd", 2893, 1835190, ("/usr/sbin/httpd", "-DFOREGROUND"), 48)
opendir("apache2_opendir_moved_blog.log", "1716802100.220", 530, "/var/www/html/blog", "user_home_t", "httpd_t",
        "apache2", "/usr/sbin/apache2", 2893, 1835190, ("/usr/sbin/apache2", "-k", "start"), 33)


# wrong object: add_name on the log directory while creating a new log file (no CREATE item)
def create_in_dir(name, ts, serial, dirpath, newname, dir_t, dom, comm, exe, pid, dir_ino, title, uid=0, perm="add_name"):
    add(name, event(ts, serial,
                    avc(perm, f"name=\"{newname}\"", ctx(dom), obj(dir_t), "dir", pid, comm),
                    "openat", pid=pid, ppid=1, comm=comm, exe=exe, subj=ctx(dom), uid=uid,
                    a=("ffffff9c", "55e0a3f4c2b0", "80441", "1b6"),
                    items=[path_item(0, dirpath.rstrip("/") + "/", "PARENT", dir_ino, "040750", obj(dir_t))],
                    title=title))


create_in_dir("httpd_create_log_add_name.log", "1716802200.330", 560, "/var/log/httpd", "error_log", "default_t",
              "httpd_t", "httpd", "/usr/sbin/httpd", 2901, 655381, ("/usr/sbin/httpd", "-DFOREGROUND"))
create_in_dir("apache2_create_log_add_name.log", "1716802200.330", 560, "/var/log/apache2", "error.log", "default_t",
              "httpd_t", "apache2", "/usr/sbin/apache2", 2901, 655381, ("/usr/sbin/apache2", "-k", "start"))
create_in_dir("named_create_run_add_name.log", "1716802300.440", 590, "/var/named/data", "named.run", "user_tmp_t",
              "named_t", "named", "/usr/sbin/named", 1187, 917766, ("/usr/sbin/named", "-u", "named", "-c", "/etc/named.conf"),
              uid=25)


# wrong object: write on the directory inode (inode_permission MAY_WRITE|MAY_EXEC before the create hook)
def write_dir(name, ts, serial, dirpath, dir_t, dom, comm, exe, pid, dir_ino, title, uid):
    base = dirpath.rstrip("/").rsplit("/", 1)[1]
    add(name, event(ts, serial,
                    avc("write", f"name=\"{base}\" dev=\"vda1\" ino={dir_ino}", ctx(dom), obj(dir_t), "dir", pid, comm),
                    "openat", pid=pid, ppid=1, comm=comm, exe=exe, subj=ctx(dom), uid=uid,
                    a=("ffffff9c", "7ffe1b3c5a10", "80042", "1b0"),
                    items=[path_item(0, dirpath.rstrip("/") + "/", "PARENT", dir_ino, "040750", obj(dir_t), ouid=uid, ogid=uid)],
                    title=title))


write_dir("mysqld_write_datadir.log", "1716802400.550", 620, "/var/lib/mysql", "user_tmp_t", "mysqld_t", "mysqld",
          "/usr/sbin/mysqld", 1422, 1048577, ("/usr/sbin/mysqld",), 27)


# wrong object: remove_name; the AVC's ino= is the victim's, the PATH DELETE item is the victim
def unlink_in_dir(name, ts, serial, dirpath, victim, dir_t, file_t, dom, comm, exe, pid, dir_ino, ino, title, uid):
    add(name, event(ts, serial,
                    avc("remove_name", f"name=\"{victim}\" dev=\"vda1\" ino={ino}", ctx(dom), obj(dir_t), "dir", pid, comm),
                    "unlinkat", pid=pid, ppid=1, comm=comm, exe=exe, subj=ctx(dom), uid=uid,
                    a=("ffffff9c", "7f2a0c0087c0", "0", "0"),
                    items=[path_item(0, dirpath.rstrip("/") + "/", "PARENT", dir_ino, "040750", obj(dir_t), ouid=uid, ogid=uid),
                           path_item(1, dirpath.rstrip("/") + "/" + victim, "DELETE", ino, "0100660", obj(file_t),
                                     ouid=uid, ogid=uid)],
                    title=title))


unlink_in_dir("mysqld_unlink_in_datadir.log", "1716802500.660", 650, "/var/lib/mysql", "ib_logfile1", "user_tmp_t",
              "mysqld_db_t", "mysqld_t", "mysqld", "/usr/sbin/mysqld", 1431, 1048577, 1048613, ("/usr/sbin/mysqld",), 27)


# wrong object: search on a middle directory; the walk fails, the PATH item is the name as given (UNKNOWN)
def search_dir(name, ts, serial, dirpath, filepath, dir_t, dom, comm, exe, pid, dir_ino, title, uid):
    base = dirpath.rstrip("/").rsplit("/", 1)[1]
    add(name, event(ts, serial,
                    avc("search", f"name=\"{base}\" dev=\"vda1\" ino={dir_ino}", ctx(dom), obj(dir_t), "dir", pid, comm),
                    "openat", pid=pid, ppid=1, comm=comm, exe=exe, subj=ctx(dom), uid=uid,
                    a=("ffffff9c", "7f8e5c001b70", "80000", "0"),
                    items=[path_item(0, filepath, "UNKNOWN")], title=title))


search_dir("named_search_zonedir.log", "1716802600.770", 680, "/var/named", "/var/named/example.com.zone",
           "user_tmp_t", "named_t", "named", "/usr/sbin/named", 1190, 917761,
           ("/usr/sbin/named", "-u", "named", "-c", "/etc/named.conf"), 25)

# custom location: content under /srv/site (default var_t) read by the web server
openat_read("httpd_read_srv_site.log", "1716802700.880", 710, "/srv/site/index.html", "var_t", "httpd_t", "httpd",
            "/usr/sbin/httpd", 2910, 2621446, ("/usr/sbin/httpd", "-DFOREGROUND"), uid=48)
openat_read("apache2_read_srv_site.log", "1716802700.880", 710, "/srv/site/index.html", "var_t", "httpd_t", "apache2",
            "/usr/sbin/apache2", 2910, 2621446, ("/usr/sbin/apache2", "-k", "start"), uid=33)

# home content
openat_read("sshd_read_authorized_keys.log", "1716802800.990", 740, "/home/alice/.ssh/authorized_keys", "user_home_t",
            "sshd_t", "sshd", "/usr/sbin/sshd", 4410, 1310743,
            ("sshd: alice [priv]",), user="unconfined_u", mode="0100600", ouid=1000)
openat_read("httpd_read_public_html.log", "1716802900.110", 770, "/home/alice/public_html/index.html", "user_home_t",
            "httpd_t", "httpd", "/usr/sbin/httpd", 2915, 1310790, ("/usr/sbin/httpd", "-DFOREGROUND"), uid=48,
            user="unconfined_u", ouid=1000)
openat_read("apache2_read_public_html.log", "1716802900.110", 770, "/home/alice/public_html/index.html", "user_home_t",
            "httpd_t", "apache2", "/usr/sbin/apache2", 2915, 1310790, ("/usr/sbin/apache2", "-k", "start"), uid=33,
            user="unconfined_u", ouid=1000)


# leaked descriptors, revalidated at execve
def leak(name, ts, serial, perms, path, t, tclass, dom, comm, exe, exe_t, pid, ino, argv, interp, ld_t="ld_so_t",
         dev='"vda1"', user="system_u", tcon=None, exe_ino=1572903, ld_ino=1573120, parent="sh"):
    # flush_unauthorized_files() runs before the new comm is set: the AVC names the old program
    tail = f"path=\"{path}\" dev={dev} ino={ino}"
    add(name, event(ts, serial, avc(perms, tail, ctx(dom), tcon or obj(t, user), tclass, pid, parent), "execve",
                    pid=pid, ppid=pid - 1, comm=comm, exe=exe, subj=ctx(dom), success="yes", exit_="0",
                    a=("55c3f2a1c0d0", "55c3f2a1b8f0", "55c3f2a1bd20", "0"), execve=argv,
                    items=[path_item(0, exe, "NORMAL", exe_ino, "0100755", obj(exe_t)),
                           path_item(1, interp, "NORMAL", ld_ino, "0100755", obj(ld_t))],
                    cwd="/root", title=argv))


leak("hostname_leaked_log.log", "1716803000.210", 800, "read write", "/var/log/netjob.log", "var_log_t", "file",
     "hostname_t", "hostname", "/usr/bin/hostname", "hostname_exec_t", 5123, 393233, ("hostname", "-f"),
     "/lib64/ld-linux-x86-64.so.2", parent="netjob.sh")
leak("ping_leaked_pipe.log", "1716803100.320", 830, "write", "pipe:[52814]", None, "fifo_file", "ping_t", "ping",
     "/usr/bin/ping", "ping_exec_t", 5230, 52814, ("ping", "-c1", "10.0.2.2"), "/lib64/ld-linux-x86-64.so.2",
     dev='"pipefs"', tcon=ctx("system_cronjob_t"), parent="checkgw.sh")
leak("ip_leaked_root_log.log", "1716803200.430", 860, "write", "/root/netsetup.log", "admin_home_t", "file",
     "ifconfig_t", "ip", "/usr/sbin/ip", "ifconfig_exec_t", 5310, 2883591, ("ip", "addr", "show"),
     "/lib64/ld-linux-x86-64.so.2", user="unconfined_u", parent="netsetup.sh")
leak("httpd_leaked_backup_log.log", "1716803300.540", 890, "read write", "/var/log/backup.log", "var_log_t", "file",
     "httpd_t", "httpd", "/usr/sbin/httpd", "httpd_exec_t", 5420, 393301, ("/usr/sbin/httpd", "-k", "graceful"),
     "/lib64/ld-linux-x86-64.so.2", parent="backup.sh")


# transition noise (logged only with dontaudit rules off: semodule -DB)
def noise(name, ts, serial, src, dst, comm, exe, exe_t, pid, argv, parent):
    # checked in selinux_bprm_creds_for_exec(), before the new comm: the AVC names the old program
    add(name, event(ts, serial, avc("noatsecure", "", ctx(src), ctx(dst), "process", pid, parent).replace("  scontext", " scontext"),
                    "execve", pid=pid, ppid=pid - 1, comm=comm, exe=exe, subj=ctx(dst), success="yes", exit_="0",
                    a=("7f0e3c0a1e40", "7ffc5b1d8b10", "7ffc5b1d8b40", "0"), execve=argv,
                    items=[path_item(0, exe, "NORMAL", 1572990, "0104755" if "chkpwd" in exe else "0100755", obj(exe_t)),
                           path_item(1, "/lib64/ld-linux-x86-64.so.2", "NORMAL", 1573120, "0100755", obj("ld_so_t"))],
                    title=argv))


noise("sshd_chkpwd_noatsecure.log", "1716803400.650", 920, "sshd_t", "chkpwd_t", "unix_chkpwd", "/usr/sbin/unix_chkpwd",
      "chkpwd_exec_t", 6120, ("/usr/sbin/unix_chkpwd", "alice", "chkexpiry"), "sshd")


# memory protections
def process_perm(name, ts, serial, perm, dom, comm, exe, pid, syscall, title, uid=0, role="system_r", user="system_u"):
    add(name, event(ts, serial, avc(perm, "", ctx(dom, role, user), ctx(dom, role, user), "process", pid, comm)
                    .replace("  scontext", " scontext"), syscall,
                    pid=pid, ppid=pid - 7, comm=comm, exe=exe, subj=ctx(dom, role, user), uid=uid,
                    a=("0", "1000000", "7", "22") if syscall == "mmap" else ("7f5a2c000000", "21000", "7", "0"),
                    title=title))


process_perm("php_execmem.log", "1716803500.760", 950, "execmem", "httpd_t", "php-fpm", "/usr/sbin/php-fpm", 3130,
             "mmap", ("php-fpm: pool www",), uid=33)
process_perm("user_execstack.log", "1716803600.870", 980, "execstack", "user_t", "legacyapp", "/usr/local/bin/legacyapp",
             7021, "mprotect", ("/usr/local/bin/legacyapp",), uid=1000, role="user_r", user="user_u")
process_perm("unconfined_execheap.log", "1716803700.980", 1010, "execheap", "unconfined_t", "legacyapp",
             "/usr/local/bin/legacyapp", 7033, "mprotect", ("/usr/local/bin/legacyapp",), uid=1000,
             role="unconfined_r", user="unconfined_u")


def execmod(name, ts, serial, lib, dom, comm, exe, pid, ino, title, uid):
    add(name, event(ts, serial,
                    avc("execmod", f"path=\"{lib}\" dev=\"vda1\" ino={ino}", ctx(dom), obj("lib_t"), "file", pid, comm),
                    "mprotect", pid=pid, ppid=1, comm=comm, exe=exe, subj=ctx(dom), uid=uid,
                    a=("7f9b3c1d4000", "2000", "5", "0"), title=title))


execmod("httpd_execmod_debian.log", "1716803800.190", 1040, "/usr/lib/x86_64-linux-gnu/libmagick-legacy.so.5",
        "httpd_t", "apache2", "/usr/sbin/apache2", 2930, 1704023, ("/usr/sbin/apache2", "-k", "start"), 33)
execmod("httpd_execmod_fedora.log", "1716803800.190", 1040, "/usr/lib64/libmagick-legacy.so.5", "httpd_t", "httpd",
        "/usr/sbin/httpd", 2930, 1704023, ("/usr/sbin/httpd", "-DFOREGROUND"), 48)


# mounton: mount(2) onto a directory whose type is no mountpoint
add("mount_on_media.log", event(
    "1716803900.200", 1070,
    avc("mounton", 'path="/var/www/html/media" dev="vda1" ino=1835301', ctx("mount_t"), obj("httpd_sys_content_t"),
        "dir", 7410, "mount"), "mount", pid=7410, ppid=7402, comm="mount", exe="/usr/bin/mount", subj=ctx("mount_t"),
    a=("55f1c0b2e6a0", "55f1c0b2e6c0", "55f1c0b2e6e0", "0"),
    items=[path_item(0, "10.0.2.5:/export/media", "UNKNOWN"),
           path_item(1, "/var/www/html/media", "NORMAL", 1835301, "040755", obj("httpd_sys_content_t"))],
    title=("mount", "-t", "nfs", "10.0.2.5:/export/media", "/var/www/html/media")))

# kernel module request (the socket(AF_INET6) of a web server asks for net-pf-10)
add("httpd_module_request.log", event(
    "1716804000.310", 1100,
    avc("module_request", 'kmod="net-pf-10"', ctx("httpd_t"), ctx("kernel_t"), "system", 2940, "httpd"),
    "socket", pid=2940, ppid=1, comm="httpd", exe="/usr/sbin/httpd", subj=ctx("httpd_t"),
    a=("a", "80801", "0", "0"), success="no", exit_="-97", title=("/usr/sbin/httpd", "-DFOREGROUND")))

# dontaudit-hidden: a config file mislabeled with a type a dontaudit rule covers (seen after semodule -DB)
openat_read("named_conf_user_tmp.log", "1716804100.420", 1130, "/etc/bind/named.conf.options", "user_tmp_t",
            "named_t", "named", "/usr/sbin/named", 1201, 786470, ("/usr/sbin/named", "-f", "-u", "bind"),
            perms="read", uid=0, user="unconfined_u", ouid=0)
openat_read("mysqld_conf_user_tmp.log", "1716804200.530", 1160, "/etc/mysql/my.cnf", "user_tmp_t",
            "mysqld_t", "mysqld", "/usr/sbin/mysqld", 1440, 786502, ("/usr/sbin/mysqld",),
            perms="read", uid=0, user="unconfined_u", ouid=0)

# catchall: a correctly labelled object, no boolean: a genuine missing rule
openat_read("php_read_named_conf.log", "1716804300.640", 1190, "/etc/named.conf", "named_conf_t", "httpd_t",
            "php-fpm", "/usr/sbin/php-fpm", 3140, 786511, ("php-fpm: pool www",), uid=48, mode="0100640", ouid=0)

# object unknown: only the AVC (no syscall auditing): name= and ino=, no path
add("httpd_name_only.log",
    "type=AVC msg=audit(1716804400.750:1220): avc:  denied  { read } for  pid=2950 comm=\"httpd\" "
    "name=\"settings.ini\" dev=\"vda1\" ino=2621477 scontext=system_u:system_r:httpd_t:s0 "
    "tcontext=system_u:object_r:var_t:s0 tclass=file permissive=0\n")
add("httpd_name_only_conf.log",
    "type=AVC msg=audit(1716804500.860:1250): avc:  denied  { read } for  pid=2951 comm=\"httpd\" "
    "name=\"named.conf\" dev=\"vda1\" ino=786511 scontext=system_u:system_r:httpd_t:s0 "
    "tcontext=system_u:object_r:named_conf_t:s0 tclass=file permissive=0\n")


# ioctl restricted by an allowxperm rule (avcfix_xperm.te): TCGETS (isatty) on a served file
def ioctl(name, ts, serial, comm, exe, title, uid):
    add(name, event(ts, serial,
                    avc("ioctl", 'path="/var/www/html/index.html" dev="vda1" ino=1835041 ioctlcmd=0x5401',
                        ctx("httpd_t"), obj("httpd_sys_content_t"), "file", 2960, comm),
                    "ioctl", pid=2960, ppid=1, comm=comm, exe=exe, subj=ctx("httpd_t"), uid=uid,
                    a=("b", "5401", "7ffd2c3e1a70", "0"), success="no", exit_="-13", title=title))


ioctl("httpd_ioctl_tcgets.log", "1716804600.970", 1280, "httpd", "/usr/sbin/httpd", ("/usr/sbin/httpd", "-DFOREGROUND"), 48)
ioctl("apache2_ioctl_tcgets.log", "1716804600.970", 1280, "apache2", "/usr/sbin/apache2",
      ("/usr/sbin/apache2", "-k", "start"), 33)


if __name__ == "__main__":
    for n, text in LOGS.items():
        (HERE / n).write_text(text)
    print(len(LOGS), "logs")
