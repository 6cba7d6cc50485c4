/* The harness plugin's FastHttpSession.request wrapper, in C: per request, counts the
 * request in flight for the wall-clock second it started in, calls Locust's own
 * request, and counts it out again. The same as harness.load.plugin's
 * _fast_counting_unfinished (its Python twin, which the tests hold it to), for the
 * common case only: a request of a closed-model user without catch_response. Every
 * other call (an open-model arrival, a catch_response request) goes to the Python
 * twin whole, and a request that raises goes to the plugin's _cut_off.
 *
 * Why C: this runs once per request inside Locust's worker, where the Python wrapper's
 * own call layer (twelve parameters bound twice, a frame) was most of what the harness
 * added to bare Locust (bench/load_plugin_instructions.py). Optional: where it is not
 * built (no C compiler), the plugin uses the Python twin.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <time.h>

enum { SELF, METHOD, URL, NAME, DATA, CATCH_RESPONSE };

typedef struct {
    PyObject_HEAD
    PyObject *wrapped;    /* Locust's FastHttpSession.request */
    PyObject *open;       /* harness.load.inflight.OPEN: start second -> in flight */
    PyObject *arrivals;   /* harness.load.arrival.IN_USE: [bool] */
    PyObject *fallback;   /* the Python twin */
    PyObject *cut_off;    /* plugin._cut_off(exc, second, session, method, name, url, started) */
    long last_second;
    PyObject *last_key;   /* last_second as an int object, reused */
    vectorcallfunc vectorcall;
} Counting;

static PyObject *
argument(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, Py_ssize_t index,
         const char *keyword)
{
    if (index < nargs) {
        return args[index];
    }
    if (kwnames != NULL) {
        Py_ssize_t n = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t i = 0; i < n; i++) {
            if (PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, i), keyword) == 0) {
                return args[nargs + i];
            }
        }
    }
    return NULL;
}

static PyObject *
key_for(Counting *self, long second)
{
    if (self->last_key == NULL || self->last_second != second) {
        PyObject *key = PyLong_FromLong(second);
        if (key == NULL) {
            return NULL;
        }
        Py_XSETREF(self->last_key, key);
        self->last_second = second;
    }
    return self->last_key;
}

/* open[key] += delta */
static int
add_open(PyObject *open, PyObject *key, long delta)
{
    PyObject *count = PyDict_GetItemWithError(open, key);
    long value = delta;
    if (count != NULL) {
        value += PyLong_AsLong(count);
        if (value == -1 && PyErr_Occurred()) {
            return -1;
        }
    }
    else if (PyErr_Occurred()) {
        return -1;
    }
    PyObject *updated = PyLong_FromLong(value);
    if (updated == NULL) {
        return -1;
    }
    int done = PyDict_SetItem(open, key, updated);
    Py_DECREF(updated);
    return done;
}

