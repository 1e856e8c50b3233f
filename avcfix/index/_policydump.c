/* avcfix.index._policydump: the heavy parts of the policy index read from a
 * binary policy with libsepol, linked statically (policydb_read, the avtab and
 * the conditional list are not exported by libsepol.so).
 *
 * read(data) takes the policy file's bytes and returns a dict of rows ready
 * for the index tables of avcfix/index/build.py, numbered as its setools
 * reader (the reference, kept) numbers them: type and class ids are positions
 * in the name-sorted lists, permission masks use each class's permissions
 * sorted by name, rules come in setools' order (te_avtab by hash slot, then
 * each conditional's true list and false list). tests/integration/test_index_dump.py holds
 * both readers' databases equal, row for row.
 *
 * A bad policy raises ValueError, never crashes: policydb_read validates what
 * it reads, and every value used as an index here is range-checked again.
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
#define MAXPERMS 32  /* an access vector has 32 bits */

/* The output lists, in this order, and the keys of read()'s dict. */
enum { TYPES, TYPEATTR, ALIASES, CLASSES, TE, XPERMS, CONDS, ROLE_TYPES, ROLE_ALLOW, NLISTS };
static const char *const KEYS[NLISTS] = {"types", "typeattr", "aliases", "classes", "te", "xperms",
                                         "conds", "role_types", "role_allow"};

typedef struct {
    policydb_t *p;
    uint32_t *type_id;        /* type value -> index id (0: none) */
    uint32_t *class_id;       /* class value -> index id */
    uint32_t *bits;           /* [class value * MAXPERMS + perm value - 1] -> the stored bit */
    const char **perm_names;  /* same layout: the permission's name */
    PyObject *out[NLISTS], *cond_ids, *seen, *ioctl;
} dump_t;

typedef struct { const char *name; uint32_t value; } named_t;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const named_t *)a)->name, ((const named_t *)b)->name);
}

static int bad(const char *what)
{
    PyErr_Format(PyExc_ValueError, "invalid binary policy: %s", what);
    return -1;
}

/* Append a new reference (NULL: an error is set) to a list; 0 or -1. */
static int append_new(PyObject *list, PyObject *item)
{
    int rc;
    if (item == NULL)
        return -1;
    rc = PyList_Append(list, item);
    Py_DECREF(item);
    return rc;
}

/* The values 1..n whose name and datum exist, sorted by name (Python's str
 * order for these ASCII names); NULL with MemoryError. */
static named_t *sorted_names(char **names, void **datums, uint32_t n, uint32_t *count)
{
    named_t *out = PyMem_Calloc(n ? n : 1, sizeof(*out));
    uint32_t v;
    if (!out) {
        PyErr_NoMemory();
        return NULL;
    }
    for (*count = 0, v = 1; v <= n; v++)
        if (names[v - 1] && datums[v - 1])
            out[(*count)++] = (named_t){names[v - 1], v};
    qsort(out, *count, sizeof(*out), by_name);
    return out;
}

/* ------------------------------------------------------------------ types */

static int alias_cb(hashtab_key_t key, hashtab_datum_t datum, void *arg)
{
    dump_t *d = arg;
    type_datum_t *t = datum;
    if (!((t->primary == 0 && t->flavor == TYPE_TYPE) || t->flavor == TYPE_ALIAS))
        return 0;  /* setools' type_is_alias */
    if (t->s.value < 1 || t->s.value > d->p->p_types.nprim || !d->type_id[t->s.value])
        return bad("alias of an unknown type");
    return append_new(d->out[ALIASES], Py_BuildValue("(sI)", (char *)key, d->type_id[t->s.value]));
}

