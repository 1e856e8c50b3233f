/* avcfix.index._policydump: the heavy parts of the policy index read from a
 * binary policy with libsepol (linked statically: policydb_read, the avtab and
 * the conditional list are not exported by libsepol.so).
 *
 * read(data) takes the policy file's bytes and returns a dict of rows ready
 * for the index tables of avcfix/index/build.py, numbered as its setools
 * reader (the reference, kept) numbers them: type and class ids are positions
 * in the name-sorted lists, permission masks use each class's permissions
 * sorted by name, rules come in setools' order (te_avtab by hash slot, then
 * every conditional's true list and false list). tests/test_index_dump.py
 * holds both readers' databases equal.
 *
 * An unreadable policy raises ValueError, never crashes: libsepol's
 * policydb_read validates what it reads, and every value used as an index
 * here is range-checked again.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>
#include <sepol/debug.h>
#include <sepol/policydb/policydb.h>
#include <sepol/policydb/avtab.h>
#include <sepol/policydb/conditional.h>
#include <sepol/policydb/ebitmap.h>
#include <sepol/policydb/hashtab.h>

#define API 1
#define MAXPERMS 32

typedef struct {
    policydb_t *p;
    uint32_t *type_id;   /* type value -> index id (0: none) */
    uint32_t *class_id;  /* class value -> index id */
    uint32_t *bits;      /* class value * MAXPERMS + perm value - 1 -> stored bit */
    const char **perm_names; /* same layout: the permission's name */
    PyObject *te, *xp, *cond_ids, *conds, *seen, *ioctl, *aliases;
} dump_t;

typedef struct { const char *name; uint32_t value; } named_t;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const named_t *)a)->name, ((const named_t *)b)->name);
}

static PyObject *bad(const char *what)
{
    PyErr_Format(PyExc_ValueError, "invalid binary policy: %s", what);
    return NULL;
}

static int bad_i(const char *what)
{
    bad(what);
    return -1;
}

