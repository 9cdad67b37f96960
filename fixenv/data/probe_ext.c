/* fixenv verification extension: compiled with the target's include dir and imported by the
 * target interpreter. The guards make headers of another Python fail loudly at compile time. */
#include <Python.h>

#if PY_MAJOR_VERSION != FIXENV_MAJOR || PY_MINOR_VERSION != FIXENV_MINOR
#error "fixenv: these Python.h headers are not for the target Python version"
#endif

#if FIXENV_GIL_DISABLED
#ifndef Py_GIL_DISABLED
#error "fixenv: the target is free-threaded but these headers are not (need the 't' headers)"
#endif
#else
#ifdef Py_GIL_DISABLED
#error "fixenv: these headers are free-threaded but the target is not"
#endif
#endif

static PyObject *fixenv_answer(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return Py_BuildValue("(ii)", PY_MAJOR_VERSION, PY_MINOR_VERSION);
}

static PyMethodDef fixenv_methods[] = {
    {"answer", fixenv_answer, METH_NOARGS, "the header version this module was built with"},
    {NULL, NULL, 0, NULL}
};

#if PY_MAJOR_VERSION >= 3
static struct PyModuleDef fixenv_module = {
    PyModuleDef_HEAD_INIT, "fixenv_probe", NULL, -1, fixenv_methods,
    NULL, NULL, NULL, NULL
};

PyMODINIT_FUNC PyInit_fixenv_probe(void)
{
    return PyModule_Create(&fixenv_module);
}
#else
PyMODINIT_FUNC initfixenv_probe(void)
{
    (void)Py_InitModule("fixenv_probe", fixenv_methods);
}
#endif
