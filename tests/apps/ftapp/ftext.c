/* ftext: a small C extension for the free-threaded interpreter. It declares
 * that it does not need the GIL (Py_mod_gil), so importing it keeps the GIL
 * off, and it links zlib, so its closure has a native library of its own. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <zlib.h>

/* collatz(n): the longest Collatz chain start below n (pure CPU, no Python
 * objects touched while it runs) */
static PyObject *collatz(PyObject *self, PyObject *arg) {
    (void)self;
    long n = PyLong_AsLong(arg);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    long best = 1, best_len = 1;
    for (long i = 1; i < n; i++) {
        long len = 1;
        for (unsigned long long x = (unsigned long long)i; x != 1; len++)
            x = (x & 1) ? 3 * x + 1 : x / 2;
        if (len > best_len) {
            best_len = len;
            best = i;
        }
    }
    return Py_BuildValue("(ll)", best, best_len);
}

static PyObject *crc(PyObject *self, PyObject *arg) {
    (void)self;
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) != 0)
        return NULL;
    unsigned long c = crc32(0L, b.buf, (uInt)b.len);
    PyBuffer_Release(&b);
    return PyLong_FromUnsignedLong(c);
}

static PyMethodDef methods[] = {
    {"collatz", collatz, METH_O, "longest Collatz chain below n: (start, length)"},
    {"crc", crc, METH_O, "zlib's crc32 of a buffer"},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot slots[] = {
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ftext", NULL, 0, methods, slots, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_ftext(void) { return PyModuleDef_Init(&module); }
