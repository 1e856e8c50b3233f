/*
 * avcfix.audit._cscan: the optional C accelerator of the hot path.
 *
 * Eight functions. Three are the exact twins of pure-Python functions that
 * stay the reference (tests/integration/test_accel.py compares them on the corpus,
 * generated logs and arbitrary bytes):
 *
 *   scan_block(text, end, first_line, wanted, with_marks)
 *       avcfix.audit.scanner: the keys, denial marks and records of a block
 *       in which every line is one raw record ("type=X msg=audit(ID): ...");
 *       None for any other block (the Python per-line path takes it).
 *   event_fields(raw)
 *       avcfix.audit.fastpath.event_fields: the undecoded fields of a plain
 *       raw AVC event; None when it is not one.
 *   denial_text(d)
 *       avcfix.report.jsondoc.denial_text: one denial's JSON object; what it
 *       does not encode itself goes to the fallback set_denial_fallback gave.
 *
 * One builds on them: event_denials(raw, source, memo), the Denials of a plain
 * raw event (fastpath.build_denials over event_fields; None to decline). The
 * other four are plumbing: configure() hands over the Python pieces the
 * builders need (the Denial and PathItem types, their field names, the
 * resolvers), set_denial_fallback() the Python encoder, keep_heap() tunes
 * malloc for the scan's buffers, and count_newlines() counts lines fast.
 *
 * The record patterns these functions hand-code are avcfix.audit.grammar's
 * (its docstring maps each pattern to the function here that mirrors it;
 * tests/unit/test_audit_grammar.py holds the two to the same answers).
 *
 * Everything read here is untrusted log text: every access is bounded by the
 * buffer's length, nothing is decoded (values are returned as bytes for the
 * Python side to decode), and no input can make it allocate more than a
 * small multiple of its own size.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#define API_VERSION 6

/* ---- character classes (ASCII, as Python's bytes regexes) -------------- */

/* Classes of the raw header's characters, by table (the per-line hot loop). */
enum { K_UDU = 1, K_ID = 2, K_LUS = 4, K_WORD = 8 };
static unsigned char KIND[256];

