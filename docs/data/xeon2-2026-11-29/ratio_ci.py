"""ratio_ci.py RUN.json...: for each (kernel, n) of a prange-bench run with the prange and
omp-native variants, the median over repetitions of prange / omp-native (repetitions are
interleaved, so paired by index) with a percentile bootstrap 95% interval (2000 resamples,
seed 1): issue #16's in-cache measure."""
import json, sys, random, statistics as st
random.seed(1)
for path in sys.argv[1:]:
    d=json.load(open(path))
    rows={}
    for r in d['rows']:
        if r['phase']!='sizes': continue
        rows[(r['kernel'],r['n'],r['variant'])]=r['reps_s']
    for (k,n,v),reps in sorted(rows.items()):
        if v!='prange' or (k,n,'omp-native') not in rows: continue
        ref=rows[(k,n,'omp-native')]
        rat=[a/b for a,b in zip(reps,ref)]
        med=st.median(rat)
        boots=sorted(st.median(random.choices(rat,k=len(rat))) for _ in range(2000))
        print("%-6s %8d  median %.3f  95%% [%.3f, %.3f]  (prange %.1f us, native %.1f us)"%(k,n,med,boots[50],boots[1949],st.median(reps)*1e6,st.median(ref)*1e6))