static int types(dump_t *d)
{
    policydb_t *p = d->p;
    uint32_t n = p->p_types.nprim, count, i, parent;
    named_t *names = sorted_names(p->p_type_val_to_name, (void **)p->type_val_to_struct, n, &count);
    ebitmap_node_t *node;
    unsigned int bit;
    int rc = -1;

    if (!names)
        return -1;
    for (i = 0; i < count; i++)
        d->type_id[names[i].value] = i + 1;
    for (i = 0; i < count; i++) {
        uint32_t v = names[i].value, tid = i + 1;
        type_datum_t *t = p->type_val_to_struct[v - 1];
        PyObject *bounds;
        if (t->flavor == TYPE_ATTRIB) {
            if (append_new(d->out[TYPES], Py_BuildValue("(IsiiO)", tid, names[i].name, 1, 0, Py_None)) < 0)
                goto done;
            continue;
        }
        if (t->flavor != TYPE_TYPE)
            continue;
        if (t->bounds && (t->bounds > n || !(parent = d->type_id[t->bounds]))) {
            bad("typebounds of an unknown type");
            goto done;
        }
        if (!t->bounds)
            Py_INCREF(bounds = Py_None);
        else if (!(bounds = PyLong_FromUnsignedLong(parent)))
            goto done;
        if (append_new(d->out[TYPES], Py_BuildValue("(IsiiN)", tid, names[i].name, 0,
                                                    (t->flags & TYPE_FLAGS_PERMISSIVE)
                                                        || ebitmap_get_bit(&p->permissive_map, v), bounds)) < 0
            || append_new(d->out[TYPEATTR], Py_BuildValue("(II)", tid, tid)) < 0)
            goto done;
        ebitmap_for_each_positive_bit(&p->type_attr_map[v - 1], node, bit) {
            type_datum_t *a = bit < n ? p->type_val_to_struct[bit] : NULL;
            if (!a) {
                bad("type attribute map");
                goto done;
            }
            if (bit + 1 != v && a->flavor == TYPE_ATTRIB && d->type_id[bit + 1]
                && append_new(d->out[TYPEATTR], Py_BuildValue("(II)", tid, d->type_id[bit + 1])) < 0)
                goto done;
        }
    }
    rc = hashtab_map(p->p_types.table, alias_cb, d) == 0 ? 0 : -1;
done:
    PyMem_Free(names);
    return rc;
}

/* ---------------------------------------------------------------- classes */

static int perm_cb(hashtab_key_t key, hashtab_datum_t datum, void *arg)
{
    const char **slots = arg;
    perm_datum_t *perm = datum;
    if (perm->s.value < 1 || perm->s.value > MAXPERMS)
        return bad("permission value");
    slots[perm->s.value - 1] = key;
    return 0;
}

static int classes(dump_t *d)
{
    policydb_t *p = d->p;
    uint32_t count, i, j;
    named_t *names = sorted_names(p->p_class_val_to_name, (void **)p->class_val_to_struct,
                                  p->p_classes.nprim, &count);
    int rc = -1;

    if (!names)
        return -1;
    for (i = 0; i < count; i++) {
        class_datum_t *cls = p->class_val_to_struct[names[i].value - 1];
        const char **slots = d->perm_names + (size_t)names[i].value * MAXPERMS;
        named_t perms[MAXPERMS];
        uint32_t np = 0;
        PyObject *text;

        d->class_id[names[i].value] = i + 1;
        if (cls->permissions.nprim > MAXPERMS || hashtab_map(cls->permissions.table, perm_cb, slots) != 0
            || (cls->comdatum && hashtab_map(cls->comdatum->permissions.table, perm_cb, slots) != 0)) {
            if (!PyErr_Occurred())
                bad("class permissions");
            goto done;
        }
        for (j = 0; j < MAXPERMS; j++)
            if (slots[j])
                perms[np++] = (named_t){slots[j], j};
        qsort(perms, np, sizeof(*perms), by_name);
        if (!(text = PyUnicode_FromString("")))
            goto done;
        for (j = 0; j < np; j++) {  /* "a b c": the names in bit order (classes.perms) */
            d->bits[(size_t)names[i].value * MAXPERMS + perms[j].value] = UINT32_C(1) << j;
            PyUnicode_AppendAndDel(&text, PyUnicode_FromFormat(j ? " %s" : "%s", perms[j].name));
            if (!text)
                goto done;
        }
        if (append_new(d->out[CLASSES], Py_BuildValue("(IsN)", i + 1, names[i].name, text)) < 0)
            goto done;
    }
    rc = 0;
done:
    PyMem_Free(names);
    return rc;
}

