"""Archive full-text search at scale (issue 5 item 6): N generated records' metadata (realistic
Vietnamese subjects, NĐ 30 document types, agencies, years 2019–2026, dossiers) are written to a
fresh SecantusDB with insert_many, the search index is built by the service's own rebuild path
(`SearchIndex.rebuild`, a full scan of `records`) and then kept by its change-stream follower
for a further batch; then filtered full-text queries without diacritics (1–3 words + a year,
often a type, sometimes a sender or a dossier; some as an officer, with the access rule) go
through the adapter's `search` (ranked page, total, display fields, snippets).

House rule: each figure beside the raw library doing the same work in the same run —
ingest: the same rows, already folded, into a fresh FTS5 file with sqlite3 `executemany` (one
table, the year as a token: the layout before the year partitions); queries: the adapter's
ranking SQL run bare on the same partition, raw FTS5 ranking every match (`ORDER BY rank LIMIT
20`) on it, and the same query as before the partitions (the window SQL on that one table, with
the year token and the words' column filter). The same queries without their year (every
partition, merged) are measured against the one table too. The load average is printed: the
machine is shared.

    .venv/bin/python bench/bench_search.py --n 100000
    .venv/bin/python bench/bench_search.py            # 1,000,000 (about half an hour here)
    .venv/bin/python bench/bench_search.py --keep DIR # …and keep the index files, then
    .venv/bin/python bench/bench_search.py --queries-only DIR   # the queries again, later

Figures on this machine (2 cores, 23 GB RAM, shared with other work: the load average is
given), 2026-12-01, the index partitioned by year; ratio = ours / raw library:
  --n 100000 (load 4.2 at the queries): store ingest 7,067 docs/s; index rebuild 5,190 docs/s vs
  raw FTS5 executemany 85,136 docs/s (0.06: the rebuild is bound by the store's scan); follower
  2,321 docs/s (0.03); filtered query p50 1.98 / p95 5.28 / p99 7.42 ms vs the same SQL bare on
  the partition 0.58 / 2.45 / 4.45 ms (3.44 / 2.15 / 1.67: the count, the display fields and the
  snippets); vs raw FTS5 ranking every match 0.72 / 3.15 / 6.39 ms (2.77 / 1.67 / 1.16); vs the
  one-table layout before 2.77 / 8.13 / 12.35 ms (0.71 / 0.65 / 0.60). Without the year (every
  partition) 7.08 / 13.64 / 18.53 ms vs one table 3.09 / 7.29 / 8.58 ms (2.29 / 1.87 / 2.16: a
  partition holds only 12,500 records here, so the work per partition outweighs the shorter lists).
  --n 1000000 (990 MB index), built with --keep (load 3–6 meanwhile): store ingest 4,900 docs/s;
  rebuild 4,149 docs/s vs 31,730 docs/s (0.13); follower 1,911 docs/s (0.06). The queries again
  with --queries-only on those files (the index layout is the same, the queries as committed),
  load 2.6: filtered query p50 6.57 / p95 11.27 / p99 14.43 ms vs the same SQL bare 3.96 / 8.01 /
  10.52 ms (1.66 / 1.41 / 1.37); vs ranking every match 7.00 / 34.87 / 67.32 ms (0.94 / 0.32 /
  0.21); vs the one-table layout before 21.95 / 57.52 / 74.88 ms (0.30 / 0.20 / 0.19). Without
  the year 13.52 / 36.78 / 47.00 ms vs one table 14.95 / 48.38 / 65.19 ms (0.90 / 0.76 / 0.72).
  Once more at load 1.6: p95 12.36 ms vs bare 11.50 ms (1.07). Loaded, the figures stretch: at
  load 3.6 p95 27.03 ms vs bare 14.70 ms (1.84); in the full run at load 6.0 (the words still had
  their column filter then) p95 41.14 ms vs 28.63 ms (1.44). Before (2026-11-25, one table, year
  token): p95 73.84 ms at 1M.
  Target p95 < 50 ms for a filtered query at 1M: MET (11–12 ms quiet, 27 ms at load 3.6, 41 ms at
  load 6). What is left: bm25 still counts each phrase's documents over its year's posting list,
  so the slowest queries pair a syllable that every subject has ("ve" of "Về việc") with a rare
  filter; queries without a year read every partition and cost about what the one table did.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devstack.processes import Stack, free_port, start_embedded_store  # noqa: E402
from services.archive.adapters.search_index import _WEIGHTS, RANK_WINDOW, SearchIndex, table_of  # noqa: E402
from services.archive.domain import search as rules  # noqa: E402
from shared.db import Store  # noqa: E402

TYPES = [  # NĐ 30 Phụ lục III, with a commune's rough mix
    ("Công văn", "UBND", 30), ("Quyết định", "QĐ-UBND", 18), ("Thông báo", "TB-UBND", 10), ("Kế hoạch", "KH-UBND", 9),
    ("Báo cáo", "BC-UBND", 10), ("Tờ trình", "TTr-UBND", 6), ("Giấy mời", "GM-UBND", 7), ("Chỉ thị", "CT-UBND", 2),
    ("Hướng dẫn", "HD-UBND", 3), ("Biên bản", "BB-UBND", 3), ("Nghị quyết", "NQ-HĐND", 1), ("Phương án", "PA-UBND", 1),
]
ACTIONS = ["ban hành", "triển khai thực hiện", "tăng cường công tác", "phê duyệt", "tổ chức", "kiểm tra", "rà soát",
           "đôn đốc", "hướng dẫn", "điều chỉnh", "tổng kết", "sơ kết", "báo cáo kết quả", "đề nghị hỗ trợ", "giao chỉ tiêu",
           "thành lập", "kiện toàn", "chấn chỉnh", "thực hiện", "phân bổ kinh phí"]
TOPICS = ["quy chế làm việc", "phòng chống lụt bão", "phòng chống dịch bệnh", "xây dựng nông thôn mới",
          "cải cách hành chính", "chuyển đổi số", "giải phóng mặt bằng", "đất đai", "cấp giấy chứng nhận quyền sử dụng đất",
          "an toàn giao thông", "an ninh trật tự", "tuyển quân", "tiêm chủng mở rộng", "bảo hiểm y tế", "dân số",
          "vệ sinh an toàn thực phẩm", "phòng cháy chữa cháy", "quản lý trật tự xây dựng", "thu ngân sách", "đầu tư công",
          "hộ nghèo", "chính sách người có công", "bảo trợ xã hội", "giáo dục mầm non", "phổ cập giáo dục",
          "bảo vệ môi trường", "thu gom rác thải", "đê điều", "thủy lợi nội đồng", "sản xuất vụ đông", "chăn nuôi",
          "phòng chống dịch tả lợn châu Phi", "trồng rừng", "khuyến nông", "du lịch", "văn hóa cơ sở", "thể dục thể thao",
          "lễ hội truyền thống", "tiếp công dân", "giải quyết khiếu nại tố cáo", "hòa giải ở cơ sở", "hộ tịch", "chứng thực",
          "bầu cử đại biểu Hội đồng nhân dân", "thi đua khen thưởng", "công tác cán bộ", "đường giao thông nông thôn",
          "kênh mương", "điện chiếu sáng", "nước sạch", "chợ nông thôn", "nghĩa trang nhân dân", "trường học", "trạm y tế"]
TAILS = ["trên địa bàn xã", "năm {year}", "giai đoạn 2021-2025", "quý {q} năm {year}", "6 tháng đầu năm {year}",
         "tại thôn {village}", "đợt {q}", "", "", ""]
VILLAGES = ["Đông", "Đoài", "Nam", "Bắc", "Thượng", "Hạ", "Trung", "Phú Thọ", "Yên Lạc", "Hòa Bình", "Tân Lập", "Đồng Tâm"]
AGENCIES = [("000.00.00.H56", "UBND tỉnh Thanh Hóa"), ("000.00.12.H56", "Sở Tài chính tỉnh Thanh Hóa"),
            ("000.00.13.H56", "Sở Nội vụ tỉnh Thanh Hóa"), ("000.00.14.H56", "Sở Nông nghiệp và Môi trường tỉnh Thanh Hóa"),
            ("000.00.15.H56", "Sở Y tế tỉnh Thanh Hóa"), ("000.00.16.H56", "Sở Giáo dục và Đào tạo tỉnh Thanh Hóa"),
            ("000.00.17.H56", "Sở Xây dựng tỉnh Thanh Hóa"), ("000.00.18.H56", "Công an tỉnh Thanh Hóa"),
            ("000.00.19.H56", "Bộ Chỉ huy quân sự tỉnh Thanh Hóa"), ("000.00.20.H56", "Sở Văn hóa, Thể thao và Du lịch")]
SIGNERS = ["Lê Văn Thành", "Nguyễn Thị Hương", "Trần Văn Bình", "Phạm Thị Thu", "Đỗ Mạnh Hùng", "Hoàng Văn Đức"]
OFFICERS = ["cc.vanphong", "cc.tuphap", "cc.diachinh", "cc.vhxh"]
YEARS = list(range(2019, 2027))
DOSSIER_KINDS = ["VP", "TP", "DC", "VH", "KT", "QS"]
AGENCY_ID = "000.24.26.H56"


def subject(rng: random.Random, year: int) -> tuple[str, str]:
    topic = rng.choice(TOPICS)
    tail = rng.choice(TAILS).format(year=year, q=rng.randint(1, 4), village=rng.choice(VILLAGES))
    return topic, " ".join(filter(None, ["Về việc", rng.choice(ACTIONS), topic, tail]))


def generate(n: int, seed: int = 7):
    rng = random.Random(seed)
    type_weights = [t[2] for t in TYPES]
    for i in range(n):
        year = rng.choice(YEARS)
        type_name, notation, _ = rng.choices(TYPES, type_weights)[0]
        source = rng.choices(["incoming", "outgoing", "material"], [60, 35, 5])[0]
        issued = date(year, 1, 1) + timedelta(days=rng.randrange(365))
        topic, text = subject(rng, year)
        restricted = rng.random() < 0.05
        doc = {
            "_id": f"{source}:bench-{i:07d}", "source": source, "year": year, "type_name": type_name,
            "code": f"{rng.randint(1, 999)}/{notation}", "subject": text, "issued_date": issued.isoformat(),
            "signer": rng.choice(SIGNERS), "state": "kept", "stored_at": datetime(year, 12, 31, tzinfo=UTC),
            "dossiers": [f"{AGENCY_ID}.{year}.{rng.randint(1, 40):02d}.{rng.choice(DOSSIER_KINDS)}"],
            "access": {"restricted": restricted, "users": rng.sample(OFFICERS, 1) if restricted else []},
            "register": {"book": source, "year": year, "number": i},
        }
        if source == "incoming":
            organ_id, name = rng.choice(AGENCIES)
            doc["sender"] = {"organ_id": organ_id, "name": name}
        elif source == "outgoing":
            doc["recipients"] = [{"organ_id": a[0], "name": a[1]} for a in rng.sample(AGENCIES, rng.randint(1, 3))]
        yield doc, topic


def queries(n: int, seed: int = 11) -> list[rules.SearchQuery]:
    """What a clerk types: 1–3 words of a subject, without diacritics, and the filters."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = rules.words(rng.choice(TOPICS + ACTIONS))
        k = min(len(words), rng.randint(1, 3))
        start = rng.randrange(len(words) - k + 1)
        year = rng.choice(YEARS)
        filters = {"year": year}
        if rng.random() < 0.5:
            filters["type_name"] = rules.fold_text(rng.choices(TYPES, [t[2] for t in TYPES])[0][0])
        if rng.random() < 0.1:
            filters["sender"] = rng.choice(AGENCIES)[0]
        if rng.random() < 0.05:
            filters["dossier"] = f"{AGENCY_ID}.{year}.{rng.randint(1, 40):02d}.{rng.choice(DOSSIER_KINDS)}"
        user = rng.choice(OFFICERS) if rng.random() < 0.2 else None
        out.append(rules.SearchQuery(terms=[[w] for w in words[start:start + k]], filters=rules.Filters(**filters),
                                     visible_to=user))
    return out


