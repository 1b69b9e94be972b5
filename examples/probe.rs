use groupscout::index::{generation, schema, text};
use std::time::Instant;
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::IndexRecordOption;
use tantivy::{Index, Term};

fn tq(f: tantivy::schema::Field, w: &str, b: f32) -> (Occur, Box<dyn Query>) {
    (
        Occur::Should,
        Box::new(BoostQuery::new(
            Box::new(TermQuery::new(Term::from_field_text(f, w), IndexRecordOption::WithFreqs)),
            b,
        )),
    )
}

fn main() {
    let root = std::path::Path::new("bench-data/index-1000000");
    let name = generation::current(root).unwrap();
    let index = Index::open_in_dir(root.join(&name)).unwrap();
    schema::register_tokenizers(&index);
    let f = schema::fields_of(&index.schema()).unwrap();
    let reader = index.reader().unwrap();
    let s = reader.searcher();
    println!(
        "segments {:?}",
        s.segment_readers().iter().map(|r| (r.max_doc(), r.num_deleted_docs())).collect::<Vec<_>>()
    );
    for col in ["id", "cat_ord", "adcode", "flag_bits"] {
        let t = Instant::now();
        for _ in 0..100 {
            for r in s.segment_readers() {
                let _c = r.fast_fields().u64(col).unwrap();
            }
        }
        println!("open column {col}: {:.1} us per open of all segments", t.elapsed().as_secs_f64() * 1e6 / 100.0);
    }
    for w in ["宁波", "上海", "珠海", "东莞", "慈溪"] {
        let (py, _) = text::pinyin_of(w);
        let variants: Vec<(&str, Vec<(Occur, Box<dyn Query>)>)> = vec![
            ("place", vec![tq(f.place, w, 2.0)]),
            ("name", vec![tq(f.name, w, 3.0)]),
            ("bi", vec![tq(f.name_bi, w, 2.0)]),
            ("py", vec![tq(f.name_py, &py, 0.3)]),
            ("name+bi", vec![tq(f.name, w, 3.0), tq(f.name_bi, w, 2.0)]),
            ("place+name", vec![tq(f.place, w, 2.0), tq(f.name, w, 3.0)]),
            ("all4", vec![tq(f.place, w, 2.0), tq(f.name, w, 3.0), tq(f.name_bi, w, 2.0), tq(f.name_py, &py, 0.3)]),
        ];
        for (label, clauses) in variants {
            let q = BooleanQuery::new(clauses);
            let n = s.search(&q, &Count).unwrap();
            let mut best = f64::MAX;
            let t0 = Instant::now();
            let _ = s.search(&q, &TopDocs::with_limit(100).order_by_score()).unwrap();
            let first = t0.elapsed().as_secs_f64() * 1e6;
            let mut top = vec![];
            for _ in 0..20 {
                let t = Instant::now();
                top = s.search(&q, &TopDocs::with_limit(100).order_by_score()).unwrap();
                best = best.min(t.elapsed().as_secs_f64() * 1e6);
            }
            let weight = q.weight(tantivy::query::EnableScoring::enabled_from_searcher(&s)).unwrap();
            let mut best2 = f64::MAX;
            for _ in 0..20 {
                let t = Instant::now();
                for r in s.segment_readers() {
                    let alive = r.alive_bitset();
                    let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(u32, u32)>> = Default::default();
                    let mut threshold = f32::MIN;
                    let mut calls = 0;
                    weight
                        .for_each_pruning(f32::MIN, r, &mut |doc, score| {
                            calls += 1;
                            if alive.is_none_or(|a| a.is_alive(doc)) {
                                heap.push(std::cmp::Reverse((score.to_bits(), doc)));
                                if heap.len() > 100 {
                                    heap.pop();
                                }
                                if heap.len() == 100 {
                                    threshold = f32::from_bits(heap.peek().unwrap().0 .0);
                                }
                            }
                            threshold
                        })
                        .unwrap();
                    if r.max_doc() > 100000 && best2 == f64::MAX {
                        print!(" calls {calls} ");
                    }
                }
                best2 = best2.min(t.elapsed().as_secs_f64() * 1e6);
            }
            print!(" filteredtop-like {best2:7.0} us ");
            let distinct: std::collections::BTreeSet<u32> = top.iter().map(|(sc, _)| sc.to_bits()).collect();
            println!("{w} {label:12} count {n:6} top100 first {first:7.0} best {best:7.0} us  top score {:.3} 100th {:.3} distinct {}", top[0].0, top.last().unwrap().0, distinct.len());
        }
    }
}
