"""Measure the written-answer tools on a synthetic batch: python tests/measure_written.py STUDENTS (from the repository root).

Prints load / compare / group times and peak RSS, groups per question and the marks a TA makes, where each
planted pair ranks, and the highest honest pair. Not a test (slow at 300 students)."""
import sys, time, resource; sys.path.insert(0,'tests')
from pathlib import Path
import written_batch as w, shutil
from course_staff.formats.handouts import load_handouts
from course_staff.written import groups
from course_staff.written.similarity import compare
n=int(sys.argv[1]); import tempfile; folder=Path(tempfile.mkdtemp(prefix='measure-written-')); shutil.rmtree(folder, ignore_errors=True)
b=w.make(folder/'subs',n)
t0=time.perf_counter(); hs=load_handouts(Path('notebooks')); works,_=compare.load(folder/'subs',hs); t1=time.perf_counter()
pairs=compare.compare(works,hs,threshold=0.0); t2=time.perf_counter()
ng={}; marks_needed=0; answers=0
from collections import Counter
for h in hs.values():
    for q in h.blanks:
        texts=[]; truth=[]
        for wk in works:
            if wk.handout!=h.name: continue
            texts.append(wk.prose.get(q,"")); truth.append(b.style[(wk.file,q)])
        lab=groups.group(texts); ng[q]=len(set(lab)); answers+=len(texts)
        # a TA: one group action per group (the majority style), then one fix per answer of another style
        for g in set(lab):
            members=[truth[i] for i in range(len(lab)) if lab[i]==g]
            marks_needed+=1+len(members)-Counter(members).most_common(1)[0][1]
t3=time.perf_counter()
print(f"n={n} notebooks={len(works)} load {t1-t0:.1f}s compare {t2-t1:.1f}s group {t3-t2:.1f}s peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:.0f} MiB")
print("groups per question", ng, "marks needed", marks_needed, "vs answers", answers)
for part in ("code","prose"):
    ordered=[p for p in pairs if p.part==part]
    for pl in b.planted:
        if pl['part']!=part: continue
        k={(p.a,p.b,p.question):i for i,p in enumerate(ordered)}
        qk=[p for p in ordered if p.question==pl['question']]
        kq={(p.a,p.b):i for i,p in enumerate(qk)}
        r=k.get((pl['a'],pl['b'],pl['question']), k.get((pl['b'],pl['a'],pl['question'])))
        rq=kq.get((pl['a'],pl['b']), kq.get((pl['b'],pl['a'])))
        print(part, pl['question'], "rank in part", None if r is None else r+1, "rank in question", None if rq is None else rq+1, "score", ordered[r].score if r is not None else None)
planted={(p['a'],p['b'],p['part'],p['question']) for p in b.planted}; planted|={(x[1],x[0],x[2],x[3]) for x in planted}
for part in ("code","prose"):
    hp=next(p for p in pairs if p.part==part and (p.a,p.b,p.part,p.question) not in planted)
    print("highest honest", part, hp.score, hp.question)
look={(p['a'],p['b'],p['question']) for p in b.lookalikes}
print("lookalikes", [(p.score) for p in pairs if (p.a,p.b,p.question) in look or (p.b,p.a,p.question) in look])