async def load_store(url: str, n: int, batch: int) -> tuple[float, Store]:
    store = Store(url, "bench_archive")
    await store.client.drop_database("bench_archive")
    started, docs = time.perf_counter(), []
    for doc, _ in generate(n):
        docs.append(doc)
        if len(docs) == batch:
            await store.db["records"].insert_many(docs, ordered=False)
            docs = []
    if docs:
        await store.db["records"].insert_many(docs, ordered=False)
    return time.perf_counter() - started, store


async def follow_extra(store: Store, index: SearchIndex, n: int) -> float:
    """n more records written while the follower runs: seconds until all are searchable."""
    task = asyncio.create_task(index.follow(store.db))
    while index.started_with is None:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1)
    before, started = index.applied, time.perf_counter()
    docs = [{**d, "_id": f"{d['_id']}-live"} for d, _ in generate(n, seed=99)]
    for i in range(0, n, 1000):
        await store.db["records"].insert_many(docs[i:i + 1000])
    while index.applied - before < n:
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return elapsed


def raw_ingest(path: Path, n: int) -> float:
    """The same rows, folded beforehand, into a fresh FTS5 file with plain sqlite3: one table, the
    year as a token (the layout before the year partitions, kept to compare the queries with)."""
    rows = []
    for i, (doc, _) in enumerate(generate(n), start=1):
        row = rules.index_row(doc)
        tags = f"{row.tags} {rules.year_tag(row.year)}" if row.partition is not None else row.tags
        rows.append((i, row.subject, row.code, row.meta, "", tags))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE VIRTUAL TABLE docs USING fts5(subject, code, meta, body, tags, tokenize='unicode61 remove_diacritics 0')")
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO docs(rowid, subject, code, meta, body, tags) VALUES (?,?,?,?,?,?)", rows)
    conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.execute("INSERT INTO docs(docs) VALUES('optimize')")  # as the rebuild does, for the query comparison
    conn.close()
    return elapsed


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - started) * 1000)
    return out