static void init_kinds(void) {
    for (int c = 0; c < 256; c++)
        KIND[c] = (unsigned char)((((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_') ? K_UDU : 0) |
                                  (((c >= '0' && c <= '9') || c == '.' || c == ':') ? K_ID : 0) |
                                  (((c >= 'a' && c <= 'z') || c == '_') ? K_LUS : 0) |
                                  (((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                    c == '_') ? K_WORD : 0));
}

static inline int c_upper_digit_us(unsigned char c) { return KIND[c] & K_UDU; }
static inline int c_upper_us(unsigned char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
static inline int c_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int c_id(unsigned char c) { return KIND[c] & K_ID; }
static inline int c_hexu(unsigned char c) { return c_digit(c) || (c >= 'A' && c <= 'F'); }
static inline int c_hexl(unsigned char c) { return c_digit(c) || (c >= 'a' && c <= 'f'); }
static inline int c_lower_us(unsigned char c) { return (c >= 'a' && c <= 'z') || c == '_'; }
static inline int c_word(unsigned char c) {
    return c_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static inline int c_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* First occurrence of needle in [p, e), or NULL. */
static inline const char *find(const char *p, const char *e, const char *needle, size_t n) {
    if (p >= e || (size_t)(e - p) < n)
        return NULL;
    return (const char *)memmem(p, (size_t)(e - p), needle, n);
}

/* Does [p, e) start with the literal s? */
static inline int starts(const char *p, const char *e, const char *s, size_t n) {
    return (size_t)(e - p) >= n && memcmp(p, s, n) == 0;
}

/* ---- scan_block ----------------------------------------------------------- */

typedef struct {
    Py_ssize_t s, e;   /* the line, without its "\n" */
    Py_ssize_t ks, ke; /* the key inside audit(...) */
    int mark;          /* holds "avc:" or "SELINUX_ERR" */
} Line;

/* grammar.RAW_HEADER_KEY: the raw header "type=[A-Z_0-9]+ msg=audit([0-9.:]+)"
 * at the start of [p, e): sets the key bounds (offsets from base) and returns the offset just
 * after ")", or -1. */
static Py_ssize_t raw_header(const char *base, const char *p, const char *e, Py_ssize_t *ks, Py_ssize_t *ke) {
    if (!starts(p, e, "type=", 5))
        return -1;
    p += 5;
    const char *q = p;
    while (q < e && c_upper_digit_us((unsigned char)*q))
        q++;
    if (q == p || !starts(q, e, " msg=audit(", 11))
        return -1;
    q += 11;
    const char *k = q;
    while (q < e && c_id((unsigned char)*q))
        q++;
    if (q == k || q >= e || *q != ')')
        return -1;
    *ks = k - base;
    *ke = q - base;
    return q + 1 - base;
}

static int contains(PyObject *container, PyObject *key) {
    if (container == Py_None)
        return 0;
    if (PyDict_CheckExact(container))
        return PyDict_Contains(container, key);
    if (PyAnySet_CheckExact(container))
        return PySet_Contains(container, key);
    return PySequence_Contains(container, key);
}

static PyObject *scan_block(PyObject *self, PyObject *args) {
    PyObject *text, *wanted;
    Py_ssize_t end, first_line;
    int with_marks;
    if (!PyArg_ParseTuple(args, "SnnOp:scan_block", &text, &end, &first_line, &wanted, &with_marks))
        return NULL;
    const char *buf = PyBytes_AS_STRING(text);
    Py_ssize_t len = PyBytes_GET_SIZE(text);
    if (end < 2 || end > len || buf[0] != '\n' || buf[end - 1] != '\n')
        Py_RETURN_NONE;

    Py_ssize_t cap = 1024, n = 0;
    Line *lines = PyMem_Malloc(cap * sizeof(Line));
    if (lines == NULL)
        return PyErr_NoMemory();
    Py_ssize_t p = 1;
    while (p < end) {
        const char *nl = memchr(buf + p, '\n', (size_t)(end - p));
        Py_ssize_t q = nl - buf; /* found: buf[end - 1] is "\n" */
        if (n == cap) {
            Line *more = PyMem_Realloc(lines, 2 * cap * sizeof(Line));
            if (more == NULL) {
                PyMem_Free(lines);
                return PyErr_NoMemory();
            }
            lines = more;
            cap *= 2;
        }
        Line *L = &lines[n++];
        L->s = p;
        L->e = q;
        L->mark = 0;
        if (raw_header(buf, buf + p, buf + q, &L->ks, &L->ke) < 0) {
            PyMem_Free(lines);
            Py_RETURN_NONE;
        }
        p = q + 1;
    }
    /* One record per line: "audit(" nowhere but in the n headers (each
     * occurrence ends in a "(", and the headers hold n of them). */
    Py_ssize_t audits = 0;
    for (const char *at = memchr(buf, '(', (size_t)end); at != NULL;
         at = memchr(at + 1, '(', (size_t)(buf + end - at - 1)))
        if (at - buf >= 5 && memcmp(at - 5, "audit", 5) == 0)
            audits++;
    if (audits != n) {
        PyMem_Free(lines);
        Py_RETURN_NONE;
    }
    /* The lines holding "avc:" or "SELINUX_ERR", found through a rare byte
     * of each ("v", "X") and mapped to their line (hits come in order). */
    if (with_marks) {
        static const struct { const char *needle; Py_ssize_t len, at; char rare; } NEEDLES[] = {
            {"avc:", 4, 1, 'v'}, {"SELINUX_ERR", 11, 6, 'X'},
        };
        for (int k = 0; k < 2; k++) {
            Py_ssize_t li = 0;
            const char *needle = NEEDLES[k].needle;
            Py_ssize_t nlen = NEEDLES[k].len, off = NEEDLES[k].at;
            for (const char *at = memchr(buf, NEEDLES[k].rare, (size_t)end); at != NULL;
                 at = memchr(at + 1, NEEDLES[k].rare, (size_t)(buf + end - at - 1))) {
                Py_ssize_t pos = (at - buf) - off;
                if (pos < 0 || pos + nlen > end || memcmp(buf + pos, needle, (size_t)nlen) != 0)
                    continue;
                while (li < n && lines[li].e < pos + nlen)
                    li++;
                if (li < n && lines[li].s <= pos)
                    lines[li].mark = 1;
            }
        }
    }

    /* Runs of consecutive lines with the same key share one key object. */
    PyObject **run_key = PyMem_Malloc(n * sizeof(PyObject *));
    Py_ssize_t *run_start = PyMem_Malloc((n + 1) * sizeof(Py_ssize_t));
    PyObject *seen = PySet_New(NULL), *marks = PySet_New(NULL), *hits = PyDict_New();
    PyObject *result = NULL;
    Py_ssize_t runs = 0;
    if (run_key == NULL || run_start == NULL || seen == NULL || marks == NULL || hits == NULL) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Line *L = &lines[i];
        Py_ssize_t klen = L->ke - L->ks;
        if (i == 0 || klen != lines[i - 1].ke - lines[i - 1].ks ||
            memcmp(buf + L->ks, buf + lines[i - 1].ks, (size_t)klen) != 0) {
            PyObject *key = PyBytes_FromStringAndSize(buf + L->ks, klen);
            if (key == NULL)
                goto done;
            run_key[runs] = key;
            run_start[runs] = i;
            runs++;
            if (PySet_Add(seen, key) < 0)
                goto done;
        }
        if (L->mark && PySet_Add(marks, run_key[runs - 1]) < 0)
            goto done;
    }
    run_start[runs] = n;
    if (first_line > PY_SSIZE_T_MAX - n) { /* line numbers beyond Py_ssize_t: Python's ints take it */
        Py_CLEAR(result);
        goto decline_block;
    }
    for (Py_ssize_t r = 0; r < runs; r++) {
        PyObject *key = run_key[r];
        int active = PySet_Contains(marks, key);
        if (active == 0)
            active = contains(wanted, key);
        if (active < 0)
            goto done;
        if (!active)
            continue;
        PyObject *ev = PyDict_GetItemWithError(hits, key); /* borrowed */
        if (ev == NULL) {
            if (PyErr_Occurred())
                goto done;
            ev = PyList_New(0);
            if (ev == NULL)
                goto done;
            int rc = PyDict_SetItem(hits, key, ev);
            Py_DECREF(ev); /* the dict holds it */
            if (rc < 0)
                goto done;
        }
        for (Py_ssize_t i = run_start[r]; i < run_start[r + 1]; i++) {
            PyObject *ln = PyLong_FromSsize_t(first_line + i);
            PyObject *rec = ln ? PyBytes_FromStringAndSize(buf + lines[i].s, lines[i].e - lines[i].s) : NULL;
            PyObject *item = rec ? PyTuple_New(2) : NULL;
            if (item == NULL) {
                Py_XDECREF(ln);
                Py_XDECREF(rec);
                goto done;
            }
            PyTuple_SET_ITEM(item, 0, ln);
            PyTuple_SET_ITEM(item, 1, rec);
            int rc = PyList_Append(ev, item);
            Py_DECREF(item);
            if (rc < 0)
                goto done;
        }
    }
    result = Py_BuildValue("(nOOO)", n, seen, marks, hits);
    goto done;
decline_block:
    result = Py_NewRef(Py_None);
done:
    if (run_key != NULL)
        for (Py_ssize_t r = 0; r < runs; r++)
            Py_DECREF(run_key[r]);
    PyMem_Free(run_key);
    PyMem_Free(run_start);
    PyMem_Free(lines);
    Py_XDECREF(seen);
    Py_XDECREF(marks);
    Py_XDECREF(hits);
    return result;
}

/* ---- float repr cache ----------------------------------------------------- */

/* repr() of the event times event_fields makes from "SECS.FRAC" text, kept by
 * value for denial_text (float repr is a tenth of its cost otherwise). Only
 * for texts whose repr is certain without computing it: an integer part of 1
 * to 15 digits (no leading zero) and at most 15 significant digits in all.
 * Such a decimal survives the round trip to a double, no other decimal that
 * short maps to the same double, and repr writes it in fixed notation; so
 * repr is the text without the fraction's trailing zeros (keeping one). */
#define REPR_CACHE 2048 /* more than a JsonStream batch of denials */
static struct {
    double v;
    int used;
    Py_ssize_t len;
    char text[32];
} repr_cache[REPR_CACHE];

static size_t repr_slot(double v) {
    unsigned long long bits;
    memcpy(&bits, &v, sizeof bits);
    bits ^= bits >> 30; /* splitmix64's finalizer */
    bits *= 0xbf58476d1ce4e5b9ULL;
    bits ^= bits >> 27;
    bits *= 0x94d049bb133111ebULL;
    bits ^= bits >> 31;
    return (size_t)(bits % REPR_CACHE);
}

static void remember_repr(double v, const char *is, const char *ie) {
    const char *dot = memchr(is, '.', (size_t)(ie - is));
    if (dot == NULL || dot == is || dot + 1 >= ie)
        return;
    const char *a = is;
    while (a < dot - 1 && *a == '0')
        a++;
    const char *fe = ie;
    while (fe > dot + 2 && fe[-1] == '0')
        fe--;
    if (*a == '0' || dot - a > 15 || (dot - a) + (fe - dot - 1) > 15 || fe - a >= 32)
        return;
    size_t h = repr_slot(v);
    repr_cache[h].v = v;
    repr_cache[h].used = 1;
    repr_cache[h].len = fe - a;
    memcpy(repr_cache[h].text, a, (size_t)(fe - a));
}

/* ---- event_fields --------------------------------------------------------- */

/* A value "[^"]*" (quotes kept) or [0-9A-F]+ at p; returns its end or NULL. */
static const char *quoted_or_hex(const char *p, const char *e) {
    if (p < e && *p == '"') {
        const char *q = memchr(p + 1, '"', (size_t)(e - p - 1));
        return q ? q + 1 : NULL;
    }
    const char *q = p;
    while (q < e && c_hexu((unsigned char)*q))
        q++;
    return q > p ? q : NULL;
}

/* Leftmost match of "NAME(quoted_or_hex)" in [p, e) (the search of
 * grammar.CWD/PROCTITLE); value bounds in *vs, *ve. */
static int search_value(const char *p, const char *e, const char *name, size_t n, const char **vs,
                        const char **ve) {
    for (const char *at = find(p, e, name, n); at != NULL; at = find(at + 1, e, name, n)) {
        const char *v = at + n, *q = quoted_or_hex(v, e);
        if (q != NULL) {
            *vs = v;
            *ve = q;
            return 1;
        }
    }
    return 0;
}

static PyObject *bytes_of(const char *s, const char *e) {
    return PyBytes_FromStringAndSize(s, e - s);
}

/* Longer digit runs make the event go to Python (int() of thousands of
 * digits raises there; the Python twin declines such an event too). */
#define MAX_DIGITS 64

/* int(b"...") of a [-]digits run known to be well formed. */
static PyObject *int_of(const char *s, const char *e) {
    if (e - s <= 18) { /* fits in a long long: no need for the general parser */
        const char *p = s;
        int neg = p < e && *p == '-';
        long long v = 0;
        for (p += neg; p < e; p++)
            v = v * 10 + (*p - '0');
        return PyLong_FromLongLong(neg ? -v : v);
    }
    PyObject *b = bytes_of(s, e);
    if (b == NULL)
        return NULL;
    PyObject *v = PyLong_FromString(PyBytes_AS_STRING(b), NULL, 10);
    Py_DECREF(b);
    return v;
}

/* dict(grammar.FAST_KV.findall(...)) over [p, e), with
 * FAST_KV = rb'\b([A-Za-z_][\w.-]*)=("[^"]*"|[^\s"]*)': the last value of a key
 * wins. The key is the typed grammar's (KV's): "a-pid=7" has the key "a-pid". */
/* The AVC fields fastpath.build_denials reads: event_denials keeps only
 * these, in a tuple indexed by F_* (None where absent) instead of a dict. */
enum { F_SCONTEXT, F_TCONTEXT, F_TCLASS, F_PERMISSIVE, F_PID, F_NAME, F_PATH, F_COMM, F_EXE, F_IOCTLCMD,
       F_CAPABILITY, F_SRC, F_DEST, F_LPORT, F_DPORT, F_SPORT, F_INO, F_DEV, NFIELDS_NEEDED };
static const char *const NEEDED[NFIELDS_NEEDED] = {
    "scontext", "tcontext", "tclass", "permissive", "pid", "name", "path", "comm", "exe", "ioctlcmd",
    "capability", "src", "dest", "lport", "dport", "sport", "ino", "dev"};
static Py_ssize_t NEEDED_LEN[NFIELDS_NEEDED];

/* The F_* index of a field name, or -1. */
static int needed_key(const char *k, Py_ssize_t n) {
    for (int i = 0; i < NFIELDS_NEEDED; i++)
        if (NEEDED_LEN[i] == n && NEEDED[i][0] == k[0] && memcmp(NEEDED[i], k, (size_t)n) == 0)
            return i;
    return -1;
}

/* A field of a needed-fields tuple: NULL when absent (borrowed). */
static inline PyObject *fget(PyObject *f, int k) {
    PyObject *v = PyTuple_GET_ITEM(f, k);
    return v == Py_None ? NULL : v;
}

static PyObject *kv_fields(const char *base, const char *p, const char *e, int all) {
    PyObject *d = all ? PyDict_New() : PyTuple_New(NFIELDS_NEEDED);
    if (d == NULL)
        return NULL;
    if (!all)
        for (int i = 0; i < NFIELDS_NEEDED; i++)
            PyTuple_SET_ITEM(d, i, Py_NewRef(Py_None));
    const char *q = p;
    while (q < e) {
        unsigned char c = (unsigned char)*q;
        if (!(c_lower_us(c) || (c >= 'A' && c <= 'Z')) || (q > base && c_word((unsigned char)q[-1]))) {
            q++;
            continue;
        }
        const char *ks = q;
        while (q < e && (c_word((unsigned char)*q) || *q == '.' || *q == '-'))
            q++;
        if (q >= e || *q != '=')
            continue; /* a start inside the name ends at the same non-'=' byte */
        const char *ke = q, *vs = q + 1, *ve = vs;
        if (vs < e && *vs == '"') {
            const char *close = memchr(vs + 1, '"', (size_t)(e - vs - 1));
            ve = close ? close + 1 : vs; /* no closing quote: the empty alternative */
        } else {
            while (ve < e && !c_space((unsigned char)*ve) && *ve != '"')
                ve++;
        }
        q = ve; /* findall goes on where the match ended */
        if (!all) {
            int k = needed_key(ks, ke - ks);
            if (k < 0)
                continue;
            PyObject *v = bytes_of(vs, ve);
            if (v == NULL) {
                Py_DECREF(d);
                return NULL;
            }
            Py_SETREF(((PyTupleObject *)d)->ob_item[k], v); /* the last value of a key wins */
            continue;
        }
        PyObject *k = bytes_of(ks, ke), *v = bytes_of(vs, ve);
        int rc = (k && v) ? PyDict_SetItem(d, k, v) : -1;
        Py_XDECREF(k);
        Py_XDECREF(v);
        if (rc < 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

/* The fields the typed path reads, per record type the fast path takes
 * (avcfix.audit.fields.READ_FIELDS): one given twice makes the event go to
 * the typed path, which skips that record as malformed. */
#define MAX_READ 20
typedef struct {
    const char *names[MAX_READ + 1]; /* NULL-terminated */
    unsigned char slot[64];          /* KEY_HASH -> index + 1 (0: none), made by init_read_sets */
    Py_ssize_t len[MAX_READ];
    Py_ssize_t longest;
} ReadSet;
static ReadSet READ_AVC = {{"scontext", "tcontext", "tclass", "permissive", "pid", "comm", "exe", "name", "path",
                            "dev", "ino", "src", "dest", "lport", "dport", "sport", "ioctlcmd", "capability", NULL}};
static ReadSet READ_SYSCALL = {{"arch", "syscall", "success", "exit", "pid", "ppid", "uid", "comm", "exe", "subj",
                                "key", "items", NULL}};
static ReadSet READ_PATH = {{"item", "name", "nametype", "obj", "inode", "dev", "mode", NULL}};
static ReadSet READ_CWD = {{"cwd", NULL}};
static ReadSet READ_PROCTITLE = {{"proctitle", NULL}};
static ReadSet READ_SOCKADDR = {{"saddr", NULL}};

#define KEY_HASH(s, n) ((size_t)((n) + (unsigned char)(s)[0] + (unsigned char)(s)[(n) - 1] * 13) & 63)

/* Fills each set's hash slots; -1 (and an ImportError) if two names share one. */
static int init_read_sets(void) {
    ReadSet *sets[] = {&READ_AVC, &READ_SYSCALL, &READ_PATH, &READ_CWD, &READ_PROCTITLE, &READ_SOCKADDR};
    for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
        ReadSet *r = sets[k];
        for (int i = 0; r->names[i] != NULL; i++) {
            Py_ssize_t n = (Py_ssize_t)strlen(r->names[i]);
            size_t h = KEY_HASH(r->names[i], n);
            if (r->slot[h]) {
                PyErr_Format(PyExc_ImportError, "_cscan: field names %s and %s collide", r->names[i],
                             r->names[r->slot[h] - 1]);
                return -1;
            }
            r->slot[h] = (unsigned char)(i + 1);
            r->len[i] = n;
            if (n > r->longest)
                r->longest = n;
        }
    }
    return 0;
}

/* The "=" at eq ends a "key=" at a word start: is key a name of r given
 * before (1), or is it now marked as given (0)? */
static inline int seen_twice(const char *p, const char *eq, const ReadSet *r, unsigned long *seen) {
    const char *ks = eq, *stop = eq - p > r->longest + 1 ? eq - r->longest - 1 : p;
    while (ks > stop && (KIND[(unsigned char)ks[-1]] & K_LUS))
        ks--;
    Py_ssize_t n = eq - ks;
    if (n > r->longest || (ks > p && (KIND[(unsigned char)ks[-1]] & K_WORD)))
        return 0; /* a longer name, or not at a word start */
    int i = r->slot[KEY_HASH(ks, n)] - 1;
    if (i < 0 || r->len[i] != n)
        return 0;
    for (Py_ssize_t k = 0; k < n; k++)
        if (r->names[i][k] != ks[k])
            return 0;
    if (*seen & (1UL << i))
        return 1;
    *seen |= 1UL << i;
    return 0;
}

/* fastpath.repeats_a_field: a name of r given twice as "key=" at a word
 * start (rb"(?<![A-Za-z0-9_])key=" found twice), anywhere in [p, e). Each
 * "=" is looked at once: the [a-z_] run before it is a key when a non-word
 * character (or the start) precedes it. The "="s are found 8 bytes at a time
 * (a record holds dozens of them, a few bytes apart). */
static int repeats_a_field(const char *p, const char *e, const ReadSet *r) {
    unsigned long seen = 0;
    const char *q = p;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const unsigned long long lo7 = 0x7F7F7F7F7F7F7F7FULL, eqs = 0x3D3D3D3D3D3D3D3DULL;
    for (; e - q >= 8; q += 8) {
        unsigned long long w;
        memcpy(&w, q, 8);
        w ^= eqs; /* a zero byte where q has "=" */
        unsigned long long hits = ~(((w & lo7) + lo7) | w | lo7); /* exactly the zero bytes' high bits */
        while (hits) {
            const char *eq = q + (__builtin_ctzll(hits) >> 3);
            hits &= hits - 1;
            if (eq > p && (KIND[(unsigned char)eq[-1]] & K_LUS) && seen_twice(p, eq, r, &seen))
                return 1;
        }
    }
#endif
    for (; q < e; q++)
        if (*q == '=' && q > p && c_lower_us((unsigned char)q[-1]) && seen_twice(p, q, r, &seen))
            return 1;
    return 0;
}

/* An event id's most seconds and serial digits (avcfix.audit.fields
 * MAX_SECONDS_DIGITS, MAX_SERIAL_DIGITS): longer ones go to the typed path,
 * which skips the record. */
#define MAX_SECONDS_DIGITS 10
#define MAX_SERIAL_DIGITS 20

/* grammar.FAST_HEADER = rb"type=([A-Z_]+) msg=audit\((\d+\.\d+):(\d+)\): ?" at the start. */
typedef struct {
    const char *ts, *te;   /* record type */
    const char *is, *ie;   /* "SECS.MS" */
    const char *ss, *se;   /* serial */
    const char *body;      /* after the header */
} Header;

static int header(const char *p, const char *e, Header *h) {
    if (!starts(p, e, "type=", 5))
        return 0;
    const char *q = p + 5;
    h->ts = q;
    while (q < e && c_upper_us((unsigned char)*q))
        q++;
    if (q == h->ts)
        return 0;
    h->te = q;
    if (!starts(q, e, " msg=audit(", 11))
        return 0;
    q += 11;
    h->is = q;
    while (q < e && c_digit((unsigned char)*q))
        q++;
    if (q == h->is || q >= e || *q != '.')
        return 0;
    const char *f = ++q;
    while (q < e && c_digit((unsigned char)*q))
        q++;
    if (q == f || q >= e || *q != ':')
        return 0;
    h->ie = q++;
    h->ss = q;
    while (q < e && c_digit((unsigned char)*q))
        q++;
    if (q == h->ss || !starts(q, e, "):", 2))
        return 0;
    h->se = q;
    q += 2;
    if (q < e && *q == ' ')
        q++;
    h->body = q;
    return 1;
}

static inline int type_is(const Header *h, const char *s) {
    size_t n = strlen(s);
    return (size_t)(h->te - h->ts) == n && memcmp(h->ts, s, n) == 0;
}

/* grammar.SYSCALL_HEAD at p, then " pid=" digits, then grammar.COMM_EXE
 * (see fastpath.event_fields). Returns a new tuple, Py_None (a new
 * reference) when the record is not in the kernel's order, or NULL. */
static PyObject *syscall_fields(const char *p, const char *e) {
    const char *q = p, *as, *ae, *ns, *ne, *xs, *xe;
    int success;
    if (!starts(q, e, "arch=", 5))
        Py_RETURN_NONE;
    q += 5;
    as = q;
    while (q < e && c_hexl((unsigned char)*q))
        q++;
    if (q == as || !starts(q, e, " syscall=", 9))
        Py_RETURN_NONE;
    ae = q;
    q += 9;
    ns = q;
    while (q < e && c_digit((unsigned char)*q))
        q++;
    if (q == ns || q >= e || *q != ' ')
        Py_RETURN_NONE;
    ne = q++;
    if (starts(q, e, "per=", 4)) { /* (?:per=\S+ )? */
        const char *r = q + 4, *rs = r;
        while (r < e && !c_space((unsigned char)*r))
            r++;
        if (r > rs && r < e && *r == ' ')
            q = r + 1;
    }
    if (starts(q, e, "success=yes", 11)) {
        success = 1;
        q += 11;
    } else if (starts(q, e, "success=no", 10)) {
        success = 0;
        q += 10;
    } else {
        Py_RETURN_NONE;
    }
    if (!starts(q, e, " exit=", 6))
        Py_RETURN_NONE;
    q += 6;
    xs = q;
    if (q < e && *q == '-')
        q++;
    const char *d = q;
    while (q < e && c_digit((unsigned char)*q))
        q++;
    if (q == d || q >= e || *q != ' ')
        Py_RETURN_NONE;
    xe = q; /* the match ends after this space; " pid=" is searched from it */
    const char *i = find(q, e, " pid=", 5);
    if (i == NULL)
        Py_RETURN_NONE;
    const char *ps = i + 5, *j = memchr(ps, ' ', (size_t)(e - ps));
    if (j == NULL || j == ps)
        Py_RETURN_NONE;
    for (const char *r = ps; r < j; r++)
        if (!c_digit((unsigned char)*r))
            Py_RETURN_NONE;
    const char *k = find(j, e, " comm=", 6);
    if (k == NULL)
        Py_RETURN_NONE;
    const char *cs = k + 6, *ce = quoted_or_hex(cs, e);
    if (ce == NULL || !starts(ce, e, " exe=", 5))
        Py_RETURN_NONE;
    const char *es = ce + 5, *ee = quoted_or_hex(es, e);
    if (ee == NULL)
        Py_RETURN_NONE;
    if (ne - ns > MAX_DIGITS || xe - xs > MAX_DIGITS || j - ps > MAX_DIGITS)
        Py_RETURN_NONE;
    PyObject *arch = bytes_of(as, ae), *nr = int_of(ns, ne), *ex = int_of(xs, xe), *pid = int_of(ps, j),
             *comm = bytes_of(cs, ce), *exe = bytes_of(es, ee), *out = NULL;
    if (arch && nr && ex && pid && comm && exe)
        out = PyTuple_Pack(7, arch, nr, success ? Py_True : Py_False, ex, pid, comm, exe);
    Py_XDECREF(arch);
    Py_XDECREF(nr);
    Py_XDECREF(ex);
    Py_XDECREF(pid);
    Py_XDECREF(comm);
    Py_XDECREF(exe);
    return out;
}

/* One AVC body: rb"avc:  denied  \{ ([^}]*) \} for  (.*)" (re.S) matched at
 * its start. Returns (line, body, perms, fields), Py_None (a new reference)
 * when it does not match, or NULL. */
static PyObject *avc_fields(PyObject *line, const char *b, const char *e, int all) {
    if (!starts(b, e, "avc:  denied  { ", 16))
        Py_RETURN_NONE;
    const char *ps = b + 16;
    const char *brace = memchr(ps, '}', (size_t)(e - ps));
    if (brace == NULL || brace - 1 < ps || brace[-1] != ' ' || !starts(brace, e, "} for  ", 7) ||
        memchr(ps, '{', (size_t)(brace - ps)) != NULL) /* ([^{}]*) */
        Py_RETURN_NONE;
    PyObject *body = bytes_of(b, e), *perms = bytes_of(ps, brace - 1);
    /* findall runs on the text after "for  " alone: \b holds at its start. */
    PyObject *fields = kv_fields(brace + 7, brace + 7, e, all), *out = NULL;
    if (body && perms && fields)
        out = PyTuple_Pack(4, line, body, perms, fields);
    Py_XDECREF(body);
    Py_XDECREF(perms);
    Py_XDECREF(fields);
    return out;
}

/* all=0 (for event_denials): the AVC field dicts hold only the fields the
 * build reads. */
static PyObject *event_fields_impl(PyObject *raw, int all) {
    if (!PyList_CheckExact(raw))
        Py_RETURN_NONE;
    Py_ssize_t n = PyList_GET_SIZE(raw);
    PyObject *avcs = PyList_New(0), *paths = PyList_New(0);
    PyObject *syscall = NULL, *cwd = NULL, *proctitle = NULL, *saddr = NULL, *out = NULL;
    const char *first_is = NULL, *first_ie = NULL, *first_ss = NULL, *first_se = NULL;
    if (avcs == NULL || paths == NULL)
        goto fail;
    for (Py_ssize_t r = 0; r < n; r++) {
        PyObject *pair = PyList_GET_ITEM(raw, r);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2 ||
            !PyBytes_CheckExact(PyTuple_GET_ITEM(pair, 1)))
            goto decline;
        PyObject *line = PyTuple_GET_ITEM(pair, 0), *piece = PyTuple_GET_ITEM(pair, 1);
        const char *p = PyBytes_AS_STRING(piece), *e = p + PyBytes_GET_SIZE(piece);
        Header h;
        if (!header(p, e, &h) || memchr(p, 0x1d, (size_t)(e - p)) || memchr(p, '\r', (size_t)(e - p)))
            goto decline;
        Py_ssize_t quotes = 0;
        for (const char *q = memchr(p, '"', (size_t)(e - p)); q; q = memchr(q + 1, '"', (size_t)(e - q - 1)))
            quotes++;
        if (quotes % 2)
            goto decline;
        if (first_is == NULL) {
            first_is = h.is;
            first_ie = h.ie;
            first_ss = h.ss;
            first_se = h.se;
        } else if (h.ie - h.is != first_ie - first_is || memcmp(h.is, first_is, (size_t)(h.ie - h.is)) ||
                   h.se - h.ss != first_se - first_ss || memcmp(h.ss, first_ss, (size_t)(h.se - h.ss))) {
            goto decline;
        }
        const ReadSet *read = type_is(&h, "AVC")         ? &READ_AVC
                              : type_is(&h, "SYSCALL")   ? &READ_SYSCALL
                              : type_is(&h, "PATH")      ? &READ_PATH
                              : type_is(&h, "CWD")       ? &READ_CWD
                              : type_is(&h, "PROCTITLE") ? &READ_PROCTITLE
                              : type_is(&h, "SOCKADDR")  ? &READ_SOCKADDR
                                                         : NULL;
        if (read != NULL && repeats_a_field(p, e, read))
            goto decline;
        if (type_is(&h, "AVC")) {
            PyObject *a = avc_fields(line, h.body, e, all);
            if (a == NULL)
                goto fail;
            if (a == Py_None) {
                Py_DECREF(a);
                goto decline;
            }
            int rc = PyList_Append(avcs, a);
            Py_DECREF(a);
            if (rc < 0)
                goto fail;
        } else if (type_is(&h, "SYSCALL")) {
            if (syscall != NULL)
                goto decline;
            syscall = syscall_fields(h.body, e);
            if (syscall == NULL)
                goto fail;
            if (syscall == Py_None)
                goto decline;
        } else if (type_is(&h, "PATH")) {
            /* grammar.PATH_NAME = rb'item=(\d+) name=("[^"]*"|[0-9A-F]+|\(null\))', searched. */
            const char *at, *ds = NULL, *de = NULL, *vs = NULL, *ve = NULL;
            for (at = find(h.body, e, "item=", 5); at != NULL; at = find(at + 1, e, "item=", 5)) {
                const char *q = at + 5;
                ds = q;
                while (q < e && c_digit((unsigned char)*q))
                    q++;
                if (q == ds || !starts(q, e, " name=", 6))
                    continue;
                de = q;
                vs = q + 6;
                ve = quoted_or_hex(vs, e);
                if (ve == NULL && starts(vs, e, "(null)", 6))
                    ve = vs + 6;
                if (ve != NULL)
                    break;
            }
            if (at == NULL || de - ds > MAX_DIGITS)
                goto decline;
            PyObject *item = int_of(ds, de), *name = bytes_of(vs, ve), *body = bytes_of(h.body, e), *pair2 = NULL;
            if (item && name && body)
                pair2 = PyTuple_Pack(3, item, name, body);
            Py_XDECREF(item);
            Py_XDECREF(name);
            Py_XDECREF(body);
            if (pair2 == NULL)
                goto fail;
            int rc = PyList_Append(paths, pair2);
            Py_DECREF(pair2);
            if (rc < 0)
                goto fail;
        } else if (type_is(&h, "CWD") || type_is(&h, "PROCTITLE")) { /* one value each, searched */
            int is_cwd = h.te - h.ts == 3;
            PyObject **slot = is_cwd ? &cwd : &proctitle;
            const char *vs, *ve;
            if (*slot != NULL || !search_value(p, e, is_cwd ? "cwd=" : "proctitle=", is_cwd ? 4 : 10, &vs, &ve))
                goto decline;
            if ((*slot = bytes_of(vs, ve)) == NULL)
                goto fail;
        } else if (type_is(&h, "SOCKADDR")) {
            if (saddr != NULL)
                goto decline;
            const char *vs = NULL, *ve = NULL, *at;
            for (at = find(p, e, "saddr=", 6); at != NULL; at = find(at + 1, e, "saddr=", 6)) {
                vs = ve = at + 6;
                while (ve < e && c_hexu((unsigned char)*ve))
                    ve++;
                if (ve > vs)
                    break;
            }
            saddr = at != NULL ? bytes_of(vs, ve) : PyBytes_FromStringAndSize("", 0);
            if (saddr == NULL)
                goto fail;
        } else if (type_is(&h, "USER_AVC") || type_is(&h, "SELINUX_ERR") || type_is(&h, "USER_SELINUX_ERR") ||
                   type_is(&h, "AVC_PATH")) {
            goto decline;
        }
    }
    if (PyList_GET_SIZE(avcs) == 0 || first_is == NULL || first_se - first_ss > MAX_SERIAL_DIGITS ||
        (const char *)memchr(first_is, '.', (size_t)(first_ie - first_is)) - first_is > MAX_SECONDS_DIGITS)
        goto decline;
    {
        PyObject *tb = bytes_of(first_is, first_ie);
        PyObject *t = tb ? PyFloat_FromString(tb) : NULL;
        if (t != NULL)
            remember_repr(PyFloat_AS_DOUBLE(t), first_is, first_ie);
        PyObject *s = int_of(first_ss, first_se);
        Py_XDECREF(tb);
        if (t && s)
            out = PyTuple_Pack(8, t, s, syscall ? syscall : Py_None, cwd ? cwd : Py_None, paths,
                               proctitle ? proctitle : Py_None, saddr ? saddr : Py_None, avcs);
        Py_XDECREF(t);
        Py_XDECREF(s);
    }
    goto fail; /* out is the result (or NULL with an exception) */
decline:
    out = Py_None;
    Py_INCREF(out);
fail:
    Py_XDECREF(avcs);
    Py_XDECREF(paths);
    Py_XDECREF(syscall);
    Py_XDECREF(cwd);
    Py_XDECREF(proctitle);
    Py_XDECREF(saddr);
    return out;
}

static PyObject *event_fields(PyObject *self, PyObject *raw) {
    return event_fields_impl(raw, 1);
}

/* ---- event_denials -------------------------------------------------------- */

static void map_fields(PyObject *names);

/* Set by configure(): the Python pieces the build calls. */
static PyObject *Denial_type, *py_resolve_path, *py_sort_avcs, *py_ioctl_value, *py_capability_value;
static PyObject *PathItem_type, *py_sort_items;
static PyObject *s_contexts, *s_texts, *s_syscalls, *s_proctitles, *s_perm_sets, *s_sports, *s_words;
static PyObject *s_context, *s_text, *s_syscall, *s_proctitle, *s_perms, *s_sport, *s_word;
static PyObject *s_values, *s_value, *s_otypes, *s_otype, *s_path_items, *s_path_item, *s_limit;
static PyObject *s_avc, *s_null_text, *s_question;

/* Denial's slots, in the order of its fields: a Denial is made by filling
 * them (what its generated __init__ does, through object.__setattr__). */
#define NDENIAL 31
static PyMemberDef *denial_members[NDENIAL];
/* PathItem's slots, the same way. */
#define NPATHITEM 7
static PyMemberDef *path_item_members[NPATHITEM];

/* The slots of class d named by names (n of them) into members; -1 and a
 * TypeError when one is not a plain writable object slot. */
static int slots_of(PyObject *d, PyObject *names, int n, PyMemberDef **members) {
    if (!PyType_Check(d) || !PyTuple_CheckExact(names) || PyTuple_GET_SIZE(names) != n) {
        PyErr_Format(PyExc_TypeError, "configure: %R must be a class with %d named fields", d, n);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        PyObject *descr = PyObject_GetAttr(d, PyTuple_GET_ITEM(names, i));
        if (descr == NULL)
            return -1;
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
                 ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX &&
                 !(((PyMemberDescrObject *)descr)->d_member->flags & READONLY);
        if (ok)
            members[i] = ((PyMemberDescrObject *)descr)->d_member; /* lives as long as the class */
        Py_DECREF(descr);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "configure: field %R is not a plain slot", PyTuple_GET_ITEM(names, i));
            return -1;
        }
    }
    return 0;
}

static PyObject *configure(PyObject *self, PyObject *args) {
    PyObject *d, *names, *rp, *sa, *io, *cap, *pi, *pi_names, *si;
    if (!PyArg_ParseTuple(args, "OOOOOOOOO:configure", &d, &names, &rp, &sa, &io, &cap, &pi, &pi_names, &si))
        return NULL;
    if (slots_of(d, names, NDENIAL, denial_members) < 0 || slots_of(pi, pi_names, NPATHITEM, path_item_members) < 0)
        return NULL;
    map_fields(names);
    Py_XSETREF(Denial_type, Py_NewRef(d));
    Py_XSETREF(PathItem_type, Py_NewRef(pi));
    Py_XSETREF(py_sort_items, Py_NewRef(si));
    Py_XSETREF(py_resolve_path, Py_NewRef(rp));
    Py_XSETREF(py_sort_avcs, Py_NewRef(sa));
    Py_XSETREF(py_ioctl_value, Py_NewRef(io));
    Py_XSETREF(py_capability_value, Py_NewRef(cap));
    Py_RETURN_NONE;
}

/* A memo table lookup; on a miss, the memo's method computes and stores it.
 * Returns a new reference (the value may be None) or NULL. */
/* The memo's tables, fetched once per event_denials call (Memo.clear()s a
 * full table, never replaces it). */
#define NTABLES 10
enum { T_VALUES = 7, T_OTYPES = 8, T_PATH_ITEMS = 9 };
typedef struct {
    PyObject *memo;
    PyObject *tab[NTABLES];
    Py_ssize_t limit; /* memo.limit, read when first needed (-1 before) */
} Memo;

static PyObject *memo_get(Memo *m, int which, PyObject *table_name, PyObject *method, PyObject *key,
                          PyObject *arg2) {
    PyObject *memo = m->memo;
    if (m->tab[which] == NULL && (m->tab[which] = PyObject_GetAttr(memo, table_name)) == NULL)
        return NULL;
    PyObject *table = Py_NewRef(m->tab[which]);
    PyObject *k = key;
    if (arg2 != NULL && (k = PyTuple_Pack(2, key, arg2)) == NULL) {
        Py_DECREF(table);
        return NULL;
    }
    PyObject *v = PyDict_CheckExact(table) ? PyDict_GetItemWithError(table, k) : NULL;
    Py_DECREF(table);
    if (arg2 != NULL)
        Py_DECREF(k);
    if (v != NULL)
        return Py_NewRef(v);
    if (PyErr_Occurred())
        return NULL;
    return arg2 == NULL ? PyObject_CallMethodOneArg(memo, method, key)
                        : PyObject_CallMethodObjArgs(memo, method, key, arg2, NULL);
}

/* ``(memo.word(raw) if raw else None) or fallback`` (a new reference; NULL on error). */
static PyObject *text_or(Memo *mt, PyObject *raw, PyObject *fallback) {
    if (raw == NULL || PyBytes_GET_SIZE(raw) == 0)
        return Py_NewRef(fallback);
    PyObject *t = memo_get(mt, 6, s_words, s_word, raw, NULL);
    if (t == NULL)
        return NULL;
    int truth = PyObject_IsTrue(t);
    if (truth == 1)
        return t;
    Py_DECREF(t);
    return truth < 0 ? NULL : Py_NewRef(fallback);
}

/* bytes.isdigit(): non-empty, ASCII digits only. */
static int all_digits(PyObject *b) {
    Py_ssize_t n = PyBytes_GET_SIZE(b);
    const char *p = PyBytes_AS_STRING(b);
    if (n == 0)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (!c_digit((unsigned char)p[i]))
            return 0;
    return 1;
}

/* ---- PATH items ----------------------------------------------------------- */

/* A character of an unquoted value in a plain PATH body: printable ASCII but
 * the quotes and braces (grammar.PATH_BODY's [!#-&(-z|~]). */
static inline int c_plain(unsigned char c) {
    return c >= 0x21 && c <= 0x7e && c != '"' && c != '\'' && c != '{' && c != '}';
}

/* fastpath.decimal_value / octal_value of [s, e): 1 to max digits of base 10
 * or 8, else None (a new reference; NULL on error). */
static PyObject *digits_value(const char *s, const char *e, int base, Py_ssize_t max) {
    if (s == NULL || e - s < 1 || e - s > max)
        Py_RETURN_NONE;
    char buf[32];
    for (const char *p = s; p < e; p++)
        if (!(c_digit((unsigned char)*p) && (base == 10 || *p < '8')))
            Py_RETURN_NONE;
    memcpy(buf, s, (size_t)(e - s));
    buf[e - s] = '\0';
    return PyLong_FromString(buf, NULL, base);
}

/* memo.table[key] = value, emptying the table first when it is full (Memo._put). */
static int memo_put(Memo *m, PyObject *table, PyObject *key, PyObject *value) {
    if (m->limit < 0) {
        PyObject *l = PyObject_GetAttr(m->memo, s_limit);
        if (l == NULL)
            return -1;
        m->limit = PyLong_AsSsize_t(l);
        Py_DECREF(l);
        if (m->limit == -1 && PyErr_Occurred())
            return -1;
    }
    if (PyDict_GET_SIZE(table) >= m->limit)
        PyDict_Clear(table);
    return PyDict_SetItem(table, key, value);
}

/* memo.value(raw) / memo.otype(raw) of [s, e) (a new reference; NULL on error). */
static PyObject *memo_bytes(Memo *mt, int which, PyObject *table, PyObject *method, const char *s, const char *e) {
    PyObject *raw = bytes_of(s, e);
    if (raw == NULL)
        return NULL;
    PyObject *v = memo_get(mt, which, table, method, raw, NULL);
    Py_DECREF(raw);
    return v;
}

/* fastpath.path_item_of(body, cwd, memo): the PathItem of a plain PATH body
 * (a new reference), Py_None when the body is not plain, or NULL. Sets
 * *relative when the name was made absolute with cwd. */
static PyObject *path_item_of(Memo *mt, PyObject *body, PyObject *cwd_text, int *relative) {
    const char *p = PyBytes_AS_STRING(body), *e = p + PyBytes_GET_SIZE(body), *q;
    *relative = 0;
    /* item=(\d{1,64}) name=("[^"]*"|[0-9A-F]+|\(null\)) */
    if (!starts(p, e, "item=", 5))
        Py_RETURN_NONE;
    const char *ds = p + 5, *de = ds;
    while (de < e && c_digit((unsigned char)*de))
        de++;
    if (de == ds || de - ds > MAX_DIGITS || !starts(de, e, " name=", 6))
        Py_RETURN_NONE;
    const char *ns = de + 6, *ne;
    if (ns < e && *ns == '"') {
        const char *close = memchr(ns + 1, '"', (size_t)(e - ns - 1));
        if (close == NULL)
            Py_RETURN_NONE;
        ne = close + 1;
    } else if (starts(ns, e, "(null)", 6)) {
        ne = ns + 6;
    } else {
        for (ne = ns; ne < e && c_hexu((unsigned char)*ne); ne++)
            ;
        if (ne == ns)
            Py_RETURN_NONE;
    }
    /* ( [A-Za-z_][A-Za-z0-9_]*=("[^"]*"|[!#-&(-z|~]*))* to the end; the last
     * value of a key wins (dict(findall)) */
    enum { K_NAMETYPE, K_INODE, K_DEV, K_MODE, K_OBJ, NK };
    static const char *const KEYS[NK] = {"nametype", "inode", "dev", "mode", "obj"};
    const char *vs[NK] = {NULL}, *ve[NK] = {NULL};
    for (q = ne; q < e;) {
        if (*q != ' ')
            Py_RETURN_NONE;
        const char *ks = ++q;
        if (q >= e || !((*q >= 'A' && *q <= 'Z') || c_lower_us((unsigned char)*q)))
            Py_RETURN_NONE;
        while (q < e && c_word((unsigned char)*q))
            q++;
        const char *ke = q;
        if (q >= e || *q != '=')
            Py_RETURN_NONE;
        const char *s = ++q;
        if (q < e && *q == '"') {
            const char *close = memchr(q + 1, '"', (size_t)(e - q - 1));
            if (close == NULL)
                Py_RETURN_NONE;
            q = close + 1;
        } else {
            while (q < e && c_plain((unsigned char)*q))
                q++;
        }
        for (int k = 0; k < NK; k++)
            if ((size_t)(ke - ks) == strlen(KEYS[k]) && memcmp(ks, KEYS[k], (size_t)(ke - ks)) == 0) {
                vs[k] = s;
                ve[k] = q;
            }
    }
    PyObject *v[NPATHITEM] = {NULL};
    v[0] = int_of(ds, de);
    if (ne - ns == 6 && memcmp(ns, "(null)", 6) == 0) {
        v[1] = Py_NewRef(Py_None);
    } else {
        PyObject *n = memo_bytes(mt, 1, s_texts, s_text, ns, ne);
        if (n != NULL && !PyUnicode_Check(n)) {
            PyErr_SetString(PyExc_TypeError, "memo.text() did not give a str");
            Py_CLEAR(n);
        }
        if (n == NULL) {
            v[1] = NULL;
        } else if (PyUnicode_GET_LENGTH(n) == 0 || PyUnicode_Compare(n, s_null_text) == 0 ||
                   PyUnicode_Compare(n, s_question) == 0) {
            Py_DECREF(n);
            v[1] = Py_NewRef(Py_None);
        } else if (PyUnicode_READ_CHAR(n, 0) == '/') {
            v[1] = n;
        } else {
            v[1] = PyObject_CallFunctionObjArgs(py_resolve_path, n, cwd_text, NULL);
            Py_DECREF(n);
            *relative = 1;
        }
    }
    v[2] = vs[K_NAMETYPE] ? memo_bytes(mt, T_VALUES, s_values, s_value, vs[K_NAMETYPE], ve[K_NAMETYPE])
                          : Py_NewRef(Py_None);
    v[3] = digits_value(vs[K_INODE], ve[K_INODE], 10, 20);
    v[4] = vs[K_DEV] ? memo_bytes(mt, T_VALUES, s_values, s_value, vs[K_DEV], ve[K_DEV]) : Py_NewRef(Py_None);
    v[5] = digits_value(vs[K_MODE], ve[K_MODE], 8, 22);
    v[6] = vs[K_OBJ] ? memo_bytes(mt, T_OTYPES, s_otypes, s_otype, vs[K_OBJ], ve[K_OBJ]) : Py_NewRef(Py_None);
    int ok = !PyErr_Occurred();
    for (int i = 0; i < NPATHITEM && ok; i++)
        ok = v[i] != NULL;
    PyTypeObject *tp = (PyTypeObject *)PathItem_type;
    PyObject *item = ok ? tp->tp_alloc(tp, 0) : NULL;
    for (int i = 0; i < NPATHITEM && item != NULL; i++)
        if (PyMember_SetOne((char *)item, path_item_members[i], v[i]) < 0)
            Py_CLEAR(item);
    for (int i = 0; i < NPATHITEM; i++)
        Py_XDECREF(v[i]);
    if (item == NULL && !PyErr_Occurred())
        PyErr_SetString(PyExc_RuntimeError, "_cscan: incomplete PathItem");
    return item;
}

/* memo.path_item(body, cwd): the memo's PathItem of a PATH body, made with
 * path_item_of on a miss and kept (a new reference; Py_None: the event goes
 * to the typed path; NULL on error). */
static PyObject *path_item_get(Memo *mt, PyObject *body, PyObject *cwd_text) {
    if (mt->tab[T_PATH_ITEMS] == NULL &&
        (mt->tab[T_PATH_ITEMS] = PyObject_GetAttr(mt->memo, s_path_items)) == NULL)
        return NULL;
    PyObject *table = mt->tab[T_PATH_ITEMS];
    if (!PyDict_CheckExact(table))
        return PyObject_CallMethodObjArgs(mt->memo, s_path_item, body, cwd_text, NULL);
    PyObject *key2 = NULL, *v = PyDict_GetItemWithError(table, body); /* borrowed */
    if (v == Py_Ellipsis) {
        if ((key2 = PyTuple_Pack(2, body, cwd_text)) == NULL)
            return NULL;
        v = PyDict_GetItemWithError(table, key2);
    }
    if (v != NULL) {
        Py_XDECREF(key2);
        return Py_NewRef(v);
    }
    if (PyErr_Occurred()) {
        Py_XDECREF(key2);
        return NULL;
    }
    int relative = 0;
    PyObject *item = path_item_of(mt, body, cwd_text, &relative);
    if (item != NULL) {
        int rc;
        if (relative) {
            if (key2 == NULL && (key2 = PyTuple_Pack(2, body, cwd_text)) == NULL)
                rc = -1;
            else
                rc = memo_put(mt, table, body, Py_Ellipsis) < 0 ? -1 : memo_put(mt, table, key2, item);
        } else {
            rc = memo_put(mt, table, body, item);
        }
        if (rc < 0)
            Py_CLEAR(item);
    }
    Py_XDECREF(key2);
    return item;
}


#define DECLINE_IF(cond) do { if (cond) { result = Py_NewRef(Py_None); goto out; } } while (0)
#define CHECK(x) do { if ((x) == NULL) goto out; } while (0)

/* fastpath.build_denials(event_fields(raw), source, memo) for records=False. */
static PyObject *event_denials(PyObject *self, PyObject *args) {
    PyObject *raw, *source, *memo;
    if (!PyArg_ParseTuple(args, "OUO:event_denials", &raw, &source, &memo))
        return NULL;
    if (Denial_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_cscan.configure() was not called");
        return NULL;
    }
    PyObject *fields = event_fields_impl(raw, 0);
    if (fields == NULL || fields == Py_None)
        return fields;
    PyObject *result = NULL, *out = NULL, *resolved = NULL, *avcs = NULL, *paths = NULL, *items = NULL;
    PyObject *pid = Py_None, *comm = Py_None, *exe = Py_None, *sc_name = Py_None, *sc_nr = Py_None,
             *arch = Py_None, *success = Py_None, *exit_ = Py_None, *cwd_text = Py_None, *title = Py_None,
             *sport = Py_None, *scpair = NULL;
    Memo mt = {memo, {NULL}, -1};
    PyObject *time = PyTuple_GET_ITEM(fields, 0), *serial = PyTuple_GET_ITEM(fields, 1);
    PyObject *sc = PyTuple_GET_ITEM(fields, 2), *cwd = PyTuple_GET_ITEM(fields, 3);
    PyObject *proctitle = PyTuple_GET_ITEM(fields, 5), *saddr = PyTuple_GET_ITEM(fields, 6);
    Py_INCREF(pid); Py_INCREF(comm); Py_INCREF(exe); Py_INCREF(sc_name); Py_INCREF(sc_nr);
    Py_INCREF(arch); Py_INCREF(success); Py_INCREF(exit_); Py_INCREF(cwd_text); Py_INCREF(title);
    Py_INCREF(sport);
    paths = Py_NewRef(PyTuple_GET_ITEM(fields, 4));
    avcs = Py_NewRef(PyTuple_GET_ITEM(fields, 7));

    if (sc != Py_None) {
        Py_SETREF(sc_nr, Py_NewRef(PyTuple_GET_ITEM(sc, 1)));
        Py_SETREF(success, Py_NewRef(PyTuple_GET_ITEM(sc, 2)));
        Py_SETREF(exit_, Py_NewRef(PyTuple_GET_ITEM(sc, 3)));
        Py_SETREF(pid, Py_NewRef(PyTuple_GET_ITEM(sc, 4)));
        CHECK(scpair = memo_get(&mt, 0, s_syscalls, s_syscall, PyTuple_GET_ITEM(sc, 0), sc_nr));
        DECLINE_IF(!PyTuple_CheckExact(scpair) || PyTuple_GET_SIZE(scpair) != 2);
        Py_SETREF(sc_name, Py_NewRef(PyTuple_GET_ITEM(scpair, 0)));
        Py_SETREF(arch, Py_NewRef(PyTuple_GET_ITEM(scpair, 1)));
        Py_SETREF(comm, memo_get(&mt, 6, s_words, s_word, PyTuple_GET_ITEM(sc, 5), NULL));
        CHECK(comm);
        Py_SETREF(exe, memo_get(&mt, 6, s_words, s_word, PyTuple_GET_ITEM(sc, 6), NULL));
        CHECK(exe);
    }
    if (cwd != Py_None) {
        Py_SETREF(cwd_text, memo_get(&mt, 1, s_texts, s_text, cwd, NULL));
        CHECK(cwd_text);
    }
    CHECK(resolved = PyList_New(0));
    if (PyList_GET_SIZE(paths) > 1 && PyList_Sort(paths) < 0)
        goto out;
    /* the PathItems, in fields.path_item_order (Python sorts when there are several) */
    if (PyList_GET_SIZE(paths) == 0) {
        CHECK(items = PyTuple_New(0));
    } else {
        PyObject *got = PyList_New(PyList_GET_SIZE(paths));
        CHECK(got);
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(paths); i++) {
            PyObject *pi = path_item_get(&mt, PyTuple_GET_ITEM(PyList_GET_ITEM(paths, i), 2), cwd_text);
            if (pi == NULL || pi == Py_None) {
                Py_XDECREF(pi);
                Py_DECREF(got);
                if (pi == NULL)
                    goto out;
                result = Py_NewRef(Py_None);
                goto out;
            }
            PyList_SET_ITEM(got, i, pi);
        }
        if (PyList_GET_SIZE(got) > 1) {
            Py_SETREF(got, PyObject_CallOneArg(py_sort_items, got));
            CHECK(got);
            if (!PyList_CheckExact(got)) {
                Py_DECREF(got);
                result = Py_NewRef(Py_None);
                goto out;
            }
        }
        items = PyList_AsTuple(got);
        Py_DECREF(got);
        CHECK(items);
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(paths); i++) {
        PyObject *name = PyTuple_GET_ITEM(PyList_GET_ITEM(paths, i), 1);
        if (PyBytes_GET_SIZE(name) == 6 && memcmp(PyBytes_AS_STRING(name), "(null)", 6) == 0)
            continue;
        PyObject *n = memo_get(&mt, 1, s_texts, s_text, name, NULL), *full;
        CHECK(n);
        if (!PyUnicode_Check(n)) {
            Py_DECREF(n);
            result = Py_NewRef(Py_None);
            goto out;
        }
        if (PyUnicode_GET_LENGTH(n) == 0 || PyUnicode_Compare(n, s_null_text) == 0 ||
            PyUnicode_Compare(n, s_question) == 0) {
            Py_DECREF(n);
            continue;
        }
        if (PyUnicode_READ_CHAR(n, 0) == '/')
            full = n;
        else {
            full = PyObject_CallFunctionObjArgs(py_resolve_path, n, cwd_text, NULL);
            Py_DECREF(n);
            CHECK(full);
        }
        int has = PySequence_Contains(resolved, full);
        int rc = has < 0 ? -1 : (has ? 0 : PyList_Append(resolved, full));
        Py_DECREF(full);
        if (rc < 0)
            goto out;
    }
    if (proctitle != Py_None) {
        Py_SETREF(title, memo_get(&mt, 3, s_proctitles, s_proctitle, proctitle, NULL));
        CHECK(title);
    }
    if (saddr != Py_None && PyBytes_GET_SIZE(saddr) > 0) {
        Py_SETREF(sport, memo_get(&mt, 5, s_sports, s_sport, saddr, NULL));
        CHECK(sport);
    }
    if (PyList_GET_SIZE(avcs) > 1) {
        Py_SETREF(avcs, PyObject_CallOneArg(py_sort_avcs, avcs));
        CHECK(avcs);
        DECLINE_IF(!PyList_CheckExact(avcs));
    }
    CHECK(out = PyList_New(0));
    for (Py_ssize_t a = 0; a < PyList_GET_SIZE(avcs); a++) {
        PyObject *avc = PyList_GET_ITEM(avcs, a);
        PyObject *lineno = PyTuple_GET_ITEM(avc, 0), *raw_perms = PyTuple_GET_ITEM(avc, 2);
        PyObject *f = PyTuple_GET_ITEM(avc, 3); /* borrowed values below */
        PyObject *rs = fget(f, F_SCONTEXT), *rt = NULL, *cls = NULL;
        if (rs == NULL && PyErr_Occurred())
            goto out;
        rt = fget(f, F_TCONTEXT);
        if (rt == NULL && PyErr_Occurred())
            goto out;
        cls = fget(f, F_TCLASS);
        if (cls == NULL && PyErr_Occurred())
            goto out;
        DECLINE_IF(rs == NULL || rt == NULL || cls == NULL || PyBytes_GET_SIZE(cls) == 0 ||
                   PyBytes_AS_STRING(cls)[0] == '"');
        PyObject *v[NDENIAL] = {NULL};
        int bad = 0;
        v[4] = memo_get(&mt, 2, s_contexts, s_context, rs, NULL);
        v[5] = memo_get(&mt, 2, s_contexts, s_context, rt, NULL);
        v[7] = memo_get(&mt, 4, s_perm_sets, s_perms, raw_perms, NULL);
        if (v[4] == NULL || v[5] == NULL || v[7] == NULL)
            bad = -1;
        else if (v[4] == Py_None || v[5] == Py_None || !PyTuple_CheckExact(v[7]) || PyTuple_GET_SIZE(v[7]) == 0)
            bad = 1;
        /* port: the first of src dest lport dport sport that is all digits */
        PyObject *port = NULL;
        for (int k = 0; k < 5 && !bad && port == NULL; k++) {
            PyObject *pv = fget(f, F_SRC + k);
            if (pv == NULL) {
                if (PyErr_Occurred())
                    bad = -1;
                continue;
            }
            if (all_digits(pv)) {
                if (PyBytes_GET_SIZE(pv) > MAX_DIGITS)
                    bad = 1;
                else if ((port = PyLong_FromString(PyBytes_AS_STRING(pv), NULL, 10)) == NULL)
                    bad = -1;
            }
        }
        v[22] = port != NULL ? port : Py_NewRef(sport);
        PyObject *avc_pid = bad ? NULL : fget(f, F_PID);
        if (!bad && avc_pid == NULL && PyErr_Occurred())
            bad = -1;
        if (!bad && avc_pid != NULL && PyBytes_GET_SIZE(avc_pid) > MAX_DIGITS)
            bad = 1;
        if (bad) {
            for (int i = 0; i < NDENIAL; i++)
                Py_XDECREF(v[i]);
            if (bad < 0)
                goto out;
            result = Py_NewRef(Py_None);
            goto out;
        }
        v[0] = Py_NewRef(s_avc);
        v[1] = Py_NewRef(Py_None);
        v[2] = Py_NewRef(time);
        v[3] = Py_NewRef(serial);
        v[6] = memo_get(&mt, 6, s_words, s_word, cls, NULL);
        PyObject *perm = fget(f, F_PERMISSIVE);
        v[8] = Py_NewRef((perm != NULL && PyBytes_GET_SIZE(perm) == 1 && PyBytes_AS_STRING(perm)[0] == '1')
                             ? Py_True : Py_False);
        v[9] = (avc_pid != NULL && all_digits(avc_pid)) ? PyLong_FromString(PyBytes_AS_STRING(avc_pid), NULL, 10)
                                                       : Py_NewRef(pid);
        v[10] = text_or(&mt, fget(f, F_COMM), comm);
        v[11] = text_or(&mt, fget(f, F_EXE), exe);
        v[12] = Py_NewRef(sc_name);
        v[13] = Py_NewRef(sc_nr);
        v[14] = Py_NewRef(arch);
        v[15] = Py_NewRef(success);
        v[16] = Py_NewRef(exit_);
        PyObject *nm = fget(f, F_NAME), *pa = fget(f, F_PATH);
        v[17] = nm != NULL ? memo_get(&mt, 1, s_texts, s_text, nm, NULL) : Py_NewRef(Py_None);
        PyObject *path_s = pa != NULL ? memo_get(&mt, 1, s_texts, s_text, pa, NULL) : Py_NewRef(Py_None);
        int path_true = path_s != NULL ? PyObject_IsTrue(path_s) : -1;
        v[18] = path_true == 1 ? Py_NewRef(path_s) : Py_NewRef(Py_None);
        if (path_true == 1) {
            int has = PySequence_Contains(resolved, path_s);
            if (has == 0) {
                PyObject *more = PyList_GetSlice(resolved, 0, PyList_GET_SIZE(resolved));
                if (more != NULL && PyList_Append(more, path_s) == 0)
                    v[19] = PyList_AsTuple(more);
                Py_XDECREF(more);
            } else if (has == 1)
                v[19] = PyList_AsTuple(resolved);
        } else if (path_true == 0)
            v[19] = PyList_AsTuple(resolved);
        Py_XDECREF(path_s);
        v[20] = Py_NewRef(cwd_text);
        v[21] = Py_NewRef(title);
        PyObject *io = fget(f, F_IOCTLCMD), *cp = fget(f, F_CAPABILITY);
        v[23] = io != NULL ? PyObject_CallOneArg(py_ioctl_value, io) : Py_NewRef(Py_None);
        v[24] = cp != NULL ? PyObject_CallOneArg(py_capability_value, cp) : Py_NewRef(Py_None);
        v[25] = Py_NewRef(items);
        PyObject *ino = fget(f, F_INO), *dev = fget(f, F_DEV);
        v[26] = ino != NULL ? digits_value(PyBytes_AS_STRING(ino), PyBytes_AS_STRING(ino) + PyBytes_GET_SIZE(ino), 10, 20)
                            : Py_NewRef(Py_None);
        v[27] = dev != NULL ? memo_get(&mt, T_VALUES, s_values, s_value, dev, NULL) : Py_NewRef(Py_None);
        v[28] = Py_NewRef(source);
        v[29] = Py_NewRef(lineno);
        v[30] = PyTuple_New(0);
        int ok = !PyErr_Occurred();
        for (int i = 0; i < NDENIAL && ok; i++)
            ok = v[i] != NULL;
        PyTypeObject *tp = (PyTypeObject *)Denial_type;
        PyObject *den = ok ? tp->tp_alloc(tp, 0) : NULL;
        for (int i = 0; i < NDENIAL && den != NULL; i++)
            if (PyMember_SetOne((char *)den, denial_members[i], v[i]) < 0)
                Py_CLEAR(den);
        for (int i = 0; i < NDENIAL; i++)
            Py_XDECREF(v[i]);
        if (den == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_RuntimeError, "_cscan.event_denials: incomplete denial");
            goto out;
        }
        int rc = PyList_Append(out, den);
        Py_DECREF(den);
        if (rc < 0)
            goto out;
    }
    result = Py_NewRef(out);
out:
    Py_XDECREF(out);
    Py_XDECREF(resolved);
    Py_XDECREF(items);
    Py_XDECREF(avcs);
    Py_XDECREF(paths);
    Py_XDECREF(scpair);
    Py_DECREF(pid); Py_DECREF(comm); Py_DECREF(exe); Py_DECREF(sc_name); Py_DECREF(sc_nr);
    Py_DECREF(arch); Py_DECREF(success); Py_DECREF(exit_); Py_DECREF(cwd_text); Py_DECREF(title);
    Py_DECREF(sport);
    Py_DECREF(fields);
    for (int i = 0; i < NTABLES; i++)
        Py_XDECREF(mt.tab[i]);
    return result;
}

/* ---- denial_text ---------------------------------------------------------- */

typedef struct {
    char *buf;
    Py_ssize_t len, cap;
} Buf;

static int buf_grow(Buf *b, Py_ssize_t need) {
    if (b->len + need <= b->cap)
        return 0;
    Py_ssize_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + need) {
        if (cap > PY_SSIZE_T_MAX / 2) {
            PyErr_NoMemory();
            return -1;
        }
        cap *= 2;
    }
    char *more = PyMem_Realloc(b->buf, (size_t)cap);
    if (more == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->buf = more;
    b->cap = cap;
    return 0;
}

static int put(Buf *b, const char *s, Py_ssize_t n) {
    if (buf_grow(b, n) < 0)
        return -1;
    memcpy(b->buf + b->len, s, (size_t)n);
    b->len += n;
    return 0;
}

#define PUTS(b, s) put((b), (s), (Py_ssize_t)(sizeof(s) - 1))

static const char HEX[] = "0123456789abcdef";

/* json's encode_basestring_ascii: a quoted, ASCII-only JSON string. */
static int put_str(Buf *b, PyObject *s) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    if (buf_grow(b, 2 + 12 * n) < 0) /* at most a surrogate pair per character */
        return -1;
    char *o = b->buf + b->len;
    *o++ = '"';
    Py_ssize_t i = 0;
    if (kind == PyUnicode_1BYTE_KIND) { /* the usual case: copy the run that needs no escape at once */
        const unsigned char *u = data;
        while (i < n && u[i] >= ' ' && u[i] <= '~' && u[i] != '\\' && u[i] != '"')
            i++;
        memcpy(o, u, (size_t)i);
        o += i;
    }
    for (; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= ' ' && c <= '~' && c != '\\' && c != '"') {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '\\': *o++ = '\\'; break;
        case '"': *o++ = '"'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            if (c >= 0x10000) {
                Py_UCS4 v = c - 0x10000;
                Py_UCS4 hi = 0xd800 | ((v >> 10) & 0x3ff);
                *o++ = 'u';
                *o++ = HEX[(hi >> 12) & 0xf];
                *o++ = HEX[(hi >> 8) & 0xf];
                *o++ = HEX[(hi >> 4) & 0xf];
                *o++ = HEX[hi & 0xf];
                c = 0xdc00 | (v & 0x3ff);
                *o++ = '\\';
            }
            *o++ = 'u';
            *o++ = HEX[(c >> 12) & 0xf];
            *o++ = HEX[(c >> 8) & 0xf];
            *o++ = HEX[(c >> 4) & 0xf];
            *o++ = HEX[c & 0xf];
        }
    }
    *o++ = '"';
    b->len = o - b->buf;
    return 0;
}

