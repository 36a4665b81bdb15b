import time, sys
import polars as pl
from bench.throughput import corpus_file
from fincorpus.config import Config, EngineConfig
from fincorpus.documents import RawDocument
from fincorpus.pipeline import clean_documents
if __name__ == '__main__':
    texts=pl.read_parquet(corpus_file(2000,0))["text"].to_list()[:1000]; mb=sum(len(x.encode()) for x in texts)/1e6
    docs=[RawDocument(f"{i:07d}","bench","",x) for i,x in enumerate(texts)]
    for w in (1,2):
        t=time.perf_counter(); c=time.process_time(); clean_documents(docs, Config(engine=EngineConfig(workers=w)))
        e=time.perf_counter()-t; print(w, "wall", round(e,2), "MB/s", round(mb/e,2), "cpu", round(time.process_time()-c,2))
