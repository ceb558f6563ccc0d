"""Prints, as JSON, the line tables of the code objects of a few standard
modules as this interpreter compiles them, with the line the interpreter
itself gives each instruction: tests/stacks_python.rs checks unwedge's
decoders (crates/stacks/src/python/decode.rs) against them, for every
CPython version installed. 3.8-compatible."""
import dis
import json
import sys
import types


def codes(co):
    yield co
    for c in co.co_consts:
        if isinstance(c, types.CodeType):
            for d in codes(c):
                yield d


def lines(co):
    """Instruction offset (bytes) -> line, as the interpreter maps them."""
    n = len(co.co_code)
    out = {}
    if sys.version_info >= (3, 10):
        for start, end, line in co.co_lines():
            for a in range(start, min(end, n), 2):
                out[a] = line
    else:
        starts = list(dis.findlinestarts(co))
        for a in range(0, n, 2):
            line = co.co_firstlineno
            for off, l in starts:
                if off <= a:
                    line = l
            out[a] = line
    return sorted(out.items())


def main():
    out = []
    for name in ["threading", "queue", "socket", "json.decoder", "asyncio.base_events"]:
        mod = __import__(name, fromlist=["_"])
        with open(mod.__file__, encoding="utf-8") as f:
            top = compile(f.read(), mod.__file__, "exec")
        for co in codes(top):
            table = co.co_linetable if sys.version_info >= (3, 10) else co.co_lnotab
            out.append({"name": co.co_name, "first": co.co_firstlineno, "table": table.hex(), "lines": lines(co)})
    json.dump({"minor": sys.version_info[1], "codes": out}, sys.stdout)


main()
