"""polars: lazy query, group_by, joins, string ops, parquet round trip (Rust engine)."""
import io

import polars as pl

df = pl.DataFrame({"id": list(range(100)), "grp": [i % 7 for i in range(100)],
                   "name": [f"n{i:03d}" for i in range(100)]})
out = (df.lazy().filter(pl.col("id") > 10).group_by("grp")
       .agg(pl.col("id").sum().alias("s"), pl.col("name").str.to_uppercase().first().alias("f"))
       .sort("grp").collect())
print(out)
other = pl.DataFrame({"grp": [0, 1, 2], "label": ["zero", "one", "two"]})
print(out.join(other, on="grp", how="inner").select("grp", "label", "s").rows())
buf = io.BytesIO()
df.write_parquet(buf)
buf.seek(0)
print("parquet equal", pl.read_parquet(buf).equals(df))
print("sql", pl.SQLContext(t=df).execute("SELECT grp, COUNT(*) AS c FROM t GROUP BY grp ORDER BY grp",
                                         eager=True)["c"].to_list())
