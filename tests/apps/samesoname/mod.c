/* An extension module (MODNAME) whose value comes from libsame.so.1. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

int same_value(void);

static PyObject *value(PyObject *self, PyObject *args) {
    (void)self;
    (void)args;
    return PyLong_FromLong(same_value());
}

static PyMethodDef methods[] = {{"value", value, METH_NOARGS, "libsame's value"}, {0}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, MODSTR, NULL, -1, methods};

#define INIT2(n) PyInit_##n
#define INIT(n) INIT2(n)
PyMODINIT_FUNC INIT(MODNAME)(void) { return PyModule_Create(&def); }