/* ------------------------------------------------------------------ rules */

static int xbit(const avtab_extended_perms_t *x, unsigned int i)
{
    return (x->perms[i >> 5] >> (i & 31)) & 1;
}

/* "lo-hi,n,..." of an ioctl extended permission (as build.py's _ranges). */
static PyObject *ioctl_ranges(const avtab_extended_perms_t *x)
{
    char text[128 * 14 + 1];  /* at most 128 ranges of at most 12 characters */
    size_t len = 0;
    unsigned int i, j, lo, hi;
    int driver = x->specified == AVTAB_XPERMS_IOCTLDRIVER;

    if (!driver && x->specified != AVTAB_XPERMS_IOCTLFUNCTION)
        return bad("unknown extended permission kind"), NULL;
    for (i = 0; i < 256; i = j + 1) {
        if (!xbit(x, (j = i)))
            continue;
        while (j + 1 < 256 && xbit(x, j + 1))
            j++;
        lo = driver ? i << 8 : (unsigned int)x->driver << 8 | i;   /* a driver: all its 256 commands */
        hi = driver ? j << 8 | 0xff : (unsigned int)x->driver << 8 | j;
        len += (size_t)snprintf(text + len, sizeof(text) - len, lo == hi ? "%s%u" : "%s%u-%u",
                                len ? "," : "", lo, hi);
    }
    return PyUnicode_FromStringAndSize(text, (Py_ssize_t)len);
}

/* One avtab entry into te or xperms. tokens: NULL (unconditional) or the
 * conditional's; its id (*cond_id) is given at its first access-vector rule,
 * and a conditional rule already seen is left out (as build.py does). */
static int rule(dump_t *d, avtab_ptr_t node, PyObject *tokens, int block, long *cond_id)
{
    policydb_t *p = d->p;
    avtab_key_t *k = &node->key;
    uint32_t spec = k->specified & ~AVTAB_ENABLED, s, t, c, mask, out = 0, b;
    int kind, rc;
    PyObject *row, *id;

    if (k->source_type < 1 || k->source_type > p->p_types.nprim || k->target_type < 1
        || k->target_type > p->p_types.nprim || k->target_class < 1 || k->target_class > p->p_classes.nprim
        || !(s = d->type_id[k->source_type]) || !(t = d->type_id[k->target_type])
        || !(c = d->class_id[k->target_class]))
        return bad("rule on an unknown type or class");
    if (spec & AVTAB_XPERMS) {
        kind = spec == AVTAB_XPERMS_ALLOWED ? 1 : spec == AVTAB_XPERMS_AUDITALLOW ? 2 : 3;
        if (!node->datum.xperms)
            return bad("extended permission rule without its permissions");
        return append_new(d->out[XPERMS], Py_BuildValue("(iIIION)", kind, s, t, c, d->ioctl,
                                                        ioctl_ranges(node->datum.xperms)));
    }
    if (spec == AVTAB_ALLOWED || spec == AVTAB_AUDITALLOW)
        kind = spec == AVTAB_ALLOWED ? 1 : 2;
    else if (spec == AVTAB_AUDITDENY)
        kind = 3;
    else
        return 0;  /* type_transition, type_change, type_member */
    mask = spec == AVTAB_AUDITDENY ? ~node->datum.data : node->datum.data;  /* dontaudit: ~data */
    for (b = 0; b < p->class_val_to_struct[k->target_class - 1]->permissions.nprim; b++)
        if (mask & (UINT32_C(1) << b))
            out |= d->bits[(size_t)k->target_class * MAXPERMS + b];
    if (!tokens)
        return append_new(d->out[TE], Py_BuildValue("(iIIIIii)", kind, s, t, c, out, 0, 1));
    if (!*cond_id) {
        if ((id = PyDict_GetItemWithError(d->cond_ids, tokens)) != NULL) {
            *cond_id = PyLong_AsLong(id);
        } else {
            if (PyErr_Occurred() || !(id = PyLong_FromSsize_t(PyDict_GET_SIZE(d->cond_ids) + 1)))
                return -1;
            *cond_id = PyLong_AsLong(id);
            rc = PyDict_SetItem(d->cond_ids, tokens, id) < 0
                 || append_new(d->out[CONDS], Py_BuildValue("(OO)", id, tokens)) < 0;
            Py_DECREF(id);
            if (rc)
                return -1;
        }
    }
    if (!(row = Py_BuildValue("(iIIIIli)", kind, s, t, c, out, *cond_id, block)))
        return -1;
    rc = PySet_Contains(d->seen, row);
    if (rc == 0 && (PySet_Add(d->seen, row) < 0 || PyList_Append(d->out[TE], row) < 0))
        rc = -1;
    Py_DECREF(row);
    return rc < 0 ? -1 : 0;
}