def pct(values: list[float], p: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1] if len(values) > 1 else values[0]


def measure_queries(index: SearchIndex, raw_path: Path, qs: list[rules.SearchQuery]):
    """The queries through the adapter and the raw SQL beside it, on the same files."""
    raw = sqlite3.connect(index.path)
    single = sqlite3.connect(raw_path)
    for conn in (raw, single):
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA mmap_size=1073741824")

    def window_sql(table: str) -> str:  # the adapter's ranking SQL (rank window, then the page), bare
        return (f"SELECT rowid, score FROM (SELECT rowid, bm25({table}, {_WEIGHTS}) AS score FROM {table} "
                f"WHERE {table} MATCH ? ORDER BY rowid DESC LIMIT {RANK_WINDOW}) ORDER BY score LIMIT 20")

    def naive_sql(table: str) -> str:  # every match ranked
        return f"SELECT rowid, rank FROM {table} WHERE {table} MATCH ? ORDER BY rank LIMIT 20"

    def in_partition(q: rules.SearchQuery) -> tuple[str, str]:
        part = rules.partition_of(q.filters.year)
        return table_of(part), rules.match_expression(q, partition=part)

    def before(q: rules.SearchQuery) -> str:  # the expression before the partitions: year token, words' column filter
        words = rules._words_part(q)
        return rules.match_expression(q).replace(words, "{" + " ".join(rules.TEXT_COLUMNS) + "} : " + words, 1)

    partitioned = [in_partition(q) for q in qs]
    one_table = [before(q) for q in qs]
    no_year = [dataclasses.replace(q, filters=dataclasses.replace(q.filters, year=None)) for q in qs[:200]]
    for q in qs[:50]:  # warm the page cache for every side alike
        index.search(q)
    for e in one_table[:50]:
        single.execute(window_sql("docs"), (e,)).fetchall()
    load = os.getloadavg()[0]
    adapter_ms = timed(index.search, qs)
    raw_ms = timed(lambda a: raw.execute(window_sql(a[0]), (a[1],)).fetchall(), partitioned)
    naive_ms = timed(lambda a: raw.execute(naive_sql(a[0]), (a[1],)).fetchall(), partitioned)
    single_ms = timed(lambda e: single.execute(window_sql("docs"), (e,)).fetchall(), one_table)
    no_year_ms = timed(index.search, no_year)
    no_year_single_ms = timed(lambda q: single.execute(window_sql("docs"), (before(q),)).fetchall(), no_year)
    totals = [index.search(q).total for q in qs[:200]]
    raw.close()
    single.close()
    return adapter_ms, raw_ms, naive_ms, single_ms, no_year_ms, no_year_single_ms, totals, load


