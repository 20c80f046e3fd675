"""pyarrow: compute kernels, IPC stream, CSV reader, dataset of parquet files."""
import hashlib
import io
import os
import tempfile

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

arr = pa.array(list(range(1000)), type=pa.int64())
print("sum", pc.sum(arr).as_py(), "mean", pc.mean(arr).as_py())
print("filter count", len(pc.filter(arr, pc.greater(pc.multiply(arr, 3), 1500))))
s = pa.array(["alpha", "beta", None, "gamma"] * 5)
print("utf8 upper", pc.utf8_upper(s)[:4].to_pylist())
tbl = pa.table({"a": arr, "b": pc.cast(arr, pa.float64())})
sink = io.BytesIO()
with pa.ipc.new_stream(sink, tbl.schema) as w:
    w.write_table(tbl)
back = pa.ipc.open_stream(sink.getvalue()).read_all()
print("ipc equal", back.equals(tbl))
csv = pcsv.read_csv(io.BytesIO(b"x,y\n1,2.5\n3,4.5\n"))
print("csv", csv.to_pydict())
with tempfile.TemporaryDirectory() as d:
    for i in range(3):
        pq.write_table(tbl.slice(i * 100, 100), os.path.join(d, f"p{i}.parquet"))
    dset = ds.dataset(d, format="parquet")
    print("dataset rows", dset.count_rows(), dset.to_table(filter=ds.field("a") > 250).num_rows)
print("hash", hashlib.sha256(pc.sort_indices(pc.negate(arr)).to_numpy().tobytes()).hexdigest()[:16])
