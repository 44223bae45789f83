#!/usr/bin/env python3
# Usage: scripts/import-cycles.py [broker/src filter/src ...]  (default: both crates; exit status 1
# when any cycle is found, so it can gate a build)   (parent<->child edges of the module tree are not
# counted: a parent declares its children and they use its items; only edges between siblings are)
"""Import graph of a Rust crate's src/ from its `use`/path lines: top-level-module graph and
file graph, with every cycle (strongly connected component) printed."""
import os, re, subprocess, sys
if len(sys.argv) != 2:
    roots = sys.argv[1:] or ['broker/src', 'filter/src']
    codes = []
    for r in roots:
        print(f'== {r}', flush=True)
        codes.append(subprocess.call([sys.executable, __file__, r]))
    sys.exit(1 if any(codes) else 0)
root = sys.argv[1]  # e.g. broker/src
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)[:-3]
            parts = rel.split(os.sep)
            if parts[-1] == 'mod': parts = parts[:-1]
            if parts in (['lib'], ['main']): parts = []
            files[tuple(parts)] = open(p).read()
mods = set(files)
def resolve(cur_mod, path):
    # path: list of segments after crate/super/self
    segs = path
    # longest prefix that is a module file
    best = None
    for i in range(len(segs), 0, -1):
        if tuple(segs[:i]) in mods:
            best = tuple(segs[:i]); break
    return best
edges = {m: set() for m in mods}
for m, text in files.items():
    # strip #[cfg(test)] mod tests { ... } blocks crudely: cut at '#[cfg(test)]\nmod tests'
    text = re.split(r'#\[cfg\(test\)\]\s*mod tests\s*\{', text)[0]
    text = re.sub(r'//[^\n]*', '', text)
    is_modrs = True  # module path m; super of a file module is its parent
    # expand one level of grouped imports: `super::{a, b::c}` -> `super::a`, `super::b::c`
    def expand(mt):
        head, body = mt.group(1), mt.group(2)
        parts = [x.strip() for x in re.split(r',(?![^{]*})', body) if x.strip()]
        return ' '.join(head + '::' + x.split('{')[0].rstrip(':') for x in parts)
    text = re.sub(r'\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}', expand, text)
    for mt in re.finditer(r'\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)', text):
        kind, rest = mt.group(1), mt.group(2)
        segs = [s for s in rest.split('::') if s]
        while segs and segs[0] == 'super':
            segs = segs[1:]; kind = 'super2' if kind=='super' else 'super'
        if kind == 'crate': base = []
        elif kind == 'self': base = list(m)
        elif kind == 'super': base = list(m[:-1])
        else: base = list(m[:-2])
        target = resolve(m, base + segs)
        if target is None: target = tuple(base)
        if target != m and target in mods:
            # a path inside own subtree (child) is not a dependency on a parent; record all
            edges[m].add(target)
def scc(nodes, edges):
    index = {}; low = {}; st = []; on = set(); out = []; i = [0]
    sys.setrecursionlimit(10000)
    def strong(v):
        index[v] = low[v] = i[0]; i[0] += 1; st.append(v); on.add(v)
        for w in edges.get(v, ()):
            if w not in index: strong(w); low[v] = min(low[v], low[w])
            elif w in on: low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = st.pop(); on.discard(w); comp.append(w)
                if w == v: break
            out.append(comp)
    for v in nodes:
        if v not in index: strong(v)
    return [c for c in out if len(c) > 1]
name = lambda m: '/'.join(m) or '(crate root)'
# file level: ignore edges from a parent mod.rs to its children (declaration/re-export) and child->parent re-export uses
print('file-level cycles:')
fc = scc(sorted(mods), edges)
for c in fc: print('  ', ', '.join(sorted(map(name, c))))
if not fc: print('   none')
# top-level module level
top = lambda m: m[:1]
tedges = {}
for a, bs in edges.items():
    for b in bs:
        if a and b and top(a) != top(b):
            tedges.setdefault(top(a), set()).add(top(b))
print('top-level module cycles (edges between folders/modules under src/):')
tc = scc(sorted({top(m) for m in mods if m}), tedges)
for c in tc:
    print('  ', ', '.join(sorted(map(name, c))))
    for a in c:
        for b in sorted(tedges.get(a, ())):
            if b in c:
                why = sorted(name(x)+'->'+name(y) for x in edges for y in edges[x] if x[:1]==a and y[:1]==b)
                print('      ', name(a), '->', name(b), ':', '; '.join(why[:6]))
if not tc: print('   none')
# every folder: edges between its direct children (a file's use of a sibling subtree)
print('cycles between siblings inside any folder:')
found = False
parents = {m[:-1] for m in mods if m}
for par in sorted(parents):
    sib = {}
    for a, bs in edges.items():
        for b in bs:
            if len(a) > len(par) and len(b) > len(par) and a[:len(par)] == par and b[:len(par)] == par:
                ca, cb = a[:len(par)+1], b[:len(par)+1]
                if ca != cb:
                    sib.setdefault(ca, set()).add(cb)
    for c in scc(sorted(sib), sib):
        found = True
        print('   in', name(par), ':', ', '.join(sorted(map(name, c))))
        for a in c:
            for b in sorted(sib.get(a, ())):
                if b in c:
                    why = sorted(name(x)+'->'+name(y) for x in edges for y in edges[x] if x[:len(a)]==a and y[:len(b)]==b)
                    print('      ', name(a), '->', name(b), ':', '; '.join(why[:4]))
if not found: print('   none')
sys.exit(1 if (fc or tc or found) else 0)