def report_queries(adapter_ms, raw_ms, naive_ms, single_ms, no_year_ms, no_year_single_ms, totals, load) -> None:
    rows = [("filtered query", adapter_ms, raw_ms, "the same SQL bare on the partition"),
            ("  vs raw FTS5 ranking every match", adapter_ms, naive_ms, "ORDER BY rank, the partition"),
            ("  vs one table, year token (before)", adapter_ms, single_ms, "window SQL, one FTS5 table"),
            ("no year (every partition; the first 200)", no_year_ms, no_year_single_ms, "window SQL, one FTS5 table")]
    for name, ours, theirs, what in rows:
        print(f"{name} — raw: {what}")
        for p in (50, 95, 99):
            a, r = pct(ours, p), pct(theirs, p)
            print(f"{f'  p{p} ({len(ours)} queries)':44} {a:>18.2f} ms {r:>18.2f} ms {a / r:>7.2f}")
    print(f"{'mean matches per query (first 200; capped)':44} {statistics.mean(totals):>21,.0f}")
    print(f"load average (1 min) when the queries began: {load:.1f} on 2 cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="records to generate")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=5000, help="insert_many batch size")
    parser.add_argument("--live", type=int, default=5000, help="records written while the follower runs")
    parser.add_argument("--keep", type=Path, help="build in this directory and keep the index files")
    parser.add_argument("--queries-only", type=Path, metavar="DIR",
                        help="only the queries again, on the files a run with --keep DIR left (a quieter moment)")
    args = parser.parse_args()
    var = args.queries_only or args.keep or Path(tempfile.mkdtemp(prefix="vanthu-bench-search-"))
    var.mkdir(parents=True, exist_ok=True)
    stack = Stack(var, dict(os.environ))
    index = SearchIndex(var / "archive-search" / "bench_archive.sqlite3")
    try:
        if args.queries_only:
            report_queries(*measure_queries(index, var / "raw.sqlite3", queries(args.queries)))
            return
        port = free_port()
        start_embedded_store(stack, port, var / "data")

        async def build() -> tuple[float, float, float, int]:
            store_s, store = await load_store(f"mongodb://127.0.0.1:{port}/", args.n, args.batch)
            print(f"store: {args.n} records in {store_s:.1f} s", flush=True)
            started = time.perf_counter()
            indexed = await index.rebuild(store.db)
            index_s = time.perf_counter() - started
            print(f"index rebuilt: {indexed} records in {index_s:.1f} s", flush=True)
            live_s = await follow_extra(store, index, args.live)
            await store.close()
            return store_s, index_s, live_s, indexed

        store_s, index_s, live_s, indexed = asyncio.run(build())
        stack.stop_all()  # the queries and the raw side do not compete with the store for the cores
        raw_ingest_s = raw_ingest(var / "raw.sqlite3", args.n)

        qs = queries(args.queries)
        timings = measure_queries(index, var / "raw.sqlite3", qs)
        size_mb = index.path.stat().st_size / 1e6
    finally:
        index.close()
        stack.stop_all()
        if args.keep:
            shutil.rmtree(var / "data", ignore_errors=True)  # the store's files: the queries need only the index
        elif not args.queries_only:
            shutil.rmtree(var, ignore_errors=True)

    print(f"\nArchive search, {args.n:,} generated records (metadata), {indexed:,} indexed, {size_mb:,.0f} MB index file")
    print(f"{'':44} {'absolute':>22} {'raw library':>22} {'ratio':>7}")  # ratio: ours / raw
    print(f"{'store ingest (insert_many, SecantusDB)':44} {args.n / store_s:>15,.0f} docs/s {'(is the raw client)':>22}")
    print(f"{'index build (rebuild: scan + fold + FTS5)':44} {indexed / index_s:>15,.0f} docs/s "
          f"{args.n / raw_ingest_s:>15,.0f} docs/s {(indexed / index_s) / (args.n / raw_ingest_s):>7.2f}")
    print(f"{'index follow (change stream, live writes)':44} {args.live / live_s:>15,.0f} docs/s "
          f"{args.n / raw_ingest_s:>15,.0f} docs/s {(args.live / live_s) / (args.n / raw_ingest_s):>7.2f}")
    report_queries(*timings)


if __name__ == "__main__":
    main()
