import time, cProfile, pstats, sys
import polars as pl
from bench.throughput import corpus_file
from fincorpus.config import Config
from fincorpus.documents import RawDocument
from fincorpus.pipeline import clean_documents, dedup_documents
n=int(sys.argv[1]); which=sys.argv[2]
texts=pl.read_parquet(corpus_file(n,0))["text"].to_list(); mb=sum(len(x.encode()) for x in texts)/1e6
config=Config()
docs=[RawDocument(f"{i:07d}","bench","",x) for i,x in enumerate(texts)]
pr=cProfile.Profile()
t=time.perf_counter(); 
if which=="clean": pr.enable()
cleaned=clean_documents(docs, config); tc=time.perf_counter()-t
pr.disable()
if which=="dedup": pr.enable()
t=time.perf_counter(); d=dedup_documents(cleaned, config); td=time.perf_counter()-t
pr.disable()
print("clean", tc, mb/tc, "dedup", td, mb/td)
pstats.Stats(pr).sort_stats("tottime").print_stats(25)
