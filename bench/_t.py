import time, re
from cleaners.unicode import _width_table
from bench.synth import generate
texts = generate(200,0)["text"].to_list()
table, pattern = _width_table(True)
print(len(table))
codes = sorted(table)
ranges=[]; s=p=codes[0]
for c in codes[1:]:
    if c==p+1: p=c; continue
    ranges.append((s,p)); s=p=c
ranges.append((s,p))
print(len(ranges))
pat2 = re.compile("[" + "".join(re.escape(chr(a)) if a==b else re.escape(chr(a))+"-"+re.escape(chr(b)) for a,b in ranges) + "]+")
for name,pt in [("orig",pattern),("ranges",pat2)]:
    t=time.perf_counter(); n=sum(1 for x in texts for m in pt.finditer(x)); print(name, n, time.perf_counter()-t)
t=time.perf_counter(); n=sum(x.translate(table)!=x for x in texts); print("translate", n, time.perf_counter()-t)
