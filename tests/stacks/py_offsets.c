/* The offsets unwedge's CPython layout table (crates/stacks/src/python/
 * layout.rs) claims, computed by the compiler from an interpreter's own
 * internal headers: tests/stacks_python.rs builds this against each
 * installed CPython's include directory and compares, field by field.
 * Prints "name value" lines. */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <frameobject.h>
#if PY_VERSION_HEX >= 0x030B0000
#include <internal/pycore_frame.h>
#endif
#if PY_VERSION_HEX >= 0x03090000
#include <internal/pycore_runtime.h>
#include <internal/pycore_interp.h>
#else
#include <internal/pycore_pystate.h>
#endif
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define P(name, expr) printf("%s %zu\n", name, (size_t)(expr))

static unsigned state_bits(int which) {
    PyASCIIObject a;
    memset(&a, 0, sizeof a);
    switch (which) {
    case 0: a.state.kind = 7; break;
    case 1: a.state.compact = 1; break;
    case 2: a.state.ascii = 1; break;
#if PY_VERSION_HEX < 0x030C0000
    case 3: a.state.ready = 1; break;
#endif
    }
    unsigned v;
    memcpy(&v, (char *)&a + offsetof(PyASCIIObject, state), sizeof v);
    return v;
}

int main(void) {
    P("minor", PY_MINOR_VERSION);
    P("interpreters_head", offsetof(_PyRuntimeState, interpreters.head));
#if PY_VERSION_HEX < 0x030C0000
    P("gil_runtime_locked", offsetof(_PyRuntimeState, ceval.gil.locked));
    P("gil_runtime_holder", offsetof(_PyRuntimeState, ceval.gil.last_holder));
#else
    P("gil_interp_ptr", offsetof(PyInterpreterState, ceval.gil));
    P("gil_interp_locked", offsetof(struct _gil_runtime_state, locked));
    P("gil_interp_holder", offsetof(struct _gil_runtime_state, last_holder));
#endif
    P("interp_next", offsetof(PyInterpreterState, next));
#if PY_VERSION_HEX >= 0x030B0000
    P("interp_threads", offsetof(PyInterpreterState, threads.head));
    P("ts_native_id", offsetof(PyThreadState, native_thread_id));
#else
    P("interp_threads", offsetof(PyInterpreterState, tstate_head));
#endif
    P("ts_next", offsetof(PyThreadState, next));
    P("ts_interp", offsetof(PyThreadState, interp));
    P("ts_thread_id", offsetof(PyThreadState, thread_id));
#if PY_VERSION_HEX >= 0x030D0000
    P("head_direct", offsetof(PyThreadState, current_frame));
#elif PY_VERSION_HEX >= 0x030B0000
    P("head_cframe", offsetof(PyThreadState, cframe));
    P("head_current", offsetof(_PyCFrame, current_frame));
#else
    P("head_direct", offsetof(PyThreadState, frame));
#endif
#if PY_VERSION_HEX >= 0x030B0000
    P("frame_previous", offsetof(_PyInterpreterFrame, previous));
#if PY_VERSION_HEX >= 0x030D0000
    P("frame_code", offsetof(_PyInterpreterFrame, f_executable));
    P("frame_instr", offsetof(_PyInterpreterFrame, instr_ptr));
#else
    P("frame_code", offsetof(_PyInterpreterFrame, f_code));
    P("frame_instr", offsetof(_PyInterpreterFrame, prev_instr));
#endif
    P("frame_owner", offsetof(_PyInterpreterFrame, owner));
    P("co_qualname", offsetof(PyCodeObject, co_qualname));
    P("co_code", offsetof(PyCodeObject, co_code_adaptive));
    P("co_lines", offsetof(PyCodeObject, co_linetable));
#else
    P("frame_back", offsetof(PyFrameObject, f_back));
    P("frame_code", offsetof(PyFrameObject, f_code));
    P("frame_lasti", offsetof(PyFrameObject, f_lasti));
#if PY_VERSION_HEX >= 0x030A0000
    P("co_lines", offsetof(PyCodeObject, co_linetable));
#else
    P("co_lines", offsetof(PyCodeObject, co_lnotab));
#endif
#endif
    P("co_filename", offsetof(PyCodeObject, co_filename));
    P("co_name", offsetof(PyCodeObject, co_name));
    P("co_firstlineno", offsetof(PyCodeObject, co_firstlineno));
    P("ob_type", offsetof(PyObject, ob_type));
    P("ob_size", offsetof(PyVarObject, ob_size));
    P("bytes_data", offsetof(PyBytesObject, ob_sval));
    P("str_length", offsetof(PyASCIIObject, length));
    P("str_state", offsetof(PyASCIIObject, state));
    P("ascii_size", sizeof(PyASCIIObject));
    P("compact_size", sizeof(PyCompactUnicodeObject));
    /* The bits the reader tests: kind 2-4, compact 5, ascii 6, ready 7. */
    P("state_kind", state_bits(0));
    P("state_compact", state_bits(1));
    P("state_ascii", state_bits(2));
    P("state_ready", state_bits(3));
    return 0;
}