static PyObject *
counting_call(Counting *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *catch_response = argument(args, nargs, kwnames, CATCH_RESPONSE, "catch_response");
    int catching = catch_response != NULL ? PyObject_IsTrue(catch_response) : 0;
    if (catching < 0) {
        return NULL;
    }
    int arrivals = PyObject_IsTrue(PyList_GET_ITEM(self->arrivals, 0));
    if (arrivals < 0) {
        return NULL;
    }
    if (catching || arrivals || nargs < URL + 1) {
        return PyObject_Vectorcall(self->fallback, args, nargsf, kwnames);
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    double started = (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
    PyObject *key = key_for(self, (long)now.tv_sec);
    if (key == NULL) {
        return NULL;
    }
    Py_INCREF(key);
    if (add_open(self->open, key, 1) < 0) {
        Py_DECREF(key);
        return NULL;
    }
    PyObject *response = PyObject_Vectorcall(self->wrapped, args, nargsf, kwnames);
    if (response == NULL) {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        PyErr_NormalizeException(&type, &value, &traceback);
        if (traceback != NULL && value != NULL) {
            PyException_SetTraceback(value, traceback);
        }
        PyObject *name = argument(args, nargs, kwnames, NAME, "name");
        PyObject *when = PyFloat_FromDouble(started);
        PyObject *done = when == NULL ? NULL : PyObject_CallFunctionObjArgs(
            self->cut_off, value != NULL ? value : Py_None, key, args[SELF], args[METHOD],
            name != NULL ? name : Py_None, args[URL], when, NULL);
        Py_XDECREF(when);
        Py_DECREF(key);
        if (done == NULL) {
            Py_XDECREF(type);
            Py_XDECREF(value);
            Py_XDECREF(traceback);
            return NULL;
        }
        Py_DECREF(done);
        PyErr_Restore(type, value, traceback);
        return NULL;
    }
    int closed = add_open(self->open, key, -1);
    Py_DECREF(key);
    if (closed < 0) {
        Py_DECREF(response);
        return NULL;
    }
    return response;
}

static PyObject *
counting_get(PyObject *self, PyObject *obj, PyObject *type)
{
    if (obj == NULL || obj == Py_None) {
        return Py_NewRef(self);
    }
    return PyMethod_New(self, obj);
}

static int
counting_init(Counting *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"wrapped", "open", "arrivals", "fallback", "cut_off", NULL};
    PyObject *wrapped, *open, *arrivals, *fallback, *cut_off;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OO!O!OO", keywords, &wrapped, &PyDict_Type,
                                     &open, &PyList_Type, &arrivals, &fallback, &cut_off)) {
        return -1;
    }
    if (PyList_GET_SIZE(arrivals) != 1) {
        PyErr_SetString(PyExc_ValueError, "arrivals must be a list of one item");
        return -1;
    }
    Py_XSETREF(self->wrapped, Py_NewRef(wrapped));
    Py_XSETREF(self->open, Py_NewRef(open));
    Py_XSETREF(self->arrivals, Py_NewRef(arrivals));
    Py_XSETREF(self->fallback, Py_NewRef(fallback));
    Py_XSETREF(self->cut_off, Py_NewRef(cut_off));
    self->vectorcall = (vectorcallfunc)counting_call;
    return 0;
}

static int
counting_traverse(Counting *self, visitproc visit, void *arg)
{
    Py_VISIT(self->wrapped);
    Py_VISIT(self->open);
    Py_VISIT(self->arrivals);
    Py_VISIT(self->fallback);
    Py_VISIT(self->cut_off);
    return 0;
}

static int
counting_clear(Counting *self)
{
    Py_CLEAR(self->wrapped);
    Py_CLEAR(self->open);
    Py_CLEAR(self->arrivals);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->cut_off);
    Py_CLEAR(self->last_key);
    return 0;
}

static void
counting_dealloc(Counting *self)
{
    PyObject_GC_UnTrack(self);
    counting_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMemberDef counting_members[] = {
    {"__wrapped__", T_OBJECT, offsetof(Counting, wrapped), READONLY, "Locust's own request"},
    {NULL},
};

static PyTypeObject CountingType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "harness.load._inflight.CountingRequest",
    .tp_doc = PyDoc_STR("FastHttpSession.request, counted in flight by its start second"),
    .tp_basicsize = sizeof(Counting),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL
                | Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)counting_init,
    .tp_dealloc = (destructor)counting_dealloc,
    .tp_traverse = (traverseproc)counting_traverse,
    .tp_clear = (inquiry)counting_clear,
    .tp_members = counting_members,
    .tp_descr_get = counting_get,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Counting, vectorcall),
};

static struct PyModuleDef inflight_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "harness.load._inflight",
    .m_doc = PyDoc_STR("The plugin's FastHttpSession wrapper in C (see plugin.py)"),
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__inflight(void)
{
    if (PyType_Ready(&CountingType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&inflight_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "CountingRequest", (PyObject *)&CountingType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