/* Append a new tuple built by Py_BuildValue to a list; 0 or -1. */
static int append_new(PyObject *list, PyObject *item)
{
    int rc;
    if (item == NULL)
        return -1;
    rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

/* ------------------------------------------------------------------ types */

static int alias_cb(hashtab_key_t key, hashtab_datum_t datum, void *arg)
{
    dump_t *d = arg;
    type_datum_t *t = datum;
    uint32_t id;
    if (!((t->primary == 0 && t->flavor == TYPE_TYPE) || t->flavor == TYPE_ALIAS))
        return 0;
    if (t->s.value < 1 || t->s.value > d->p->p_types.nprim || !(id = d->type_id[t->s.value]))
        return bad_i("alias of an unknown type");
    return append_new(d->aliases, Py_BuildValue("(sI)", (char *)key, id));
}

static PyObject *types(dump_t *d, PyObject *out)
{
    policydb_t *p = d->p;
    uint32_t n = p->p_types.nprim, v, count = 0, i;
    named_t *names = PyMem_Calloc(n ? n : 1, sizeof(*names));
    PyObject *rows = PyList_New(0), *members = PyList_New(0), *aliases = PyList_New(0);
    PyObject *result = NULL;
    d->aliases = aliases;
    ebitmap_node_t *node;
    unsigned int bit;

    if (!names || !rows || !members || !aliases) {
        PyErr_NoMemory();
        goto done;
    }
    for (v = 1; v <= n; v++) {
        type_datum_t *t = p->type_val_to_struct[v - 1];
        if (t && p->p_type_val_to_name[v - 1] && (t->flavor == TYPE_ATTRIB || t->flavor == TYPE_TYPE))
            names[count++] = (named_t){p->p_type_val_to_name[v - 1], v};
    }
    qsort(names, count, sizeof(*names), by_name);
    for (i = 0; i < count; i++)
        d->type_id[names[i].value] = i + 1;
    for (i = 0; i < count; i++) {
        type_datum_t *t = p->type_val_to_struct[names[i].value - 1];
        uint32_t tid = i + 1, parent = 0;
        int permissive = (t->flags & TYPE_FLAGS_PERMISSIVE) || ebitmap_get_bit(&p->permissive_map, names[i].value);
        if (t->flavor == TYPE_ATTRIB) {
            if (append_new(rows, Py_BuildValue("(IsiiO)", tid, names[i].name, 1, 0, Py_None)) < 0)
                goto done;
            continue;
        }
        if (t->bounds && (t->bounds > n || !(parent = d->type_id[t->bounds]))) {
            bad("typebounds of an unknown type");
            goto done;
        }
        if (append_new(rows, parent ? Py_BuildValue("(IsiiI)", tid, names[i].name, 0,
                                                    permissive, parent)
                                    : Py_BuildValue("(IsiiO)", tid, names[i].name, 0,
                                                    permissive, Py_None)) < 0
            || append_new(members, Py_BuildValue("(II)", tid, tid)) < 0)
            goto done;
        if (!p->type_attr_map)
            continue;
        ebitmap_for_each_positive_bit(&p->type_attr_map[names[i].value - 1], node, bit) {
            type_datum_t *a;
            if (bit >= n) {
                bad("type attribute map");
                goto done;
            }
            a = p->type_val_to_struct[bit];
            if (bit + 1 != names[i].value && a && a->flavor == TYPE_ATTRIB && d->type_id[bit + 1]
                && append_new(members, Py_BuildValue("(II)", tid, d->type_id[bit + 1])) < 0)
                goto done;
        }
    }
    /* aliases: the symbol table's non-primary type names (as setools) */
    if (hashtab_map(p->p_types.table, alias_cb, d) != 0) {
        if (!PyErr_Occurred())
            bad("type aliases");
        goto done;
    }
    if (PyDict_SetItemString(out, "types", rows) < 0 || PyDict_SetItemString(out, "typeattr", members) < 0
        || PyDict_SetItemString(out, "aliases", aliases) < 0)
        goto done;
    result = out;
done:
    PyMem_Free(names);
    Py_XDECREF(rows);
    Py_XDECREF(members);
    Py_XDECREF(aliases);
    d->aliases = NULL;
    return result;
}

/* ---------------------------------------------------------------- classes */

static int perm_cb(hashtab_key_t key, hashtab_datum_t datum, void *arg)
{
    const char **slots = arg;
    perm_datum_t *perm = datum;
    if (perm->s.value < 1 || perm->s.value > MAXPERMS)
        return -1;
    slots[perm->s.value - 1] = key;
    return 0;
}

static PyObject *classes(dump_t *d, PyObject *out)
{
    policydb_t *p = d->p;
    uint32_t n = p->p_classes.nprim, v, count = 0, i, j;
    named_t *names = PyMem_Calloc(n ? n : 1, sizeof(*names));
    PyObject *rows = PyList_New(0), *result = NULL;

    if (!names || !rows) {
        PyErr_NoMemory();
        goto done;
    }
    for (v = 1; v <= n; v++)
        if (p->class_val_to_struct[v - 1] && p->p_class_val_to_name[v - 1])
            names[count++] = (named_t){p->p_class_val_to_name[v - 1], v};
    qsort(names, count, sizeof(*names), by_name);
    for (i = 0; i < count; i++) {
        class_datum_t *cls = p->class_val_to_struct[names[i].value - 1];
        const char **slots = d->perm_names + (size_t)names[i].value * MAXPERMS;
        named_t perms[MAXPERMS];
        uint32_t np = 0;
        char text[MAXPERMS * 256 + 1];
        size_t len = 0;

        d->class_id[names[i].value] = i + 1;
        if (cls->permissions.nprim > MAXPERMS || hashtab_map(cls->permissions.table, perm_cb, slots) != 0
            || (cls->comdatum && hashtab_map(cls->comdatum->permissions.table, perm_cb, slots) != 0)) {
            bad("class permissions");
            goto done;
        }
        for (j = 0; j < MAXPERMS; j++)
            if (slots[j])
                perms[np++] = (named_t){slots[j], j};
        qsort(perms, np, sizeof(*perms), by_name);
        text[0] = 0;
        for (j = 0; j < np; j++) {
            size_t k = strlen(perms[j].name);
            if (k > 255)
                k = 255;  /* a permission name is at most a few dozen characters */
            d->bits[(size_t)names[i].value * MAXPERMS + perms[j].value] = UINT32_C(1) << j;
            if (j)
                text[len++] = ' ';
            memcpy(text + len, perms[j].name, k);
            len += k;
        }
        if (append_new(rows, Py_BuildValue("(Iss#)", i + 1, names[i].name, text, (Py_ssize_t)len)) < 0)
            goto done;
    }
    if (PyDict_SetItemString(out, "classes", rows) < 0)
        goto done;
    result = out;
done:
    PyMem_Free(names);
    Py_XDECREF(rows);
    return result;
}

/* ------------------------------------------------------------------ rules */

static int xbit(const avtab_extended_perms_t *x, unsigned int i)
{
    return (x->perms[i >> 5] >> (i & 31)) & 1;
}

/* "lo-hi,..." of an ioctl extended permission (as build.py's _ranges). */
static PyObject *ioctl_ranges(const avtab_extended_perms_t *x)
{
    char text[128 * 14 + 1];
    size_t len = 0;
    unsigned int i = 0, j;
    int driver = x->specified == AVTAB_XPERMS_IOCTLDRIVER;
    if (!driver && x->specified != AVTAB_XPERMS_IOCTLFUNCTION)
        return bad("unknown extended permission kind");
    text[0] = 0;
    while (i < 256) {
        if (!xbit(x, i)) {
            i++;
            continue;
        }
        for (j = i; j + 1 < 256 && xbit(x, j + 1); j++)
            ;
        {
            unsigned int lo = driver ? i << 8 : (unsigned)x->driver << 8 | i;
            unsigned int hi = driver ? j << 8 | 0xff : (unsigned)x->driver << 8 | j;
            len += (size_t)snprintf(text + len, sizeof(text) - len, lo == hi ? "%s%u" : "%s%u-%u",
                                    len ? "," : "", lo, hi);
        }
        i = j + 1;
    }
    return PyUnicode_FromStringAndSize(text, (Py_ssize_t)len);
}

/* One avtab entry into d->te / d->xp; cond is 0 (unconditional) or the
 * conditional's tokens (its id is given at its first access-vector rule). */
static int rule(dump_t *d, avtab_ptr_t node, PyObject *tokens, int block, long *cond_id)
{
    policydb_t *p = d->p;
    avtab_key_t *k = &node->key;
    uint32_t spec = k->specified & ~AVTAB_ENABLED, s, t, c, mask, out = 0, b;
    int kind, rc;
    PyObject *row;

    if (k->source_type < 1 || k->source_type > p->p_types.nprim || k->target_type < 1
        || k->target_type > p->p_types.nprim || k->target_class < 1 || k->target_class > p->p_classes.nprim)
        return bad_i("rule out of range");
    s = d->type_id[k->source_type];
    t = d->type_id[k->target_type];
    c = d->class_id[k->target_class];
    if (!s || !t || !c)
        return bad_i("rule on an unknown type or class");
    if (spec & AVTAB_XPERMS) {
        PyObject *cmds;
        kind = spec == AVTAB_XPERMS_ALLOWED ? 1 : spec == AVTAB_XPERMS_AUDITALLOW ? 2 : 3;
        if (!node->datum.xperms)
            return bad_i("extended permission rule without its permissions");
        if (!(cmds = ioctl_ranges(node->datum.xperms)))
            return -1;
        return append_new(d->xp, Py_BuildValue("(iIIION)", kind, s, t, c, d->ioctl, cmds));
    }
    if (spec == AVTAB_ALLOWED)
        kind = 1;
    else if (spec == AVTAB_AUDITALLOW)
        kind = 2;
    else if (spec == AVTAB_AUDITDENY)
        kind = 3;
    else
        return 0;  /* type_transition, type_change, type_member */
    mask = spec == AVTAB_AUDITDENY ? ~node->datum.data : node->datum.data;  /* dontaudit: denied = ~data */
    for (b = 0; b < p->class_val_to_struct[k->target_class - 1]->permissions.nprim && b < MAXPERMS; b++)
        if (mask & (UINT32_C(1) << b))
            out |= d->bits[(size_t)k->target_class * MAXPERMS + b];
    if (!tokens)
        return append_new(d->te, Py_BuildValue("(iIIIIii)", kind, s, t, c, out, 0, 1));
    if (!*cond_id) {
        PyObject *found = PyDict_GetItemWithError(d->cond_ids, tokens), *id;
        if (found) {
            *cond_id = PyLong_AsLong(found);
        } else {
            if (PyErr_Occurred())
                return -1;
            *cond_id = (long)PyDict_GET_SIZE(d->cond_ids) + 1;
            if (!(id = PyLong_FromLong(*cond_id)))
                return -1;
            rc = PyDict_SetItem(d->cond_ids, tokens, id) < 0
                 || append_new(d->conds, Py_BuildValue("(OO)", id, tokens)) < 0;
            Py_DECREF(id);
            if (rc)
                return -1;
        }
    }
    if (!(row = Py_BuildValue("(iIIIIli)", kind, s, t, c, out, *cond_id, block)))
        return -1;
    rc = PySet_Contains(d->seen, row);  /* a conditional's rule repeated in its list (as build.py) */
    if (rc == 0 && (PySet_Add(d->seen, row) < 0 || PyList_Append(d->te, row) < 0))
        rc = -1;
    Py_DECREF(row);
    return rc < 0 ? -1 : 0;
}

static const char *const OPERATORS[] = {NULL, NULL, "!", "||", "&&", "^", "==", "!="};

static PyObject *cond_tokens(dump_t *d, cond_expr_t *e)
{
    PyObject *list = PyList_New(0), *tuple = NULL;
    if (!list)
        return NULL;
    for (; e; e = e->next) {
        PyObject *tok;
        if (e->expr_type == COND_BOOL) {
            if (e->bool < 1 || e->bool > d->p->p_bools.nprim || !d->p->p_bool_val_to_name[e->bool - 1]) {
                bad("conditional on an unknown boolean");
                goto done;
            }
            tok = PyUnicode_FromFormat("b:%s", d->p->p_bool_val_to_name[e->bool - 1]);
        } else if (e->expr_type >= COND_NOT && e->expr_type <= COND_LAST) {
            tok = PyUnicode_FromFormat("o:%s", OPERATORS[e->expr_type]);
        } else {
            bad("unknown conditional operator");
            goto done;
        }
        if (append_new(list, tok) < 0)
            goto done;
    }
    tuple = PyList_AsTuple(list);
done:
    Py_DECREF(list);
    return tuple;
}

static PyObject *rules(dump_t *d, PyObject *out)
{
    avtab_t *tab = &d->p->te_avtab;
    cond_list_t *cn;
    uint32_t slot;
    avtab_ptr_t node;

    for (slot = 0; tab->htable && slot < tab->nslot; slot++)
        for (node = tab->htable[slot]; node; node = node->next)
            if (rule(d, node, NULL, 1, NULL) < 0)
                return NULL;
    for (cn = d->p->cond_list; cn; cn = cn->next) {
        PyObject *tokens = cond_tokens(d, cn->expr);
        cond_av_list_t *l;
        long cond_id = 0;
        int rc = 0;
        if (!tokens)
            return NULL;
        for (l = cn->true_list; l && rc == 0; l = l->next)
            rc = rule(d, l->node, tokens, 1, &cond_id);
        for (l = cn->false_list; l && rc == 0; l = l->next)
            rc = rule(d, l->node, tokens, 0, &cond_id);
        Py_DECREF(tokens);
        if (rc < 0)
            return NULL;
    }
    if (PyDict_SetItemString(out, "te", d->te) < 0 || PyDict_SetItemString(out, "xperms", d->xp) < 0
        || PyDict_SetItemString(out, "conds", d->conds) < 0)
        return NULL;
    return out;
}

/* ------------------------------------------------------------------ roles */

static PyObject *roles(dump_t *d, PyObject *out)
{
    policydb_t *p = d->p;
    PyObject *rows = PyList_New(0), *result = NULL;
    ebitmap_node_t *node;
    unsigned int bit;
    uint32_t v;
    role_allow_t *ra;

    if (!rows)
        return NULL;
    for (v = 1; v <= p->p_roles.nprim; v++) {
        role_datum_t *r = p->role_val_to_struct[v - 1];
        if (!r || !p->p_role_val_to_name[v - 1])
            continue;
        ebitmap_for_each_positive_bit(&r->types.types, node, bit) {
            if (bit >= p->p_types.nprim || !d->type_id[bit + 1]) {
                bad("role of an unknown type");
                goto done;
            }
            if (append_new(rows, Py_BuildValue("(sI)", p->p_role_val_to_name[v - 1], d->type_id[bit + 1])) < 0)
                goto done;
        }
    }
    if (PyDict_SetItemString(out, "role_types", rows) < 0)
        goto done;
    Py_SETREF(rows, PyList_New(0));
    if (!rows)
        goto done;
    for (ra = p->role_allow; ra; ra = ra->next) {
        if (ra->role < 1 || ra->role > p->p_roles.nprim || ra->new_role < 1 || ra->new_role > p->p_roles.nprim
            || !p->p_role_val_to_name[ra->role - 1] || !p->p_role_val_to_name[ra->new_role - 1]) {
            bad("role allow of an unknown role");
            goto done;
        }
        if (append_new(rows, Py_BuildValue("(ss)", p->p_role_val_to_name[ra->role - 1],
                                           p->p_role_val_to_name[ra->new_role - 1])) < 0)
            goto done;
    }
    if (PyDict_SetItemString(out, "role_allow", rows) == 0)
        result = out;
done:
    Py_XDECREF(rows);
    return result;
}

/* ------------------------------------------------------------------- read */

static PyObject *dump_read(PyObject *self, PyObject *arg)
{
    Py_buffer buf;
    policydb_t p;
    policy_file_t pf;
    dump_t d;
    PyObject *out = NULL;
    int rc;

    if (PyObject_GetBuffer(arg, &buf, PyBUF_SIMPLE) < 0)
        return NULL;
    memset(&d, 0, sizeof(d));
    if (policydb_init(&p) != 0) {
        PyBuffer_Release(&buf);
        return PyErr_NoMemory();
    }
    policy_file_init(&pf);
    pf.type = PF_USE_MEMORY;
    pf.data = buf.buf;
    pf.len = (size_t)buf.len;
    /* libsepol reads only the buffer (held by buf) and this policydb */
    Py_BEGIN_ALLOW_THREADS
    rc = policydb_read(&p, &pf, 0);
    Py_END_ALLOW_THREADS
    if (rc != 0 || p.policy_type != POLICY_KERN) {
        bad(rc != 0 ? "libsepol cannot read it" : "not a kernel policy");
        goto done;
    }
    d.p = &p;
    d.type_id = PyMem_Calloc((size_t)p.p_types.nprim + 1, sizeof(uint32_t));
    d.class_id = PyMem_Calloc((size_t)p.p_classes.nprim + 1, sizeof(uint32_t));
    d.bits = PyMem_Calloc(((size_t)p.p_classes.nprim + 1) * MAXPERMS, sizeof(uint32_t));
    d.perm_names = PyMem_Calloc(((size_t)p.p_classes.nprim + 1) * MAXPERMS, sizeof(char *));
    d.te = PyList_New(0);
    d.xp = PyList_New(0);
    d.conds = PyList_New(0);
    d.cond_ids = PyDict_New();
    d.seen = PySet_New(NULL);
    d.ioctl = PyUnicode_InternFromString("ioctl");
    out = PyDict_New();
    if (!d.type_id || !d.class_id || !d.bits || !d.perm_names) {
        PyErr_NoMemory();
        Py_CLEAR(out);
    }
    if (!out || !d.te || !d.xp || !d.conds || !d.cond_ids || !d.seen || !d.ioctl
        || !types(&d, out) || !classes(&d, out) || !rules(&d, out) || !roles(&d, out))
        Py_CLEAR(out);
done:
    PyMem_Free(d.type_id);
    PyMem_Free(d.class_id);
    PyMem_Free(d.bits);
    PyMem_Free(d.perm_names);
    Py_XDECREF(d.te);
    Py_XDECREF(d.xp);
    Py_XDECREF(d.conds);
    Py_XDECREF(d.cond_ids);
    Py_XDECREF(d.seen);
    Py_XDECREF(d.ioctl);
    policydb_destroy(&p);
    PyBuffer_Release(&buf);
    return out;
}

static PyMethodDef methods[] = {
    {"read", dump_read, METH_O,
     "read(data: bytes) -> dict: the rows of the policy index's types, typeattr, aliases,\n"
     "classes, te, xperms, conds (id, tokens), role_types and role_allow, from a binary policy's bytes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_policydump", NULL, -1, methods};

PyMODINIT_FUNC PyInit__policydump(void)
{
    PyObject *m;
    sepol_debug(0);  /* this module's own libsepol copy: no messages on stderr */
    m = PyModule_Create(&module);
    if (m && PyModule_AddIntConstant(m, "API", API) < 0)
        Py_CLEAR(m);
    return m;
}