/* Writes an ASCII str object (an already encoded piece). */
static int put_ascii(Buf *b, PyObject *s) {
    if (!PyUnicode_Check(s) || !PyUnicode_IS_ASCII(s))
        return 1;
    return put(b, (const char *)PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s));
}

/* 0: written; 1: a value this encoder leaves to Python; -1: error. */
static int put_value(Buf *b, PyObject *v, char kind) {
    if (v == Py_None)
        return PUTS(b, "null");
    switch (kind) {
    case 's':
        return PyUnicode_CheckExact(v) ? put_str(b, v) : 1;
    case 'i': {
        if (!PyLong_CheckExact(v))
            return 1;
        int overflow = 0;
        long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
        if (x == -1 && PyErr_Occurred())
            return -1;
        if (!overflow) { /* int.__repr__ of a 64-bit value */
            char num[24], *end = num + sizeof num, *o = end;
            unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
            do
                *--o = (char)('0' + u % 10);
            while ((u /= 10) != 0);
            if (x < 0)
                *--o = '-';
            return put(b, o, end - o);
        }
        PyObject *r = PyObject_Repr(v);
        if (r == NULL)
            return -1;
        int rc = put_ascii(b, r);
        Py_DECREF(r);
        return rc;
    }
    case 'b': {
        int t = PyObject_IsTrue(v);
        if (t < 0)
            return -1;
        return t ? PUTS(b, "true") : PUTS(b, "false");
    }
    case 'f': {
        if (!PyFloat_CheckExact(v) || !Py_IS_FINITE(PyFloat_AS_DOUBLE(v)))
            return 1;
        double x = PyFloat_AS_DOUBLE(v);
        size_t h = repr_slot(x);
        if (repr_cache[h].used && memcmp(&repr_cache[h].v, &x, sizeof x) == 0)
            return put(b, repr_cache[h].text, repr_cache[h].len);
        char *r = PyOS_double_to_string(PyFloat_AS_DOUBLE(v), 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
        if (r == NULL)
            return -1;
        int rc = put(b, r, (Py_ssize_t)strlen(r));
        PyMem_Free(r);
        return rc;
    }
    case 'l': { /* a list of str, from a tuple or list */
        if (!PyTuple_CheckExact(v) && !PyList_CheckExact(v))
            return 1;
        PyObject *fast = PySequence_Fast(v, "");
        if (fast == NULL)
            return -1;
        Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
        int rc = PUTS(b, "[");
        for (Py_ssize_t i = 0; i < n && rc == 0; i++) {
            PyObject *s = PySequence_Fast_GET_ITEM(fast, i);
            if (i)
                rc = PUTS(b, ", ");
            if (rc == 0)
                rc = PyUnicode_CheckExact(s) ? put_str(b, s) : 1;
        }
        if (rc == 0)
            rc = PUTS(b, "]");
        Py_DECREF(fast);
        return rc;
    }
    }
    return 1;
}

/* The denial's keys in sorted order: (JSON key, attribute, kind). Kind 's'
 * str, 'i' int, 'b' bool, 'f' float, 'l' list of str; 'S'/'T' the escaped
 * contexts passed in, 's'/'t' with an attribute of "scontext"/"tcontext". */
static const struct {
    const char *key, *attr;
    char kind;
} FIELDS[] = {
    {"arch", "arch", 's'},         {"capability", "capability", 'i'}, {"comm", "comm", 's'},
    {"cwd", "cwd", 's'},           {"exe", "exe", 's'},               {"exit", "exit", 'i'},
    {"file", "source", 's'},       {"ioctlcmd", "ioctlcmd", 'i'},     {"kind", "kind", 's'},
    {"line", "line", 'i'},         {"name", "name", 's'},             {"node", "node", 's'},
    {"path", "path", 's'},         {"paths", "paths", 'l'},           {"permissive", "permissive", 'b'},
    {"perms", "perms", 'l'},       {"pid", "pid", 'i'},               {"port", "port", 'i'},
    {"proctitle", "proctitle", 's'}, {"scontext", "scontext", 'S'},       {"serial", "serial", 'i'},
    {"source", "scontext", 'y'},   {"success", "success", 'b'},       {"syscall", "syscall", 's'},
    {"syscall_nr", "syscall_nr", 'i'}, {"target", "tcontext", 'y'},   {"tclass", "tclass", 's'},
    {"tcontext", "tcontext", 'T'},       {"time", "time", 'f'},
};
#define NFIELDS ((int)(sizeof(FIELDS) / sizeof(FIELDS[0])))

static PyObject *attr_names[NFIELDS];
/* FIELDS[f]'s slot in a Denial (index into denial_members), set by configure(). */
static PyMemberDef *field_member[NFIELDS];

/* The value of field f of d: read from its slot when d is exactly a Denial
 * (a borrowed reference turned new), else through getattr. */
static PyObject *field_value(PyObject *d, int f) {
    PyMemberDef *m = field_member[f];
    if (m != NULL && Denial_type != NULL && (PyObject *)Py_TYPE(d) == Denial_type) {
        PyObject *v = *(PyObject **)((char *)d + m->offset);
        if (v != NULL)
            return Py_NewRef(v);
    }
    return PyObject_GetAttr(d, attr_names[f]);
}
static PyObject *type_name; /* "type" */
static PyObject *key_prefix[NFIELDS]; /* '"key": ' with the separators before it */

/* The JSON string of a context (str(c), escaped), cached by identity: the
 * cache holds a reference to each context in it, so no other object can
 * take its address while it is there. */
#define CTX_CACHE 512
static PyObject *ctx_obj[CTX_CACHE], *ctx_json[CTX_CACHE];
static PyObject *py_denial_fallback;

static int put_context(Buf *b, PyObject *c) {
    size_t h = ((size_t)(uintptr_t)c >> 4) % CTX_CACHE;
    if (ctx_obj[h] != c) {
        PyObject *s = PyObject_Str(c);
        if (s == NULL)
            return -1;
        Buf t = {NULL, 0, 0};
        int rc = put_str(&t, s);
        Py_DECREF(s);
        PyObject *json = rc == 0 ? PyUnicode_DecodeASCII(t.buf, t.len, NULL) : NULL;
        PyMem_Free(t.buf);
        if (json == NULL)
            return -1;
        Py_XSETREF(ctx_obj[h], Py_NewRef(c));
        Py_XSETREF(ctx_json[h], json);
    }
    return put_ascii(b, ctx_json[h]);
}

static PyObject *set_denial_fallback(PyObject *self, PyObject *f) {
    Py_XSETREF(py_denial_fallback, Py_NewRef(f));
    Py_RETURN_NONE;
}

static void map_fields(PyObject *names) {
    for (int f = 0; f < NFIELDS; f++) {
        field_member[f] = NULL;
        for (int i = 0; i < NDENIAL; i++)
            if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(names, i), FIELDS[f].attr) == 0)
                field_member[f] = denial_members[i];
    }
}

