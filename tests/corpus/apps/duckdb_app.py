"""duckdb: in-process SQL engine: aggregates, window functions, CTEs, a numpy/arrow result."""
import duckdb

con = duckdb.connect(":memory:")
con.execute("CREATE TABLE t AS SELECT i, i % 7 AS g, 'x' || i AS s FROM range(10000) r(i)")
print(con.execute("SELECT g, count(*), sum(i) FROM t GROUP BY g ORDER BY g").fetchall())
print(con.execute("SELECT s, rank() OVER (ORDER BY i DESC) FROM t WHERE i < 5 ORDER BY i").fetchall())
print(con.execute("WITH RECURSIVE f(n, a) AS (SELECT 1, 1::HUGEINT UNION ALL SELECT n + 1, a * (n + 1) FROM f "
                  "WHERE n < 25) SELECT max(a) FROM f").fetchone())
print("regexp", con.execute("SELECT regexp_replace('corpus-2024', '[0-9]+', 'N')").fetchone())
arr = con.execute("SELECT i FROM t WHERE i < 10").fetchnumpy()
print("numpy", arr["i"].tolist())
print("arrow", con.sql("SELECT avg(i) AS a FROM t").to_arrow_table().to_pydict())