static const char *const OPERATORS[] = {NULL, NULL, "!", "||", "&&", "^", "==", "!="};

/* A conditional's postfix expression as build.py's _cond_token makes it. */
static PyObject *cond_tokens(dump_t *d, cond_expr_t *e)
{
    PyObject *list = PyList_New(0), *tuple = NULL, *tok;
    if (!list)
        return NULL;
    for (; e; e = e->next) {
        if (e->expr_type == COND_BOOL && e->bool >= 1 && e->bool <= d->p->p_bools.nprim
            && d->p->p_bool_val_to_name[e->bool - 1])
            tok = PyUnicode_FromFormat("b:%s", d->p->p_bool_val_to_name[e->bool - 1]);
        else if (e->expr_type >= COND_NOT && e->expr_type <= COND_LAST)
            tok = PyUnicode_FromFormat("o:%s", OPERATORS[e->expr_type]);
        else
            tok = (bad("conditional expression"), NULL);
        if (append_new(list, tok) < 0)
            goto done;
    }
    tuple = PyList_AsTuple(list);
done:
    Py_DECREF(list);
    return tuple;
}

static int rules(dump_t *d)
{
    avtab_t *tab = &d->p->te_avtab;
    cond_list_t *cn;
    cond_av_list_t *l;
    avtab_ptr_t node;
    uint32_t slot;

    for (slot = 0; tab->htable && slot < tab->nslot; slot++)
        for (node = tab->htable[slot]; node; node = node->next)
            if (rule(d, node, NULL, 1, NULL) < 0)
                return -1;
    for (cn = d->p->cond_list; cn; cn = cn->next) {
        PyObject *tokens = cond_tokens(d, cn->expr);
        long cond_id = 0;
        int rc = 0;
        if (!tokens)
            return -1;
        for (l = cn->true_list; l && rc == 0; l = l->next)
            rc = rule(d, l->node, tokens, 1, &cond_id);
        for (l = cn->false_list; l && rc == 0; l = l->next)
            rc = rule(d, l->node, tokens, 0, &cond_id);
        Py_DECREF(tokens);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ roles */

static int roles(dump_t *d)
{
    policydb_t *p = d->p;
    char **name = p->p_role_val_to_name;
    ebitmap_node_t *node;
    unsigned int bit;
    role_allow_t *ra;
    uint32_t v;

    for (v = 1; v <= p->p_roles.nprim; v++) {
        if (!p->role_val_to_struct[v - 1] || !name[v - 1])
            continue;
        ebitmap_for_each_positive_bit(&p->role_val_to_struct[v - 1]->types.types, node, bit) {
            if (bit >= p->p_types.nprim || !d->type_id[bit + 1])
                return bad("role of an unknown type");
            if (append_new(d->out[ROLE_TYPES], Py_BuildValue("(sI)", name[v - 1], d->type_id[bit + 1])) < 0)
                return -1;
        }
    }
    for (ra = p->role_allow; ra; ra = ra->next) {
        if (ra->role < 1 || ra->role > p->p_roles.nprim || ra->new_role < 1 || ra->new_role > p->p_roles.nprim
            || !name[ra->role - 1] || !name[ra->new_role - 1])
            return bad("role allow of an unknown role");
        if (append_new(d->out[ROLE_ALLOW], Py_BuildValue("(ss)", name[ra->role - 1], name[ra->new_role - 1])) < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------- read */

static PyObject *dump_read(PyObject *self, PyObject *arg)
{
    Py_buffer buf;
    policydb_t p;
    policy_file_t pf;
    dump_t d;
    PyObject *result = NULL;
    size_t nclass;
    int rc, i;

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
    Py_BEGIN_ALLOW_THREADS  /* libsepol touches only the buffer (held) and this policydb */
    rc = policydb_read(&p, &pf, 0);
    Py_END_ALLOW_THREADS
    if (rc != 0 || p.policy_type != POLICY_KERN || !p.type_attr_map) {
        bad(rc != 0 ? "libsepol cannot read it" : p.policy_type != POLICY_KERN ? "not a kernel policy" : "no types");
        goto done;
    }
    d.p = &p;
    nclass = (size_t)p.p_classes.nprim + 1;
    d.type_id = PyMem_Calloc((size_t)p.p_types.nprim + 1, sizeof(*d.type_id));
    d.class_id = PyMem_Calloc(nclass, sizeof(*d.class_id));
    d.bits = PyMem_Calloc(nclass * MAXPERMS, sizeof(*d.bits));
    d.perm_names = PyMem_Calloc(nclass * MAXPERMS, sizeof(*d.perm_names));
    if (!d.type_id || !d.class_id || !d.bits || !d.perm_names) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < NLISTS; i++)
        if (!(d.out[i] = PyList_New(0)))
            goto done;
    if (!(d.cond_ids = PyDict_New()) || !(d.seen = PySet_New(NULL)) || !(d.ioctl = PyUnicode_FromString("ioctl"))
        || types(&d) < 0 || classes(&d) < 0 || rules(&d) < 0 || roles(&d) < 0 || !(result = PyDict_New()))
        goto done;
    for (i = 0; i < NLISTS; i++)
        if (PyDict_SetItemString(result, KEYS[i], d.out[i]) < 0) {
            Py_CLEAR(result);
            break;
        }
done:
    PyMem_Free(d.type_id);
    PyMem_Free(d.class_id);
    PyMem_Free(d.bits);
    PyMem_Free(d.perm_names);
    for (i = 0; i < NLISTS; i++)
        Py_XDECREF(d.out[i]);
    Py_XDECREF(d.cond_ids);
    Py_XDECREF(d.seen);
    Py_XDECREF(d.ioctl);
    policydb_destroy(&p);
    PyBuffer_Release(&buf);
    return result;
}

static PyMethodDef methods[] = {
    {"read", dump_read, METH_O,
     "read(data: bytes) -> dict: the rows of the policy index's types, typeattr, aliases, classes,\n"
     "te, xperms, conds ((id, tokens)), role_types and role_allow, from a binary policy's bytes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_policydump", NULL, -1, methods};

PyMODINIT_FUNC PyInit__policydump(void)
{
    PyObject *m;
    sepol_debug(0);  /* this module's own copy of libsepol: no messages on stderr */
    m = PyModule_Create(&module);
    if (m && PyModule_AddIntConstant(m, "API", API) < 0)
        Py_CLEAR(m);
    return m;
}
