"""pandas with pyarrow: groupby, string dtype, parquet round trip in memory."""
import hashlib
import io

import numpy as np
import pandas as pd
import pyarrow as pa

rng = np.random.default_rng(3)
df = pd.DataFrame({"k": rng.integers(0, 5, 1000), "v": rng.standard_normal(1000),
                   "s": [f"item{i % 13}" for i in range(1000)]})
g = df.groupby("k")["v"].agg(["count", "sum"]).round(6)
print(g.to_string())
print("nunique s", df["s"].nunique(), df["s"].dtype)
buf = io.BytesIO()
df.to_parquet(buf, engine="pyarrow", compression="zstd")
back = pd.read_parquet(io.BytesIO(buf.getvalue()))
print("parquet equal", back.equals(df))
tbl = pa.Table.from_pandas(df)
print("arrow rows", tbl.num_rows, tbl.schema.names)
print("csv sha", hashlib.sha256(df.head(50).to_csv(index=False).encode()).hexdigest()[:16])
print("rolling", round(float(df["v"].rolling(10).mean().dropna().sum()), 6))