static PyObject *denial_text(PyObject *self, PyObject *d) {
    Buf b = {NULL, 0, 0};
    int rc = 0;
    for (int f = 0; f < NFIELDS && rc == 0; f++) {
        rc = put_ascii(&b, key_prefix[f]);
        if (rc != 0)
            break;
        char kind = FIELDS[f].kind;
        if (kind == 'S' || kind == 'T') {
            PyObject *c = field_value(d, f);
            if (c == NULL) {
                rc = -1;
                break;
            }
            rc = put_context(&b, c);
            Py_DECREF(c);
            continue;
        }
        PyObject *v = field_value(d, f);
        if (v == NULL) {
            rc = -1;
            break;
        }
        if (kind == 'y') { /* a context's .type, never null */
            PyObject *t = PyObject_GetAttr(v, type_name);
            Py_DECREF(v);
            if (t == NULL) {
                rc = -1;
                break;
            }
            rc = t == Py_None ? 1 : put_value(&b, t, 's');
            Py_DECREF(t);
            continue;
        }
        rc = put_value(&b, v, kind);
        Py_DECREF(v);
    }
    if (rc == 0)
        rc = PUTS(&b, "}");
    PyObject *out = NULL;
    if (rc == 0)
        out = PyUnicode_DecodeASCII(b.buf, b.len, NULL);
    PyMem_Free(b.buf);
    if (rc > 0) { /* a value this encoder leaves to the Python one */
        if (py_denial_fallback == NULL)
            Py_RETURN_NONE;
        return PyObject_CallOneArg(py_denial_fallback, d);
    }
    return out;
}

