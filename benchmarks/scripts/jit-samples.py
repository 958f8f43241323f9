#!/usr/bin/env python3
"""Maps `perf record` samples of a JVM onto the instructions of its C2-compiled methods.

    benchmarks/scripts/jit-samples.py JVM_STDOUT PERF_DATA [TOP] [METHOD]

JVM_STDOUT is the output of a JVM started with
    -XX:+UnlockDiagnosticVMOptions -XX:CompileCommand=print,dev.vnet.*::*
(without the hsdis library the JVM prints each method's code as raw bytes, which objdump disassembles
here); PERF_DATA is `perf record -p <pid>` of the same JVM. Prints the share of samples per compiled
method, then the TOP instructions with the most samples and the few before each (a sample usually
lands on the instruction after the one that waited). With METHOD, prints that method's whole
disassembly with each instruction's share instead. docs/PERFORMANCE.md shows how it was used.
"""
import collections
import re
import subprocess
import sys

HEADER = re.compile(r'Compiled method \((c[12])\)\s+\d+\s+\d+\s+[%!sbn ]*\d\s+(\S+)')
CODE = re.compile(r'^\s+0x([0-9a-f]+): ((?:[0-9a-f]{2,8} ?\|? ?)+)\s*$')
INSN = re.compile(r'\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} )+\s*(.*)')


def compiled_methods(path):
    """[(name, start address, code bytes)] of the C2 methods printed in the JVM's output."""
    methods, current = [], None
    for line in open(path, errors='replace'):
        m = HEADER.match(line)
        if m:
            current = [m.group(1) + ' ' + m.group(2), None, bytearray()]
            methods.append(current)
            continue
        m = CODE.match(line) if current else None
        if m:
            address = int(m.group(1), 16)
            data = bytes.fromhex(m.group(2).replace('|', '').replace(' ', ''))
            if current[1] is None:
                current[1] = address
            end = current[1] + len(current[2])
            if address >= end:
                current[2] += b'\x90' * (address - end) + data
            elif address + len(data) > end:
                current[2] += data[end - address:]
    return [m for m in methods if m[0].startswith('c2') and m[1] is not None]


def disassemble(method):
    with open('/tmp/jit-samples.bin', 'wb') as f:
        f.write(bytes(method[2]))
    out = subprocess.run(['objdump', '-D', '-b', 'binary', '-mi386:x86-64', '--adjust-vma=0x%x' % method[1],
                          '/tmp/jit-samples.bin'], capture_output=True, text=True, check=True).stdout
    return [(int(m.group(1), 16), m.group(2)) for m in map(INSN.match, out.splitlines()) if m]


def main():
    log, data = sys.argv[1], sys.argv[2]
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    only = sys.argv[4] if len(sys.argv) > 4 else None
    methods = compiled_methods(log)
    ips = collections.Counter(int(ip, 16) for ip in subprocess.run(
        ['perf', 'script', '-i', data, '-F', 'ip'], capture_output=True, text=True, check=True).stdout.split())
    total = sum(ips.values()) or 1
    per_method = collections.defaultdict(collections.Counter)
    for ip, n in ips.items():
        for i, m in enumerate(methods):
            if m[1] <= ip < m[1] + len(m[2]):
                per_method[i][ip] += n
                break
    if only:
        for i, m in enumerate(methods):
            if only in m[0] and sum(per_method[i].values()) > 0:
                print('#### %s: %.2f %% of all samples' % (m[0], 100 * sum(per_method[i].values()) / total))
                for address, text in disassemble(m):
                    print('%6.2f %5x  %s' % (100 * per_method[i][address] / total, address - m[1], text))
        return
    print('samples: %d' % total)
    for i, counts in sorted(per_method.items(), key=lambda kv: -sum(kv[1].values()))[:15]:
        print('%6.2f %%  %s' % (100 * sum(counts.values()) / total, methods[i][0]))
    hottest = sorted(((n, ip, i) for i, c in per_method.items() for ip, n in c.items()), reverse=True)[:top]
    listings = {}
    for n, ip, i in hottest:
        listing = listings.setdefault(i, disassemble(methods[i]))
        at = next((k for k, (address, _) in enumerate(listing) if address == ip), None)
        print('\n%.2f %% at %s +0x%x' % (100 * n / total, methods[i][0], ip - methods[i][1]))
        for address, text in listing[max(0, (at or 0) - 5):(at or 0) + 2]:
            mark = '>' if address == ip else ' '
            print(' %s %6.2f %5x  %s' % (mark, 100 * per_method[i][address] / total, address - methods[i][1], text))


if __name__ == '__main__':
    main()