/* ---- count_newlines ------------------------------------------------------- */

/* bytes(buffer[:end]).count(b"\n") without the copy (for an mmap). */
static PyObject *count_newlines(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t end, count = 0;
    if (!PyArg_ParseTuple(args, "y*n:count_newlines", &view, &end))
        return NULL;
    if (end < 0) /* a slice's end: from the back */
        end = end + view.len < 0 ? 0 : end + view.len;
    if (end > view.len)
        end = view.len;
    const char *p = view.buf, *e = p + end;
    Py_BEGIN_ALLOW_THREADS
    while (p < e && (p = memchr(p, '\n', (size_t)(e - p))) != NULL) {
        count++;
        p++;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyLong_FromSsize_t(count);
}

/* ---- keep_heap ------------------------------------------------------------ */

/* Reading a big log allocates and frees two ~1 MiB buffers per block. glibc
 * serves such sizes with mmap/munmap (and trims the heap top), so every block
 * costs hundreds of page faults: a quarter of the scan's time. This raises
 * both thresholds to nbytes, so freed blocks are reused from the heap (and
 * at most nbytes of free heap stay resident).
 * Returns whether it was applied (glibc only). */
static PyObject *keep_heap(PyObject *self, PyObject *arg) {
    Py_ssize_t n = PyLong_AsSsize_t(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
#ifdef __GLIBC__
    if (n > 0 && n <= (Py_ssize_t)1 << 30 && mallopt(M_MMAP_THRESHOLD, (int)n) == 1 &&
        mallopt(M_TRIM_THRESHOLD, (int)n) == 1)
        Py_RETURN_TRUE;
#endif
    Py_RETURN_FALSE;
}

/* ---- module --------------------------------------------------------------- */

static PyMethodDef methods[] = {
    {"scan_block", scan_block, METH_VARARGS,
     "scan_block(text, end, first_line, wanted, with_marks) -> (lines, seen, marks, records) | None"},
    {"event_fields", event_fields, METH_O, "event_fields(raw) -> fields | None (see fastpath.event_fields)"},
    {"event_denials", event_denials, METH_VARARGS,
     "event_denials(raw, source, memo) -> [Denial] | None (see fastpath.build_denials)"},
    {"keep_heap", keep_heap, METH_O, "keep_heap(nbytes) -> bool: malloc serves blocks up to nbytes from the heap"},
    {"count_newlines", count_newlines, METH_VARARGS, "count_newlines(buffer, end) -> newlines in buffer[:end]"},
    {"configure", configure, METH_VARARGS,
     "configure(Denial, field_names, resolve_path, sort_avcs, ioctl_value, capability_value, PathItem, "
     "path_item_names, sort_items): the Python pieces"},
    {"denial_text", denial_text, METH_O,
     "denial_text(denial) -> str (see jsondoc.denial_text); what it does not encode goes to the fallback "
     "(None without one)"},
    {"set_denial_fallback", set_denial_fallback, METH_O, "set_denial_fallback(f): f(denial) -> str"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cscan", "avcfix's optional C accelerator (see avcfix/audit/accel.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__cscan(void) {
    init_kinds();
    if (init_read_sets() < 0)
        return NULL;
    type_name = PyUnicode_InternFromString("type");
    if (type_name == NULL)
        return NULL;
    for (int f = 0; f < NFIELDS; f++) {
        if (FIELDS[f].attr != NULL && (attr_names[f] = PyUnicode_InternFromString(FIELDS[f].attr)) == NULL)
            return NULL;
        key_prefix[f] = PyUnicode_FromFormat("%s\"%s\": ", f == 0 ? "{" : ", ", FIELDS[f].key);
        if (key_prefix[f] == NULL)
            return NULL;
    }
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(s_contexts, "contexts"); INTERN(s_texts, "texts"); INTERN(s_syscalls, "syscalls");
    INTERN(s_proctitles, "proctitles"); INTERN(s_perm_sets, "perm_sets"); INTERN(s_sports, "sports");
    INTERN(s_context, "context"); INTERN(s_text, "text"); INTERN(s_syscall, "syscall");
    INTERN(s_proctitle, "proctitle"); INTERN(s_perms, "perms"); INTERN(s_sport, "sport");
    INTERN(s_words, "words"); INTERN(s_word, "word");
    INTERN(s_values, "values"); INTERN(s_value, "value"); INTERN(s_otypes, "otypes"); INTERN(s_otype, "otype");
    INTERN(s_path_items, "path_items"); INTERN(s_path_item, "path_item"); INTERN(s_limit, "limit");
    INTERN(s_avc, "AVC"); INTERN(s_null_text, "(null)"); INTERN(s_question, "?");
    for (int i = 0; i < NFIELDS_NEEDED; i++)
        NEEDED_LEN[i] = (Py_ssize_t)strlen(NEEDED[i]);
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddIntConstant(m, "API", API_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
